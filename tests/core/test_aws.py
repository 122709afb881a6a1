"""kadam_nb.core.aws: RegisterJobDefinition JSON in and out, SubmitJob out."""

from __future__ import annotations

import contextlib
import copy
import json
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kadam_nb.core.aws import (
    definition_from_aws,
    definition_to_aws,
    export_warnings,
    submit_job_to_aws,
)
from kadam_nb.core.spec import (
    EvaluateOnExit,
    FrozenMap,
    JobDefinition,
    LogConfiguration,
    MountPoint,
    RetryStrategy,
    Ulimit,
    Volume,
)
from kadam_nb.errors import KadamWarning, SpecError

# AWS Batch user guide, "Parameter substitution" example.
FFMPEG: dict[str, Any] = {
    "jobDefinitionName": "ffmpeg_parameters",
    "type": "container",
    "parameters": {"codec": "mp4"},
    "containerProperties": {
        "image": "my_repo/ffmpeg",
        "resourceRequirements": [
            {"type": "MEMORY", "value": "2000"},
            {"type": "VCPU", "value": "2"},
        ],
        "command": ["ffmpeg", "-i", "Ref::inputfile", "-c", "Ref::codec", "-o", "Ref::outputfile"],
        "jobRoleArn": "arn:aws:iam::123456789012:role/ECSTask-S3FullAccess",
        "user": "nobody",
    },
}

# AWS Batch user guide, "Environment variables" example (fetch & run).
FETCH_AND_RUN: dict[str, Any] = {
    "jobDefinitionName": "fetch_and_run",
    "type": "container",
    "containerProperties": {
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fetch_and_run",
        "resourceRequirements": [
            {"type": "MEMORY", "value": "2000"},
            {"type": "VCPU", "value": "2"},
        ],
        "command": ["myjob.sh", "60"],
        "jobRoleArn": "arn:aws:iam::123456789012:role/AWSBatchS3ReadOnly",
        "environment": [
            {"name": "BATCH_FILE_S3_URL", "value": "s3://amzn-s3-demo-source-bucket/myjob.sh"},
            {"name": "BATCH_FILE_TYPE", "value": "script"},
        ],
        "user": "nobody",
    },
}

# Every understood field at once.
FULL: dict[str, Any] = {
    "jobDefinitionName": "full-example_1",
    "type": "container",
    "parameters": {"inputfile": "in.txt", "level": "3"},
    "containerProperties": {
        "image": "public.ecr.aws/docker/library/busybox:1.36",
        "command": ["/bin/sh", "-c", "gzip -$0 < Ref::inputfile > /out/x.gz"],
        "jobRoleArn": "arn:aws:iam::123456789012:role/job",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "volumes": [
            {"name": "data", "host": {"sourcePath": "/srv/data"}},
            {"name": "scratch"},
        ],
        "environment": [{"name": "LEVEL", "value": "3"}, {"name": "MODE", "value": "fast"}],
        "mountPoints": [
            {"sourceVolume": "data", "containerPath": "/data", "readOnly": True},
            {"sourceVolume": "scratch", "containerPath": "/out"},
        ],
        "readonlyRootFilesystem": True,
        "privileged": True,
        "ulimits": [
            {"name": "nofile", "softLimit": 1024, "hardLimit": 4096},
            {"name": "core", "softLimit": 0, "hardLimit": 0},
        ],
        "user": "1000",
        "resourceRequirements": [
            {"type": "MEMORY", "value": "1024"},
            {"type": "VCPU", "value": "0.5"},
            {"type": "GPU", "value": "1"},
        ],
        "linuxParameters": {"sharedMemorySize": 256},
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": "/batch/x", "awslogs-region": "eu-west-1"},
            "secretOptions": [
                {"name": "token", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/t"}
            ],
        },
    },
    "retryStrategy": {
        "attempts": 3,
        "evaluateOnExit": [
            {"onStatusReason": "Host EC2*", "action": "RETRY"},
            {"onReason": "CannotPullContainerError*", "onExitCode": "1*", "action": "EXIT"},
            {"onExitCode": "137", "action": "RETRY"},
        ],
    },
    "timeout": {"attemptDurationSeconds": 3600},
    "tags": {"team": "data", "cost-center": "42"},
}

# Fields kadam keeps without acting on them, at every level.
KEPT: dict[str, Any] = {
    "jobDefinitionName": "kept",
    "type": "container",
    "schedulingPriority": 10,
    "containerProperties": {
        "image": "busybox",
        "resourceRequirements": [
            {"type": "MEMORY", "value": "512"},
            {"type": "VCPU", "value": "1"},
        ],
        "linuxParameters": {"sharedMemorySize": 64, "initProcessEnabled": True, "maxSwap": 0},
        "secrets": [{"name": "PW", "valueFrom": "arn:aws:secretsmanager:x"}],
        "networkConfiguration": {"assignPublicIp": "ENABLED"},
        "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
        "ephemeralStorage": {"sizeInGiB": 30},
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"},
        "instanceType": "p3.2xlarge",
    },
    "propagateTags": True,
    "platformCapabilities": ["FARGATE"],
}


def quietly(doc: Any) -> JobDefinition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadamWarning)
        return definition_from_aws(doc)


def fields_of(excinfo: pytest.ExceptionInfo[SpecError]) -> dict[str, str]:
    return {e.field: e.message for e in excinfo.value.errors}


def assert_problem(excinfo: pytest.ExceptionInfo[SpecError], field: str, word: str) -> None:
    found = fields_of(excinfo)
    assert field in found, f"no problem at {field!r}; got {found}"
    assert word.lower() in found[field].lower(), f"{word!r} not in {found[field]!r}"


# ---------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("doc", [FFMPEG, FETCH_AND_RUN, FULL], ids=["ffmpeg", "fetch", "full"])
def test_round_trip_exact(doc: dict[str, Any]) -> None:
    original = copy.deepcopy(doc)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # understood fields only: no warning
        d = definition_from_aws(doc)
    assert definition_to_aws(d) == doc
    assert d.to_aws() == doc and JobDefinition.from_aws(doc) == d
    assert doc == original  # the input is not modified
    assert json.loads(json.dumps(d.to_aws())) == doc


def test_ffmpeg_fields() -> None:
    d = definition_from_aws(FFMPEG)
    assert d.name == "ffmpeg_parameters" and d.image == "my_repo/ffmpeg"
    assert (d.vcpus, d.memory, d.gpus) == (2.0, 2000, 0)
    assert d.parameters == {"codec": "mp4"} and d.user == "nobody"
    assert d.command[2] == "Ref::inputfile"
    assert d.aws_extra == "{}"


def test_full_fields() -> None:
    d = definition_from_aws(FULL)
    assert d.volumes == (Volume("data", "/srv/data"), Volume("scratch"))
    assert d.mount_points == (MountPoint("data", "/data", True), MountPoint("scratch", "/out"))
    assert d.ulimits == (Ulimit("nofile", 1024, 4096), Ulimit("core", 0, 0))
    assert (d.vcpus, d.memory, d.gpus, d.shared_memory_size) == (0.5, 1024, 1, 256)
    assert d.privileged and d.readonly_root_filesystem and d.user == "1000"
    assert d.environment == FrozenMap(LEVEL="3", MODE="fast")
    assert d.log_configuration == LogConfiguration(
        "awslogs",
        FrozenMap({"awslogs-group": "/batch/x", "awslogs-region": "eu-west-1"}),
        (("token", "arn:aws:ssm:eu-west-1:1:parameter/t"),),
    )
    assert d.retry_strategy == RetryStrategy(
        3,
        (
            EvaluateOnExit("RETRY", on_status_reason="Host EC2*"),
            EvaluateOnExit("EXIT", on_exit_code="1*", on_reason="CannotPullContainerError*"),
            EvaluateOnExit("RETRY", on_exit_code="137"),
        ),
    )
    assert d.timeout == 3600 and d.tags == {"team": "data", "cost-center": "42"}
    assert d.script == "gzip -$0 < Ref::inputfile > /out/x.gz"


def test_kept_fields_round_trip_with_one_warning() -> None:
    with pytest.warns(KadamWarning) as record:
        d = definition_from_aws(KEPT)
    assert len(record) == 1
    message = str(record[0].message)
    for name in (
        "schedulingPriority",
        "propagateTags",
        "platformCapabilities",
        "containerProperties.secrets",
        "containerProperties.instanceType",
        "containerProperties.linuxParameters.initProcessEnabled",
        "containerProperties.linuxParameters.maxSwap",
    ):
        assert name in message
    assert "no local effect" in message
    assert record[0].filename == __file__  # points at the caller
    assert d.shared_memory_size == 64
    assert json.loads(d.aws_extra)["containerProperties"]["ephemeralStorage"] == {"sizeInGiB": 30}
    assert definition_to_aws(d) == KEPT
    with pytest.warns(KadamWarning) as record:
        JobDefinition.from_aws(KEPT)
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            definition_from_aws(KEPT, warn=False) == d == JobDefinition.from_aws(KEPT, warn=False)
        )


def test_minimal_doc_round_trips() -> None:
    doc = {
        "jobDefinitionName": "sleep30",
        "type": "container",
        "containerProperties": {
            "image": "busybox",
            "command": ["sleep", "30"],
            "resourceRequirements": [
                {"type": "MEMORY", "value": "128"},
                {"type": "VCPU", "value": "1"},
            ],
        },
    }
    assert definition_to_aws(definition_from_aws(doc)) == doc


def test_legacy_vcpus_and_memory_become_resource_requirements() -> None:
    # AWS CLI example: register-job-definition sleep30 with legacy vcpus/memory.
    doc = {
        "jobDefinitionName": "sleep30",
        "type": "container",
        "containerProperties": {
            "image": "busybox",
            "vcpus": 1,
            "memory": 128,
            "command": ["sleep", "30"],
        },
    }
    d = definition_from_aws(doc)
    assert (d.vcpus, d.memory) == (1.0, 128)
    out = definition_to_aws(d)
    assert "vcpus" not in out["containerProperties"] and "memory" not in out["containerProperties"]
    assert out["containerProperties"]["resourceRequirements"] == [
        {"type": "MEMORY", "value": "128"},
        {"type": "VCPU", "value": "1"},
    ]


def test_defaults_are_left_out_and_other_order_is_normalized() -> None:
    doc = {
        "jobDefinitionName": "x",
        "containerProperties": {
            "image": "busybox",
            "resourceRequirements": [
                {"type": "VCPU", "value": "2.0"},
                {"type": "MEMORY", "value": "512"},
            ],
            "privileged": False,
            "mountPoints": [],
            "environment": [],
        },
        "retryStrategy": {"attempts": 1},
    }
    assert definition_to_aws(definition_from_aws(doc)) == {
        "jobDefinitionName": "x",
        "type": "container",
        "containerProperties": {
            "image": "busybox",
            "resourceRequirements": [
                {"type": "MEMORY", "value": "512"},
                {"type": "VCPU", "value": "2"},
            ],
        },
    }


def test_script_round_trips_as_sh_c() -> None:
    d = JobDefinition.create("s", image="busybox", command="echo hi\necho there")
    doc = d.to_aws()
    assert doc["containerProperties"]["command"] == ["/bin/sh", "-c", "echo hi\necho there"]
    assert definition_from_aws(doc).script == "echo hi\necho there"
    assert definition_from_aws(doc) == d


def test_created_definitions_round_trip() -> None:
    d = JobDefinition.create(
        "every-thing",
        image="busybox:1.36",
        command="echo $A",
        vcpus=0.25,
        memory="1.5g",
        gpus=2,
        environment={"A": "1"},
        volumes=["/srv:/srv:ro", "/tmpdata"],
        user="nobody",
        privileged=True,
        readonly_root_filesystem=True,
        shared_memory_size="1g",
        ulimits=["nofile=10:20"],
        parameters={"p": "v"},
        retry_strategy={"attempts": 4, "evaluateOnExit": [{"onExitCode": "3", "action": "exit"}]},
        timeout="2h",
        tags={"t": "v"},
        job_role_arn="arn:aws:iam::1:role/j",
        execution_role_arn="arn:aws:iam::1:role/e",
        log_configuration={"logDriver": "json-file", "options": {"max-size": "10m"}},
        depends_on="a b",
        array_size=4,
        array_dependency="n_to_n",
    )
    plain = definition_to_aws(d)
    assert "kadam" not in plain
    assert definition_from_aws(plain) == d.replace(
        depends_on=(), array_size=None, array_dependency=None
    )
    extended = definition_to_aws(d, extensions=True)
    assert extended["kadam"] == {
        "dependsOn": ["a", "b"],
        "arraySize": 4,
        "arrayDependency": "N_TO_N",
    }
    assert definition_from_aws(extended) == d
    assert definition_to_aws(definition_from_aws(extended), extensions=True) == extended


def test_revision_is_not_part_of_the_document() -> None:
    d = JobDefinition.create("r", image="x").replace(revision=4)
    assert "revision" not in json.dumps(d.to_aws(extensions=True))


def test_extensions_block_only_when_non_empty() -> None:
    assert "kadam" not in JobDefinition.create("r").to_aws(extensions=True)
    assert JobDefinition.create("r", array_size=3).to_aws(extensions=True)["kadam"] == {
        "arraySize": 3
    }


def test_json_text_is_accepted() -> None:
    assert definition_from_aws(json.dumps(FFMPEG)) == definition_from_aws(FFMPEG)
    assert definition_from_aws(json.dumps(FFMPEG).encode()) == definition_from_aws(FFMPEG)
    with pytest.raises(SpecError) as excinfo:
        definition_from_aws('{"jobDefinitionName": ')
    assert_problem(excinfo, "(document)", "not valid JSON")


def test_describe_output_keys_are_ignored_with_a_warning() -> None:
    doc = FFMPEG | {
        "jobDefinitionArn": "arn:aws:batch:us-east-1:1:job-definition/ffmpeg_parameters:3",
        "revision": 3,
        "status": "ACTIVE",
        "containerOrchestrationType": "ECS",
    }
    with pytest.warns(KadamWarning, match="DescribeJobDefinitions"):
        d = definition_from_aws(doc)
    assert d.revision is None and d.to_aws() == FFMPEG


# ---------------------------------------------------------------------------------------------
# Refusals


def with_container(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(FFMPEG)
    doc["containerProperties"].update(changes)
    return doc


REFUSALS: list[tuple[dict[str, Any], str, str]] = [
    # not supported locally
    (FFMPEG | {"type": "multinode"}, "type", "not supported locally"),
    (FFMPEG | {"type": "batch"}, "type", "'container'"),
    (FFMPEG | {"nodeProperties": {"numNodes": 2}}, "nodeProperties", "not supported locally"),
    (FFMPEG | {"eksProperties": {}}, "eksProperties", "not supported locally"),
    (FFMPEG | {"ecsProperties": {}}, "ecsProperties", "not supported locally"),
    (
        with_container(volumes=[{"name": "efs", "efsVolumeConfiguration": {"fileSystemId": "x"}}]),
        "containerProperties.volumes[0].efsVolumeConfiguration",
        "not supported locally",
    ),
    # unknown keys, with the closest known key
    (FFMPEG | {"jobDefinitonName": "x"}, "jobDefinitonName", "did you mean 'jobDefinitionName'"),
    (FFMPEG | {"retryStrategey": {}}, "retryStrategey", "did you mean 'retryStrategy'"),
    (FFMPEG | {"zzz": 1}, "zzz", "unknown key"),
    (with_container(imagee="x"), "containerProperties.imagee", "did you mean 'image'"),
    (with_container(mountpoints=[]), "containerProperties.mountpoints", "'mountPoints'"),
    (with_container(secret=[]), "containerProperties.secret", "did you mean 'secrets'"),
    (
        with_container(linuxParameters={"sharedMemSize": 1}),
        "containerProperties.linuxParameters.sharedMemSize",
        "'sharedMemorySize'",
    ),
    (
        with_container(
            mountPoints=[{"sourceVolume": "v", "containerPath": "/x", "readonly": True}]
        ),
        "containerProperties.mountPoints[0].readonly",
        "'readOnly'",
    ),
    (
        FFMPEG
        | {
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [{"onExitcode": "1", "action": "EXIT"}],
            }
        },
        "retryStrategy.evaluateOnExit[0].onExitcode",
        "'onExitCode'",
    ),
    (
        FFMPEG | {"timeout": {"attemptDuration": 60}},
        "timeout.attemptDuration",
        "attemptDurationSeconds",
    ),
    (FFMPEG | {"kadam": {"dependson": ["a"]}}, "kadam.dependson", "'dependsOn'"),
    (
        with_container(resourceRequirements=[{"type": "MEMORY", "value": "1", "unit": "MiB"}]),
        "containerProperties.resourceRequirements[0].unit",
        "unknown key",
    ),
    (
        with_container(resourceRequirements=[{"type": "CPU", "value": "1"}]),
        "containerProperties.resourceRequirements[0].type",
        "VCPU, MEMORY or GPU",
    ),
    # wrong types, named by JSON path
    (
        with_container(
            resourceRequirements=[
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "abc"},
            ]
        ),
        "containerProperties.resourceRequirements[1].value",
        "whole number of MiB",
    ),
    (
        with_container(resourceRequirements=[{"type": "VCPU", "value": "two"}]),
        "containerProperties.resourceRequirements[0].value",
        "vCPUs",
    ),
    (
        with_container(resourceRequirements=[{"type": "GPU", "value": "1.5"}]),
        "containerProperties.resourceRequirements[0].value",
        "whole number",
    ),
    (
        with_container(resourceRequirements=[{"type": "GPU"}]),
        "containerProperties.resourceRequirements[0].value",
        "required",
    ),
    (
        with_container(resourceRequirements={"VCPU": "1"}),
        "containerProperties.resourceRequirements",
        "array",
    ),
    (
        with_container(
            resourceRequirements=[{"type": "VCPU", "value": "1"}, {"type": "VCPU", "value": "2"}]
        ),
        "containerProperties.resourceRequirements[1].type",
        "more than once",
    ),
    (with_container(vcpus=2), "containerProperties.vcpus", "both"),
    (with_container(command="ffmpeg -i x"), "containerProperties.command", "an array"),
    (with_container(command=["ok", 3]), "containerProperties.command[1]", "a string"),
    (with_container(image=5), "containerProperties.image", "a string"),
    (with_container(privileged="true"), "containerProperties.privileged", "true or false"),
    (with_container(environment={"A": "1"}), "containerProperties.environment", "an array"),
    (
        with_container(environment=[{"name": "A"}]),
        "containerProperties.environment[0].value",
        "a string",
    ),
    (
        with_container(environment=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]),
        "containerProperties.environment[1].name",
        "duplicate",
    ),
    (
        with_container(ulimits=[{"name": "nofile", "softLimit": "1", "hardLimit": 2}]),
        "containerProperties.ulimits[0].softLimit",
        "whole number",
    ),
    (
        with_container(ulimits=[{"name": "nofile", "hardLimit": 2}]),
        "containerProperties.ulimits[0].softLimit",
        "required",
    ),
    (
        with_container(mountPoints=[{"containerPath": "/x"}]),
        "containerProperties.mountPoints[0].sourceVolume",
        "required",
    ),
    (
        with_container(volumes=[{"host": {"sourcePath": "/x"}}]),
        "containerProperties.volumes[0].name",
        "a string",
    ),
    (
        with_container(volumes=[{"name": "v", "host": "/x"}]),
        "containerProperties.volumes[0].host",
        "an object",
    ),
    (
        with_container(linuxParameters={"sharedMemorySize": "64"}),
        "containerProperties.linuxParameters.sharedMemorySize",
        "whole number",
    ),
    (
        with_container(logConfiguration={"options": {}}),
        "containerProperties.logConfiguration.logDriver",
        "required",
    ),
    (
        with_container(logConfiguration={"logDriver": "awslogs", "options": {"a": 1}}),
        "containerProperties.logConfiguration.options.a",
        "a string",
    ),
    (with_container(secrets=[float("nan")]), "containerProperties.secrets[0]", "finite"),
    (FFMPEG | {"parameters": {"codec": 1}}, "parameters.codec", "a string"),
    (FFMPEG | {"parameters": ["codec"]}, "parameters", "an object"),
    (FFMPEG | {"tags": {"a": None}}, "tags.a", "a string"),
    (FFMPEG | {"containerProperties": []}, "containerProperties", "an object"),
    (FFMPEG | {"jobDefinitionName": 3}, "jobDefinitionName", "a string"),
    ({"type": "container"}, "jobDefinitionName", "required"),
    (FFMPEG | {"retryStrategy": {"attempts": "3"}}, "retryStrategy.attempts", "whole number"),
    (
        FFMPEG | {"retryStrategy": {"evaluateOnExit": [{"onExitCode": "1"}]}},
        "retryStrategy.evaluateOnExit[0].action",
        "required",
    ),
    (
        FFMPEG | {"retryStrategy": {"evaluateOnExit": [{"action": 1}]}},
        "retryStrategy.evaluateOnExit[0].action",
        "a string",
    ),
    (FFMPEG | {"timeout": 60}, "timeout", "an object"),
    (FFMPEG | {"timeout": {}}, "timeout.attemptDurationSeconds", "required"),
    (FFMPEG | {"kadam": {"arraySize": "4"}}, "kadam.arraySize", "whole number"),
    (FFMPEG | {"kadam": {"dependsOn": "a"}}, "kadam.dependsOn", "an array"),
    # rules, reported at the JSON path they were read from
    (FFMPEG | {"jobDefinitionName": "has space"}, "jobDefinitionName", "1-128"),
    (with_container(image="my repo"), "containerProperties.image", "without spaces"),
    (
        with_container(resourceRequirements=[{"type": "MEMORY", "value": "2"}]),
        "containerProperties.resourceRequirements[0].value",
        ">= 4",
    ),
    (with_container(vcpus=0, resourceRequirements=[]), "containerProperties.vcpus", "> 0"),
    (
        with_container(
            environment=[{"name": "X", "value": "1"}, {"name": "AWS_BATCH_JOB_ID", "value": "1"}]
        ),
        "containerProperties.environment[1].name",
        "reserved",
    ),
    (
        with_container(mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}]),
        "containerProperties.mountPoints[0].sourceVolume",
        "declared volume",
    ),
    (
        with_container(
            mountPoints=[{"sourceVolume": "v", "containerPath": "x"}], volumes=[{"name": "v"}]
        ),
        "containerProperties.mountPoints[0].containerPath",
        "absolute",
    ),
    (
        with_container(volumes=[{"name": "v", "host": {"sourcePath": "rel"}}]),
        "containerProperties.volumes[0].host.sourcePath",
        "absolute",
    ),
    (
        with_container(volumes=[{"name": "v"}, {"name": "v"}]),
        "containerProperties.volumes[1].name",
        "unique",
    ),
    (
        with_container(ulimits=[{"name": "nofile", "softLimit": 5, "hardLimit": 2}]),
        "containerProperties.ulimits[0].softLimit",
        "hard",
    ),
    (
        with_container(ulimits=[{"name": "files", "softLimit": 1, "hardLimit": 2}]),
        "containerProperties.ulimits[0].name",
        "nofile",
    ),
    (
        with_container(linuxParameters={"sharedMemorySize": 0}),
        "containerProperties.linuxParameters.sharedMemorySize",
        "> 0",
    ),
    (with_container(user=""), "containerProperties.user", "non-empty"),
    (
        with_container(logConfiguration={"logDriver": ""}),
        "containerProperties.logConfiguration.logDriver",
        "log driver",
    ),
    (FFMPEG | {"parameters": {"a-b": "x"}}, "parameters.a-b", "Ref::name"),
    (FFMPEG | {"tags": {"aws:x": "y"}}, "tags.aws:x", "aws:"),
    (FFMPEG | {"retryStrategy": {"attempts": 11}}, "retryStrategy.attempts", "1 to 10"),
    (
        FFMPEG | {"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "EXIT"}] * 6}},
        "retryStrategy.evaluateOnExit",
        "at most 5",
    ),
    (
        FFMPEG
        | {
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [{"action": "EXIT"}, {"action": "stop"}],
            }
        },
        "retryStrategy.evaluateOnExit[1].action",
        "RETRY or EXIT",
    ),
    (
        FFMPEG
        | {
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [{"onExitCode": "x1", "action": "EXIT"}],
            }
        },
        "retryStrategy.evaluateOnExit[0].onExitCode",
        "digits",
    ),
    (
        FFMPEG
        | {
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [{"onReason": "a-b", "action": "EXIT"}],
            }
        },
        "retryStrategy.evaluateOnExit[0].onReason",
        "letters",
    ),
    (FFMPEG | {"timeout": {"attemptDurationSeconds": 0}}, "timeout.attemptDurationSeconds", ">= 1"),
    (FFMPEG | {"kadam": {"dependsOn": ["ffmpeg_parameters"]}}, "kadam.dependsOn[0]", "itself"),
    (FFMPEG | {"kadam": {"arraySize": 1}}, "kadam.arraySize", "2 to 10000"),
    (FFMPEG | {"kadam": {"arrayDependency": "N_TO_N"}}, "kadam.arrayDependency", "array_size"),
]


@pytest.mark.parametrize(("doc", "field", "word"), REFUSALS)
def test_refusals_name_the_json_path(doc: dict[str, Any], field: str, word: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadamWarning)
        with pytest.raises(SpecError) as excinfo:
            definition_from_aws(doc)
    assert_problem(excinfo, field, word)


def test_every_problem_is_reported_at_once() -> None:
    doc = {
        "jobDefinitionName": "bad name",
        "type": "container",
        "containerProperties": {
            "imagee": "busybox",
            "command": "echo",
            "resourceRequirements": [{"type": "MEMORY", "value": "abc"}],
            "environment": [{"name": "KADAM_WORK", "value": "x"}],
        },
        "timeout": {"attemptDurationSeconds": 0},
    }
    with pytest.raises(SpecError) as excinfo:
        definition_from_aws(doc)
    assert set(excinfo.value.fields) == {
        "containerProperties.imagee",
        "containerProperties.command",
        "containerProperties.resourceRequirements[0].value",
        "jobDefinitionName",
        "containerProperties.environment[0].name",
        "timeout.attemptDurationSeconds",
    }
    assert "AWS JSON" in str(excinfo.value)


@pytest.mark.parametrize("doc", [None, [], "[]", 3, "null"])
def test_documents_must_be_objects(doc: Any) -> None:
    with pytest.raises(SpecError) as excinfo:
        definition_from_aws(doc)
    assert excinfo.value.fields == ("(document)",)


def test_no_warning_when_refused() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SpecError):
            definition_from_aws(KEPT | {"type": "multinode"})


# ---------------------------------------------------------------------------------------------
# export_warnings


def test_export_warnings() -> None:
    assert export_warnings(definition_from_aws(FFMPEG)) == []
    found = export_warnings(
        JobDefinition.create(
            "w",
            command="cat /kadam/work/x",
            vcpus=0.5,
            timeout=30,
            job_role_arn="my-role",
            log_configuration="local",
            depends_on="a",
            tags={f"t{i}": "v" for i in range(51)},
        )
    )
    text = "\n".join(found)
    assert "AWS Batch requires attemptDurationSeconds >= 60" in text
    assert "image:" in text
    assert "vcpus:" in text and "Fargate" in text
    assert "log_configuration.log_driver" in text
    assert "job_role_arn" in text
    assert "/kadam/work" in text
    assert "SubmitJob" in text
    assert "at most 50 tags" in text
    assert len(found) == 8
    assert export_warnings(JobDefinition.create("ok", image="x", timeout=60)) == []


# ---------------------------------------------------------------------------------------------
# SubmitJob


def test_submit_job_shape() -> None:
    d = definition_from_aws(FFMPEG).replace(revision=2)
    body = submit_job_to_aws(
        job_name="encode-1",
        job_definition=d,
        job_queue="high-priority",
        depends_on=["id-1", ("id-2", "N_TO_N"), {"jobId": "id-3", "type": "SEQUENTIAL"}],
        array_size=10,
        parameters={"inputfile": "a.mov", "outputfile": "a.mp4"},
        retry_strategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "1", "action": "exit"}]},
        timeout="5m",
        container_overrides={"environment": {"A": "1"}, "command": ["x"]},
    )
    assert body == {
        "jobName": "encode-1",
        "jobQueue": "high-priority",
        "arrayProperties": {"size": 10},
        "dependsOn": [
            {"jobId": "id-1"},
            {"jobId": "id-2", "type": "N_TO_N"},
            {"jobId": "id-3", "type": "SEQUENTIAL"},
        ],
        "jobDefinition": "ffmpeg_parameters:2",
        "parameters": {"inputfile": "a.mov", "outputfile": "a.mp4"},
        "containerOverrides": {"environment": [{"name": "A", "value": "1"}], "command": ["x"]},
        "retryStrategy": {
            "attempts": 3,
            "evaluateOnExit": [{"onExitCode": "1", "action": "EXIT"}],
        },
        "timeout": {"attemptDurationSeconds": 300},
    }


def test_submit_job_omits_empty_keys() -> None:
    assert submit_job_to_aws(job_name="j", job_definition="def:3", job_queue="q") == {
        "jobName": "j",
        "jobQueue": "q",
        "jobDefinition": "def:3",
    }
    assert (
        submit_job_to_aws(
            job_name="j",
            job_definition=JobDefinition("d"),
            job_queue="q",
            retry_strategy=RetryStrategy(2),
            parameters={},
            container_overrides={},
        )["jobDefinition"]
        == "d"
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "word"),
    [
        ({"job_name": "bad name"}, "job_name", "1-128"),
        ({"job_queue": ""}, "job_queue", "queue"),
        ({"job_definition": 3}, "job_definition", "name"),
        ({"array_size": 1}, "array_size", "2 to 10000"),
        ({"depends_on": ["x"] * 21}, "depends_on", "at most 20"),
        ({"depends_on": [("x", "ALL")]}, "depends_on[0].type", "N_TO_N"),
        ({"depends_on": [{"job": "x"}]}, "depends_on[0].job", "'jobId'"),
        ({"depends_on": [3]}, "depends_on[0]", "job id"),
        ({"depends_on": "x"}, "depends_on", "an array"),
        ({"parameters": {"a": 1}}, "parameters.a", "a string"),
        ({"retry_strategy": {"attempts": 0}}, "retry_strategy.attempts", "1 to 10"),
        ({"timeout": "soon"}, "timeout", "seconds"),
        ({"container_overrides": {"imag": "x"}}, "container_overrides.imag", "unknown key"),
    ],
)
def test_submit_job_errors(kwargs: dict[str, Any], field: str, word: str) -> None:
    base: dict[str, Any] = {"job_name": "j", "job_definition": "d", "job_queue": "q"}
    with pytest.raises(SpecError) as excinfo:
        submit_job_to_aws(**(base | kwargs))
    assert_problem(excinfo, field, word)


# ---------------------------------------------------------------------------------------------
# Fuzz: random documents only ever raise SpecError


_scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | st.sampled_from(["container", "multinode", "VCPU", "MEMORY", "GPU", "2048", "1", "/x"])
)
_json = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(max_size=6)
            | st.sampled_from(
                [
                    "name",
                    "value",
                    "type",
                    "host",
                    "sourcePath",
                    "sourceVolume",
                    "containerPath",
                    "softLimit",
                    "hardLimit",
                    "action",
                    "onExitCode",
                    "logDriver",
                ]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=10,
)
_item = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "value",
            "type",
            "host",
            "sourceVolume",
            "containerPath",
            "readOnly",
            "action",
            "softLimit",
            "hardLimit",
            "onExitCode",
            "onReason",
            "efsVolumeConfiguration",
        ]
    ),
    _json,
    max_size=4,
)
_container = st.dictionaries(
    st.sampled_from(
        [
            "image",
            "command",
            "resourceRequirements",
            "vcpus",
            "memory",
            "environment",
            "volumes",
            "mountPoints",
            "user",
            "privileged",
            "ulimits",
            "linuxParameters",
            "logConfiguration",
            "secrets",
            "instanceType",
            "imagee",
        ]
    ),
    _json | st.lists(_item, max_size=3),
    max_size=6,
)
_doc = st.dictionaries(
    st.sampled_from(
        [
            "jobDefinitionName",
            "type",
            "parameters",
            "retryStrategy",
            "timeout",
            "tags",
            "kadam",
            "schedulingPriority",
            "nodeProperties",
            "revision",
            "typo",
        ]
    ),
    _json,
    max_size=5,
).flatmap(lambda d: st.builds(lambda c: d | {"containerProperties": c}, _container) | st.just(d))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_doc | _json)
def test_from_aws_only_ever_raises_spec_error(doc: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadamWarning)
        try:
            d = definition_from_aws(doc)
        except SpecError as e:
            assert e.errors
            str(e)
            return
    again = definition_to_aws(d, extensions=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadamWarning)
        assert definition_from_aws(again) == d


@settings(max_examples=100, deadline=None)
@given(doc=st.builds(lambda c: FFMPEG | {"containerProperties": c}, _container))
def test_near_valid_documents_only_ever_raise_spec_error(doc: dict[str, Any]) -> None:
    doc["containerProperties"].setdefault("image", "busybox")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadamWarning)
        with contextlib.suppress(SpecError):
            definition_from_aws(doc)

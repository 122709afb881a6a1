"""RegisterJobDefinition JSON under random and mutated documents: a definition comes out (and
round-trips), or one SpecError naming the JSON path of every problem; nothing else escapes.

AWS's own examples (the user guide's) are mutated: a value replaced by a random JSON value or
a hostile string, a key removed, a key added. 3,000 mutated documents, 1,500 random ones and
300 random texts.
"""

from __future__ import annotations

import copy
import json
import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kadam_nb.core.aws import definition_from_aws, definition_to_aws
from kadam_nb.errors import KadamWarning, SpecError
from tests.fuzz.strategies import hostile_text, json_values

FUZZ = settings(
    max_examples=3000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The AWS Batch user guide's and API reference's examples (register-job-definition).
AWS_EXAMPLES: list[dict[str, Any]] = [
    {
        "type": "container",
        "containerProperties": {
            "image": "busybox",
            "vcpus": 1,
            "memory": 128,
            "command": ["sleep", "10"],
        },
        "jobDefinitionName": "sleep10",
    },
    {
        "jobDefinitionName": "sleep30",
        "type": "container",
        "containerProperties": {
            "image": "busybox",
            "resourceRequirements": [
                {"type": "MEMORY", "value": "128"},
                {"type": "VCPU", "value": "1"},
            ],
            "command": ["sleep", "30"],
        },
        "tags": {"Department": "Engineering", "User": "JaneDoe"},
    },
    {
        "jobDefinitionName": "ffmpeg_parameters",
        "type": "container",
        "parameters": {"codec": "mp4"},
        "containerProperties": {
            "image": "my_repo/ffmpeg",
            "resourceRequirements": [
                {"type": "MEMORY", "value": "2000"},
                {"type": "VCPU", "value": "2"},
            ],
            "command": [
                "ffmpeg",
                "-i",
                "Ref::inputfile",
                "-c",
                "Ref::codec",
                "-o",
                "Ref::outputfile",
            ],
            "jobRoleArn": "arn:aws:iam::123456789012:role/ECSTask-S3FullAccess",
            "user": "nobody",
        },
    },
    {
        "jobDefinitionName": "gpu-job",
        "type": "container",
        "containerProperties": {
            "image": "nvidia/cuda",
            "command": ["nvidia-smi"],
            "resourceRequirements": [
                {"type": "MEMORY", "value": "2048"},
                {"type": "VCPU", "value": "2"},
                {"type": "GPU", "value": "1"},
            ],
        },
    },
    {
        "jobDefinitionName": "fargate-job",
        "type": "container",
        "platformCapabilities": ["FARGATE"],
        "containerProperties": {
            "image": "busybox",
            "command": ["echo", "hello"],
            "resourceRequirements": [
                {"type": "VCPU", "value": "0.25"},
                {"type": "MEMORY", "value": "512"},
            ],
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "networkConfiguration": {"assignPublicIp": "ENABLED"},
            "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
        },
    },
    {
        "jobDefinitionName": "retry-and-volumes",
        "type": "container",
        "parameters": {"inputfile": "in.txt"},
        "containerProperties": {
            "image": "busybox",
            "command": ["/bin/sh", "-c", "gzip < Ref::inputfile > /out/x.gz"],
            "volumes": [{"name": "data", "host": {"sourcePath": "/srv/data"}}, {"name": "out"}],
            "mountPoints": [
                {"sourceVolume": "data", "containerPath": "/data", "readOnly": True},
                {"sourceVolume": "out", "containerPath": "/out"},
            ],
            "environment": [{"name": "MODE", "value": "fast"}],
            "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
            "linuxParameters": {"sharedMemorySize": 64},
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": "/batch/x"},
                "secretOptions": [{"name": "token", "valueFrom": "arn:aws:ssm:x"}],
            },
            "secrets": [{"name": "PW", "valueFrom": "arn:aws:secretsmanager:x"}],
            "resourceRequirements": [
                {"type": "MEMORY", "value": "1024"},
                {"type": "VCPU", "value": "1"},
            ],
        },
        "retryStrategy": {
            "attempts": 3,
            "evaluateOnExit": [
                {"onStatusReason": "Host EC2*", "action": "RETRY"},
                {"onExitCode": "137", "action": "EXIT"},
            ],
        },
        "timeout": {"attemptDurationSeconds": 3600},
    },
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """An AWS example with 1-3 mutations, and the top-level keys under which they were made."""
    doc = copy.deepcopy(draw(st.sampled_from(AWS_EXAMPLES)))
    changed = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "text", "delete", "add"]))
        if action == "replace":
            parent[last] = draw(json_values)
        elif action == "text":
            parent[last] = draw(hostile_text)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            key = draw(hostile_text)
            parent[key] = draw(json_values)
            path = (*path[:-1], key)
        else:
            parent.append(draw(json_values))
            path = (*path[:-1], len(parent) - 1)
        changed.append(path[0])
    return doc, changed


def read(doc: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadamWarning)
        return definition_from_aws(doc)


def assert_names_every_field(exc: SpecError) -> None:
    assert exc.errors, "a SpecError with no FieldError"
    message = str(exc)
    for problem in exc.errors:
        assert problem.field, f"a problem with no field: {problem}"
        assert problem.field in message
        assert problem.message.strip()


def assert_round_trips(d: Any) -> None:
    doc = definition_to_aws(d, extensions=True)
    assert read(json.loads(json.dumps(doc))) == d


@FUZZ
@given(case=mutated())
def test_mutated_aws_examples_are_read_or_refused_naming_the_path(
    case: tuple[dict[str, Any], list[str]],
) -> None:
    doc, changed = case
    try:
        d = read(doc)
    except SpecError as exc:
        assert_names_every_field(exc)
        # the refusal points into a part of the document that was changed (a changed volume
        # name may break a mount point: both are under containerProperties)
        heads = {h for c in changed for h in (c, json.dumps(c)[:40])}
        assert any(
            f.startswith(tuple(heads)) or f.lstrip("[").startswith(tuple(heads))
            for f in [e.field for e in exc.errors]
        ), (changed, exc.fields)
        return
    assert_round_trips(d)


@settings(FUZZ, max_examples=1500)
@given(doc=st.one_of(json_values, st.dictionaries(hostile_text, json_values, max_size=6)))
def test_random_documents_are_refused_with_a_spec_error(doc: Any) -> None:
    try:
        d = read(doc)
    except SpecError as exc:
        assert_names_every_field(exc)
        return
    assert_round_trips(d)


@settings(FUZZ, max_examples=300)
@given(text=hostile_text)
def test_random_json_text_is_refused_with_a_spec_error(text: str) -> None:
    try:
        read(text)
    except SpecError as exc:
        assert str(exc).strip()

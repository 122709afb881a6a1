"""kadam_nb.core.spec: the job definition model, its rules and its lenient front door."""

from __future__ import annotations

import contextlib
import copy
import json
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kadam_nb.core.spec import (
    ARRAY_DEPENDENCY_TYPES,
    EvaluateOnExit,
    FrozenMap,
    JobDefinition,
    LogConfiguration,
    MountPoint,
    RetryStrategy,
    Ulimit,
    Volume,
    parse_duration,
    parse_memory,
)
from kadam_nb.errors import FieldError, SpecError


def problems(excinfo: pytest.ExceptionInfo[SpecError]) -> dict[str, str]:
    """field -> message (the messages of one field joined)."""
    out: dict[str, str] = {}
    for e in excinfo.value.errors:
        out[e.field] = (out.get(e.field, "") + " | " + e.message).strip(" |")
    return out


def assert_problem(excinfo: pytest.ExceptionInfo[SpecError], field: str, word: str) -> None:
    found = problems(excinfo)
    assert field in found, f"no problem at {field!r}; got {found}"
    assert word.lower() in found[field].lower(), f"{word!r} not in {found[field]!r}"


# ---------------------------------------------------------------------------------------------
# FrozenMap


def test_frozen_map_is_an_immutable_hashable_mapping() -> None:
    m = FrozenMap({"b": "2", "a": "1"})
    assert m["a"] == "1" and len(m) == 2 and list(m) == ["b", "a"]
    assert m == {"a": "1", "b": "2"} == FrozenMap(a="1", b="2")
    assert hash(m) == hash(FrozenMap([("a", "1"), ("b", "2")]))
    assert repr(m) == "{'b': '2', 'a': '1'}"
    assert m != {"a": "1"} and m != "ab"
    with pytest.raises(TypeError):
        m["c"] = "3"  # type: ignore[index]
    with pytest.raises(AttributeError):
        m._data = {}  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(m)) == m
    assert copy.deepcopy(m) == m
    assert {m: 1}[FrozenMap(a="1", b="2")] == 1


# ---------------------------------------------------------------------------------------------
# parse_memory / parse_duration


@pytest.mark.parametrize(
    ("value", "mib"),
    [
        (512, 512),
        (0, 0),
        (2048.0, 2048),
        ("512", 512),
        (" 512 ", 512),
        ("512m", 512),
        ("512M", 512),
        ("512mb", 512),
        ("512MB", 512),
        ("512MiB", 512),
        ("2g", 2048),
        ("2G", 2048),
        ("2gb", 2048),
        ("2GiB", 2048),
        ("1.5g", 1536),
        ("0.5G", 512),
        ("1t", 1048576),
        ("1TiB", 1048576),
        ("2048k", 2),
        ("2 g", 2048),
    ],
)
def test_parse_memory_accepts(value: object, mib: int) -> None:
    assert parse_memory(value) == mib


@pytest.mark.parametrize(
    ("value", "word"),
    [
        (True, "MiB"),
        (False, "MiB"),
        (-1, "negative"),
        ("-1g", "MiB"),
        ("abc", "MiB"),
        ("", "MiB"),
        ("2x", "MiB"),
        ("2 gigs", "MiB"),
        ("1.5", "whole number"),
        ("0.3g", "whole number"),
        ("1k", "whole number"),
        (1.5, "whole number"),
        (float("nan"), "MiB"),
        (float("inf"), "MiB"),
        (None, "MiB"),
        ([512], "MiB"),
    ],
)
def test_parse_memory_refuses(value: object, word: str) -> None:
    with pytest.raises(SpecError) as excinfo:
        parse_memory(value, field="shared_memory_size")
    assert_problem(excinfo, "shared_memory_size", word)
    assert "'2g'" in excinfo.value.errors[0].message  # says what is allowed, with examples


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90),
        (90.0, 90),
        ("90", 90),
        ("90s", 90),
        ("10m", 600),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1h 30m 15s", 5415),
        ("1d", 86400),
        ("1.5m", 90),
        ("2H", 7200),
    ],
)
def test_parse_duration_accepts(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    [0, -5, "0", "0s", "-5", "1.5", "0.5s", "abc", "", "1h30", "h", "10 minutes", True, None, 1.5],
)
def test_parse_duration_refuses(value: object) -> None:
    with pytest.raises(SpecError) as excinfo:
        parse_duration(value)
    assert_problem(excinfo, "timeout", "seconds")
    assert "'1h30m'" in excinfo.value.errors[0].message


# ---------------------------------------------------------------------------------------------
# The rules, one by one (strict constructor)


VALID: list[dict[str, Any]] = [
    {},
    {"name": "a"},
    {"name": "A-b_9" * 25 + "xyz"},  # 128 characters
    {"image": "busybox:1.36"},
    {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x@sha256:abc"},
    {"command": ("echo", "hi")},
    {"command": ["echo", "hi"]},
    {"vcpus": 0.25},
    {"vcpus": 4},
    {"memory": 4},
    {"gpus": 2},
    {"environment": FrozenMap(A="1", _b="", c9="x")},
    {"environment": {"AWS_BATCH": "1", "AWSBATCH_X": "1", "KADAM_WORKDIR": "x"}},
    {"volumes": (Volume("data", "/srv/data"), Volume("tmp")), "mount_points": ()},
    {
        "volumes": (Volume("data", "/srv"),),
        "mount_points": (MountPoint("data", "/a"), MountPoint("data", "/b", read_only=True)),
    },
    {"volumes": (Volume("win", "C:\\data"),)},
    {"user": "nobody"},
    {"privileged": True, "readonly_root_filesystem": True},
    {"shared_memory_size": 64},
    {"ulimits": (Ulimit("nofile", 1024, 4096), Ulimit("core", 0, 0))},
    {"parameters": {"codec": "mp4", "input_file": "", "x9": "y"}},
    {"retry_strategy": RetryStrategy(10, (EvaluateOnExit("RETRY", on_exit_code="1*"),) * 5)},
    {"timeout": 1},
    {"tags": {"team": "data", "k" * 128: "v" * 256}},
    {"job_role_arn": "arn:aws:iam::1:role/r", "execution_role_arn": "arn:aws:iam::1:role/e"},
    {"log_configuration": LogConfiguration("awslogs", FrozenMap({"awslogs-group": "g"}))},
    {"depends_on": tuple(f"d{i}" for i in range(20))},
    {"array_size": 2},
    {"array_size": 10000, "array_dependency": "N_TO_N"},
    {"array_size": 3, "array_dependency": "sequential"},
    {"revision": 1},
    {"aws_extra": '{"schedulingPriority": 1}'},
]


@pytest.mark.parametrize("fields", VALID)
def test_valid_definitions(fields: dict[str, Any]) -> None:
    d = JobDefinition(**({"name": "job"} | fields))
    assert isinstance(hash(d), int)


# (constructor keywords, field of the FieldError, a word of its message)
INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"name": ""}, "name", "1-128"),
    ({"name": "a" * 129}, "name", "1-128"),
    ({"name": "has space"}, "name", "letter, digit"),
    ({"name": "dot.ted"}, "name", "'-' or '_'"),
    ({"name": "ünï"}, "name", "letter"),
    ({"name": 5}, "name", "1-128"),
    ({"image": ""}, "image", "non-empty"),
    ({"image": "busy box"}, "image", "without spaces"),
    ({"image": 3}, "image", "image reference"),
    ({"command": "echo hi"}, "command", "tuple"),
    ({"command": ("echo", 3)}, "command[1]", "string"),
    ({"command": ("a\0b",)}, "command[0]", "NUL"),
    ({"vcpus": 0}, "vcpus", "> 0"),
    ({"vcpus": -1.0}, "vcpus", "> 0"),
    ({"vcpus": True}, "vcpus", "number"),
    ({"vcpus": "2"}, "vcpus", "number"),
    ({"vcpus": float("nan")}, "vcpus", "number"),
    ({"memory": 3}, "memory", ">= 4"),
    ({"memory": "2g"}, "memory", "whole number of MiB"),
    ({"memory": 2048.0}, "memory", "whole number"),
    ({"memory": True}, "memory", "MiB"),
    ({"gpus": -1}, "gpus", ">= 0"),
    ({"gpus": 1.0}, "gpus", "whole number"),
    ({"environment": {"1A": "x"}}, "environment.1A", "[A-Za-z_]"),
    ({"environment": {"A-B": "x"}}, "environment.A-B", "letters"),
    ({"environment": {"AWS_BATCH_JOB_ID": "x"}}, "environment.AWS_BATCH_JOB_ID", "reserved"),
    ({"environment": {"AWS_BATCH_X": "x"}}, "environment.AWS_BATCH_X", "AWS Batch sets"),
    ({"environment": {"KADAM_WORK": "x"}}, "environment.KADAM_WORK", "kadam sets"),
    ({"environment": {"A": 1}}, "environment.A", "string"),
    ({"environment": {"A": "a\0b"}}, "environment.A", "NUL"),
    ({"environment": ["A=1"]}, "environment", "mapping"),
    ({"volumes": (Volume("a"), Volume("a"))}, "volumes[1].name", "unique"),
    ({"volumes": ({"name": "a"},)}, "volumes[0]", "Volume"),
    ({"volumes": [Volume("a"), "b"]}, "volumes[1]", "Volume"),
    (
        {"volumes": (Volume("a"),), "mount_points": (MountPoint("b", "/x"),)},
        "mount_points[0].source_volume",
        "declared volume",
    ),
    ({"mount_points": (MountPoint("b", "/x"),)}, "mount_points[0].source_volume", "declared"),
    (
        {
            "volumes": (Volume("a"), Volume("b")),
            "mount_points": (MountPoint("a", "/x"), MountPoint("b", "/x/")),
        },
        "mount_points[1].container_path",
        "duplicate",
    ),
    ({"mount_points": ("a:/x",)}, "mount_points[0]", "MountPoint"),
    ({"user": ""}, "user", "non-empty"),
    ({"user": 1000}, "user", "user name"),
    ({"privileged": 1}, "privileged", "True or False"),
    ({"readonly_root_filesystem": "yes"}, "readonly_root_filesystem", "True or False"),
    ({"shared_memory_size": 0}, "shared_memory_size", "> 0"),
    ({"shared_memory_size": "64m"}, "shared_memory_size", "MiB"),
    (
        {"ulimits": (Ulimit("nofile", 1, 2), Ulimit("nofile", 1, 2))},
        "ulimits[1].name",
        "duplicate",
    ),
    ({"ulimits": ({"name": "nofile"},)}, "ulimits[0]", "Ulimit"),
    ({"parameters": {"my-param": "x"}}, "parameters.my-param", "Ref::name"),
    ({"parameters": {"": "x"}}, "parameters.", "letters"),
    ({"parameters": {"p": 3}}, "parameters.p", "string"),
    ({"retry_strategy": 3}, "retry_strategy", "RetryStrategy"),
    ({"timeout": 0}, "timeout", ">= 1"),
    ({"timeout": "1h"}, "timeout", "seconds"),
    ({"timeout": 1.0}, "timeout", "whole number"),
    ({"tags": {"": "x"}}, "tags.", "1-128"),
    ({"tags": {"k" * 129: "x"}}, "tags." + "k" * 129, "1-128"),
    ({"tags": {"aws:owner": "x"}}, "tags.aws:owner", "aws:"),
    ({"tags": {"AWS:owner": "x"}}, "tags.AWS:owner", "reserved"),
    ({"tags": {"k": "v" * 257}}, "tags.k", "256"),
    ({"tags": {"k": None}}, "tags.k", "string"),
    ({"job_role_arn": ""}, "job_role_arn", "non-empty"),
    ({"execution_role_arn": 5}, "execution_role_arn", "ARN"),
    ({"log_configuration": "awslogs"}, "log_configuration", "LogConfiguration"),
    ({"depends_on": tuple(f"d{i}" for i in range(21))}, "depends_on", "at most 20"),
    ({"depends_on": ("bad name",)}, "depends_on[0]", "definition name"),
    ({"depends_on": ("a", "a")}, "depends_on[1]", "duplicate"),
    ({"depends_on": ("job",)}, "depends_on[0]", "itself"),
    ({"depends_on": "a,b"}, "depends_on", "tuple"),
    ({"array_size": 1}, "array_size", "2 to 10000"),
    ({"array_size": 10001}, "array_size", "2 to 10000"),
    ({"array_size": "4"}, "array_size", "whole number"),
    ({"array_dependency": "N_TO_N"}, "array_dependency", "set array_size"),
    ({"array_size": 4, "array_dependency": "ALL"}, "array_dependency", "N_TO_N or SEQUENTIAL"),
    ({"revision": 0}, "revision", ">= 1"),
    ({"revision": "1"}, "revision", "whole number"),
    ({"aws_extra": "[]"}, "aws_extra", "JSON"),
    ({"aws_extra": "{"}, "aws_extra", "object"),
    ({"aws_extra": {}}, "aws_extra", "JSON"),
]


@pytest.mark.parametrize(("fields", "field", "word"), INVALID)
def test_each_rule(fields: dict[str, Any], field: str, word: str) -> None:
    with pytest.raises(SpecError) as excinfo:
        JobDefinition(**({"name": "job"} | fields))
    assert_problem(excinfo, field, word)


# (part constructor, keywords, field, word): parts validate themselves with relative fields
PART_RULES: list[tuple[Any, dict[str, Any], str, str]] = [
    (Volume, {"name": ""}, "name", "1-255"),
    (Volume, {"name": "a/b"}, "name", "letters"),
    (Volume, {"name": "v" * 256}, "name", "1-255"),
    (Volume, {"name": "v", "host_path": "relative/dir"}, "host_path", "absolute"),
    (MountPoint, {"source_volume": "", "container_path": "/x"}, "source_volume", "volume"),
    (MountPoint, {"source_volume": "v", "container_path": "x"}, "container_path", "absolute"),
    (
        MountPoint,
        {"source_volume": "v", "container_path": "/x", "read_only": "no"},
        "read_only",
        "True",
    ),
    (Ulimit, {"name": "files", "soft": 1, "hard": 1}, "name", "nofile"),
    (Ulimit, {"name": "nofile", "soft": -1, "hard": 1}, "soft", ">= 0"),
    (Ulimit, {"name": "nofile", "soft": 1, "hard": "2"}, "hard", "whole number"),
    (Ulimit, {"name": "nofile", "soft": 5, "hard": 4}, "soft", "<= the hard"),
    (LogConfiguration, {"log_driver": ""}, "log_driver", "log driver"),
    (LogConfiguration, {"log_driver": "a b"}, "log_driver", "without spaces"),
    (LogConfiguration, {"log_driver": "x", "options": {"k": 1}}, "options.k", "string"),
    (
        LogConfiguration,
        {"log_driver": "x", "secret_options": (("a",),)},
        "secret_options[0]",
        "pair",
    ),
    (EvaluateOnExit, {"action": "RESTART"}, "action", "RETRY or EXIT"),
    (EvaluateOnExit, {"action": 1}, "action", "RETRY or EXIT"),
    (EvaluateOnExit, {"action": "EXIT", "on_exit_code": "1x"}, "on_exit_code", "digits"),
    (EvaluateOnExit, {"action": "EXIT", "on_exit_code": "*1"}, "on_exit_code", "trailing"),
    (EvaluateOnExit, {"action": "EXIT", "on_exit_code": ""}, "on_exit_code", "1-512"),
    (EvaluateOnExit, {"action": "EXIT", "on_exit_code": "1" * 513}, "on_exit_code", "512"),
    (EvaluateOnExit, {"action": "EXIT", "on_exit_code": 1}, "on_exit_code", "digits"),
    (EvaluateOnExit, {"action": "EXIT", "on_reason": "a-b"}, "on_reason", "letters, digits"),
    (EvaluateOnExit, {"action": "EXIT", "on_reason": "a*b"}, "on_reason", "trailing '*'"),
    (EvaluateOnExit, {"action": "EXIT", "on_status_reason": "x" * 513}, "on_status_reason", "512"),
    (EvaluateOnExit, {"action": "EXIT", "on_status_reason": "(x)"}, "on_status_reason", "'.'"),
    (RetryStrategy, {"attempts": 0}, "attempts", "1 to 10"),
    (RetryStrategy, {"attempts": 11}, "attempts", "1 to 10"),
    (RetryStrategy, {"attempts": True}, "attempts", "whole number"),
    (
        RetryStrategy,
        {"attempts": 2, "evaluate_on_exit": (EvaluateOnExit("EXIT"),) * 6},
        "evaluate_on_exit",
        "at most 5",
    ),
    (RetryStrategy, {"evaluate_on_exit": ({"action": "EXIT"},)}, "evaluate_on_exit[0]", "rule"),
]


@pytest.mark.parametrize(("cls", "kwargs", "field", "word"), PART_RULES)
def test_part_rules(cls: Any, kwargs: dict[str, Any], field: str, word: str) -> None:
    with pytest.raises(SpecError) as excinfo:
        cls(**kwargs)
    assert_problem(excinfo, field, word)


def test_valid_parts() -> None:
    assert EvaluateOnExit("retry").action == "RETRY"
    assert EvaluateOnExit(" Exit ").action == "EXIT"
    EvaluateOnExit("EXIT", on_exit_code="*", on_reason="*", on_status_reason="Host EC2*")
    EvaluateOnExit("EXIT", on_reason="CannotPullContainerError: pull failed.\tx*")
    EvaluateOnExit("EXIT", on_exit_code="1" * 512)
    assert RetryStrategy(attempts=3, evaluate_on_exit=[EvaluateOnExit("EXIT")]).evaluate_on_exit
    log = LogConfiguration("awslogs", {"a": "b"}, [["s", "arn:x"]])  # type: ignore[arg-type]
    assert log.options == FrozenMap(a="b") and log.secret_options == (("s", "arn:x"),)
    assert Ulimit("nofile", 0, 0).soft == 0
    assert Volume("v", "/x").host_path == "/x" and MountPoint("v", "/x").read_only is False


def test_nested_rule_paths_name_the_keyword_and_index() -> None:
    rs = RetryStrategy.__new__(RetryStrategy)  # bypass its own checks, as a careless caller might
    object.__setattr__(rs, "attempts", 2)
    good = EvaluateOnExit("EXIT", on_exit_code="1")
    bad = EvaluateOnExit.__new__(EvaluateOnExit)
    for attr, value in (("action", "EXIT"), ("on_exit_code", "x"), ("on_reason", None)):
        object.__setattr__(bad, attr, value)
    object.__setattr__(bad, "on_status_reason", None)
    object.__setattr__(rs, "evaluate_on_exit", (good, good, bad))
    with pytest.raises(SpecError) as excinfo:
        JobDefinition("job", retry_strategy=rs)
    assert excinfo.value.fields == ("retry_strategy.evaluate_on_exit[2].on_exit_code",)


def test_every_broken_rule_is_listed_at_once() -> None:
    with pytest.raises(SpecError) as excinfo:
        JobDefinition(
            "bad name",
            memory=1,
            gpus=-1,
            environment=FrozenMap(AWS_BATCH_JOB_ID="x"),
            timeout=0,
            array_dependency="N_TO_N",
        )
    assert set(excinfo.value.fields) == {
        "name",
        "memory",
        "gpus",
        "environment.AWS_BATCH_JOB_ID",
        "timeout",
        "array_dependency",
    }
    assert "job definition 'bad name'" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_constructor_normalizes_harmless_spellings() -> None:
    d = JobDefinition(
        "job",
        command=["echo", "hi"],  # type: ignore[arg-type]
        vcpus=2,
        environment={"A": "1"},  # type: ignore[arg-type]
        depends_on=["a"],  # type: ignore[arg-type]
        array_size=2,
        array_dependency="n_to_n",
        aws_extra='{"b": 1, "a": {"d": 2, "c": 3}}',
    )
    assert d.command == ("echo", "hi") and isinstance(d.vcpus, float) and d.vcpus == 2.0
    assert isinstance(d.environment, FrozenMap) and d.depends_on == ("a",)
    assert d.array_dependency == "N_TO_N"
    assert d.aws_extra == '{"a":{"c":3,"d":2},"b":1}'
    assert d == JobDefinition(
        "job",
        command=("echo", "hi"),
        vcpus=2.0,
        environment=FrozenMap(A="1"),
        depends_on=("a",),
        array_size=2,
        array_dependency="N_TO_N",
        aws_extra='{"a":{"c":3,"d":2},"b":1}',
    )
    assert ARRAY_DEPENDENCY_TYPES == ("N_TO_N", "SEQUENTIAL")


def test_definitions_are_frozen_hashable_and_picklable() -> None:
    d = JobDefinition.create("job", image="busybox", environment={"A": "1"}, volumes=["/h:/c"])
    with pytest.raises(AttributeError):
        d.memory = 1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(d)) == d
    assert (
        len(
            {
                d,
                JobDefinition.create(
                    "job", image="busybox", environment={"A": "1"}, volumes=["/h:/c"]
                ),
            }
        )
        == 1
    )


# ---------------------------------------------------------------------------------------------
# EvaluateOnExit.matches and RetryStrategy.action_for


MATCHES: list[tuple[dict[str, str], tuple[int | None, str | None, str | None], bool]] = [
    # exact exit code
    ({"on_exit_code": "1"}, (1, None, None), True),
    ({"on_exit_code": "1"}, (12, None, None), False),
    ({"on_exit_code": "1"}, (0, None, None), False),
    # prefix glob
    ({"on_exit_code": "1*"}, (1, None, None), True),
    ({"on_exit_code": "1*"}, (137, None, None), True),
    ({"on_exit_code": "1*"}, (21, None, None), False),
    ({"on_exit_code": "*"}, (0, None, None), True),
    # a None exit code never matches an exit-code condition, even "*"
    ({"on_exit_code": "*"}, (None, None, None), False),
    ({"on_exit_code": "0"}, (None, None, None), False),
    # reasons: exact, prefix, None as ""
    ({"on_reason": "OutOfMemoryError*"}, (137, "OutOfMemoryError: killed", None), True),
    ({"on_reason": "OutOfMemoryError"}, (137, "OutOfMemoryError: killed", None), False),
    ({"on_reason": "*"}, (1, None, None), True),
    ({"on_reason": "x*"}, (1, None, None), False),
    ({"on_status_reason": "Host EC2*"}, (None, None, "Host EC2 (instance i-1) terminated."), True),
    ({"on_status_reason": "Host EC2*"}, (None, None, "host ec2 terminated"), False),
    ({"on_status_reason": "*"}, (None, None, None), True),
    # every condition that is set must match (AND)
    ({"on_exit_code": "1", "on_reason": "Essential*"}, (1, "Essential container", None), True),
    ({"on_exit_code": "1", "on_reason": "Essential*"}, (2, "Essential container", None), False),
    ({"on_exit_code": "1", "on_reason": "Essential*"}, (1, "Other", None), False),
    (
        {"on_exit_code": "1", "on_reason": "*", "on_status_reason": "Task failed*"},
        (1, None, "Task failed to start"),
        True,
    ),
    (
        {"on_exit_code": "1", "on_reason": "*", "on_status_reason": "Task failed*"},
        (1, None, None),
        False,
    ),
    # no condition: matches everything
    ({}, (None, None, None), True),
]


@pytest.mark.parametrize(("conditions", "observed", "expected"), MATCHES)
def test_evaluate_on_exit_matches(
    conditions: dict[str, str], observed: tuple[int | None, str | None, str | None], expected: bool
) -> None:
    assert EvaluateOnExit("RETRY", **conditions).matches(*observed) is expected


def test_retry_strategy_action_for_first_match_wins_and_no_match_retries() -> None:
    rs = RetryStrategy(
        attempts=5,
        evaluate_on_exit=(
            EvaluateOnExit("EXIT", on_exit_code="0"),
            EvaluateOnExit("RETRY", on_status_reason="Host EC2*"),
            EvaluateOnExit("EXIT", on_reason="*"),
        ),
    )
    assert rs.action_for(0, None, None) == "EXIT"
    assert rs.action_for(None, None, "Host EC2 terminated") == "RETRY"
    assert rs.action_for(3, "anything", None) == "EXIT"
    assert (
        RetryStrategy(2, (EvaluateOnExit("EXIT", on_exit_code="3"),)).action_for(4, None, None)
        == "RETRY"
    )
    assert RetryStrategy().action_for(1, None, None) == "RETRY"


# ---------------------------------------------------------------------------------------------
# create(): the lenient front door


def test_create_defaults() -> None:
    d = JobDefinition.create("job")
    assert d == JobDefinition("job")
    assert (d.vcpus, d.memory, d.gpus, d.retry_strategy.attempts) == (1.0, 2048, 0, 1)
    assert d.command == () and d.script is None and not d.is_array


CREATE_FORMS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"command": "echo hi\nls"}, {"command": ("/bin/sh", "-c", "echo hi\nls")}),
    ({"command": ["echo", "hi"]}, {"command": ("echo", "hi")}),
    ({"command": ("sleep", 5)}, {"command": ("sleep", "5")}),
    ({"command": None}, {"command": ()}),
    ({"image": "  "}, {"image": None}),
    ({"image": ""}, {"image": None}),
    ({"vcpus": "0.5"}, {"vcpus": 0.5}),
    ({"vcpus": 2}, {"vcpus": 2.0}),
    ({"memory": "2g"}, {"memory": 2048}),
    ({"memory": "1.5GiB"}, {"memory": 1536}),
    ({"memory": 256}, {"memory": 256}),
    ({"gpus": "1"}, {"gpus": 1}),
    ({"shared_memory_size": "64m"}, {"shared_memory_size": 64}),
    ({"timeout": "1h30m"}, {"timeout": 5400}),
    ({"timeout": 120}, {"timeout": 120}),
    ({"environment": {"A": "1", "B": 2}}, {"environment": FrozenMap(A="1", B="2")}),
    ({"environment": ["A=1", "B=x=y"]}, {"environment": FrozenMap(A="1", B="x=y")}),
    ({"environment": [("A", "1")]}, {"environment": FrozenMap(A="1")}),
    ({"environment": [{"name": "A", "value": "1"}]}, {"environment": FrozenMap(A="1")}),
    ({"parameters": {"codec": "mp4"}}, {"parameters": FrozenMap(codec="mp4")}),
    ({"tags": {"n": 1.5}}, {"tags": FrozenMap(n="1.5")}),
    ({"privileged": "true"}, {"privileged": True}),
    ({"readonly_root_filesystem": "no"}, {"readonly_root_filesystem": False}),
    ({"user": "nobody"}, {"user": "nobody"}),
    ({"retries": 3}, {"retry_strategy": RetryStrategy(3)}),
    ({"attempts": "2"}, {"retry_strategy": RetryStrategy(2)}),
    (
        {
            "retry_strategy": {
                "attempts": 3,
                "evaluateOnExit": [{"onExitCode": "3", "action": "retry"}],
            }
        },
        {"retry_strategy": RetryStrategy(3, (EvaluateOnExit("RETRY", on_exit_code="3"),))},
    ),
    (
        {
            "retry_strategy": {"evaluate_on_exit": [{"on_reason": "x*", "action": "EXIT"}]},
            "retries": 4,
        },
        {"retry_strategy": RetryStrategy(4, (EvaluateOnExit("EXIT", on_reason="x*"),))},
    ),
    (
        {"retry_strategy": RetryStrategy(2), "attempts": 2},
        {"retry_strategy": RetryStrategy(2)},
    ),
    ({"depends_on": "a,b c ,d"}, {"depends_on": ("a", "b", "c", "d")}),
    ({"depends_on": ["a", "b"]}, {"depends_on": ("a", "b")}),
    ({"depends_on": None}, {"depends_on": ()}),
    (
        {"array_size": "4", "array_dependency": "n_to_n"},
        {"array_size": 4, "array_dependency": "N_TO_N"},
    ),
    ({"array_size": 4, "array_dependency": "Sequential"}, {"array_dependency": "SEQUENTIAL"}),
    (
        {"ulimits": [{"name": "nofile", "soft": 1024, "hard": 4096}]},
        {"ulimits": (Ulimit("nofile", 1024, 4096),)},
    ),
    (
        {"ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}]},
        {"ulimits": (Ulimit("nofile", 1024, 4096),)},
    ),
    (
        {"ulimits": ["nofile=1024:4096", "core=0"]},
        {"ulimits": (Ulimit("nofile", 1024, 4096), Ulimit("core", 0, 0))},
    ),
    ({"log_configuration": "awslogs"}, {"log_configuration": LogConfiguration("awslogs")}),
    (
        {
            "log_configuration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": "g"},
                "secretOptions": [{"name": "s", "valueFrom": "arn:s"}],
            }
        },
        {
            "log_configuration": LogConfiguration(
                "awslogs", FrozenMap({"awslogs-group": "g"}), (("s", "arn:s"),)
            )
        },
    ),
    (
        {"volumes": ["/srv/data:/data", "/srv/out:/out:ro", "/scratch"]},
        {
            "volumes": (Volume("vol0", "/srv/data"), Volume("vol1", "/srv/out"), Volume("vol2")),
            "mount_points": (
                MountPoint("vol0", "/data"),
                MountPoint("vol1", "/out", read_only=True),
                MountPoint("vol2", "/scratch"),
            ),
        },
    ),
    (
        {"volumes": ["C:\\data:/data:rw"]},
        {"volumes": (Volume("vol0", "C:\\data"),), "mount_points": (MountPoint("vol0", "/data"),)},
    ),
    (
        {
            "volumes": [{"name": "vol0", "host": {"sourcePath": "/a"}}, "/b:/b"],
            "mount_points": [{"sourceVolume": "vol0", "containerPath": "/a", "readOnly": True}],
        },
        {
            "volumes": (Volume("vol0", "/a"), Volume("vol1", "/b")),
            "mount_points": (MountPoint("vol0", "/a", True), MountPoint("vol1", "/b")),
        },
    ),
    (
        {
            "volumes": [Volume("data"), {"name": "x", "host_path": "/x"}],
            "mount_points": [
                MountPoint("data", "/d"),
                {"source_volume": "x", "container_path": "/x"},
            ],
        },
        {
            "volumes": (Volume("data"), Volume("x", "/x")),
            "mount_points": (MountPoint("data", "/d"), MountPoint("x", "/x")),
        },
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), CREATE_FORMS)
def test_create_lenient_forms(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    d = JobDefinition.create("job", **kwargs)
    for field, value in expected.items():
        assert getattr(d, field) == value, field


def test_create_script_property() -> None:
    assert JobDefinition.create("job", command="echo hi").script == "echo hi"
    assert JobDefinition.create("job", command=["/bin/sh", "-c", "x"]).script == "x"
    assert JobDefinition.create("job", command=["/bin/bash", "-c", "x"]).script is None


CREATE_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"memory": "lots"}, "memory", "'2g'"),
    ({"memory": "1k"}, "memory", "whole number"),
    ({"memory": 2}, "memory", ">= 4"),
    ({"shared_memory_size": "x"}, "shared_memory_size", "MiB"),
    ({"timeout": "soon"}, "timeout", "'1h30m'"),
    ({"vcpus": "many"}, "vcpus", "number"),
    ({"vcpus": [1]}, "vcpus", "number"),
    ({"gpus": "one"}, "gpus", "whole number"),
    ({"command": 5}, "command", "shell script"),
    ({"command": ["ok", None]}, "command[1]", "string"),
    ({"environment": 5}, "environment", "dict"),
    ({"environment": ["NOEQUALS"]}, "environment[0]", "NAME=value"),
    ({"environment": {"A": None}}, "environment.A", "string"),
    ({"environment": {"A": True}}, "environment.A", "string"),
    ({"environment": {1: "x"}}, "environment.1", "strings"),
    ({"privileged": "maybe"}, "privileged", "True or False"),
    ({"retries": 3, "attempts": 3}, "attempts", "not both"),
    ({"retries": "x"}, "retries", "whole number"),
    ({"retries": 11}, "retries", "1 to 10"),
    ({"attempts": 0}, "attempts", "1 to 10"),
    ({"retry_strategy": {"attempts": 2}, "retries": 3}, "retry_strategy.attempts", "conflicts"),
    ({"retry_strategy": "twice"}, "retry_strategy", "evaluateOnExit"),
    ({"retry_strategy": {"attempt": 2}}, "retry_strategy.attempt", "did you mean 'attempts'"),
    (
        {"retry_strategy": {"evaluateOnExit": [{"onExitCode": "3"}]}},
        "retry_strategy.evaluate_on_exit[0].action",
        "required",
    ),
    (
        {"retry_strategy": {"evaluateOnExit": [{"onExitCode": "3", "action": "X"}] * 1}},
        "retry_strategy.evaluate_on_exit[0].action",
        "RETRY or EXIT",
    ),
    (
        {"retry_strategy": {"evaluateOnExit": [{"onExitCod": "3", "action": "EXIT"}]}},
        "retry_strategy.evaluate_on_exit[0].onExitCod",
        "onExitCode",
    ),
    (
        {"retry_strategy": {"attempts": 2, "evaluateOnExit": [{"action": "EXIT"}] * 6}},
        "retry_strategy.evaluate_on_exit",
        "at most 5",
    ),
    ({"volumes": ["a:b:c:d"]}, "volumes[0]", "HOST:CONTAINER"),
    ({"volumes": ["/a:/b:rx"]}, "volumes[0]", "HOST:CONTAINER"),
    ({"volumes": ["data:/data"]}, "volumes[0].host_path", "absolute"),
    ({"volumes": ["/data:data"]}, "volumes[0].container_path", "absolute"),
    ({"volumes": [5]}, "volumes[0]", "Volume"),
    ({"volumes": "/a:/b"}, "volumes", "list"),
    ({"volumes": [{"name": "v", "hots": {}}]}, "volumes[0].hots", "did you mean 'host'"),
    (
        {"volumes": [{"name": "v", "efsVolumeConfiguration": {}}]},
        "volumes[0].efsVolumeConfiguration",
        "not supported",
    ),
    ({"mount_points": [{"sourceVolume": "v"}]}, "mount_points[0].container_path", "absolute"),
    ({"mount_points": ["v:/x"]}, "mount_points[0]", "MountPoint"),
    ({"ulimits": ["nofile"]}, "ulimits[0]", "NAME=SOFT:HARD"),
    ({"ulimits": ["files=1:2"]}, "ulimits[0].name", "nofile"),
    ({"ulimits": [{"name": "nofile", "soft": 1}]}, "ulimits[0].hard", "required"),
    ({"ulimits": [{"name": "nofile", "soft": "a", "hard": 2}]}, "ulimits[0].soft", "whole number"),
    ({"ulimits": [{"name": "nofile", "soft": 3, "hard": 2}]}, "ulimits[0].soft", "hard"),
    ({"log_configuration": 5}, "log_configuration", "LogConfiguration"),
    ({"log_configuration": {"driver": "x"}}, "log_configuration.driver", "unknown key"),
    ({"log_configuration": {"logDriver": "x", "options": 3}}, "log_configuration.options", "dict"),
    ({"depends_on": [1]}, "depends_on[0]", "definition name"),
    ({"depends_on": 5}, "depends_on", "list"),
    ({"depends_on": "job"}, "depends_on[0]", "itself"),
    ({"array_size": "many"}, "array_size", "whole number"),
    ({"array_size": 1}, "array_size", "2 to 10000"),
    ({"array_dependency": 3}, "array_dependency", "N_TO_N"),
    ({"array_dependency": "n_to_n"}, "array_dependency", "array_size"),
]


@pytest.mark.parametrize(("kwargs", "field", "word"), CREATE_ERRORS)
def test_create_errors(kwargs: dict[str, Any], field: str, word: str) -> None:
    with pytest.raises(SpecError) as excinfo:
        JobDefinition.create("job", **kwargs)
    assert_problem(excinfo, field, word)


def test_create_collects_parse_and_rule_errors_together() -> None:
    with pytest.raises(SpecError) as excinfo:
        JobDefinition.create(
            "bad name",
            memory="lots",
            timeout="soon",
            environment={"KADAM_WORK": "x"},
            volumes=["rel:/data"],
            mount_points=[{"sourceVolume": "nope", "containerPath": "/x"}],
            retries=1,
            attempts=2,
            array_dependency="N_TO_N",
        )
    fields = set(excinfo.value.fields)
    assert fields == {
        "memory",
        "timeout",
        "volumes[0].host_path",
        "attempts",
        "name",
        "environment.KADAM_WORK",
        "array_dependency",
    }, fields
    # the mount point's volume is not judged: the volumes did not parse


def test_create_volume_names_avoid_declared_ones() -> None:
    d = JobDefinition.create(
        "job",
        volumes=[{"name": "vol0"}, "/a:/a", "/b:/b"],
        mount_points=[{"sourceVolume": "vol0", "containerPath": "/z"}],
    )
    assert [v.name for v in d.volumes] == ["vol0", "vol1", "vol2"]
    assert [m.source_volume for m in d.mount_points] == ["vol0", "vol1", "vol2"]


# ---------------------------------------------------------------------------------------------
# replace, content_key, properties


def test_replace_validates_and_accepts_lenient_forms() -> None:
    d = JobDefinition.create(
        "job",
        image="busybox",
        retry_strategy={"attempts": 2, "evaluateOnExit": [{"onExitCode": "1", "action": "EXIT"}]},
    )
    e = d.replace(memory="4g", command="echo hi", attempts=5, revision=3)
    assert (e.memory, e.script, e.revision) == (4096, "echo hi", 3)
    assert e.retry_strategy == RetryStrategy(5, d.retry_strategy.evaluate_on_exit)
    assert e.image == "busybox" and d.memory == 2048
    with pytest.raises(SpecError) as excinfo:
        d.replace(memroy=4)
    assert_problem(excinfo, "memroy", "did you mean 'memory'")
    with pytest.raises(SpecError) as excinfo:
        d.replace(memory=2, timeout=0)
    assert set(excinfo.value.fields) == {"memory", "timeout"}
    f = d.replace(volumes=["/h:/c"])
    assert f.mount_points == (MountPoint("vol0", "/c"),)
    with pytest.raises(SpecError) as excinfo:  # the old mount point would name no volume
        f.replace(volumes=["/h2:/c2"])
    assert_problem(excinfo, "mount_points[0].source_volume", "declared")
    g = f.replace(volumes=["/h2:/c2"], mount_points=[])
    assert g.mount_points == (MountPoint("vol0", "/c2"),)


def test_content_key_ignores_revision_only() -> None:
    a = JobDefinition.create("job", image="x", environment={"A": "1", "B": "2"})
    b = JobDefinition.create("job", image="x", environment={"B": "2", "A": "1"}).replace(revision=7)
    assert a != b and a.content_key() == b.content_key()
    assert a.content_key() != a.replace(memory=1024).content_key()
    assert a.content_key() != a.replace(aws_extra='{"schedulingPriority":1}').content_key()
    assert JobDefinition("j", vcpus=2).content_key() == JobDefinition("j", vcpus=2.0).content_key()
    key = json.loads(a.content_key())
    assert "revision" not in key and key["environment"] == {"A": "1", "B": "2"}
    assert key["retry_strategy"] == {"attempts": 1, "evaluate_on_exit": []}


def test_is_array() -> None:
    assert JobDefinition.create("job", array_size=4).is_array
    assert not JobDefinition.create("job").is_array


# ---------------------------------------------------------------------------------------------
# Fuzz: bad input only ever raises SpecError


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["2g", "1h30m", "/a:/b", "nofile=1:2", "N_TO_N", "RETRY", "a,b", "x=y"])
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(
            st.text(max_size=8)
            | st.sampled_from(["name", "soft", "hard", "action", "onExitCode", "attempts", "host"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)
_CREATE_KEYWORDS = [
    "image",
    "command",
    "vcpus",
    "memory",
    "gpus",
    "environment",
    "volumes",
    "mount_points",
    "user",
    "privileged",
    "readonly_root_filesystem",
    "shared_memory_size",
    "ulimits",
    "parameters",
    "retries",
    "attempts",
    "retry_strategy",
    "timeout",
    "tags",
    "job_role_arn",
    "execution_role_arn",
    "log_configuration",
    "depends_on",
    "array_size",
    "array_dependency",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_scalars,
    kwargs=st.dictionaries(st.sampled_from(_CREATE_KEYWORDS), _values, max_size=6),
)
def test_create_only_ever_raises_spec_error(name: Any, kwargs: dict[str, Any]) -> None:
    try:
        d = JobDefinition.create(name, **kwargs)
    except SpecError as e:
        assert e.errors and all(isinstance(x, FieldError) for x in e.errors)
        str(e)
    else:
        hash(d)
        d.content_key()
        d.to_aws(extensions=True)


@settings(max_examples=150, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from([*_CREATE_KEYWORDS, "name", "revision"]), _values, max_size=4
    )
)
def test_replace_only_ever_raises_spec_error(changes: dict[str, Any]) -> None:
    base = JobDefinition.create("job", volumes=["/a:/a"], array_size=2)
    with contextlib.suppress(SpecError):
        base.replace(**changes)

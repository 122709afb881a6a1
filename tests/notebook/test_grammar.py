"""The %kadam grammar, without IPython: every option, every verb, round trips, no SystemExit."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kadam_nb import JobDefinition
from kadam_nb.errors import SpecError
from kadam_nb.notebook import grammar
from kadam_nb.notebook.grammar import (
    GRAMMAR,
    RULE_DEFAULT_ATTEMPTS,
    VERBS,
    GrammarError,
    cell_gaps,
    describe_spec_error,
    option_for_field,
    parse_definition_cell,
    parse_job_cell,
    parse_verb,
    read_job_cell,
    split_magic_cell,
    to_job_cell,
)

JOB_OPTIONS = [
    "--image",
    "--depends-on",
    "--vcpus",
    "--memory",
    "--gpus",
    "--env",
    "--volume",
    "--array",
    "--array-dependency",
    "--retries",
    "--retry-on",
    "--exit-on",
    "--timeout",
    "--queue",
    "--param",
    "--user",
    "--shm-size",
    "--read-only",
    "--privileged",
    "--cache",
    "--argv",
]


def fields_of(line: str, body: str = "echo hi") -> dict[str, Any]:
    return parse_job_cell(line, body)[1]


def test_grammar_does_not_import_ipython() -> None:
    assert "IPython" not in grammar.__dict__
    source = Path(grammar.__file__).read_text()
    assert "import IPython" not in source and "from IPython" not in source


def test_grammar_text_lists_every_option_and_verb() -> None:
    for option in JOB_OPTIONS:
        assert option in GRAMMAR, option
    for verb in VERBS:
        assert f"%kadam {verb}" in GRAMMAR, verb
    assert "%%kadam job NAME" in GRAMMAR and "%%kadam definition" in GRAMMAR


# ------------------------------------------------------------------------------ job cells


def test_minimal_job_cell_is_name_and_script() -> None:
    assert parse_job_cell("job extract", "echo hi\necho there") == (
        "extract",
        {"command": "echo hi\necho there"},
    )
    # a leading %%kadam is tolerated (cells read from a notebook file)
    assert parse_job_cell("%%kadam job extract", "echo hi")[0] == "extract"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("--image busybox:1.36", {"image": "busybox:1.36"}),
        ("--depends-on a b", {"depends_on": ["a", "b"]}),
        ("--depends-on a,b --depends-on c", {"depends_on": ["a", "b", "c"]}),
        ("--vcpus 0.5", {"vcpus": 0.5}),
        ("--vcpus 2", {"vcpus": 2.0}),
        ("--memory 512", {"memory": 512}),
        ("--memory 512m", {"memory": 512}),
        ("--memory 2g", {"memory": 2048}),
        ("--gpus 1", {"gpus": 1}),
        ("--env A=1 --env 'B=x y=z'", {"environment": {"A": "1", "B": "x y=z"}}),
        ("--env EMPTY=", {"environment": {"EMPTY": ""}}),
        ("--volume /srv/data:/data", {"volumes": ["/srv/data:/data"]}),
        ("--volume /srv/data:/data:ro", {"volumes": ["/srv/data:/data:ro"]}),
        ("--volume /srv/data:/data:rw", {"volumes": ["/srv/data:/data"]}),
        ("--volume /scratch", {"volumes": ["/scratch"]}),
        ("--array 4", {"array_size": 4}),
        ("--array 4 --array-dependency n_to_n", {"array_size": 4, "array_dependency": "N_TO_N"}),
        (
            "--array 4 --array-dependency Sequential",
            {"array_size": 4, "array_dependency": "SEQUENTIAL"},
        ),
        ("--retries 3", {"retries": 3}),
        ("--timeout 90", {"timeout": 90}),
        ("--timeout 90s", {"timeout": 90}),
        ("--timeout 10m", {"timeout": 600}),
        ("--timeout 1h30m", {"timeout": 5400}),
        ("--param mode=fast --param n=3", {"parameters": {"mode": "fast", "n": "3"}}),
        ("--user nobody", {"user": "nobody"}),
        ("--shm-size 64m", {"shared_memory_size": 64}),
        ("--read-only", {"readonly_root_filesystem": True}),
        ("--privileged", {"privileged": True}),
        ("--memory=1g", {"memory": 1024}),
    ],
)
def test_each_job_option(options: str, expected: dict[str, Any]) -> None:
    got = fields_of(f"job x {options}")
    assert got == {"command": "echo hi", **expected}
    JobDefinition.create("x", **got)  # and create() takes it


def test_relative_volume_host_is_resolved_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert fields_of("job x --volume data:/data:ro")["volumes"] == [f"{tmp_path}/data:/data:ro"]
    home = os.path.expanduser("~")
    assert fields_of("job x --volume ~/d:/d")["volumes"] == [f"{home}/d:/d"]


def test_retry_rules_keep_their_order_across_both_options() -> None:
    got = fields_of(
        "job x --retries 5 --retry-on exit:137 --exit-on reason:OutOfMemory* "
        "--retry-on exit:1,reason:Host* --exit-on 'status:Essential container*'"
    )
    assert got["retries"] == 5
    assert got["retry_strategy"] == {
        "evaluate_on_exit": [
            {"action": "RETRY", "on_exit_code": "137"},
            {"action": "EXIT", "on_reason": "OutOfMemory*"},
            {"action": "RETRY", "on_exit_code": "1", "on_reason": "Host*"},
            {"action": "EXIT", "on_status_reason": "Essential container*"},
        ]
    }
    d = JobDefinition.create("x", **got)
    assert [r.action for r in d.retry_strategy.evaluate_on_exit] == ["RETRY", "EXIT"] * 2
    assert d.retry_strategy.action_for(1, "Host EC2 terminated", None) == "RETRY"
    assert d.retry_strategy.action_for(2, "OutOfMemoryError", None) == "EXIT"


def test_rules_without_retries_get_the_default_attempts() -> None:
    got = fields_of("job x --exit-on exit:2")
    assert got["retries"] == RULE_DEFAULT_ATTEMPTS == 3
    assert fields_of("job x --retries 1 --retry-on exit:1*")["retries"] == 1


def test_queue_and_cache_are_submit_options_outside_the_fields() -> None:
    cell = read_job_cell("job x --queue gpu --cache --memory 64", "echo")
    assert (cell.name, cell.queue, cell.cache) == ("x", "gpu", True)
    assert "queue" not in cell.fields and "cache" not in cell.fields
    assert parse_job_cell("job x --queue gpu --cache", "echo")[1] == {"command": "echo"}
    assert read_job_cell("job x", "echo").queue is None


def test_argv_body_is_shell_quoted_words() -> None:
    assert fields_of("job x --argv", "python -c 'print(1)'\n  --flag") == {
        "command": ["python", "-c", "print(1)", "--flag"]
    }
    assert fields_of("job x --argv", "") == {"command": []}  # the image's own command
    d = JobDefinition.create("x", **fields_of("job x --argv", ""))
    assert d.command == ()


@pytest.mark.parametrize(
    ("line", "body", "needle"),
    [
        ("job x --memory 12q", "e", "--memory: '12q' is not a size; use 512, 512m or 2g"),
        ("job x --memory", "e", "--memory: needs a value"),
        ("job x --shm-size lots", "e", "--shm-size: 'lots' is not a size"),
        ("job x --env FOO", "e", "--env: 'FOO' is not NAME=VALUE"),
        ("job x --env =1", "e", "--env: '=1' has no NAME"),
        ("job x --param FOO", "e", "--param: 'FOO' is not NAME=VALUE"),
        ("job x --retry-on exit:abc", "e", "--retry-on: exit:abc is not an exit code pattern"),
        ("job x --retry-on exit:", "e", "--retry-on: exit: is not an exit code pattern"),
        ("job x --exit-on code:1", "e", "--exit-on: 'code:1' is not a condition"),
        ("job x --exit-on reason:Out,Of", "e", "--exit-on: 'Of' is not a condition"),
        ("job x --exit-on reason:bad!", "e", "--exit-on: reason:bad! is not a reason pattern"),
        ("job x --retry-on exit:1,exit:2", "e", "--retry-on: 'exit:1,exit:2' gives exit: twice"),
        ("job x --timeout 1x", "e", "--timeout: '1x' is not a duration"),
        ("job x --timeout 0", "e", "--timeout: '0' is not a duration"),
        ("job x --vcpus many", "e", "--vcpus: 'many' is not a number"),
        ("job x --vcpus nan", "e", "--vcpus: 'nan' is not a number"),
        ("job x --gpus 1.5", "e", "--gpus: '1.5' is not a whole number"),
        ("job x --array four", "e", "--array: 'four' is not a whole number"),
        ("job x --retries x", "e", "--retries: 'x' is not a whole number"),
        (
            "job x --array-dependency ALL",
            "e",
            "--array-dependency: 'ALL': use N_TO_N or SEQUENTIAL",
        ),
        ("job x --volume a:b", "e", "--volume: 'a:b': the container path must be absolute"),
        ("job x --volume a:b:c:d", "e", "--volume: 'a:b:c:d': use HOST:CONTAINER"),
        ("job x --depends-on a,,b", "e", "--depends-on: 'a,,b' has an empty name"),
        ("job x --depends-on", "e", "--depends-on: needs at least one value"),
        ("job x --image", "e", "--image: needs a value"),
        ("job x --queue", "e", "--queue: needs a value"),
        ("job x --user", "e", "--user: needs a value"),
        ("job x --read-only yes", "e", "--read-only: takes no value"),
        ("job x --privileged=yes", "e", "--privileged: takes no value"),
        ("job x --cache 1", "e", "--cache: takes no value"),
        ("job x --bogus", "e", "unknown option --bogus"),
        ("job x --memry 1g", "e", "unknown option --memry (did you mean --memory?)"),
        ("job x --mem 1g", "e", "unknown option --mem"),  # no abbreviations
        ("job x stray", "e", "unexpected value 'stray'"),
        ("job x --image 'unclosed", "e", "check quotes"),
        ("job x --argv", "'unclosed", "--argv: the body is not shell-quoted words"),
        ("job x", "", "the cell body is the job's script; it is empty"),
        ("job x", "  \n ", "the cell body is the job's script; it is empty"),
        ("job", "e", "give the job's NAME first"),
        ("job --image x", "e", "give the job's NAME first"),
        ("", "e", "a job cell starts with: %%kadam job NAME"),
        ("run x", "e", "a job cell starts with"),
    ],
)
def test_bad_job_cells_name_the_option(line: str, body: str, needle: str) -> None:
    with pytest.raises(GrammarError) as info:
        parse_job_cell(line, body)
    assert needle in str(info.value)


def test_grammar_error_carries_the_option() -> None:
    with pytest.raises(GrammarError) as info:
        parse_job_cell("job x --memory 12q", "e")
    assert info.value.option == "--memory"
    assert isinstance(info.value, ValueError)


def test_unknown_option_lists_the_allowed_ones() -> None:
    with pytest.raises(GrammarError) as info:
        parse_job_cell("job x --bogus", "e")
    for option in JOB_OPTIONS:
        assert option in str(info.value)


# ------------------------------------------------------------------------------ create errors


def test_create_errors_are_described_by_option() -> None:
    cases = {
        "job x --memory 2": "--memory: must be a whole number of MiB >= 4",
        "job x --env 1X=y": "--env (environment.1X):",
        "job x --array 1": "--array:",
        "job x --array-dependency n_to_n": "--array-dependency:",
        "job x --retries 11": "--retries:",
        "job x --depends-on x": "--depends-on (depends_on[0]):",
        "job 'bad name'": "NAME: must be",
        "job x --shm-size 0": "--shm-size:",
        "job x --param a-b=1": "--param (parameters.a-b):",
        "job x --volume /a:/d --volume /b:/d": "--volume (mount_points[1].container_path)",
        "job x --retries 2 " + " ".join(["--retry-on exit:1"] * 6): "--retry-on/--exit-on",
    }
    for line, needle in cases.items():
        name, fields = parse_job_cell(line, "echo")
        with pytest.raises(SpecError) as info:
            JobDefinition.create(name, **fields)
        assert needle in describe_spec_error(info.value), (line, describe_spec_error(info.value))


def test_option_for_field() -> None:
    assert option_for_field("memory") == "--memory"
    assert option_for_field("environment.X") == "--env"
    assert option_for_field("mount_points[0].container_path") == "--volume"
    assert option_for_field("retry_strategy.evaluate_on_exit[1].on_reason") == (
        "--retry-on/--exit-on"
    )
    assert option_for_field("retry_strategy.attempts") == "--retries"
    assert option_for_field("tags.x") is None


# ------------------------------------------------------------------------------ round trip


ROUND_TRIP = [
    JobDefinition.create("plain", command="echo hi"),
    JobDefinition.create(
        "full",
        image="busybox:1.36",
        command="set -e\necho 'quoted' \"$X\" # comment\n",
        vcpus=0.25,
        memory="1536",
        gpus=1,
        environment={"A": "1", "SPACED": "a b 'c'", "EMPTY": ""},
        volumes=["/srv/in:/in:ro", "/srv/out:/out", "/cache"],
        user="1000:1000",
        privileged=True,
        readonly_root_filesystem=True,
        shared_memory_size=256,
        parameters={"mode": "fast lane"},
        retries=4,
        retry_strategy={
            "evaluateOnExit": [
                {"onExitCode": "137", "action": "retry"},
                {"onReason": "OutOfMemory*", "onStatusReason": "Essential: x*", "action": "EXIT"},
                {"onExitCode": "*", "action": "RETRY"},
            ]
        },
        timeout="1h",
        depends_on=["a", "b"],
        array_size=10,
        array_dependency="N_TO_N",
    ),
    JobDefinition.create("argv", image="python:3", command=["python", "-c", "print('a b')", ""]),
    JobDefinition.create("nocmd", image="hello-world"),
    JobDefinition.create(
        "rules1",
        command="x",
        retries=1,
        retry_strategy={"evaluateOnExit": [{"onExitCode": "3", "action": "EXIT"}]},
    ),
    JobDefinition.create("three", command="x", retries=3),
    JobDefinition.create("seq", command="x", array_size=3, array_dependency="SEQUENTIAL"),
    JobDefinition.create("big", command="x", vcpus=1e-3, memory="4"),
]


@pytest.mark.parametrize("d", ROUND_TRIP, ids=lambda d: d.name)
def test_to_job_cell_round_trip(d: JobDefinition) -> None:
    cell = to_job_cell(d)
    assert cell.startswith(f"%%kadam job {d.name}")
    line, body = split_magic_cell(cell) or ("", "")
    name, fields = parse_job_cell(line, body)
    assert JobDefinition.create(name, **fields) == d
    assert cell_gaps(d) == []


def test_to_job_cell_keeps_submit_options_and_defaults_out() -> None:
    d = JobDefinition.create("x", command="echo")
    assert to_job_cell(d) == "%%kadam job x\necho"
    cell = to_job_cell(d, queue="gpu q", cache=True)
    assert cell.startswith("%%kadam job x --queue 'gpu q' --cache\n")
    parsed = read_job_cell(*(split_magic_cell(cell) or ("", "")))
    assert (parsed.queue, parsed.cache) == ("gpu q", True)


def test_argv_commands_are_written_with_argv() -> None:
    d = JobDefinition.create("x", command=["python", "-c", "print(1)"])
    assert to_job_cell(d) == "%%kadam job x --argv\npython -c 'print(1)'"
    # a /bin/sh -c script with extra words is an argv, not a script
    d = JobDefinition.create("y", command=["/bin/sh", "-c", "echo $0", "me"])
    assert "--argv" in to_job_cell(d)
    assert cell_gaps(d) == []


def test_cell_gaps_name_what_a_cell_cannot_carry() -> None:
    d = JobDefinition.create(
        "x",
        command="echo",
        tags={"team": "a"},
        ulimits=["nofile=1024:2048"],
        log_configuration="awslogs",
        job_role_arn="arn:aws:iam::1:role/r",
        volumes=[{"name": "data", "host": {"sourcePath": "/srv"}}],
        mount_points=[{"sourceVolume": "data", "containerPath": "/data"}],
    )
    assert set(cell_gaps(d)) == {
        "tags",
        "ulimits",
        "log_configuration",
        "job_role_arn",
        "volumes",
        "mount_points",  # the cell's --volume names its volume vol0, not data
    }
    assert cell_gaps(JobDefinition(name="-dash", command=("x",))) == ["name"]


def test_values_with_line_breaks_stay_out_of_the_first_line() -> None:
    d = JobDefinition.create(
        "x", command="echo", environment={"OK": "1", "ML": "a\nb"}, parameters={"p": "a\u2028b"}
    )
    cell = to_job_cell(d)
    first, _, body = cell.partition("\n")
    assert body == "echo" and "--env OK=1" in first and "ML" not in first
    assert cell_gaps(d) == ["environment", "parameters"]


_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=30
)
_one_line = _text.filter(lambda s: "".join(s.splitlines()) == s)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=_text.filter(lambda s: s.strip() != ""),
    env=st.dictionaries(
        st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True), _one_line, max_size=3
    ),
    params=st.dictionaries(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), _one_line, max_size=3),
    argv=st.none() | st.lists(_text, max_size=4),
    vcpus=st.floats(min_value=0.001, max_value=512, allow_nan=False),
    memory=st.integers(min_value=4, max_value=10**6),
)
def test_round_trip_property(
    script: str,
    env: dict[str, str],
    params: dict[str, str],
    argv: list[str] | None,
    vcpus: float,
    memory: int,
) -> None:
    env = {k: v for k, v in env.items() if not k.startswith("AWS_BATCH_") and k != "KADAM_WORK"}
    d = JobDefinition.create(
        "prop",
        command=argv if argv is not None else script,
        environment=env,
        parameters=params,
        vcpus=vcpus,
        memory=memory,
    )
    line, body = split_magic_cell(to_job_cell(d)) or ("", "")
    name, fields = parse_job_cell(line, body)
    assert JobDefinition.create(name, **fields) == d


# ------------------------------------------------------------------------------ definition cells


def test_definition_cell_reads_json() -> None:
    doc = parse_definition_cell('{"jobDefinitionName": "x", "type": "container"}')
    assert doc == {"jobDefinitionName": "x", "type": "container"}


def test_definition_cell_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GrammarError, match="it is empty"):
        parse_definition_cell("  ")
    with pytest.raises(GrammarError, match="one RegisterJobDefinition object"):
        parse_definition_cell("[1, 2]")
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    with pytest.raises(GrammarError, match=r"not JSON .*PyYAML, which is not installed"):
        parse_definition_cell("jobDefinitionName: x")


def test_definition_cell_reads_yaml_when_pyyaml_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    fake = types.ModuleType("yaml")

    class YAMLError(Exception):
        pass

    def safe_load(text: str) -> Any:
        if "bad" in text:
            raise YAMLError("bad yaml")
        return dict(line.split(": ", 1) for line in text.splitlines())

    fake.YAMLError = YAMLError  # type: ignore[attr-defined]
    fake.safe_load = safe_load  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "yaml", fake)
    assert parse_definition_cell("jobDefinitionName: x\ntype: container") == {
        "jobDefinitionName": "x",
        "type": "container",
    }
    with pytest.raises(GrammarError, match=r"neither JSON .* nor YAML"):
        parse_definition_cell("bad: [")


# ------------------------------------------------------------------------------ verbs


@pytest.mark.parametrize(
    ("line", "verb", "expected"),
    [
        ("run", "run", {"names": [], "wait": False, "cache": False, "queue": None}),
        (
            "run a b --wait --cache --queue hpc",
            "run",
            {"names": ["a", "b"], "wait": True, "cache": True, "queue": "hpc"},
        ),
        ("graph", "graph", {"run": None}),
        ("graph abc", "graph", {"run": "abc"}),
        ("status", "status", {"run": None, "all": False}),
        ("status r1 --all", "status", {"run": "r1", "all": True}),
        ("logs clean[2]", "logs", {"job": "clean[2]", "tail": None, "attempt": None}),
        ("logs x --tail 5 --attempt 2", "logs", {"job": "x", "tail": 5, "attempt": 2}),
        ("cancel x", "cancel", {"job": "x", "reason": ""}),
        ("cancel x --reason 'not needed'", "cancel", {"job": "x", "reason": "not needed"}),
        ("terminate x --reason stop", "terminate", {"job": "x", "reason": "stop"}),
        ("list", "list", {}),
        ("show x", "show", {"name": "x", "revision": None}),
        ("show x --revision 2", "show", {"name": "x", "revision": 2}),
        ("remove x", "remove", {"name": "x"}),
        ("export aws", "export", {"target": "aws", "path": None, "file": None}),
        (
            "export AWS --file out.json",
            "export",
            {"target": "aws", "path": None, "file": "out.json"},
        ),
        ("export aws out", "export", {"target": "aws", "path": "out", "file": None}),
        ("dashboard", "dashboard", {"run": None}),
        ("dashboard r1", "dashboard", {"run": "r1"}),
        ("reset", "reset", {"history": False}),
        ("reset --history", "reset", {"history": True}),
        ("config", "config", {}),
        ("%kadam list", "list", {}),
    ],
)
def test_verbs(line: str, verb: str, expected: dict[str, Any]) -> None:
    got_verb, args = parse_verb(line)
    assert got_verb == verb
    assert vars(args) == expected


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("", "give a verb: run, graph, status"),
        ("xyzzy", "unknown verb 'xyzzy'; verbs: run, graph, status, logs, cancel, terminate"),
        ("rnu", "did you mean run?"),
        ("job x", "%kadam job is a cell magic: write %%kadam job NAME"),
        ("definition", "%kadam definition is a cell magic"),
        ("run --wait=1", "--wait: takes no value"),
        ("run --now", "unknown option --now"),
        ("graph a b", "unexpected value 'b'"),
        ("status a b", "unexpected value 'b'"),
        ("status --bogus", "unknown option --bogus"),
        ("logs", "missing JOB"),
        ("logs x --tail", "--tail: needs a value"),
        ("logs x --tail abc", "--tail: 'abc' is not a whole number"),
        ("logs x --tail -1", "--tail: '-1': use a whole number >= 0"),
        ("logs x --attempt 0", "--attempt: '0': use a whole number >= 1"),
        ("cancel", "missing JOB"),
        ("cancel x --reason", "--reason: needs a value"),
        ("terminate", "missing JOB"),
        ("terminate x --why y", "unknown option --why"),
        ("list x", "unexpected value 'x'"),
        ("show", "missing NAME"),
        ("show x --revision two", "--revision: 'two' is not a whole number"),
        ("remove", "missing NAME"),
        ("export", "missing FORMAT"),
        ("export csv", "the only export format is aws"),
        ("export aws --file", "--file: needs a value"),
        ("dashboard a b", "unexpected value 'b'"),
        ("reset --hist", "unknown option --hist (did you mean --history?)"),
        ("config x", "unexpected value 'x'"),
        ("logs 'x", "check quotes"),
    ],
)
def test_bad_verbs(line: str, needle: str) -> None:
    with pytest.raises(GrammarError) as info:
        parse_verb(line)
    assert needle in str(info.value)


def test_split_magic_cell() -> None:
    assert split_magic_cell("%%kadam job x --memory 1g\necho hi\n") == (
        "job x --memory 1g",
        "echo hi\n",
    )
    assert split_magic_cell("\n%%kadam definition\n{}") == ("definition", "{}")
    assert split_magic_cell("%%kadamx job") is None
    assert split_magic_cell("print(1)") is None


# ------------------------------------------------------------------------------ never SystemExit

_WORDS = st.sampled_from(
    [
        *JOB_OPTIONS,
        "--tail",
        "--attempt",
        "--reason",
        "--revision",
        "--file",
        "--all",
        "--wait",
        "--history",
        "-h",
        "--help",
        "-",
        "--",
        "=",
        "'",
        '"',
        "\\",
        "exit:1",
        "reason:x*",
        "a=b",
        "1",
        "-1",
        "0",
        "2g",
        "x",
        "job",
        "run",
        "logs",
        "aws",
        ",",
        "a,b",
        "--env=",
        "--memory=",
        "-x",
        "--",
        "%kadam",
        "%%kadam",
    ]
)
_LINES = st.lists(st.one_of(_WORDS, st.text(max_size=12)), max_size=8).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=_LINES, body=st.text(max_size=20))
def test_random_job_lines_only_raise_grammar_errors(line: str, body: str) -> None:
    try:
        name, fields = parse_job_cell("job x " + line, body)
    except GrammarError:
        return
    # what the grammar accepts, create() either builds or refuses with a SpecError
    try:
        JobDefinition.create(name, **fields)
    except SpecError as exc:
        assert describe_spec_error(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=_LINES)
def test_random_verb_lines_only_raise_grammar_errors(line: str) -> None:
    try:
        verb, _ = parse_verb(line)
    except GrammarError:
        return
    assert verb in VERBS


@settings(max_examples=200, deadline=None)
@given(line=st.text(max_size=40), body=st.text(max_size=10))
def test_arbitrary_text_only_raises_grammar_errors(line: str, body: str) -> None:
    for call in (lambda: parse_job_cell(line, body), lambda: parse_verb(line)):
        with contextlib.suppress(GrammarError):
            call()

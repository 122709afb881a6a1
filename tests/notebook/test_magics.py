"""The %kadam magics in an in-process IPython shell, on local registries in tmp_path."""

from __future__ import annotations

import json
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

import kadam_nb
from kadam_nb import JobDefinition
from kadam_nb.jobs import Run
from kadam_nb.notebook import magics as magics_module
from kadam_nb.notebook.grammar import GRAMMAR
from kadam_nb.notebook.magics import KadamMagics, dependency_placeholder
from tests.support.ipython import close_default_registry, kadam_shell

BUSYBOX = "--image busybox:1.36 --memory 64"


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield kadam_shell(tmp_path, monkeypatch, pictures=True, stop_grace="1")
    close_default_registry()


@pytest.fixture
def no_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if kadam_nb.display.graph did not exist (yet)."""
    import kadam_nb.display

    monkeypatch.setitem(sys.modules, "kadam_nb.display.graph", None)
    monkeypatch.delattr(kadam_nb.display, "graph", raising=False)


@pytest.fixture
def no_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kadam_nb.notebook.dashboard", None)


@pytest.fixture
def fake_graph(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    module = types.ModuleType("kadam_nb.display.graph")

    def definitions_graph(definitions: Any, latest: Any = None) -> str:
        calls.append(("definitions", ([d.name for d in definitions], latest)))
        return "G"

    def jobs_graph(views: Any) -> str:
        calls.append(("jobs", [v.display_name for v in views]))
        return "G"

    def to_svg(graph: Any) -> str:
        return '<svg xmlns="http://www.w3.org/2000/svg"></svg>'

    module.definitions_graph = definitions_graph  # type: ignore[attr-defined]
    module.jobs_graph = jobs_graph  # type: ignore[attr-defined]
    module.to_svg = to_svg  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kadam_nb.display.graph", module)
    import kadam_nb.display

    monkeypatch.setattr(kadam_nb.display, "graph", module, raising=False)
    return calls


def magics(ip: Any) -> KadamMagics:
    found = ip.magics_manager.registry["KadamMagics"]
    assert isinstance(found, KadamMagics)
    return found


def job(ip: Any, line: str, body: str = "echo hi") -> None:
    ip.run_cell_magic("kadam", f"job {line}", body)


def kadam(ip: Any, line: str) -> Any:
    return ip.run_line_magic("kadam", line)


def usage(ip: Any, line: str, cell: str | None = None) -> str:
    with pytest.raises(UsageError) as info:
        if cell is None:
            kadam(ip, line)
        else:
            ip.run_cell_magic("kadam", line, cell)
    return str(info.value)


def wait_for_status(ip: Any, ref: str, status: str, timeout: float = 10.0) -> None:
    reg = kadam_nb.registry()
    deadline = time.monotonic() + timeout
    while reg.job(ref).status.value != status:
        assert time.monotonic() < deadline, f"{ref} never became {status}"
        time.sleep(0.02)


# ------------------------------------------------------------------------------ the magic itself


def test_docstring_is_the_grammar(ip: Any) -> None:
    assert ip.find_line_magic("kadam").__doc__ == GRAMMAR
    assert ip.find_cell_magic("kadam").__doc__ == GRAMMAR
    info = ip.object_inspect("%kadam")
    assert "%%kadam job NAME [options]" in info["docstring"]


def test_settings_come_from_the_environment_and_config(ip: Any) -> None:
    m = magics(ip)
    assert m.settings.backend == "local"
    reg = m.registry()
    assert reg.backend == "local" and reg.state_dir == Path.cwd() / "state"
    assert reg is kadam_nb.registry()
    ip.run_line_magic("config", "Kadam.log_lines = 500")
    frame = kadam(ip, "config")
    rows = {r["name"]: r for r in frame.to_dict("records")}
    assert rows["log_lines"]["value"] == 500 and rows["log_lines"]["source"].startswith("config")
    assert rows["backend"]["source"] == "environment $KADAM_BACKEND"
    assert rows["updates_per_second"]["source"] == "default"
    assert list(frame.columns) == ["name", "value", "source", "help"]


def test_variables_are_not_expanded_in_the_line(ip: Any) -> None:
    ip.user_ns["mem"] = "128"
    job(ip, "x --env 'A=$mem' --env B={mem}")
    assert dict(kadam_nb.registry().definition("x").environment) == {"A": "$mem", "B": "{mem}"}


# ------------------------------------------------------------------------------ job cells


def test_job_cell_registers_and_revises(
    ip: Any, capsys: pytest.CaptureFixture[str], no_graph: None
) -> None:
    job(ip, f"extract {BUSYBOX} --depends-on up --array 4 --retries 2 --timeout 90")
    out = capsys.readouterr().out
    assert out.startswith("extract: revision 1 (new definition) · image busybox:1.36")
    assert "1 vCPU, 64 MiB" in out and "after up" in out and "array of 4" in out
    assert "2 attempts" in out and "timeout 90 s" in out
    job(ip, f"extract {BUSYBOX} --depends-on up --array 4 --retries 2 --timeout 90")
    assert "revision 1 (unchanged)" in capsys.readouterr().out
    job(ip, f"extract {BUSYBOX}", "echo changed")
    assert "revision 2 (new revision)" in capsys.readouterr().out
    assert [d.revision for d in kadam_nb.registry().revisions("extract")] == [1, 2]


def test_job_cell_shows_the_definitions_graph(
    ip: Any, fake_graph: list[tuple[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    job(ip, f"a {BUSYBOX}")
    job(ip, f"b {BUSYBOX} --depends-on a")
    assert fake_graph == [("definitions", (["a"], None)), ("definitions", (["a", "b"], None))]
    assert "SVG object" in capsys.readouterr().out


def test_job_cell_survives_a_missing_dot(
    ip: Any, fake_graph: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_dot(graph: Any) -> str:
        raise kadam_nb.KadamError("cannot draw the graph: graphviz's `dot` program was not found")

    monkeypatch.setattr(sys.modules["kadam_nb.display.graph"], "to_svg", no_dot)
    job(ip, f"a {BUSYBOX}")  # the summary only
    assert "dot" in usage(ip, "graph")  # asked for explicitly: say how to get it


def test_magic_made_equals_create_made(ip: Any, tmp_path: Path, no_graph: None) -> None:
    line = (
        "clean --image busybox:1.36 --depends-on extract,other --vcpus 0.5 --memory 1g --gpus 1 "
        "--env A=1 --env 'B=x y' --volume data:/data:ro --volume /srv:/srv --array 4 "
        "--array-dependency n_to_n --retries 4 --retry-on exit:137 --exit-on reason:OutOfMemory* "
        "--timeout 10m --queue gpu --param p=v --user nobody --shm-size 64m --read-only "
        "--privileged --cache"
    )
    job(ip, line, "echo hi\n")
    made = kadam_nb.registry().definition("clean")
    expected = JobDefinition.create(
        "clean",
        image="busybox:1.36",
        command="echo hi\n",
        depends_on=["extract", "other"],
        vcpus=0.5,
        memory="1g",
        gpus=1,
        environment={"A": "1", "B": "x y"},
        volumes=[f"{tmp_path}/data:/data:ro", "/srv:/srv"],
        array_size=4,
        array_dependency="N_TO_N",
        retry_strategy={
            "attempts": 4,
            "evaluateOnExit": [
                {"onExitCode": "137", "action": "RETRY"},
                {"onReason": "OutOfMemory*", "action": "EXIT"},
            ],
        },
        timeout=600,
        parameters={"p": "v"},
        user="nobody",
        shared_memory_size=64,
        readonly_root_filesystem=True,
        privileged=True,
    )
    assert made.replace(revision=None) == expected
    cell = magics(ip).cells["clean"]
    assert (cell.queue, cell.cache) == ("gpu", True)


def test_argv_cell(ip: Any, no_graph: None) -> None:
    job(ip, "a --argv", "echo 'two words'")
    assert kadam_nb.registry().definition("a").command == ("echo", "two words")


def test_definition_without_image_gets_the_default_image(ip: Any, no_graph: None) -> None:
    job(ip, "a")
    assert kadam_nb.registry().definition("a").image == "busybox:1.36"


@pytest.mark.parametrize(
    ("line", "body", "needle"),
    [
        ("job x --memory 12q", "e", "--memory: '12q' is not a size; use 512, 512m or 2g"),
        ("job x --memory 2", "e", "--memory: must be a whole number of MiB >= 4"),
        ("job x --vcpus 0", "e", "--vcpus: must be a number of vCPUs > 0"),
        ("job x --vcpus lots", "e", "--vcpus: 'lots' is not a number"),
        ("job x --gpus -1", "e", "--gpus: must be a whole number of GPUs >= 0"),
        ("job x --image 'a b'", "e", "--image: must be a non-empty image reference"),
        ("job x --env FOO", "e", "--env: 'FOO' is not NAME=VALUE"),
        ("job x --env AWS_BATCH_X=1", "e", "--env (environment.AWS_BATCH_X): reserved"),
        ("job x --volume a:b", "e", "--volume: 'a:b': the container path must be absolute"),
        ("job x --volume /a:/d --volume /b:/d", "e", "--volume (mount_points[1].container_path)"),
        ("job x --array 1", "e", "--array: must be a whole number from 2 to 10000"),
        ("job x --array-dependency n_to_n", "e", "--array-dependency: only applies to array jobs"),
        ("job x --array-dependency sideways", "e", "--array-dependency: 'sideways'"),
        ("job x --retries 11", "e", "--retries: must be a whole number of attempts from 1 to 10"),
        ("job x --retry-on exit:abc", "e", "--retry-on: exit:abc is not an exit code pattern"),
        ("job x --exit-on what:1", "e", "--exit-on: 'what:1' is not a condition"),
        ("job x --timeout soon", "e", "--timeout: 'soon' is not a duration"),
        ("job x --queue", "e", "--queue: needs a value"),
        ("job x --param a-b=1", "e", "--param (parameters.a-b): parameter names must be"),
        ("job x --param nope", "e", "--param: 'nope' is not NAME=VALUE"),
        ("job x --user", "e", "--user: needs a value"),
        ("job x --shm-size 0", "e", "--shm-size: must be a whole number of MiB > 0"),
        ("job x --read-only please", "e", "--read-only: takes no value"),
        ("job x --privileged=1", "e", "--privileged: takes no value"),
        ("job x --cache yes", "e", "--cache: takes no value"),
        ("job x --argv", "'open", "--argv: the body is not shell-quoted words"),
        ("job x --depends-on x", "e", "--depends-on (depends_on[0]): a definition cannot depend"),
        ("job x --bogus", "e", "unknown option --bogus"),
        ("job x", " \n ", "the cell body is the job's script; it is empty"),
        ("job 'bad name'", "e", "NAME: must be 1-128 characters"),
        ("job", "e", "give the job's NAME first"),
        ("definition --name x", "{}", "%%kadam definition takes no options"),
        ("run", "e", "for run, use the line form %kadam run"),
        ("", "e", "%%kadam takes a cell body only as"),
    ],
)
def test_bad_cells_are_usage_errors_naming_the_option(
    ip: Any, line: str, body: str, needle: str, no_graph: None
) -> None:
    assert needle in usage(ip, line, body)
    assert kadam_nb.registry().definitions() == []


def test_definition_cell(ip: Any, capsys: pytest.CaptureFixture[str], no_graph: None) -> None:
    doc = {
        "jobDefinitionName": "imported",
        "type": "container",
        "containerProperties": {
            "image": "busybox:1.36",
            "command": ["echo", "hi"],
            "resourceRequirements": [
                {"type": "MEMORY", "value": "64"},
                {"type": "VCPU", "value": "1"},
            ],
        },
        "kadam": {"dependsOn": ["extract"]},
    }
    ip.run_cell_magic("kadam", "definition", json.dumps(doc))
    assert "imported: revision 1 (new definition)" in capsys.readouterr().out
    d = kadam_nb.registry().definition("imported")
    assert d.command == ("echo", "hi") and d.depends_on == ("extract",) and d.memory == 64
    assert "containerProperties.resourceRequirements" in usage(
        ip, "definition", json.dumps({**doc, "containerProperties": {"resourceRequirements": 1}})
    )
    refused = usage(ip, "definition", "{not json")  # the words depend on PyYAML being there
    assert "is not JSON" in refused or "neither JSON" in refused


# ------------------------------------------------------------------------------ run, status, logs


def test_run_wait_status_graph_and_dashboard(
    ip: Any, fake_graph: list[tuple[str, Any]], no_dashboard: None
) -> None:
    job(ip, f"extract {BUSYBOX}", "echo one; echo two; echo three")
    job(
        ip,
        f"clean {BUSYBOX} --depends-on extract --array 2",
        "echo part $AWS_BATCH_JOB_ARRAY_INDEX",
    )
    job(ip, f"other {BUSYBOX}", "echo other")
    run = kadam(ip, "run clean --wait")
    assert isinstance(run, Run) and run.succeeded  # no dashboard module: the Run itself
    assert [j.name for j in run.jobs] == ["extract", "clean"]
    assert magics(ip).last_run is run

    frame = kadam(ip, "status")
    assert list(frame["job"]) == ["extract", "clean", "clean[0]", "clean[1]"]
    assert set(frame["status"]) == {"SUCCEEDED"}
    assert list(kadam(ip, f"status {run.id[:8]}")["job"]) == list(frame["job"])
    assert "names no run" in usage(ip, "status nope")
    assert "give RUN or --all" in usage(ip, f"status {run.id} --all")

    fake_graph.clear()
    kadam(ip, "graph")
    assert fake_graph == [("jobs", ["extract", "clean", "clean[0]", "clean[1]"])]
    assert kadam(ip, "dashboard").id == run.id
    assert kadam(ip, f"dashboard {run.id[:6]}").id == run.id

    run2 = kadam(ip, "run --wait")
    assert {j.name for j in run2.jobs} == {"extract", "clean", "other"}
    assert len(kadam(ip, "status --all")) == 4 + 5
    assert len(kadam(ip, "status")) == 5
    fake_graph.clear()
    kadam(ip, f"graph {run.id}")
    assert fake_graph == [("jobs", ["extract", "clean", "clean[0]", "clean[1]"])]


def test_run_returns_the_dashboard(
    ip: Any, monkeypatch: pytest.MonkeyPatch, no_graph: None
) -> None:
    made: list[tuple[Any, ...]] = []
    module = types.ModuleType("kadam_nb.notebook.dashboard")

    class Dashboard:
        def __init__(self, registry: Any, run: Any, settings: Any) -> None:
            made.append((registry, run, settings))

    module.Dashboard = Dashboard  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kadam_nb.notebook.dashboard", module)
    job(ip, f"a {BUSYBOX}")
    outcome = kadam(ip, "run --wait")  # the dashboard is displayed at once; the Run returned
    assert isinstance(outcome, Run) and outcome.succeeded
    registry, run, settings = made[0]
    assert registry is kadam_nb.registry() and run.id == outcome.id
    assert settings is magics(ip).settings
    assert isinstance(kadam(ip, "run"), Dashboard)  # without --wait: returned at once
    assert isinstance(kadam(ip, "dashboard"), Dashboard)
    kadam_nb.registry().wait(timeout=30)


def test_dashboard_and_graph_before_any_run(
    ip: Any, fake_graph: list[tuple[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no run yet" in usage(ip, "dashboard")
    job(ip, f"a {BUSYBOX}")
    fake_graph.clear()
    kadam(ip, "graph")  # no run in this kernel: the definitions
    assert fake_graph == [("definitions", (["a"], {}))]
    assert len(kadam(ip, "status")) == 0


def test_graph_without_the_graph_module(
    ip: Any, no_graph: None, capsys: pytest.CaptureFixture[str]
) -> None:
    kadam(ip, "graph")
    assert "no graph: kadam_nb.display.graph is not available" in capsys.readouterr().out


def test_run_cache_from_the_cells(
    ip: Any, capsys: pytest.CaptureFixture[str], no_graph: None, no_dashboard: None
) -> None:
    job(ip, f"a {BUSYBOX} --cache")
    job(ip, f"b {BUSYBOX} --depends-on a --cache --queue special")
    first = kadam(ip, "run --wait")
    assert "--queue special" in capsys.readouterr().out
    second = kadam(ip, "run --wait")  # every job has --cache: unchanged ones are skipped
    assert all(j.view.cached_from for j in second.jobs) and first.id != second.id
    job(ip, f"c {BUSYBOX} --depends-on b")  # c has no --cache: nothing is skipped
    third = kadam(ip, "run --wait")
    assert "--cache is set on a, b but not on c" in capsys.readouterr().out
    assert not any(j.view.cached_from for j in third.jobs)
    fourth = kadam(ip, "run --wait --cache")
    assert all(j.view.cached_from for j in fourth.jobs)


def test_run_errors(ip: Any, no_graph: None) -> None:
    assert "unknown job definition(s) nope" in usage(ip, "run nope")
    job(ip, f"a {BUSYBOX} --depends-on missing")
    assert "missing dependency" in usage(ip, "run")


def test_logs(
    ip: Any, capsys: pytest.CaptureFixture[str], no_graph: None, no_dashboard: None
) -> None:
    job(ip, f"a {BUSYBOX}", "echo one; echo two; echo three")
    job(ip, f"arr {BUSYBOX} --array 2", "echo child $AWS_BATCH_JOB_ARRAY_INDEX")
    job(ip, f"flaky {BUSYBOX} --retries 2", 'echo "try $AWS_BATCH_JOB_ATTEMPT"; exit 3')
    kadam(ip, "run --wait")
    capsys.readouterr()
    kadam(ip, "logs a")
    assert capsys.readouterr().out == "one\ntwo\nthree\n"
    kadam(ip, "logs a --tail 2")
    assert capsys.readouterr().out == "two\nthree\n"
    kadam(ip, "logs a --tail 0")
    assert capsys.readouterr().out == ""
    kadam(ip, "logs arr[1]")
    assert capsys.readouterr().out == "child 1\n"
    kadam(ip, "logs arr")
    assert capsys.readouterr().out == (
        "--- arr[0] attempt 1 ---\nchild 0\n--- arr[1] attempt 1 ---\nchild 1\n"
    )
    kadam(ip, "logs flaky --attempt 2")
    assert capsys.readouterr().out == "try 2\n"
    kadam(ip, "logs flaky")
    assert capsys.readouterr().out == (
        "--- flaky attempt 1 ---\ntry 1\n--- flaky attempt 2 ---\ntry 2\n"
    )
    job_id = kadam_nb.registry().job("a").id
    kadam(ip, f"logs {job_id} --tail 1")
    assert capsys.readouterr().out == "three\n"
    assert "no job named or with id 'nope'" in usage(ip, "logs nope")
    assert "arr is an array of 2" in usage(ip, "logs arr[5]")


def test_logs_follow_a_running_job(
    ip: Any, capsys: pytest.CaptureFixture[str], no_graph: None, no_dashboard: None
) -> None:
    job(ip, f"slow {BUSYBOX}", "echo first; sleep 0.6; echo second")
    kadam(ip, "run")
    wait_for_status(ip, "slow", "RUNNING")
    kadam(ip, "logs slow")
    out = capsys.readouterr().out
    assert "(following slow: RUNNING; interrupt the kernel to stop)" in out
    assert "second" in out and out.index("first") < out.index("second")
    assert out.endswith(
        "first\n(following slow: RUNNING; interrupt the kernel to stop)\nsecond\n"
        "(slow SUCCEEDED, exit 0: Exited with code 0)\n"
    )


def test_logs_follow_stops_cleanly_on_interrupt(
    ip: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_graph: None,
    no_dashboard: None,
) -> None:
    job(ip, f"slow {BUSYBOX}", "echo first; sleep 30")
    kadam(ip, "run")
    wait_for_status(ip, "slow", "RUNNING")

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(magics_module, "_pause", interrupt)
    kadam(ip, "logs slow")  # returns, no KeyboardInterrupt escapes
    assert "(stopped following slow; it is RUNNING)" in capsys.readouterr().out
    kadam(ip, "terminate slow")


# ------------------------------------------------------------------------------ cancel, terminate


def test_cancel_terminate_and_reset_while_running(
    ip: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, no_graph: None, no_dashboard: None
) -> None:
    job(ip, f"train {BUSYBOX}", "sleep 30")
    job(ip, f"report {BUSYBOX} --depends-on train", "echo report")
    job(ip, f"quick {BUSYBOX}", "echo quick")
    kadam(ip, "run quick --wait")
    kadam(ip, "run report")
    wait_for_status(ip, "train", "RUNNING")
    capsys.readouterr()

    kadam(ip, "cancel train")
    assert capsys.readouterr().out == (
        "train is RUNNING: cancel only affects jobs that have not started; "
        "use %kadam terminate train\n"
    )
    assert "refused: 2 job(s) are not finished (train RUNNING, report PENDING)" in usage(
        ip, "reset --history"
    )
    assert (tmp_path / "state").is_dir()

    kadam(ip, "cancel report --reason 'not today'")
    out = capsys.readouterr().out
    assert out.startswith("cancelled report (it was PENDING): it FAILS")
    assert "not today" in out
    kadam(ip, "cancel quick")
    assert capsys.readouterr().out == "quick already SUCCEEDED: nothing to cancel\n"

    kadam(ip, "terminate train --reason enough")
    assert capsys.readouterr().out.startswith(
        "terminating train (it was RUNNING): SIGTERM now, SIGKILL after 1 s"
    )
    assert kadam_nb.registry().job("train").wait(timeout=10) is False
    kadam(ip, "terminate train")
    assert capsys.readouterr().out == "train already FAILED: nothing to terminate\n"
    assert "no job named or with id 'ghost'" in usage(ip, "cancel ghost")

    kadam(ip, "reset --history")
    assert "deleted" in capsys.readouterr().out
    assert not (tmp_path / "state").exists()
    assert magics(ip).last_run is None
    assert kadam(ip, "list").empty  # a fresh registry on a fresh state directory


def test_terminate_a_job_that_has_not_started(
    ip: Any, capsys: pytest.CaptureFixture[str], no_graph: None, no_dashboard: None
) -> None:
    job(ip, f"train {BUSYBOX}", "sleep 30")
    job(ip, f"report {BUSYBOX} --depends-on train", "echo report")
    kadam(ip, "run")
    wait_for_status(ip, "report", "PENDING")
    capsys.readouterr()
    kadam(ip, "terminate report")
    assert capsys.readouterr().out == "report had not started (PENDING): cancelled, it FAILS\n"
    kadam(ip, "terminate train")


# ------------------------------------------------------------------------------ definitions


def test_list_show_remove(ip: Any, capsys: pytest.CaptureFixture[str], no_graph: None) -> None:
    job(ip, f"extract {BUSYBOX} --env API_KEY=s3cret --env MODE=fast --queue q1", "echo hi")
    job(ip, f"clean {BUSYBOX} --depends-on extract --array 3", "echo clean")
    job(ip, f"clean {BUSYBOX} --depends-on extract --array 3 --vcpus 2", "echo clean")
    frame = kadam(ip, "list")
    assert list(frame.columns) == [
        "name",
        "revision",
        "image",
        "vcpus",
        "memory",
        "depends_on",
        "array",
    ]
    rows = frame.to_dict("records")
    assert rows[0]["name"] == "extract" and rows[1]["revision"] == 2
    assert rows[1]["depends_on"] == "extract" and rows[1]["array"] == 3
    capsys.readouterr()

    kadam(ip, "show extract")
    out = capsys.readouterr().out
    assert "s3cret" not in out and "API_KEY=••••••" in out and "MODE=fast" in out
    assert "values of API_KEY are masked" in out
    assert "%%kadam job extract --image busybox:1.36 --memory 64" in out and "--queue q1" in out
    doc = json.loads(out[out.index("{") :])
    env = doc["containerProperties"]["environment"]
    assert {"name": "API_KEY", "value": "••••••"} in env

    kadam(ip, "show clean --revision 1")
    out = capsys.readouterr().out
    assert "# clean, revision 1" in out and "--vcpus" not in out.split("\n\n")[0]
    kadam(ip, "show clean")
    assert "--vcpus 2" in capsys.readouterr().out
    assert "has no revision 7" in usage(ip, "show clean --revision 7")
    assert "no job definition named 'nope'" in usage(ip, "show nope")

    kadam(ip, "remove extract")
    out = capsys.readouterr().out
    assert out.startswith("removed extract (its 1 revision(s) and its jobs stay in the history)")
    assert "clean still depend(s) on extract" in out
    assert list(kadam(ip, "list")["name"]) == ["clean"]
    assert "no job definition named 'extract'" in usage(ip, "remove extract")


def test_show_notes_what_a_cell_cannot_carry(
    ip: Any, capsys: pytest.CaptureFixture[str], no_graph: None
) -> None:
    doc = {
        "jobDefinitionName": "tagged",
        "type": "container",
        "containerProperties": {"image": "busybox:1.36", "command": ["true"]},
        "tags": {"team": "data"},
    }
    ip.run_cell_magic("kadam", "definition", json.dumps(doc))
    capsys.readouterr()
    kadam(ip, "show tagged")
    out = capsys.readouterr().out
    assert "not expressible in a job cell (see the JSON): tags" in out
    assert '"team": "data"' in out


def test_reset_forgets_definitions(
    ip: Any, capsys: pytest.CaptureFixture[str], no_graph: None, no_dashboard: None
) -> None:
    job(ip, f"a {BUSYBOX}")
    job(ip, f"b {BUSYBOX}")
    kadam(ip, "run --wait")
    capsys.readouterr()
    kadam(ip, "reset")
    assert capsys.readouterr().out == "forgot 2 definition(s); their jobs stay in the history\n"
    assert kadam(ip, "list").empty
    assert len(kadam(ip, "status")) == 2  # the history stays


# ------------------------------------------------------------------------------ export


def test_export_aws(
    ip: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, no_graph: None
) -> None:
    job(ip, f"extract {BUSYBOX} --timeout 30", "echo > /kadam/work/raw")
    job(ip, f"clean {BUSYBOX} --depends-on extract --array 4 --queue fast", "echo clean")
    job(ip, f"per {BUSYBOX} --depends-on clean --array 4 --array-dependency N_TO_N", "echo per")
    job(ip, f"seq {BUSYBOX} --array 2 --array-dependency SEQUENTIAL", "echo seq")
    job(ip, f"report {BUSYBOX} --depends-on per,extract", "echo report")
    capsys.readouterr()
    kadam(ip, "export aws")
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [d["jobDefinitionName"] for d in doc["jobDefinitions"]] == [
        "extract",
        "clean",
        "per",
        "seq",
        "report",
    ]
    assert all("kadam" not in d for d in doc["jobDefinitions"])  # plain AWS JSON
    jobs = {j["jobName"]: j for j in doc["submitJobs"]}
    assert list(jobs) == ["extract", "clean", "per", "seq", "report"]
    assert "dependsOn" not in jobs["extract"]
    assert jobs["clean"]["dependsOn"] == [{"jobId": dependency_placeholder("extract")}]
    assert dependency_placeholder("extract") == "${extract}"
    assert jobs["clean"]["jobQueue"] == "fast" and jobs["extract"]["jobQueue"] == "default"
    assert jobs["clean"]["arrayProperties"] == {"size": 4}
    assert jobs["per"]["dependsOn"] == [{"jobId": "${clean}", "type": "N_TO_N"}]
    assert jobs["seq"]["dependsOn"] == [{"type": "SEQUENTIAL"}]
    assert jobs["report"]["dependsOn"] == [{"jobId": "${per}"}, {"jobId": "${extract}"}]
    assert jobs["report"]["jobDefinition"] == "report"
    assert "warning: extract: timeout: AWS Batch requires attemptDurationSeconds >= 60" in (
        captured.err
    )
    assert "/kadam/work" in captured.err
    assert "depends_on/array_size" not in captured.err  # they are in the SubmitJob bodies

    target = tmp_path / "out" / "pipeline.json"
    target.parent.mkdir()
    kadam(ip, f"export aws --file {target}")
    assert f"wrote {target}" in capsys.readouterr().out
    assert json.loads(target.read_text()) == doc


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("", "give a verb"),
        ("bogus", "unknown verb 'bogus'"),
        ("job x", "is a cell magic"),
        ("run --now", "unknown option --now"),
        ("logs", "missing JOB"),
        ("logs x --tail abc", "--tail: 'abc' is not a whole number"),
        ("logs x --attempt 0", "--attempt: '0': use a whole number >= 1"),
        ("cancel x --reason", "--reason: needs a value"),
        ("terminate", "missing JOB"),
        ("show x --revision 0", "--revision"),
        ("remove", "missing NAME"),
        ("export json", "the only export format is aws"),
        ("export aws --file", "--file: needs a value"),
        ("reset --everything", "unknown option --everything"),
        ("config now", "unexpected value 'now'"),
        ("list -h", "unknown option -h"),
        ("status --help", "unknown option --help"),
    ],
)
def test_bad_lines_are_usage_errors(ip: Any, line: str, needle: str) -> None:
    assert needle in usage(ip, line)


def test_usage_errors_hide_kadam_tracebacks(ip: Any) -> None:
    with pytest.raises(UsageError) as info:
        kadam(ip, "logs nope")
    assert info.value.__cause__ is None and info.value.__suppress_context__


# ------------------------------------------------------------------------------ teaching verbs


def test_states_timeline_and_step_verbs(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert "digraph" in kadam(ip, "states").source
    assert "no run yet" in usage(ip, "timeline")
    kadam(ip, "step on")
    job(ip, f"a {BUSYBOX}", "echo a")
    run = kadam(ip, "run")
    capsys.readouterr()
    kadam(ip, "step")
    assert capsys.readouterr().out.startswith("a moved SUBMITTED → RUNNABLE: No dependencies")
    kadam(ip, "step")
    assert "a moved RUNNABLE → STARTING" in capsys.readouterr().out
    kadam(ip, "step off")
    kadam_nb.registry().wait(timeout=30)
    dot = kadam(ip, "states a").source
    assert "penwidth=3" in dot
    picture = kadam(ip, "timeline")
    assert [label for label, _ in picture.rows] == ["a"]
    assert run is not None
    assert "use on or off" in usage(ip, "step maybe")


def test_status_says_which_service_does_not_answer(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = magics(ip).registry()
    reg.create_compute_environment("hpc", backend="slurm", partition="debug")
    kadam(ip, "status --all")
    assert "does not answer" not in capsys.readouterr().out
    # what the scheduler sets when the Slurm backend reports squeue failing
    reg.compute_environments["hpc"].status_reason = "squeue failed: no controller"
    kadam(ip, "status --all")
    assert "⚠ hpc does not answer: squeue failed: no controller" in capsys.readouterr().out

"""The Docker backend on a real engine: containers with AWS Batch's semantics."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kadam_nb.core.states import JobStatus
from kadam_nb.core.views import LogLines, StateChanged
from kadam_nb.facade import Registry
from tests.test_pipeline_local import max_overlap

S = JobStatus
OOM = "OutOfMemoryError: Container killed due to memory usage"


def test_diamond_pipeline_runs_in_containers(docker_reg: Registry) -> None:
    reg = docker_reg
    reg.register("extract", command="seq 1 20 > $KADAM_WORK/raw.txt; echo extracted", memory=64)
    reg.register(
        "odd",
        command="awk 'NR % 2' $KADAM_WORK/raw.txt > $KADAM_WORK/odd.txt",
        depends_on=["extract"],
        memory=64,
    )
    reg.register(
        "even",
        command="awk 'NR % 2 == 0' $KADAM_WORK/raw.txt > $KADAM_WORK/even.txt",
        depends_on=["extract"],
        memory=64,
    )
    reg.register(
        "join",
        command="cat $KADAM_WORK/odd.txt $KADAM_WORK/even.txt | wc -l",
        depends_on=["odd", "even"],
        memory=64,
    )
    reg.register(
        "report",
        command="echo report for $AWS_BATCH_JOB_ID; cat /proc/1/cgroup | head -1",
        depends_on=["join"],
        memory=64,
    )
    run = reg.run()
    assert run.wait(timeout=120), reg.jobs()[["job", "status", "status_reason"]]
    assert reg.job("join").logs().strip() == "20"
    assert reg.job("report").logs().startswith(f"report for {reg.job('report').id}\n")
    assert all(a.backend == "docker" for j in run.jobs for a in j.attempts)
    spans = [(j.attempts[0].started_at, j.attempts[0].stopped_at) for j in run.jobs]
    assert max_overlap(spans) <= 2  # type: ignore[arg-type]


def test_logs_arrive_while_the_container_runs(docker_reg: Registry) -> None:
    reg = docker_reg
    seen: list[tuple[str, float]] = []
    lock = threading.Lock()

    def observe(event: object) -> None:
        with lock:
            if isinstance(event, LogLines):
                seen.extend(("line:" + line, time.monotonic()) for line in event.lines)
            elif isinstance(event, StateChanged) and event.dst.done and event.job.name == "slow":
                seen.append(("done", time.monotonic()))

    reg.subscribe(observe)
    reg.register("slow", command="echo first; sleep 3; echo second", memory=64)
    job = reg.submit("slow")
    assert reg._scheduler.wait_for(lambda: "first" in job.logs(), timeout=30)
    assert job.status == S.RUNNING  # the first line is stored while the container still runs
    assert job.wait(timeout=30)
    when = dict(seen)
    assert when["done"] - when["line:first"] > 2.0
    assert job.logs() == "first\nsecond\n"


def test_out_of_memory(docker_reg: Registry) -> None:
    docker_reg.register("hog", command="dd if=/dev/zero of=/dev/null bs=64M count=1", memory=16)
    job = docker_reg.submit("hog")
    assert job.wait(timeout=60) is False
    assert job.exit_code == 137
    assert job.attempts[0].reason == OOM
    assert job.status_reason.startswith(OOM) and "16 MiB" in job.status_reason


def test_vcpus_limit_concurrency(docker_reg: Registry) -> None:
    docker_reg.register("nap", command="sleep 2", vcpus=1, memory=64)
    started = time.monotonic()
    jobs = [docker_reg.submit("nap") for _ in range(4)]
    assert all(j.wait(timeout=60) for j in jobs)
    elapsed = time.monotonic() - started
    spans = [(j.attempts[0].started_at, j.attempts[0].stopped_at) for j in jobs]
    assert max_overlap(spans) == 2  # type: ignore[arg-type]
    assert elapsed >= 4.0  # two rounds of two


ENDINGS = [
    # name, definition fields, exit code, words in the job's status reason
    ("nonzero", {"command": "echo bye; exit 7"}, 7, "Exited with code 7"),
    (  # `sleep` runs as PID 1, which ignores SIGTERM: SIGKILL ends it after the grace period
        "timeout",
        {"command": "sleep 60", "timeout": 1},
        137,
        "Job attempt duration exceeded timeout",
    ),
    (
        "noimage",
        {"command": "true", "image": "kadam-test/no-such-image:0"},
        None,
        "CannotPullContainerError",
    ),
    ("nocommand", {"command": ["no-such-command"]}, None, "CannotStartContainerError"),
    ("noshellcommand", {"command": "no-such-command"}, 127, "Command not found"),
]


@pytest.mark.parametrize(("name", "fields", "code", "words"), ENDINGS, ids=[e[0] for e in ENDINGS])
def test_endings(
    docker_reg: Registry, name: str, fields: dict, code: int | None, words: str
) -> None:
    docker_reg.register(name, memory=64, **fields)
    job = docker_reg.submit(name)
    assert job.wait(timeout=60) is False
    assert job.status == S.FAILED
    assert job.exit_code == code
    assert words in job.status_reason


def test_terminate_stops_the_container(docker_reg: Registry) -> None:
    docker_reg.register("long", command="echo up; sleep 60", memory=64)
    job = docker_reg.submit("long")
    assert docker_reg._scheduler.wait_for(lambda: job.logs() == "up\n", timeout=30)
    started = time.monotonic()
    assert job.terminate("operator said so")
    assert job.wait(timeout=30) is False
    assert time.monotonic() - started < docker_reg.stop_grace + 5
    assert job.status_reason == "Terminated by user: operator said so"
    assert job.exit_code in (137, 143)


def test_array_index_and_work_directory(docker_reg: Registry) -> None:
    docker_reg.register(
        "write",
        command="echo $AWS_BATCH_JOB_ARRAY_INDEX > $KADAM_WORK/part-$AWS_BATCH_JOB_ARRAY_INDEX",
        array_size=3,
        memory=64,
    )
    docker_reg.register("read", command="cat $KADAM_WORK/part-*", depends_on=["write"], memory=64)
    run = docker_reg.run()
    assert run.wait(timeout=60)
    assert docker_reg.job("read").logs() == "0\n1\n2\n"
    assert sorted(p.name for p in run.work_dir.iterdir()) == ["part-0", "part-1", "part-2"]


def test_kernel_killed_mid_run_is_readopted(docker_engine: object, state_dir: Path) -> None:
    from kadam_nb.backends.docker import state_dir_key

    _run_then_kill(
        state_dir,
        "for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.5; done",
        until="line 2",
        name="counter",
        then='reg.register("after", memory=64, command="echo after", depends_on=["counter"])',
    )
    with Registry(state_dir=state_dir, backend="docker") as reg:
        counter = reg.job("counter")
        assert counter.wait(timeout=60), counter.status_reason
        assert counter.logs() == "".join(f"line {i}\n" for i in range(1, 9))
        assert len(counter.attempts) == 1
        assert reg.job("after").wait(timeout=60)
        assert reg.job("after").logs() == "after\n"
    from tests.support.docker_engine import kadam_containers

    assert kadam_containers({state_dir_key(str(state_dir.resolve()))}) == []


def _run_then_kill(
    state_dir: Path, command: str, until: str, name: str = "job", then: str = ""
) -> None:
    """Start a run in a child Python process (``then`` registers more definitions) and SIGKILL
    it once the first job's log contains ``until``: a kernel killed mid-run."""
    script = f"""
import time, kadam_nb as kadam
reg = kadam.Registry(state_dir={str(state_dir)!r}, backend="docker")
reg.register({name!r}, memory=64, command={command!r})
{then}
run = reg.run()
while {until!r} not in run.jobs[0].logs():
    time.sleep(0.05)
print("KILL ME", flush=True)
time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "KILL ME"
    proc.kill()
    proc.wait()


def _container_of(state_dir: Path) -> str:
    from kadam_nb.backends.docker import state_dir_key
    from tests.support.docker_engine import kadam_containers

    found = kadam_containers({state_dir_key(str(state_dir.resolve()))})
    assert len(found) == 1
    return found[0]


def test_container_that_finished_while_no_kernel_watched(
    docker_engine: object, state_dir: Path
) -> None:
    _run_then_kill(state_dir, "echo one; sleep 1; echo two >&2; echo three; exit 5", "one")
    container = _container_of(state_dir)
    subprocess.run(["docker", "wait", container], check=True, capture_output=True)
    with Registry(state_dir=state_dir, backend="docker") as reg:
        job = reg.job("job")
        assert job.wait(timeout=60) is False
        assert job.exit_code == 5
        # stdout and stderr come from separate requests: each stream keeps its order
        streams = {line.text: line.stream for line in job.log_lines()}
        assert streams == {"one": "stdout", "two": "stderr", "three": "stdout"}
        assert job.logs().count("one") == 1


def test_container_removed_while_no_kernel_watched(docker_engine: object, state_dir: Path) -> None:
    _run_then_kill(state_dir, "echo started; sleep 60", "started")
    subprocess.run(
        ["docker", "rm", "-f", _container_of(state_dir)], check=True, capture_output=True
    )
    with Registry(state_dir=state_dir, backend="docker") as reg:
        job = reg.job("job")
        assert job.wait(timeout=30) is False
        assert "Container disappeared" in job.status_reason
        assert job.logs() == "started\n"


def test_failed_containers_can_be_kept_for_debugging(
    docker_engine: object, state_dir: Path
) -> None:
    from kadam_nb.backends.docker import state_dir_key
    from tests.conftest import _state_keys

    with Registry(state_dir=state_dir, backend="docker", keep_failed_containers=True) as reg:
        _state_keys.add(state_dir_key(str(reg.state_dir)))
        reg.register("bad", command="echo kept for you; exit 3", memory=64)
        reg.register("good", command="echo fine", memory=64)
        bad, good = reg.submit("bad"), reg.submit("good")
        assert bad.wait(timeout=60) is False and good.wait(timeout=60) is True
        handle = bad.attempts[0].handle
        assert handle
        logs = subprocess.run(["docker", "logs", handle], capture_output=True, text=True)
        assert logs.stdout == "kept for you\n"  # the failed one is still there, by the id shown
        assert _container_of(state_dir).startswith(handle)  # and only that one
        subprocess.run(["docker", "rm", "-f", handle], check=True, capture_output=True)


def test_lines_without_newline_and_longer_than_a_read(docker_reg: Registry) -> None:
    docker_reg.register(
        "odd", memory=64, command="head -c 200000 /dev/zero | tr '\\0' x; echo; printf 'tail'"
    )
    job = docker_reg.submit("odd")
    assert job.wait(timeout=60)
    assert job.logs() == "x" * 200000 + "\ntail\n"


def test_docker_asked_for_without_an_engine_says_how_to_start_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import warnings

    import kadam_nb.backends as backends
    from kadam_nb.errors import BackendUnavailable, KadamWarning

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setattr(backends, "_client", None)
    monkeypatch.setattr(backends, "_said_local", False)
    with pytest.raises(BackendUnavailable, match="dockerd"):
        Registry(state_dir=tmp_path / "a", backend="docker")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Registry(state_dir=tmp_path / "b", backend="auto") as reg:
            assert reg.backend == "local"
    assert any(
        issubclass(w.category, KadamWarning) and "local processes" in str(w.message) for w in caught
    )

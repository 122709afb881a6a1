"""The engine end to end on real local processes: the acceptance cases of the batch engine."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kadam_nb as kadam
from kadam_nb.core.states import JobStatus
from kadam_nb.errors import DependencyError, StateDirBusy
from kadam_nb.facade import Registry

S = JobStatus


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def test_diamond_pipeline_runs_in_order_within_capacity(reg: Registry) -> None:
    # extract → (left, right) → join → report; capacity 2 vCPUs, each job 1 vCPU
    reg.register("extract", command="sleep 0.3; echo extracted > $KADAM_WORK/raw", vcpus=1)
    reg.register("left", command="sleep 0.3; cat $KADAM_WORK/raw; echo L", depends_on=["extract"])
    reg.register("right", command="sleep 0.3; echo R", depends_on=["extract"])
    reg.register("join", command="sleep 0.3; echo joined", depends_on=["left", "right"])
    reg.register("report", command="echo report done", depends_on=["join"])
    run = reg.run()
    assert run.wait(timeout=30) is True
    jobs = {j.name: j.view for j in run.jobs}
    assert all(v.status == S.SUCCEEDED for v in jobs.values())

    def span(name: str) -> tuple[float, float]:
        a = jobs[name].attempts[-1]
        assert a.started_at is not None and a.stopped_at is not None
        return a.started_at, a.stopped_at

    assert span("extract")[1] <= span("left")[0] and span("extract")[1] <= span("right")[0]
    assert max(span("left")[1], span("right")[1]) <= span("join")[0]
    assert span("join")[1] <= span("report")[0]
    assert max_overlap([span(n) for n in jobs]) <= 2
    # left and right overlap: the capacity of 2 was used
    assert max_overlap([span("left"), span("right")]) == 2
    for name, view in jobs.items():  # a log file for each job that printed something
        log_path = Path(view.attempts[-1].log_path or "")
        assert log_path.is_file() == (name != "extract"), name
    assert reg.job("left").logs() == "extracted\nL\n"
    assert reg.job("extract").logs() == ""  # its output went to a file


def test_failure_fails_dependents_with_a_reason_naming_it(reg: Registry) -> None:
    reg.register("prepare", command="echo preparing; exit 4")
    reg.register("train", command="echo never", depends_on=["prepare"])
    reg.register("evaluate", command="echo never", depends_on=["train"])
    run = reg.run()
    assert run.wait(timeout=30) is False
    prepare, train, evaluate = (reg.job(n) for n in ("prepare", "train", "evaluate"))
    assert prepare.status == S.FAILED and prepare.exit_code == 4
    assert "Exited with code 4" in prepare.status_reason
    assert train.status == S.FAILED
    assert "prepare" in train.status_reason and prepare.id in train.status_reason
    assert evaluate.status == S.FAILED and "train" in evaluate.status_reason
    assert train.attempts == () and evaluate.attempts == ()


def test_cycle_is_refused_naming_it(reg: Registry) -> None:
    reg.register("a", command="true", depends_on=["c"])
    reg.register("b", command="true", depends_on=["a"])
    reg.register("c", command="true", depends_on=["b"])
    with pytest.raises(DependencyError, match=r"cycle: (a|b|c) → .* → \1"):
        reg.run()
    assert reg.jobs().empty  # nothing half-submitted


def test_missing_dependency_is_refused_naming_both_ends(reg: Registry) -> None:
    reg.register("train", command="true", depends_on=["prepare"])
    with pytest.raises(DependencyError, match="train depends on prepare, which is not registered"):
        reg.run()
    assert reg.jobs().empty


def test_retries_with_evaluate_on_exit(reg: Registry) -> None:
    strategy = {
        "attempts": 3,
        "evaluateOnExit": [
            {"onExitCode": "3", "action": "RETRY"},
            {"onReason": "*", "action": "EXIT"},
        ],
    }
    reg.register(
        "flaky", command='echo "attempt $AWS_BATCH_JOB_ATTEMPT"; exit 3', retry_strategy=strategy
    )
    job = reg.submit("flaky")
    assert job.wait(timeout=30) is False
    assert [a.exit_code for a in job.attempts] == [3, 3, 3]
    text = job.logs()
    assert re.findall(r"^attempt (\d)$", text, re.M) == ["1", "2", "3"]
    assert "--- attempt 3 ---" in text
    assert job.status == S.FAILED and "all 3 attempts used" in job.status_reason


def test_timeout_stops_a_sleep_and_is_not_retried(reg: Registry) -> None:
    reg.register("sleepy", command="sleep 60", timeout=1, retries=3)
    started = time.monotonic()
    job = reg.submit("sleepy")
    assert job.wait(timeout=20) is False
    elapsed = time.monotonic() - started
    grace = reg.stop_grace
    assert elapsed < 1 + grace + 2
    assert job.status_reason.startswith("Job attempt duration exceeded timeout")
    assert len(job.attempts) == 1
    assert job.attempts[0].exit_code in (143, 137)


def test_array_n_to_n_child_waits_for_its_upstream_peer(state_dir: Path) -> None:
    with Registry(state_dir=state_dir, backend="local", max_vcpus=8, max_memory="64g") as reg:
        # upstream child i sleeps (3 - i) * 0.4 s: child 3 ends first, child 0 last
        reg.register(
            "up",
            command='sleep "$(( (3 - AWS_BATCH_JOB_ARRAY_INDEX) * 4 ))e-1"; echo up',
            array_size=4,
            memory=64,
        )
        reg.register(
            "down",
            command="echo down $AWS_BATCH_JOB_ARRAY_INDEX",
            array_size=4,
            depends_on=["up"],
            array_dependency="N_TO_N",
            memory=64,
        )
        run = reg.run()
        assert run.wait(timeout=30)
        up, down = reg.job("up").children, reg.job("down").children
        for u, d in zip(up, down, strict=True):
            assert d.attempts[0].started_at >= u.attempts[0].stopped_at
        # child 3 downstream did not wait for the whole upstream array
        assert down[3].attempts[0].started_at < up[0].attempts[0].stopped_at
        assert [c.logs() for c in down] == [f"down {i}\n" for i in range(4)]


def test_array_children_see_their_index(reg: Registry) -> None:
    reg.register(
        "shards",
        command="echo $AWS_BATCH_JOB_ARRAY_INDEX of $AWS_BATCH_JOB_ARRAY_SIZE",
        array_size=3,
    )
    job = reg.submit("shards")
    assert job.wait(timeout=30)
    assert [c.logs() for c in job.children] == ["0 of 3\n", "1 of 3\n", "2 of 3\n"]
    assert reg.job("shards[2]").logs() == "2 of 3\n"


def test_terminate_a_running_job_and_cancel_has_no_effect_on_it(reg: Registry) -> None:
    reg.register("long", command="echo started; sleep 60")
    job = reg.submit("long")
    assert reg._scheduler.wait_for(lambda: job.logs() == "started\n", timeout=10)
    assert reg.cancel(job, "too late") is False
    assert job.status == S.RUNNING
    assert reg.terminate(job, "wrong parameters") is True
    assert job.wait(timeout=10) is False
    assert job.status_reason == "Terminated by user: wrong parameters"
    assert job.logs() == "started\n"


def test_cancel_a_pending_job(reg: Registry) -> None:
    reg.register("first", command="sleep 60")
    reg.register("second", command="echo no", depends_on=["first"])
    run = reg.run()
    second = run.job("second")
    assert reg._scheduler.wait_for(lambda: second.status == S.PENDING, timeout=10)
    assert second.cancel("changed my mind") is True
    assert (
        second.status == S.FAILED and second.status_reason == "Cancelled by user: changed my mind"
    )
    run.job("first").terminate("cleanup")
    assert run.wait(timeout=10) is False


def test_injected_environment(reg: Registry) -> None:
    reg.register(
        "env",
        command="env | grep -E '^(AWS_BATCH|KADAM_WORK|MINE)' | sort",
        environment={"MINE": "yes"},
    )
    job = reg.submit("env")
    assert job.wait(timeout=30)
    values = dict(line.split("=", 1) for line in job.logs().splitlines())
    assert values["AWS_BATCH_JOB_ID"] == job.id
    assert values["AWS_BATCH_JOB_ATTEMPT"] == "1"
    assert values["AWS_BATCH_JQ_NAME"] == "default"
    assert values["AWS_BATCH_CE_NAME"] == "default"
    assert values["MINE"] == "yes"
    assert Path(values["KADAM_WORK"]).is_dir()


def test_parameters_substitute_ref(reg: Registry) -> None:
    reg.register("greet", command=["echo", "hello", "Ref::who"], parameters={"who": "world"})
    assert reg.submit("greet").wait(timeout=30)
    assert reg.job("greet").logs() == "hello world\n"
    job = reg.submit("greet", parameters={"who": "kadam"})
    assert job.wait(timeout=30) and job.logs() == "hello kadam\n"


def test_missing_command_fails_with_a_reason_that_says_so(reg: Registry) -> None:
    reg.register("argv", command=["no-such-command-kadam"])
    reg.register("script", command="no-such-command-kadam --flag")
    a, b = reg.submit("argv"), reg.submit("script")
    assert not a.wait(timeout=30) and not b.wait(timeout=30)
    assert "no-such-command-kadam" in a.status_reason and "not found" in a.status_reason
    assert b.exit_code == 127 and "not found" in b.status_reason.lower()


def test_history_is_seen_by_a_second_registry(state_dir: Path) -> None:
    with Registry(state_dir=state_dir, backend="local") as first:
        first.register("hello", command="echo hello from the first")
        run = first.run()
        assert run.wait(timeout=30)
        job_id = run.jobs[0].id
        # while the first one is open, a second one reads but may not change anything
        with Registry(state_dir=state_dir, backend="local") as second:
            assert second.read_only
            assert second.job(job_id).logs() == "hello from the first\n"
            with pytest.raises(StateDirBusy, match="in use by another Registry"):
                second.register("other", command="true")
    with Registry(state_dir=state_dir, backend="local") as third:
        assert not third.read_only
        jobs = third.jobs()
        assert list(jobs["job_id"]) == [job_id]
        assert list(jobs["status"]) == ["SUCCEEDED"]
        attempts = third.attempts()
        assert list(attempts["exit_code"]) == [0]
        assert third.job("hello").logs() == "hello from the first\n"
        assert third.definition("hello").revision == 1
        assert [t.dst for t in third.job(job_id).transitions()] == [
            S.SUBMITTED,
            S.RUNNABLE,
            S.STARTING,
            S.RUNNING,
            S.SUCCEEDED,
        ]


def test_revisions(reg: Registry) -> None:
    first = reg.register("job", command="echo 1")
    again = reg.register("job", command="echo 1")
    second = reg.register("job", command="echo 2")
    assert (first.revision, again.revision, second.revision) == (1, 1, 2)
    assert reg.definition("job", revision=1).script == "echo 1"
    assert reg.definition("job").script == "echo 2"
    assert [d.revision for d in reg.revisions("job")] == [1, 2]


def test_cache_skips_an_unchanged_job(reg: Registry) -> None:
    reg.register("make", command="echo made > $KADAM_WORK/out; echo ran make")
    reg.register("use", command="cat $KADAM_WORK/out", depends_on=["make"])
    first = reg.run(cache=True)
    assert first.wait(timeout=30)
    second = reg.run(cache=True)
    assert second.wait(timeout=30)
    make2, use2 = second.job("make"), second.job("use")
    assert make2.status_reason.startswith(f"cached: same as job {first.job('make').id}")
    assert make2.attempts == ()
    assert use2.status_reason.startswith("cached:")
    reg.register("use", command="cat $KADAM_WORK/out; echo changed")
    third = reg.run(cache=True)
    assert third.wait(timeout=30)
    assert third.job("make").attempts == ()  # still cached
    assert third.job("use").logs() == "made\nchanged\n"  # re-ran, and found make's file


def test_reopening_takes_over_unfinished_jobs(state_dir: Path, tmp_path: Path) -> None:
    script = f"""
import kadam_nb as kadam, time, sys
reg = kadam.Registry(state_dir={str(state_dir)!r}, backend="local", max_vcpus=1)
reg.register("long", command="echo begun; sleep 60")
reg.register("after", command="echo after ran", depends_on=["long"])
run = reg.run()
while run.jobs[0].status.value != "RUNNING":
    time.sleep(0.05)
print("RUNNING", flush=True)
time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "RUNNING"
    proc.kill()  # SIGKILL: the "kernel" dies mid-run
    proc.wait()
    with Registry(state_dir=state_dir, backend="local") as reg:
        long_job = reg.job("long")
        assert long_job.wait(timeout=20) is False
        assert "Host process lost" in long_job.status_reason
        assert long_job.logs() == "begun\n"
        after = reg.job("after")
        assert after.wait(timeout=10) is False
        assert "long" in after.status_reason
        pid = int(long_job.attempts[0].handle or 0)
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"sleep" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        )


def test_default_registry_is_shared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KADAM_STATE_DIR", str(tmp_path / "default"))
    monkeypatch.setenv("KADAM_BACKEND", "local")
    monkeypatch.setattr(kadam, "_default", None)
    first = kadam.registry()
    try:
        assert kadam.registry() is first
        assert first.state_dir == (tmp_path / "default").resolve()
    finally:
        first.close()


def test_an_unwritable_log_directory_fails_the_attempt_with_a_reason(reg: Registry) -> None:
    import os
    import stat

    if os.geteuid() == 0:  # root ignores directory permissions: make the path a file instead
        reg.register("noisy", command="echo hi")
        run_logs = reg.store.runs_dir
        job = None
        original = reg.store.log_file

        def blocked(run_id: str, job_id: str, attempt: int) -> str:
            folder = run_logs / run_id / "not-a-folder"
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.touch()
            return str(folder / "attempt.log")

        reg.store.log_file = blocked  # type: ignore[method-assign]
        try:
            job = reg.submit("noisy")
            assert job.wait(timeout=10) is False
        finally:
            reg.store.log_file = original  # type: ignore[method-assign]
        assert "log file cannot be created" in job.status_reason
        assert job.attempts[0].exit_code is None  # it never ran
    else:  # pragma: no cover - CI runs as root
        folder = reg.store.runs_dir
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            reg.register("noisy", command="echo hi")
            job = reg.submit("noisy")
            assert job.wait(timeout=10) is False
            assert "log file cannot be created" in job.status_reason
        finally:
            folder.chmod(stat.S_IRWXU)

"""The Slurm backend end to end: a Registry hands pipelines to a real one-node Slurm cluster.

The cluster (tests/support/slurm_cluster.py) runs on 127.0.0.1 for the session; image jobs run
in containers on the shared Docker engine from inside the Slurm jobs.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kadam_nb import Registry
from kadam_nb.core.states import Reasons
from kadam_nb.core.views import ServiceProblem
from tests.support.docker_engine import TEST_IMAGE
from tests.support.slurm_cluster import PARTITION

# Every job the Registry hands over has an image (busybox:1.36 when the definition names none),
# which the job script runs with `docker run`: each test needs the Docker engine, not only
# those that happen to run after one that started it.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_engine")]


@pytest.fixture
def hpc(slurm_cluster: Any, tmp_path: Path) -> Iterator[Registry]:
    """A Registry whose queue ``hpc`` hands every job to the test cluster."""
    reg = Registry(tmp_path / "state", backend="local", stop_grace=1.0)
    reg.create_compute_environment("hpc", backend="slurm", partition=PARTITION)
    reg.create_queue("hpc", compute_environments=["hpc"])
    try:
        yield reg
    finally:
        reg.close()


def _containers(label: str) -> list[str]:
    done = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def _table(reg: Registry) -> list[tuple[str, str, str]]:
    """Each job's name, state and reason, for a failing assertion's message."""
    return [(v.display_name, str(v.status), v.status_reason) for v in reg.views()]


def _until(predicate: Any, timeout: float) -> bool:
    """Poll ``predicate`` (it may ask Slurm or Docker) until true or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_quickstart_pipeline_dependency_and_array(hpc: Registry, docker_engine: Any) -> None:
    hpc.register(
        "extract",
        image=TEST_IMAGE,
        memory=256,
        command='seq 1 12 | awk \'{print $1 "," $1 % 7}\' > "$KADAM_WORK/raw.csv"; '
        'echo "extracted by $AWS_BATCH_JOB_ID attempt $AWS_BATCH_JOB_ATTEMPT"',
    )
    hpc.register(
        "clean",
        depends_on=["extract"],
        array_size=3,
        memory=256,
        command='test -s "$KADAM_WORK/raw.csv" || exit 3\n'
        'echo "index $AWS_BATCH_JOB_ARRAY_INDEX of $AWS_BATCH_JOB_ARRAY_SIZE"\n'
        'awk -F, -v i="$AWS_BATCH_JOB_ARRAY_INDEX" \'NR % 3 == i\' "$KADAM_WORK/raw.csv" '
        '> "$KADAM_WORK/part-$AWS_BATCH_JOB_ARRAY_INDEX.csv"\n'
        'echo "to stderr" >&2',
    )
    hpc.register(
        "report",
        image=TEST_IMAGE,
        memory=256,
        depends_on=["clean"],
        command='cat "$KADAM_WORK"/part-*.csv | wc -l',
    )
    started = time.monotonic()
    run = hpc.run(queue="hpc")
    assert run.wait(60), (_table(hpc), hpc.job("extract").logs())
    took = time.monotonic() - started
    statuses = {v.display_name: str(v.status) for v in hpc.views()}
    assert set(statuses.values()) == {"SUCCEEDED"}, statuses
    assert "extracted by" in hpc.job("extract").logs()
    for i in range(3):
        log = hpc.job(f"clean[{i}]").logs()
        assert f"index {i} of 3" in log
        assert "to stderr" in log
    assert hpc.job("report").logs().split() == ["12"]
    extract = hpc.job("extract")
    transitions = [str(t.dst) for t in hpc.store.transitions(extract.id)]
    assert transitions[-2:] == ["RUNNING", "SUCCEEDED"], transitions
    print(f"quickstart pipeline on Slurm: {took:.1f} s")


def test_failure_cascades_and_dependents_never_run(hpc: Registry) -> None:
    hpc.register("parent", command="echo failing; exit 1")
    hpc.register("child", command="echo should not run", depends_on=["parent"])
    hpc.register("grandchild", command="echo should not run", depends_on=["child"])
    run = hpc.run(queue="hpc")
    run.wait(40)
    assert run.done, _table(hpc)
    parent, child, grand = hpc.job("parent"), hpc.job("child"), hpc.job("grandchild")
    assert str(parent.status) == "FAILED"
    assert "code 1" in parent.status_reason, parent.status_reason
    assert str(child.status) == "FAILED"
    assert "Dependent job parent" in child.status_reason, child.status_reason
    assert str(grand.status) == "FAILED"
    assert "Dependent job child" in grand.status_reason, grand.status_reason
    assert "should not run" not in child.logs()
    # Slurm holds nothing of the run any more
    assert _until(lambda: _squeue_active() == [], 10), _squeue_active()


def _squeue_active() -> list[str]:
    done = subprocess.run(
        ["squeue", "-h", "-t", "PENDING,RUNNING,CONFIGURING,COMPLETING", "-o", "%i"],
        capture_output=True,
        text=True,
    )
    return done.stdout.split()


def test_cancel_pending_and_terminate_running_container(hpc: Registry, docker_engine: Any) -> None:
    hpc.register("long", image=TEST_IMAGE, memory=128, command="echo up; sleep 60")
    hpc.register("after", command="echo should not run", depends_on=["long"])
    hpc.run(queue="hpc")
    long, after = hpc.job("long"), hpc.job("after")
    assert _until(lambda: "up" in long.logs(), 30), _table(hpc)
    assert str(after.status) == "PENDING", after.status_reason
    assert hpc.cancel("after", "not needed")
    label = f"kadam.job-id={long.id}"
    assert _containers(label), "the container should run"
    assert hpc.terminate("long", "enough")
    assert hpc.wait(30), _table(hpc)
    assert str(after.status) == "FAILED"
    assert after.status_reason.startswith("Cancelled by user: not needed"), after.status_reason
    assert str(long.status) == "FAILED"
    assert long.status_reason.startswith("Terminated by user: enough"), long.status_reason
    assert _until(lambda: _containers(label) == [], 15), "the container is still there"


def test_a_failed_attempt_is_retried_and_its_dependent_waits_for_the_retry(
    hpc: Registry,
) -> None:
    hpc.register(
        "flaky",
        retries=2,
        command='if [ -e "$KADAM_WORK/tried" ]; then echo "attempt $AWS_BATCH_JOB_ATTEMPT ok"; '
        'else : > "$KADAM_WORK/tried"; echo "attempt $AWS_BATCH_JOB_ATTEMPT fails"; exit 1; fi',
    )
    hpc.register("then", command='echo "after the retry"', depends_on=["flaky"])
    run = hpc.run(queue="hpc")
    assert run.wait(60), _table(hpc)
    flaky = hpc.job("flaky")
    assert str(flaky.status) == "SUCCEEDED", flaky.status_reason
    assert [a.number for a in flaky.attempts] == [1, 2]
    assert "attempt 2 ok" in flaky.logs(), flaky.logs()
    assert str(hpc.job("then").status) == "SUCCEEDED", hpc.job("then").status_reason
    assert "after the retry" in hpc.job("then").logs()
    transitions = [str(t.dst) for t in hpc.store.transitions(flaky.id)]
    assert "RUNNABLE" in transitions[transitions.index("RUNNING") :], transitions
    assert flaky.attempts[0].exit_code == 1  # the first attempt keeps how it ended
    retried = [t.reason for t in hpc.store.transitions(flaky.id) if str(t.dst) == "RUNNABLE"][-1]
    assert "Attempt 1 of 2 failed: Exited with code 1" in retried, retried


def test_timeout_stops_the_container_with_aws_reason(hpc: Registry, docker_engine: Any) -> None:
    hpc.register("slow", image=TEST_IMAGE, memory=128, timeout=2, command="echo go; sleep 30")
    started = time.monotonic()
    run = hpc.run(queue="hpc")
    run.wait(30)
    assert run.done, _table(hpc)
    took = time.monotonic() - started
    slow = hpc.job("slow")
    assert str(slow.status) == "FAILED"
    assert slow.status_reason.startswith("Job attempt duration exceeded timeout"), (
        slow.status_reason
    )
    assert took < 15, took
    assert "go" in slow.logs()
    assert _containers(f"kadam.job-id={slow.id}") == []


def test_an_unknown_partition_fails_the_job_saying_what_to_fix(
    slurm_cluster: Any, tmp_path: Path
) -> None:
    with Registry(tmp_path / "state", backend="local") as reg:
        reg.create_compute_environment("wrong", backend="slurm", partition="nosuch")
        reg.create_queue("wrong", compute_environments=["wrong"])
        reg.register("lost", command="true")
        run = reg.run(queue="wrong")
        run.wait(20)
        job = reg.job("lost")
        assert str(job.status) == "FAILED"
        assert "invalid partition" in job.status_reason.lower(), job.status_reason
        assert "sinfo" in job.status_reason, job.status_reason


def test_a_new_session_follows_a_running_job_to_its_end(slurm_cluster: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    reg = Registry(state, backend="local")
    reg.create_compute_environment("hpc", backend="slurm", partition=PARTITION)
    reg.create_queue("hpc", compute_environments=["hpc"])
    reg.register("long", command="echo before; sleep 3; echo after")
    reg.run(queue="hpc")
    assert _until(lambda: "before" in reg.job("long").logs(), 20), _table(reg)
    reg.close()  # the Slurm job keeps running
    with Registry(state, backend="local") as again:
        job = again.job("long")
        assert job.wait(30), _table(again)
        # every line once: "before" from the first session, "after" followed by the second
        assert job.logs().split() == ["before", "after"], job.logs()


def test_a_container_killed_for_memory_fails_with_aws_reason(
    hpc: Registry, docker_engine: Any
) -> None:
    hpc.register(
        "hog", image=TEST_IMAGE, memory=16, command="dd if=/dev/zero of=/dev/null bs=64M count=1"
    )
    run = hpc.run(queue="hpc")
    assert run.wait(60) is False, _table(hpc)
    hog = hpc.job("hog")
    assert hog.exit_code == 137
    assert hog.attempts[0].reason == Reasons.OOM, hog.attempts[0]
    assert hog.status_reason.startswith(Reasons.OOM) and "16 MiB" in hog.status_reason
    # the script removed the container once it had read OOMKilled
    assert _until(lambda: _containers(f"kadam.job-id={hog.id}") == [], 15)


def test_an_unreachable_controller_is_reported_and_its_jobs_carry_on(
    hpc: Registry, slurm_cluster: Any, docker_engine: Any
) -> None:
    problems: list[ServiceProblem] = []
    hpc.subscribe(lambda e: problems.append(e) if isinstance(e, ServiceProblem) else None)
    hpc.register("steady", image=TEST_IMAGE, memory=128, command="echo before; sleep 2; echo after")
    hpc.run(queue="hpc")
    job = hpc.job("steady")
    assert _until(lambda: "before" in job.logs(), 30), _table(hpc)

    def reason() -> str:
        return hpc.compute_environments["hpc"].status_reason

    started = time.monotonic()
    with slurm_cluster.controller_stopped():
        # squeue retries its connection for about 10 s before it gives up
        assert _until(lambda: "squeue" in reason(), 40), (reason(), _table(hpc))
        noticed = time.monotonic() - started
        said = reason()
        assert "squeue failed:" in said and "slurmctld" in said and "SLURM_CONF" in said, said
        assert str(job.status) == "RUNNING", job.status_reason  # not failed for Slurm's silence
        # the job ends meanwhile; its lines still come, since its files are local
        assert _until(lambda: "after" in job.logs(), 20), job.logs()
        assert str(job.status) == "RUNNING", job.status_reason
    assert job.wait(30), _table(hpc)
    took = time.monotonic() - started
    assert str(job.status) == "SUCCEEDED", job.status_reason
    assert reason() == ""
    assert job.logs().split() == ["before", "after"], job.logs()
    assert "FAILED" not in [str(t.dst) for t in hpc.store.transitions(job.id)]
    assert _until(lambda: len(problems) >= 2, 10), problems
    assert [(p.compute_environment, p.problem) for p in problems] == [("hpc", said), ("hpc", None)]
    print(f"controller down noticed after {noticed:.1f} s, job done {took:.1f} s after the stop")


def test_a_stop_asked_while_the_controller_is_down_reaches_slurm_when_it_answers(
    hpc: Registry, slurm_cluster: Any
) -> None:
    command = 'echo up; sleep 60; : > "$KADAM_WORK/$AWS_BATCH_JOB_ID.done"'
    hpc.register("early", image=TEST_IMAGE, memory=128, command=command)
    hpc.register("late", image=TEST_IMAGE, memory=128, command=command)
    run = hpc.run(queue="hpc")
    early, late = hpc.job("early"), hpc.job("late")
    assert _until(lambda: "up" in early.logs() and "up" in late.logs(), 30), _table(hpc)

    def reason() -> str:
        return hpc.compute_environments["hpc"].status_reason

    started = time.monotonic()
    with slurm_cluster.controller_stopped():
        # before kadam has noticed: its scancel fails and is kept
        assert hpc.terminate("early", "stopped during the outage")
        assert _until(lambda: "squeue" in reason(), 40), (reason(), _table(hpc))
        # once kadam knows: kept without trying
        assert hpc.terminate("late", "stopped during the outage too")
        time.sleep(1)
        # nothing reached Slurm: the jobs run on, and show it
        assert [str(early.status), str(late.status)] == ["RUNNING", "RUNNING"], _table(hpc)
    run.wait(30)
    assert run.done, _table(hpc)
    took = time.monotonic() - started
    assert str(early.status) == "FAILED"
    assert early.status_reason.startswith("Terminated by user: stopped during the outage"), (
        early.status_reason
    )
    assert str(late.status) == "FAILED"
    assert late.status_reason.startswith("Terminated by user: stopped during the outage too"), (
        late.status_reason
    )
    # stopped, not run to their end
    assert sorted(p.name for p in run.work_dir.glob("*.done")) == [], list(run.work_dir.iterdir())
    for job in (early, late):
        assert _until(lambda job=job: _containers(f"kadam.job-id={job.id}") == [], 15)
    assert took < 45, took
    assert reason() == ""
    print(f"two stops asked during the outage done {took:.1f} s after the controller stopped")


def test_jobs_handed_over_while_the_controller_is_down_are_submitted_when_it_answers(
    hpc: Registry, slurm_cluster: Any
) -> None:
    problems: list[ServiceProblem] = []
    hpc.subscribe(lambda e: problems.append(e) if isinstance(e, ServiceProblem) else None)
    hpc.register("first", command='echo one > "$KADAM_WORK/first.txt"; echo first ran')
    hpc.register(
        "second",
        depends_on=["first"],
        array_size=2,
        command='cat "$KADAM_WORK/first.txt" && echo "child $AWS_BATCH_JOB_ARRAY_INDEX"',
    )
    hpc.register("third", depends_on=["second"], command="echo third ran")

    def reason() -> str:
        return hpc.compute_environments["hpc"].status_reason

    started = time.monotonic()
    with slurm_cluster.controller_stopped():
        run = hpc.run(queue="hpc")
        assert _until(lambda: "Unable to contact slurm controller" in reason(), 40), (
            reason(),
            _table(hpc),
        )
        said = reason()
        assert said.startswith("sbatch failed:") or said.startswith("squeue failed:"), said
        assert "scontrol ping" in said, said
        time.sleep(1)
        statuses = {name: status for name, status, _ in _table(hpc)}
        assert "FAILED" not in statuses.values(), _table(hpc)
    assert run.wait(60), _table(hpc)
    took = time.monotonic() - started
    assert {status for _, status, _ in _table(hpc)} == {"SUCCEEDED"}, _table(hpc)
    assert "first ran" in hpc.job("first").logs()
    for i in range(2):
        assert hpc.job(f"second[{i}]").logs().splitlines() == ["one", f"child {i}"]
    assert "third ran" in hpc.job("third").logs()
    # submitted in the order they were handed over, each after the one it waits for
    ids = {v.display_name: v.remote_id for v in hpc.views() if v.remote_id}
    assert int(ids["first"]) < int(ids["second"]) < int(ids["third"]), ids
    assert reason() == ""
    assert problems and problems[0].problem and problems[-1].problem is None, problems
    print(f"pipeline handed over during the outage done {took:.1f} s after the controller stopped")

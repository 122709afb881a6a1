"""The batch engine on literal inputs: no threads, no processes, a fake clock."""

from __future__ import annotations

import pytest

from kadam_nb.core.engine import BatchEngine, StartAttempt, StopAttempt
from kadam_nb.core.jobs import ComputeEnvironment, Dependency, JobQueue, JobRecord
from kadam_nb.core.spec import JobDefinition
from kadam_nb.core.states import JobStatus, is_legal
from kadam_nb.errors import DependencyError

S = JobStatus


def engine(vcpus: float = 2, memory: int = 64_000) -> BatchEngine:
    e = BatchEngine()
    e.add_environment(ComputeEnvironment("ce", vcpus, memory, "fake"))
    e.add_queue(JobQueue("q", 1, ("ce",)))
    return e


def job(job_id: str, deps=(), queue: str = "q", **fields) -> JobRecord:
    definition = JobDefinition.create(job_id, command="true", **fields)
    return JobRecord(
        id=job_id,
        name=job_id,
        definition=definition,
        run_id="run",
        queue=queue,
        seq=-1,
        created_at=0.0,
        depends_on=tuple(Dependency(*d) if isinstance(d, tuple) else Dependency(d) for d in deps),
        array_size=definition.array_size,
    )


class Sim:
    """Drives an engine like the scheduler does, with backends that obey a script."""

    def __init__(self, e: BatchEngine, exits: dict[str, list[int]] | None = None) -> None:
        self.e = e
        self.now = 0.0
        self.exits = exits or {}
        self.running: dict[tuple[str, int], float] = {}
        self.started_order: list[str] = []
        self.finished_order: list[str] = []
        self.max_running = 0
        self.transitions = []
        self.stops: list[StopAttempt] = []

    def settle(self, auto_run: bool = True) -> None:
        """Decide, start what was placed and (if auto_run) finish attempts one per tick."""
        while True:
            self.e.decide(self.now)
            effects = self.e.take_effects()
            self.transitions.extend(effects.transitions)
            for action in effects.actions:
                if isinstance(action, StartAttempt):
                    key = action.attempt.key
                    self.e.attempt_started(key, "pid", self.now)
                    self.running[key] = self.now
                    self.started_order.append(action.job.id)
                else:
                    self.stops.append(action)
            self.transitions.extend(self.e.take_effects().transitions)
            self.max_running = max(self.max_running, len(self.running))
            if not auto_run or not self.running:
                return
            self.now += 1
            key = min(self.running, key=lambda k: (self.running[k], k))
            del self.running[key]
            codes = self.exits.get(key[0], [0])
            code = codes[min(key[1], len(codes)) - 1]
            self.e.attempt_exited(key, code, None, self.now)
            self.finished_order.append(key[0])

    def status(self, job_id: str) -> JobStatus:
        return self.e.jobs[job_id].status


def test_diamond_runs_in_dependency_order_within_capacity() -> None:
    e = engine(vcpus=2)
    for j in [
        job("extract"),
        job("left", ["extract"]),
        job("right", ["extract"]),
        job("join", ["left", "right"]),
        job("report", ["join"]),
    ]:
        e.submit(j, 0.0)
    sim = Sim(e)
    sim.settle()
    assert all(j.status == S.SUCCEEDED for j in e.jobs.values())
    order = sim.started_order
    assert order.index("extract") < order.index("left") < order.index("join")
    assert order.index("right") < order.index("join") < order.index("report")
    assert sim.max_running <= 2
    assert all(t.src is None or is_legal(t.src, t.dst) for t in sim.transitions)


def test_capacity_is_respected_in_vcpus_and_memory() -> None:
    e = engine(vcpus=4, memory=1000)
    for i in range(6):
        e.submit(job(f"j{i}", vcpus=1, memory=400), 0.0)
    sim = Sim(e)
    sim.settle()
    assert sim.max_running == 2  # memory allows two at a time, vCPUs four


def test_submitted_goes_pending_with_deps_and_runnable_without() -> None:
    e = engine()
    e.submit(job("a"), 0.0)
    e.submit(job("b", ["a"]), 0.0)
    e.decide(0.0)
    path = {t.job_id: [] for t in []}
    for t in e.take_effects().transitions:
        path.setdefault(t.job_id, []).append(t.dst)
    assert path["a"][:3] == [S.SUBMITTED, S.RUNNABLE, S.STARTING]
    assert path["b"] == [S.SUBMITTED, S.PENDING]
    assert "a" in e.jobs["b"].status_reason


def test_failure_fails_dependents_naming_the_failed_job() -> None:
    e = engine()
    for j in [job("a"), job("b", ["a"]), job("c", ["b"]), job("d")]:
        e.submit(j, 0.0)
    sim = Sim(e, exits={"a": [1]})
    sim.settle()
    assert sim.status("a") == S.FAILED
    assert sim.status("b") == S.FAILED and "a (a)" in e.jobs["b"].status_reason
    assert sim.status("c") == S.FAILED and "b (b)" in e.jobs["c"].status_reason
    assert sim.status("d") == S.SUCCEEDED
    assert "b" not in sim.started_order and "c" not in sim.started_order


def test_dependency_on_a_job_that_already_failed_fails_at_once() -> None:
    e = engine()
    e.note_external("old", S.FAILED, "old-job")
    e.submit(job("new", ["old"]), 0.0)
    e.decide(0.0)
    assert e.jobs["new"].status == S.FAILED
    assert "old-job" in e.jobs["new"].status_reason


RETRY_ON_3 = {
    "attempts": 3,
    "evaluateOnExit": [
        {"onExitCode": "3", "action": "RETRY"},
        {"onReason": "*", "action": "EXIT"},
    ],
}


def test_retry_on_exit_code_uses_every_attempt() -> None:
    e = engine()
    e.submit(job("flaky", retry_strategy=RETRY_ON_3), 0.0)
    sim = Sim(e, exits={"flaky": [3, 3, 3]})
    sim.settle()
    record = e.jobs["flaky"]
    assert record.status == S.FAILED
    assert [a.exit_code for a in record.attempts] == [3, 3, 3]
    assert "all 3 attempts used" in record.status_reason
    path = [t.dst for t in sim.transitions if t.job_id == "flaky"]
    assert path.count(S.RUNNABLE) == 3  # first time, then once per retry


def test_exit_rule_stops_retrying() -> None:
    e = engine()
    e.submit(job("strict", retry_strategy=RETRY_ON_3), 0.0)
    sim = Sim(e, exits={"strict": [4]})
    sim.settle()
    record = e.jobs["strict"]
    assert len(record.attempts) == 1 and record.status == S.FAILED
    assert "rule 2" in record.status_reason and "EXIT" in record.status_reason


def test_no_matching_rule_means_retry() -> None:
    e = engine()
    strategy = {"attempts": 2, "evaluateOnExit": [{"onExitCode": "9", "action": "EXIT"}]}
    e.submit(job("j", retry_strategy=strategy), 0.0)
    sim = Sim(e, exits={"j": [1, 0]})
    sim.settle()
    assert e.jobs["j"].status == S.SUCCEEDED
    assert len(e.jobs["j"].attempts) == 2


def test_retry_then_success() -> None:
    e = engine()
    e.submit(job("j", retries=3), 0.0)
    sim = Sim(e, exits={"j": [1, 1, 0]})
    sim.settle()
    assert e.jobs["j"].status == S.SUCCEEDED
    assert [a.exit_code for a in e.jobs["j"].attempts] == [1, 1, 0]


def test_timeout_stops_the_attempt_and_is_not_retried() -> None:
    e = engine()
    e.submit(job("slow", timeout=5, retries=3), 0.0)
    sim = Sim(e)
    sim.settle(auto_run=False)
    assert e.next_deadline() == 5.0
    e.expire(4.9)
    assert not e.take_effects().actions
    e.expire(5.0)
    actions = e.take_effects().actions
    assert actions == [StopAttempt("slow", 1, "timeout")]
    e.attempt_exited(("slow", 1), 143, None, 5.1)
    e.decide(5.1)
    record = e.jobs["slow"]
    assert record.status == S.FAILED
    assert record.status_reason.startswith("Job attempt duration exceeded timeout")
    assert record.attempts[0].status_reason == "Job attempt duration exceeded timeout"
    assert len(record.attempts) == 1


def _drive_to(e: BatchEngine, state: JobStatus) -> None:
    """Put job "j" (depending on "gate") into ``state``."""
    e.submit(job("gate"), 0.0)
    e.submit(job("j", ["gate"]), 0.0)
    if state == S.SUBMITTED:
        return
    e.decide(0.0, limit=2)  # gate → RUNNABLE, j → PENDING
    if state == S.PENDING:
        return
    # free "gate": run it to success without placing j yet
    e.decide(0.0, limit=1)  # gate → STARTING
    e.attempt_started(("gate", 1), "p", 0.0)
    e.attempt_exited(("gate", 1), 0, None, 1.0)
    e.decide(1.0, limit=1)  # j → RUNNABLE
    if state == S.RUNNABLE:
        return
    e.decide(1.0, limit=1)  # j → STARTING
    if state == S.STARTING:
        return
    e.attempt_started(("j", 1), "p", 1.0)
    if state == S.RUNNING:
        return
    e.attempt_exited(("j", 1), 0 if state == S.SUCCEEDED else 1, None, 2.0)


# AWS CancelJob / TerminateJob, state by state: (state, cancel effect, terminate effect)
CONTROL_TABLE = [
    (S.SUBMITTED, True, "failed"),
    (S.PENDING, True, "failed"),
    (S.RUNNABLE, True, "failed"),
    (S.STARTING, False, "stopped"),
    (S.RUNNING, False, "stopped"),
    (S.SUCCEEDED, False, None),
    (S.FAILED, False, None),
]


@pytest.mark.parametrize(("state", "cancels", "terminate"), CONTROL_TABLE)
def test_cancel_follows_aws_rules(state: JobStatus, cancels: bool, terminate: str | None) -> None:
    e = engine()
    _drive_to(e, state)
    assert e.jobs["j"].status == state
    e.take_effects()
    assert e.cancel("j", "not needed", 3.0) is cancels
    if cancels:
        assert e.jobs["j"].status == S.FAILED
        assert e.jobs["j"].status_reason == "Cancelled by user: not needed"
    else:
        assert e.jobs["j"].status == state
        assert not e.take_effects().actions


@pytest.mark.parametrize(("state", "cancels", "terminate"), CONTROL_TABLE)
def test_terminate_follows_aws_rules(
    state: JobStatus, cancels: bool, terminate: str | None
) -> None:
    e = engine()
    _drive_to(e, state)
    e.take_effects()
    assert e.terminate("j", "wrong input", 3.0) is (terminate is not None)
    if terminate == "failed":
        assert e.jobs["j"].status == S.FAILED
        assert e.jobs["j"].status_reason == "Terminated by user: wrong input"
    elif terminate == "stopped":
        assert e.take_effects().actions == [StopAttempt("j", 1, "terminate")]
        if state == S.STARTING:  # the stop is sent again once the attempt really runs
            e.attempt_started(("j", 1), "p", 3.5)
            assert StopAttempt("j", 1, "terminate") in e.take_effects().actions
        e.attempt_exited(("j", 1), 143, None, 4.0)
        assert e.jobs["j"].status == S.FAILED
        assert e.jobs["j"].status_reason == "Terminated by user: wrong input"
    else:
        assert e.jobs["j"].status == state


def test_terminated_job_is_not_retried() -> None:
    e = engine()
    e.submit(job("j", retries=5), 0.0)
    sim = Sim(e)
    sim.settle(auto_run=False)
    e.terminate("j", "stop", 1.0)
    e.attempt_exited(("j", 1), 143, None, 1.5)
    e.decide(2.0)
    assert e.jobs["j"].status == S.FAILED and len(e.jobs["j"].attempts) == 1


def test_array_children_and_parent_states() -> None:
    e = engine(vcpus=2)
    e.submit(job("arr", array_size=3), 0.0)
    sim = Sim(e)
    sim.settle()
    parent = e.jobs["arr"]
    assert parent.children == ["arr:0", "arr:1", "arr:2"]
    assert parent.status == S.SUCCEEDED
    path = [t.dst for t in sim.transitions if t.job_id == "arr"]
    assert path == [S.SUBMITTED, S.PENDING, S.SUCCEEDED]
    assert "arr" not in sim.started_order  # the parent never runs


def test_array_parent_fails_when_a_child_fails_and_dependents_fail() -> None:
    e = engine(vcpus=2)
    e.submit(job("arr", array_size=3), 0.0)
    e.submit(job("after", ["arr"]), 0.0)
    sim = Sim(e, exits={"arr:1": [2]})
    sim.settle()
    assert e.jobs["arr"].status == S.FAILED
    assert "1 of 3 children failed (index 1)" in e.jobs["arr"].status_reason
    assert e.jobs["after"].status == S.FAILED


def test_n_to_n_child_waits_only_for_its_peer() -> None:
    e = engine(vcpus=8)
    e.submit(job("a", array_size=4), 0.0)
    e.submit(job("b", [("a", "N_TO_N")], array_size=4), 0.0)
    assert [d.job_id for d in e.jobs["b:2"].depends_on] == ["a:2"]
    sim = Sim(e)
    sim.settle(auto_run=False)
    assert sorted(sim.started_order) == ["a:0", "a:1", "a:2", "a:3"]
    e.attempt_exited(("a:2", 1), 0, None, 1.0)
    e.decide(1.0)
    starts = [a.job.id for a in e.take_effects().actions if isinstance(a, StartAttempt)]
    assert starts == ["b:2"]  # only b:2 may start; a:0, a:1, a:3 are still running


def test_n_to_n_needs_the_same_size() -> None:
    e = engine()
    e.submit(job("a", array_size=3), 0.0)
    with pytest.raises(DependencyError, match="same size"):
        e.submit(job("b", [("a", "N_TO_N")], array_size=4), 0.0)


def test_sequential_array_runs_children_one_after_another() -> None:
    e = engine(vcpus=8)
    e.submit(job("seq", [("", "SEQUENTIAL")], array_size=4), 0.0)
    sim = Sim(e)
    sim.settle()
    assert sim.max_running == 1
    assert sim.started_order == ["seq:0", "seq:1", "seq:2", "seq:3"]


def test_sequential_failure_fails_the_rest() -> None:
    e = engine(vcpus=8)
    e.submit(job("seq", [("", "SEQUENTIAL")], array_size=3), 0.0)
    sim = Sim(e, exits={"seq:0": [1]})
    sim.settle()
    assert [e.jobs[f"seq:{i}"].status for i in range(3)] == [S.FAILED] * 3
    assert "seq[1]" in e.jobs["seq:2"].status_reason


def test_queue_priority_then_submission_order() -> None:
    e = engine(vcpus=1)
    e.add_queue(JobQueue("urgent", 10, ("ce",)))
    e.submit(job("blocker"), 0.0)
    e.decide(0.0)  # blocker takes the only vCPU
    for name, queue in [("low1", "q"), ("high", "urgent"), ("low2", "q")]:
        e.submit(job(name, queue=queue), 0.0)
    e.attempt_started(("blocker", 1), "p", 0.0)
    e.take_effects()
    sim = Sim(e)
    sim.running[("blocker", 1)] = 0.0
    sim.settle()
    assert sim.started_order == ["high", "low1", "low2"]


def test_bigger_job_waits_while_smaller_ones_fit() -> None:
    e = engine(vcpus=2)
    e.submit(job("small1", vcpus=1), 0.0)
    e.submit(job("big", vcpus=2), 0.0)
    e.submit(job("small2", vcpus=1), 0.0)
    e.decide(0.0)
    placed = [a.job.id for a in e.take_effects().actions if isinstance(a, StartAttempt)]
    assert placed == ["small1", "small2"]
    assert e.jobs["big"].status == S.RUNNABLE


def test_cached_job_succeeds_without_running() -> None:
    e = engine()
    record = job("c")
    record.cached_from = "earlier-job"
    e.submit(record, 0.0)
    e.submit(job("after", ["c"]), 0.0)
    sim = Sim(e)
    sim.settle()
    assert e.jobs["c"].status == S.SUCCEEDED
    assert "cached: same as job earlier-job" in e.jobs["c"].status_reason
    assert sim.started_order == ["after"]


def test_failed_start_is_retried_then_fails() -> None:
    e = engine()
    e.submit(job("j", retries=2), 0.0)
    e.decide(0.0)
    e.take_effects()
    e.attempt_failed_to_start(("j", 1), "CannotStartContainerError: no such command", 0.1)
    e.decide(0.1)
    assert e.jobs["j"].status == S.STARTING and len(e.jobs["j"].attempts) == 2
    e.attempt_failed_to_start(("j", 2), "CannotStartContainerError: no such command", 0.2)
    assert e.jobs["j"].status == S.FAILED
    assert "CannotStartContainerError" in e.jobs["j"].status_reason


def test_oom_reason_says_what_to_do() -> None:
    e = engine()
    e.submit(job("hog", memory=16), 0.0)
    Sim(e).settle(auto_run=False)
    oom = "OutOfMemoryError: Container killed due to memory usage"
    e.attempt_exited(("hog", 1), 137, oom, 1.0)
    reason = e.jobs["hog"].status_reason
    assert reason.startswith(oom) and "16 MiB" in reason and "raise" in reason

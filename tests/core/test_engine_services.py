"""Jobs handed to a service that schedules them itself (AWS Batch, Slurm), on literal inputs.

The engine hands a job over once its dependencies succeeded or went to the same service, then
only records what the service is seen to do: every recorded transition must still be one of
AWS Batch's, whatever order or gaps the observations come in.
"""

from __future__ import annotations

from kadam_nb.core.engine import BatchEngine, FollowAttempt, HandOver, RemoteCall, StartAttempt
from kadam_nb.core.jobs import ComputeEnvironment, JobQueue
from kadam_nb.core.spec import FrozenMap
from kadam_nb.core.states import JobStatus, is_legal
from tests.core.test_engine import job

S = JobStatus


def engine() -> BatchEngine:
    e = BatchEngine()
    e.add_environment(ComputeEnvironment("here", 2, 4096, "local"))
    e.add_environment(
        ComputeEnvironment("hpc", 0, 0, "slurm", remote=True, settings=FrozenMap(partition="p"))
    )
    e.add_queue(JobQueue("local", 1, ("here",)))
    e.add_queue(JobQueue("cluster", 1, ("hpc",)))
    return e


def settle(e: BatchEngine, now: float = 0.0) -> list:
    e.decide(now)
    return e.take_effects().actions


def path(e: BatchEngine, job_id: str, transitions) -> list[str]:
    return [str(t.dst) for t in transitions if t.job_id == job_id]


def test_a_chain_is_handed_over_parent_first_with_the_dependency_kept() -> None:
    e = engine()
    e.submit(job("a", queue="cluster"), 0)
    e.submit(job("b", deps=["a"], queue="cluster"), 0)
    actions = settle(e)
    handed = [a for a in actions if isinstance(a, HandOver)]
    assert [h.job.id for h in handed] == ["a", "b"]
    assert [d.job_id for d in handed[1].depends_on] == ["a"]
    assert handed[0].environment.settings["partition"] == "p"
    assert not any(isinstance(a, StartAttempt) for a in actions)
    assert e.status_of("a") == S.SUBMITTED  # the service says what comes next


def test_observations_fill_in_states_passed_between_polls_and_record_the_attempt() -> None:
    e = engine()
    e.submit(job("a", queue="cluster"), 0)
    settle(e)
    e.handed_over("a", "101")
    e.take_effects()
    e.observe("a", S.RUNNING, "", 1.0, attempt=1, handle="101")
    effects = e.take_effects()
    assert [str(t.dst) for t in effects.transitions] == ["RUNNABLE", "STARTING", "RUNNING"]
    assert all(is_legal(t.src, t.dst) for t in effects.transitions if t.src)
    assert "passed between two polls" in effects.transitions[0].reason
    assert any(isinstance(a, FollowAttempt) for a in effects.actions)
    e.observe("a", S.RUNNING, "", 1.5, attempt=1)  # a repeat changes nothing
    e.observe("a", S.PENDING, "", 1.6)  # nor does an older state seen late
    assert not e.take_effects().transitions
    e.observe("a", S.FAILED, "Essential container in task exited", 2.0, attempt=1, exit_code=3)
    record = e.jobs["a"]
    assert record.status == S.FAILED
    assert record.remote_id == "101"
    assert record.attempts[0].exit_code == 3 and record.attempts[0].handle == "101"
    assert record.attempts[0].started_at == 1.0 and record.attempts[0].stopped_at == 2.0


def test_a_job_that_ran_and_succeeded_between_polls_still_passes_through_running() -> None:
    e = engine()
    e.submit(job("a", queue="cluster"), 0)
    settle(e)
    e.take_effects()
    e.observe("a", S.SUCCEEDED, "", 1.0, attempt=1, exit_code=0)
    effects = e.take_effects()
    assert [str(t.dst) for t in effects.transitions] == [
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
    ]
    assert e.jobs["a"].attempts[0].exit_code == 0


def test_a_higher_attempt_number_means_the_service_retried() -> None:
    e = engine()
    e.submit(job("a", queue="cluster", retries=2), 0)
    settle(e)
    e.observe("a", S.RUNNING, "", 1.0, attempt=1)
    e.take_effects()
    e.observe("a", S.RUNNING, "", 2.0, attempt=2)
    effects = e.take_effects()
    assert [str(t.dst) for t in effects.transitions] == ["RUNNABLE", "STARTING", "RUNNING"]
    assert "Attempt 1 of 2 failed" in effects.transitions[0].reason
    assert [a.number for a in e.jobs["a"].attempts] == [1, 2]
    assert e.jobs["a"].attempts[0].done


def test_a_local_parent_holds_a_service_child_until_it_succeeds() -> None:
    e = engine()
    e.submit(job("prep", queue="local"), 0)
    e.submit(job("big", deps=["prep"], queue="cluster"), 0)
    actions = settle(e)
    assert [a.job.id for a in actions if isinstance(a, StartAttempt)] == ["prep"]
    assert not [a for a in actions if isinstance(a, HandOver)]
    assert e.status_of("big") == S.PENDING
    e.attempt_started(("prep", 1), "1", 1)
    e.attempt_exited(("prep", 1), 0, None, 2)
    handed = [a for a in settle(e, 2) if isinstance(a, HandOver)]
    assert [h.job.id for h in handed] == ["big"]
    assert handed[0].depends_on == ()  # prep already succeeded: nothing for the service to wait on


def test_a_local_child_runs_after_its_service_parent_succeeds() -> None:
    e = engine()
    e.submit(job("big", queue="cluster"), 0)
    e.submit(job("report", deps=["big"], queue="local"), 0)
    settle(e)
    e.observe("big", S.SUCCEEDED, "", 1.0, attempt=1, exit_code=0)
    started = [a.job.id for a in settle(e, 1) if isinstance(a, StartAttempt)]
    assert started == ["report"]


def test_an_array_goes_over_once_and_its_children_follow_the_service() -> None:
    e = engine()
    e.submit(job("arr", queue="cluster", array_size=3), 0)
    handed = [a for a in settle(e) if isinstance(a, HandOver)]
    assert [h.job.id for h in handed] == ["arr"]
    for i in range(3):
        e.observe(f"arr:{i}", S.SUCCEEDED, "", 1.0 + i, attempt=1, exit_code=0)
    e.decide(4.0)
    assert e.status_of("arr") == S.SUCCEEDED


def test_cancel_and_terminate_go_to_the_service_once_handed_over() -> None:
    e = engine()
    e.submit(job("a", queue="cluster"), 0)
    e.submit(job("b", queue="cluster"), 0)
    settle(e)
    e.cancel("a", "not needed", 1.0)
    e.observe("b", S.RUNNING, "", 1.0, attempt=1)
    e.terminate("b", "wrong input", 1.0)
    calls = [a for a in e.take_effects().actions if isinstance(a, RemoteCall)]
    assert [(c.job_id, c.verb) for c in calls] == [("a", "cancel"), ("b", "terminate")]
    assert e.status_of("a") == S.FAILED
    assert e.status_of("b") == S.RUNNING  # until the service says it stopped
    e.observe("b", S.FAILED, "", 2.0, attempt=1, exit_code=143)
    assert e.jobs["b"].status_reason == "Terminated by user: wrong input"


def test_a_refused_hand_over_fails_the_job_and_its_dependents() -> None:
    e = engine()
    e.submit(job("a", queue="cluster"), 0)
    e.submit(job("b", deps=["a"], queue="local"), 0)
    settle(e)
    e.hand_over_failed("a", "sbatch: error: invalid partition specified: p", 1.0)
    e.decide(1.0)
    assert e.jobs["a"].status_reason.startswith("sbatch: error")
    assert e.status_of("b") == S.FAILED

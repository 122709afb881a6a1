"""The ``aws-batch`` backend against a real ``moto_server`` running jobs as containers.

These drive :class:`AwsBatchBackend` directly with a recorder of its reports (the scheduler's
side is in test_aws_pipeline.py). What moto lacks (retries, exit codes, the array index
variable) is tested with botocore's Stubber in test_aws_stubbed.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from kadam_nb.backends.aws_batch import AwsBatchBackend
from kadam_nb.backends.base import RemoteDependency, RemoteJob
from kadam_nb.core.spec import JobDefinition
from tests.support.moto_server import (
    EventRecorder,
    MotoServer,
    create_batch_queue,
    fake_credentials,
    job_container_names,
    remove_job_containers,
    start_moto_server,
    stop_moto_server,
)

pytestmark = pytest.mark.docker

_seq = iter(range(1_000_000))


def job(
    server: MotoServer,
    work: Path,
    name: str,
    command: str,
    *,
    depends_on: tuple[str, ...] = (),
    array_size: int | None = None,
    job_id: str | None = None,
    **settings: str,
) -> RemoteJob:
    definition = JobDefinition.create(name, image="busybox:1.36", command=command, memory=64)
    return RemoteJob(
        job_id=job_id or f"{name}-{next(_seq)}",
        job_name=name,
        run_id="run1",
        queue="default",
        compute_environment="cloud",
        definition=definition,
        parameters={},
        depends_on=tuple(RemoteDependency(d) for d in depends_on),
        array_size=array_size,
        settings={**server.settings(), **settings},
        work_dir=str(work),
    )


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[AwsBatchBackend]:
    b = AwsBatchBackend(str(tmp_path / "state"), poll_interval=0.25)
    yield b
    b.close()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "runs" / "run1" / "work"
    path.mkdir(parents=True)
    return path


def test_pipeline_with_dependencies_array_and_logs(
    moto_batch: MotoServer, backend: AwsBatchBackend, work: Path
) -> None:
    """extract -> clean (array of 3) -> report on moto: ids mapped in dependsOn, children
    reported as kadam_parent:index, CloudWatch logs after the observation that started each
    attempt and before its end, and the work directory shared (mount_work_dir)."""
    events = EventRecorder()
    extract = job(
        moto_batch,
        work,
        "extract",
        "seq 1 5 > $KADAM_WORK/raw.txt; echo extracted",
        mount_work_dir="true",
    )
    clean = job(
        moto_batch,
        work,
        "clean",
        "echo clean $AWS_BATCH_JOB_ID; wc -l < $KADAM_WORK/raw.txt",
        depends_on=(extract.job_id,),
        array_size=3,
        mount_work_dir="true",
    )
    report = job(
        moto_batch,
        work,
        "report",
        "echo report; cat $KADAM_WORK/raw.txt",
        depends_on=(clean.job_id,),
        mount_work_dir="true",
    )
    started = time.monotonic()
    for j in (extract, clean, report):
        backend.hand_over(j, events)
    children = [f"{clean.job_id}:{i}" for i in range(3)]
    assert events.wait_final(extract.job_id, *children, report.job_id, timeout=45), events.events
    elapsed = time.monotonic() - started

    handed = {e[1]: e[2] for e in events.events if e[0] == "handed_over"}
    assert list(handed) == [extract.job_id, clean.job_id, report.job_id]
    for j in (extract.job_id, *children, report.job_id):
        final = events.final(j)
        assert final.status == "SUCCEEDED", (j, events.observations(j))
        assert final.attempt == 1
    assert events.lines(extract.job_id) == ["extracted"]
    for i, child in enumerate(children):
        assert events.lines(child) == [f"clean {handed[clean.job_id]}:{i}", "5"]
    assert events.lines(report.job_id) == ["report", "1", "2", "3", "4", "5"]

    # order: a RUNNING observation of attempt 1, then its lines, then its end
    for j in (extract.job_id, report.job_id):
        kinds = [
            (e[0], getattr(e[1], "status", None))
            for e in events.events
            if (e[0] == "observed" and e[1].job_id == j) or (e[0] == "log" and e[1][0] == j)
        ]
        first_log = kinds.index(("log", None))
        assert ("observed", "RUNNING") in kinds[:first_log]
        assert kinds[-1] == ("observed", "SUCCEEDED")

    # the service saw the dependencies as AWS ids
    batch = boto3.client("batch", endpoint_url=moto_batch.url, region_name=moto_batch.region)
    described = {
        d["jobId"]: d
        for d in batch.describe_jobs(jobs=[handed[clean.job_id], handed[report.job_id]])["jobs"]
    }
    assert described[handed[clean.job_id]]["dependsOn"] == [{"jobId": handed[extract.job_id]}]
    assert described[handed[clean.job_id]]["arrayProperties"]["size"] == 3
    assert described[handed[report.job_id]]["dependsOn"] == [{"jobId": handed[clean.job_id]}]
    assert described[handed[report.job_id]]["tags"]["kadam:job-id"] == report.job_id
    print(f"\nmoto pipeline extract -> clean[3] -> report: {elapsed:.1f} s")


def test_identical_definition_reuses_the_revision(
    moto_batch: MotoServer, backend: AwsBatchBackend, tmp_path: Path, work: Path
) -> None:
    """A second session handing over the same definition registers nothing new; a changed
    command registers revision n+1."""
    events = EventRecorder()
    first = job(moto_batch, work, "reuse", "echo one")
    backend.hand_over(first, events)
    assert events.wait_final(first.job_id)
    other = AwsBatchBackend(str(tmp_path / "state"), poll_interval=0.25)
    try:
        again = job(moto_batch, work, "reuse", "echo one")
        changed = job(moto_batch, work, "reuse", "echo two")
        other.hand_over(again, events)
        other.hand_over(changed, events)
        assert events.wait_final(again.job_id, changed.job_id)
    finally:
        other.close()
    batch = boto3.client("batch", endpoint_url=moto_batch.url, region_name=moto_batch.region)
    revisions = batch.describe_job_definitions(jobDefinitionName="reuse")["jobDefinitions"]
    assert sorted(r["revision"] for r in revisions) == [1, 2]
    assert events.lines(again.job_id) == ["one"]
    assert events.lines(changed.job_id) == ["two"]


def test_failures_and_terminate(
    moto_batch: MotoServer, backend: AwsBatchBackend, work: Path
) -> None:
    """A failing command FAILS (moto reports no exit code); a failed dependency fails its
    dependent before it starts; TerminateJob stops a running job with the reason given;
    CancelJob fails a job still waiting for its dependency."""
    events = EventRecorder()
    bad = job(moto_batch, work, "bad", "echo oops; exit 3")
    after_bad = job(moto_batch, work, "after-bad", "echo never", depends_on=(bad.job_id,))
    slow = job(moto_batch, work, "slow", "echo started; sleep 30")
    waiting = job(moto_batch, work, "waiting", "echo never", depends_on=(slow.job_id,))
    for j in (bad, after_bad, slow, waiting):
        backend.hand_over(j, events)
    assert events.wait(lambda: "RUNNING" in events.statuses(slow.job_id), timeout=30)
    backend.cancel(waiting.job_id, "not needed any more")
    assert events.wait_final(waiting.job_id, timeout=20)
    backend.terminate(slow.job_id, "stopped by the test")
    assert events.wait_final(bad.job_id, after_bad.job_id, slow.job_id, timeout=30)

    assert events.final(bad.job_id).status == "FAILED"
    assert events.final(bad.job_id).exit_code is None  # moto: no exitCode in DescribeJobs
    assert events.lines(bad.job_id) == ["oops"]
    dep_failed = events.final(after_bad.job_id)
    assert dep_failed.status == "FAILED" and dep_failed.attempt is None
    assert "dependency" in dep_failed.reason
    assert events.final(waiting.job_id).status == "FAILED"
    assert events.final(waiting.job_id).reason == "not needed any more"
    assert events.final(slow.job_id).status == "FAILED"
    assert events.final(slow.job_id).reason == "stopped by the test"
    assert events.lines(slow.job_id) == ["started"]


def test_missing_queue_says_what_to_fix(
    moto_batch: MotoServer, backend: AwsBatchBackend, work: Path
) -> None:
    events = EventRecorder()
    lost = job(moto_batch, work, "lost", "true", job_queue="no-such-queue")
    backend.hand_over(lost, events)
    assert events.wait_final(lost.job_id, timeout=10)
    reason = events.failure(lost.job_id)
    assert reason is not None
    assert "no-such-queue" in reason and "job_queue" in reason, reason


def test_aws_batch_not_answering_mid_run_is_reported_until_it_answers(
    docker_engine: object, tmp_path: Path, work: Path
) -> None:
    """A private moto_server is stopped while its job runs: the backend reports the compute
    environment's problem (naming the endpoint) and keeps the job's last known state; once a
    server answers on that endpoint again the problem is cleared. (A restarted moto has
    forgotten the job, which then FAILS saying so.)"""

    def no_retries(service: str, region: str | None, endpoint: str | None) -> object:
        return boto3.session.Session(region_name=region).client(
            service, endpoint_url=endpoint, config=Config(retries={"max_attempts": 1})
        )

    servers = [start_moto_server()]
    names: list[str] = []
    backend = AwsBatchBackend(
        str(tmp_path / "state"), poll_interval=0.25, client_factory=no_retries
    )
    events = EventRecorder()
    try:
        with fake_credentials():
            create_batch_queue(servers[0])
            napper = job(servers[0], work, "napper", "sleep 60", job_id="k-napper")
            backend.hand_over(napper, events)
            assert events.wait(lambda: "RUNNING" in events.statuses("k-napper"), 60)
            names = job_container_names(servers[0])
            stop_moto_server(servers[0])

            assert events.wait(lambda: bool(events.problems()), 15), events.events
            env, said = events.problems()[0]
            assert env == "cloud"
            assert said and said.startswith(
                f"DescribeJobs: cannot reach AWS Batch at {servers[0].url}"
            ), said
            assert "last known state" in said
            assert events.final("k-napper") is None  # not failed for want of an answer

            port = int(servers[0].url.rsplit(":", 1)[1])
            servers.append(start_moto_server(port=port))
            assert events.wait(lambda: events.problems()[-1] == ("cloud", None), 15)
            assert len(events.problems()) == 2  # one report each way, not one per poll
            assert events.wait_final("k-napper", timeout=30)
        final = events.final("k-napper")
        assert final.status == "FAILED" and "no longer knows job" in final.reason, final
    finally:
        backend.close()
        for server in servers:
            stop_moto_server(server)
        remove_job_containers(names)

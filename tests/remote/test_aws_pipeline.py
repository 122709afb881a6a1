"""The quick-start pipeline through the Registry on AWS Batch (moto_server), end to end.

``extract -> clean[0..3] -> report`` is sent to a queue whose compute environment is of type
``aws-batch``: kadam registers the definitions, submits the jobs with their dependencies, and
records what DescribeJobs and CloudWatch Logs say; the live dashboard shows the same states and
log lines as for local jobs. moto sets no ``AWS_BATCH_JOB_ARRAY_INDEX``, so each ``clean`` child
sees an empty index (its shard is empty there); the pipeline still succeeds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from kadam_nb import Registry
from kadam_nb.notebook.config import Kadam
from kadam_nb.notebook.dashboard import Dashboard
from tests.support.comms import Msg, recording_comms
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.docker

QUICKSTART = {
    "extract": dict(
        command='seq 1 1000 | awk \'{print $1 "," $1 % 7}\' > "$KADAM_WORK/raw.csv"\n'
        'echo "extract: wrote $(wc -l < "$KADAM_WORK/raw.csv") rows to raw.csv"',
    ),
    "clean": dict(
        command='i="$AWS_BATCH_JOB_ARRAY_INDEX"\n'
        'awk -F, -v i="$i" \'NR % 4 == i\' "$KADAM_WORK/raw.csv" > "$KADAM_WORK/part-$i.csv"\n'
        'echo "clean[$i]: shard $i has $(wc -l < "$KADAM_WORK/part-$i.csv") rows"',
        depends_on=["extract"],
        array_size=4,
        retries=3,
        timeout=120,
    ),
    "report": dict(
        command='echo "report: rows per remainder (value mod 7):"\n'
        'cat "$KADAM_WORK"/part-*.csv | cut -d, -f2 | sort -n | uniq -c\n'
        'echo "report: $(cat "$KADAM_WORK/raw.csv" | wc -l) rows in raw.csv"',
        depends_on=["clean"],
    ),
}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Msg]:
    return recording_comms(monkeypatch)


@pytest.fixture
def aws_reg(moto_batch: MotoServer, tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(state_dir=tmp_path / "state", backend="local")
    reg.create_compute_environment(
        "cloud",
        backend="aws-batch",
        job_queue=moto_batch.job_queue,
        region=moto_batch.region,
        endpoint_url=moto_batch.url,
    )
    reg.create_queue("aws", compute_environments=["cloud"])
    yield reg
    reg.close()


def test_quickstart_pipeline_on_aws_batch_shows_in_the_dashboard(
    aws_reg: Registry, moto_batch: MotoServer, sent: list[Msg]
) -> None:
    for name, fields in QUICKSTART.items():
        aws_reg.register(name, image="busybox:1.36", memory=256, **fields)  # type: ignore[arg-type]
    started = time.monotonic()
    run = aws_reg.run(queue="aws")
    dash = Dashboard(aws_reg, run, Kadam())
    assert dash.mode == "live"
    assert run.wait(timeout=60), aws_reg.jobs()[["job", "status", "reason"]].to_string()
    elapsed = time.monotonic() - started
    assert dash.wait_idle(10)

    names = ["extract", "clean", *(f"clean[{i}]" for i in range(4)), "report"]
    for name in names:
        assert str(aws_reg.job(name).status) == "SUCCEEDED", name
    report = aws_reg.job("report")
    view = next(v for v in aws_reg.views() if v.id == report.id)
    assert view.remote_id  # AWS's job id, kept to follow it again later
    transitions = [str(t.dst) for t in aws_reg.store.transitions(report.id)]
    assert transitions[0] == "SUBMITTED" and transitions[-1] == "SUCCEEDED"
    assert "RUNNING" in transitions

    # logs came from CloudWatch Logs into kadam's log files
    assert aws_reg.job("extract").logs() == "extract: wrote 1000 rows to raw.csv\n"
    # moto gives no AWS_BATCH_JOB_ARRAY_INDEX: the child's index is empty there
    assert aws_reg.job("clean[2]").logs() == "clean[]: shard  has 0 rows\n"
    report_log = report.logs().splitlines()
    assert report_log[0] == "report: rows per remainder (value mod 7):"
    assert report_log[-1] == "report: 1000 rows in raw.csv"  # the work directory was shared

    # the dashboard showed the same: every job SUCCEEDED, the log panes filled
    assert dash.done
    assert (dash.progress.value, dash.progress.max) == (6, 6)  # the children count
    assert ">SUCCEEDED<" in dash.table.value and ">FAILED<" not in dash.table.value
    assert "extract: wrote 1000 rows to raw.csv" in dash.panes["extract"].value
    assert "report: 1000 rows in raw.csv" in dash.panes["report"].value
    assert any(m.msg_type == "comm_msg" for m in sent)

    # on the service: the dependencies were AWS ids, the array had 4 children
    batch = boto3.client("batch", endpoint_url=moto_batch.url, region_name=moto_batch.region)
    ids = {
        n: next(v.remote_id for v in aws_reg.views() if v.id == aws_reg.job(n).id)
        for n in ("extract", "clean", "report")
    }
    described = {d["jobName"]: d for d in batch.describe_jobs(jobs=list(ids.values()))["jobs"]}
    assert described["clean"]["dependsOn"] == [{"jobId": ids["extract"]}]
    assert described["clean"]["arrayProperties"]["size"] == 4
    assert described["report"]["dependsOn"] == [{"jobId": ids["clean"]}]
    print(f"\nquick-start pipeline on moto through the Registry: {elapsed:.1f} s")


def test_a_failing_job_fails_its_dependents_and_terminate_reaches_aws(
    aws_reg: Registry,
) -> None:
    aws_reg.register("boom", image="busybox:1.36", memory=64, command="echo boom; exit 4")
    aws_reg.register(
        "after", image="busybox:1.36", memory=64, command="echo never", depends_on=["boom"]
    )
    aws_reg.register("sleepy", image="busybox:1.36", memory=64, command="echo zz; sleep 30")
    run = aws_reg.run(["after", "sleepy"], queue="aws")
    sleepy = aws_reg.job("sleepy")
    assert aws_reg._scheduler.wait_for(lambda: str(sleepy.status) == "RUNNING", 30)
    aws_reg.terminate("sleepy", "enough")
    assert run.wait(timeout=30) is False
    boom = aws_reg.job("boom")
    assert str(boom.status) == "FAILED"
    assert boom.logs() == "boom\n"
    assert str(aws_reg.job("after").status) == "FAILED"
    assert str(sleepy.status) == "FAILED"
    assert "enough" in sleepy.status_reason


def test_a_new_session_follows_again_a_job_still_running_on_aws(
    aws_reg: Registry, tmp_path: Path
) -> None:
    aws_reg.register(
        "long", image="busybox:1.36", memory=64, command="echo begin; sleep 3; echo end"
    )
    aws_reg.run(queue="aws")
    long = aws_reg.job("long")
    assert aws_reg._scheduler.wait_for(lambda: str(long.status) == "RUNNING", 30)
    aws_reg.close()
    with Registry(state_dir=tmp_path / "state", backend="local") as again:
        job = again.job("long")
        assert job.wait(timeout=30)
        assert str(job.status) == "SUCCEEDED"
        assert job.logs() == "begin\nend\n"


def test_a_submit_override_goes_to_aws_as_container_overrides(
    aws_reg: Registry, moto_batch: MotoServer
) -> None:
    import boto3

    aws_reg.register("greet", image="busybox:1.36", memory=64, command="echo hello")
    first = aws_reg.submit("greet", queue="aws")
    second = aws_reg.submit("greet", queue="aws", command="echo overridden")
    assert first.wait(timeout=60) and second.wait(timeout=60)
    assert first.logs() == "hello\n"
    assert second.logs() == "overridden\n"
    batch = boto3.client("batch", endpoint_url=moto_batch.url, region_name=moto_batch.region)
    revisions = batch.describe_job_definitions(jobDefinitionName="greet", status="ACTIVE")
    # the override travelled with the job, not as a second registered revision
    assert len(revisions["jobDefinitions"]) == 1, revisions["jobDefinitions"]

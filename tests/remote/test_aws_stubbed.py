"""kadam's side of what moto cannot show, with botocore's Stubber playing AWS Batch.

moto 5.2 runs one attempt whatever ``retryStrategy`` says, reports no exit code in DescribeJobs
and sets no ``AWS_BATCH_JOB_ARRAY_INDEX``. These tests give the backend the answers real AWS
gives (two attempts, exit codes, the OOM reason, array children) and check the observations
and log lines it reports, and the requests it sends. The Stubber checks every request against
botocore's model of the API and fails on any call not expected, in order.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import exceptions as boto_errors
from botocore.config import Config
from botocore.stub import Stubber

from kadam_nb.backends.aws_batch import (
    LOG_GROUP,
    AwsBatchBackend,
    _overrides,
    explain,
    next_poll_wait,
    observations,
    same_definition,
)
from kadam_nb.backends.base import Observation, RemoteDependency, RemoteJob
from kadam_nb.core.spec import JobDefinition
from tests.support.moto_server import EventRecorder, MotoServer, fake_credentials

ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/clean:7"
OOM = "OutOfMemoryError: Container killed due to memory usage"


@pytest.fixture(autouse=True)
def _credentials() -> Iterator[None]:
    with fake_credentials():
        yield


class Stubs:
    """A batch and a logs client, each behind a Stubber, handed to the backend."""

    def __init__(self) -> None:
        self.batch = boto3.client("batch", region_name="us-east-1")
        self.logs = boto3.client("logs", region_name="us-east-1")
        self.batch_stub = Stubber(self.batch)
        self.logs_stub = Stubber(self.logs)
        self.batch_stub.activate()
        self.logs_stub.activate()

    def factory(self, service: str, region: str | None, endpoint: str | None) -> Any:
        return self.batch if service == "batch" else self.logs

    def done(self) -> None:
        self.batch_stub.assert_no_pending_responses()
        self.logs_stub.assert_no_pending_responses()

    def register_new(self, d: JobDefinition | None = None) -> None:
        """AWS has no ACTIVE revision of "clean": kadam registers ``d`` (checked when given)
        as revision 7."""
        self.batch_stub.add_response(
            "describe_job_definitions",
            {"jobDefinitions": []},
            {"jobDefinitionName": "clean", "status": "ACTIVE"},
        )
        self.batch_stub.add_response(
            "register_job_definition",
            {"jobDefinitionName": "clean", "jobDefinitionArn": ARN, "revision": 7},
            d.to_aws() if d is not None else None,
        )

    def log_page(
        self, stream: str, token: str | None, messages: list[str], next_token: str
    ) -> None:
        params: dict[str, Any] = {
            "logGroupName": LOG_GROUP,
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token:
            params["nextToken"] = token
        events = [
            {"timestamp": 1_700_000_000_000 + i, "message": m} for i, m in enumerate(messages)
        ]
        self.logs_stub.add_response(
            "get_log_events", {"events": events, "nextForwardToken": next_token}, params
        )


def definition(**fields: Any) -> JobDefinition:
    base: dict[str, Any] = dict(
        image="busybox:1.36",
        command="echo clean",
        memory=256,
        retry_strategy={
            "attempts": 3,
            "evaluate_on_exit": [{"on_exit_code": "137", "action": "RETRY"}],
        },
        timeout=120,
    )
    return JobDefinition.create("clean", **(base | fields))


def remote_job(d: JobDefinition, **fields: Any) -> RemoteJob:
    values: dict[str, Any] = dict(
        job_id="k-clean",
        job_name="clean",
        run_id="run1",
        queue="aws",
        compute_environment="cloud",
        definition=d,
        parameters={"shard": "a"},
        depends_on=(RemoteDependency("k-extract", "aws-extract", "N_TO_N"),),
        array_size=2,
        settings={"job_queue": "kadam-queue", "region": "us-east-1"},
        work_dir="/nowhere/work",
    )
    return RemoteJob(**(values | fields))


def test_two_attempts_give_the_first_ones_end_then_the_retry() -> None:
    """AWS's answer for a job on its second attempt after an OOM kill: the first attempt's start
    and end (exit code, container reason), then attempt 2 RUNNING."""
    described = {
        "jobId": "aws-1",
        "jobName": "clean",
        "status": "RUNNING",
        "statusReason": "",
        "attempts": [
            {
                "container": {
                    "exitCode": 137,
                    "reason": OOM,
                    "logStreamName": "clean/default/a1",
                    "taskArn": "task-1",
                },
                "startedAt": 1,
                "stoppedAt": 2,
                "statusReason": "Essential container in task exited",
            }
        ],
        "container": {"logStreamName": "clean/default/a2", "taskArn": "task-2"},
    }
    assert observations("k", described) == [
        Observation("k", "RUNNING", "", 1, "task-1"),
        Observation("k", "RUNNING", "Essential container in task exited", 1, "task-1", 137, OOM),
        Observation("k", "RUNNING", "", 2, "task-2"),
    ]
    # between the attempts AWS shows RUNNABLE: the next attempt's number says it retried
    between = dict(described, status="RUNNABLE", container={})
    assert observations("k", between)[-1] == Observation("k", "RUNNABLE", "", 2)
    # the end: the last attempt's exit code and reason, the job's statusReason
    failed = dict(
        described,
        status="FAILED",
        statusReason="Essential container in task exited",
        attempts=[
            *described["attempts"],
            dict(described["attempts"][0], container={"exitCode": 2, "taskArn": "task-2"}),
        ],
    )
    assert observations("k", failed)[-1] == Observation(
        "k", "FAILED", "Essential container in task exited", 2, "task-2", 2, None
    )
    # a job that never started (a dependency failed on AWS)
    never = {"jobId": "x", "status": "FAILED", "statusReason": "Dependent Job failed"}
    assert observations("k", never) == [Observation("k", "FAILED", "Dependent Job failed", None)]


def test_hand_over_and_follow_an_array_with_a_retried_child(tmp_path: Path) -> None:
    """Register (no identical revision yet), SubmitJob with dependsOn/arrayProperties/
    parameters, then one poll: child 0 retried after an OOM kill (its first attempt's log, its
    end, attempt 2 and its log so far), child 1 SUCCEEDED with exit code 0."""
    stubs = Stubs()
    d = definition()
    stubs.register_new(d)
    stubs.batch_stub.add_response(
        "submit_job",
        {"jobName": "clean", "jobId": "aws-1", "jobArn": "arn:job/aws-1"},
        {
            "jobName": "clean",
            "jobQueue": "kadam-queue",
            "arrayProperties": {"size": 2},
            "dependsOn": [{"jobId": "aws-extract", "type": "N_TO_N"}],
            "jobDefinition": ARN,
            "parameters": {"shard": "a"},
            "tags": {"kadam:job-id": "k-clean", "kadam:run-id": "run1"},
        },
    )
    attempt1 = {
        "container": {"exitCode": 137, "reason": OOM, "logStreamName": "s0-a1", "taskArn": "t1"},
        "startedAt": 1,
        "stoppedAt": 2,
        "statusReason": "Essential container in task exited",
    }
    stubs.batch_stub.add_response(
        "describe_jobs",
        {
            "jobs": [
                {
                    "jobName": "clean",
                    "jobId": "aws-1",
                    "jobQueue": "q",
                    "status": "PENDING",
                    "startedAt": 0,
                    "jobDefinition": ARN,
                    "arrayProperties": {"statusSummary": {"RUNNING": 1, "SUCCEEDED": 1}, "size": 2},
                },
                {
                    "jobName": "clean",
                    "jobId": "aws-1:0",
                    "jobQueue": "q",
                    "status": "RUNNING",
                    "startedAt": 3,
                    "jobDefinition": ARN,
                    "attempts": [attempt1],
                    "container": {"logStreamName": "s0-a2", "taskArn": "t2"},
                    "arrayProperties": {"index": 0},
                },
                {
                    "jobName": "clean",
                    "jobId": "aws-1:1",
                    "jobQueue": "q",
                    "status": "SUCCEEDED",
                    "startedAt": 1,
                    "jobDefinition": ARN,
                    "statusReason": "Essential container in task exited",
                    "attempts": [
                        {
                            "container": {"exitCode": 0, "logStreamName": "s1-a1", "taskArn": "t3"},
                            "startedAt": 1,
                            "stoppedAt": 2,
                        }
                    ],
                    "container": {"exitCode": 0, "logStreamName": "s1-a1"},
                    "arrayProperties": {"index": 1},
                },
            ]
        },
        {"jobs": ["aws-1", "aws-1:0", "aws-1:1"]},
    )
    stubs.log_page("s0-a1", None, ["start 0", "killed"], "f/1")
    stubs.log_page("s0-a1", "f/1", [], "f/1")
    stubs.log_page("s0-a2", None, ["start 0 again"], "f/2")
    stubs.log_page("s0-a2", "f/2", [], "f/2")
    stubs.log_page("s1-a1", None, ["one\ntwo"], "f/3")
    stubs.log_page("s1-a1", "f/3", [], "f/3")

    events = EventRecorder()
    backend = AwsBatchBackend(str(tmp_path), poll_interval=None, client_factory=stubs.factory)
    try:
        backend.hand_over(remote_job(d), events)
        assert events.wait(lambda: ("handed_over", "k-clean", "aws-1") in events.events, 10)
        assert backend.poll_once()
    finally:
        backend.close()
    stubs.done()

    assert events.observations("k-clean") == []  # the parent follows its children in kadam
    child0 = [
        e
        for e in events.events
        if e[0] != "handed_over"
        and (
            getattr(e[1], "job_id", None) == "k-clean:0"
            or e[1] == ("k-clean:0", 1)
            or e[1] == ("k-clean:0", 2)
        )
    ]
    assert [
        (e[0], e[1].status, e[1].attempt, e[1].exit_code)
        if e[0] == "observed"
        else (e[0], e[1], e[3])
        for e in child0
    ] == [
        ("observed", "RUNNING", 1, None),
        ("log", ("k-clean:0", 1), ["start 0", "killed"]),
        ("observed", "RUNNING", 1, 137),
        ("observed", "RUNNING", 2, None),
        ("log", ("k-clean:0", 2), ["start 0 again"]),
    ]
    assert events.observations("k-clean:0")[1].attempt_reason == OOM
    assert events.lines("k-clean:1") == ["one", "two"]
    final = events.final("k-clean:1")
    assert (final.status, final.attempt, final.exit_code) == ("SUCCEEDED", 1, 0)
    # the log position is kept for a later session (adopt)
    assert (tmp_path / "aws-batch" / "k-clean:0.2.token").read_text() == "f/2"


def test_an_identical_active_revision_is_reused(tmp_path: Path) -> None:
    """AWS's copy carries defaults (empty lists, lower-case actions from moto): still the same
    content, so no RegisterJobDefinition; SubmitJob names that revision."""
    stubs = Stubs()
    d = definition()
    theirs = d.to_aws()
    theirs["containerProperties"] |= {
        "volumes": [],
        "environment": [],
        "mountPoints": [],
        "ulimits": [],
        "secrets": [],
    }
    theirs["containerProperties"]["resourceRequirements"].reverse()
    theirs["retryStrategy"]["evaluateOnExit"][0]["action"] = "retry"
    older = dict(theirs, containerProperties=dict(theirs["containerProperties"], image="old:1"))
    stubs.batch_stub.add_response(
        "describe_job_definitions",
        {
            "jobDefinitions": [
                dict(older, jobDefinitionArn=ARN.replace(":7", ":6"), revision=6, status="ACTIVE"),
                dict(theirs, jobDefinitionArn=ARN, revision=7, status="ACTIVE"),
            ]
        },
        {"jobDefinitionName": "clean", "status": "ACTIVE"},
    )
    stubs.batch_stub.add_response(
        "submit_job",
        {"jobName": "clean", "jobId": "aws-2", "jobArn": "arn:job/aws-2"},
        {
            "jobName": "clean",
            "jobQueue": "kadam-queue",
            "jobDefinition": ARN,
            "tags": {"kadam:job-id": "k-one", "kadam:run-id": "run1"},
        },
    )
    assert same_definition(d.to_aws(), theirs)
    assert not same_definition(d.to_aws(), older)
    events = EventRecorder()
    backend = AwsBatchBackend(str(tmp_path), poll_interval=None, client_factory=stubs.factory)
    try:
        one = remote_job(d, job_id="k-one", parameters={}, depends_on=(), array_size=None)
        backend.hand_over(one, events)
        assert events.wait(lambda: bool(events.events), 10)
    finally:
        backend.close()
    stubs.done()
    assert events.events == [("handed_over", "k-one", "aws-2")]


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "ClientException",
            "Job queue nope does not exist",
            "fix the compute environment's job_queue",
        ),
        ("AccessDeniedException", "not authorized", "IAM permission batch:SubmitJob"),
        (
            "UnrecognizedClientException",
            "The security token included is invalid",
            "AWS refused the credentials",
        ),
    ],
)
def test_a_refused_submission_says_what_to_fix(
    tmp_path: Path, code: str, message: str, expected: str
) -> None:
    stubs = Stubs()
    stubs.register_new()
    stubs.batch_stub.add_client_error("submit_job", code, message, http_status_code=400)
    events = EventRecorder()
    backend = AwsBatchBackend(str(tmp_path), poll_interval=None, client_factory=stubs.factory)
    try:
        job = remote_job(definition(), depends_on=(), array_size=None)
        backend.hand_over(job, events)
        assert events.wait_final("k-clean", timeout=10)
    finally:
        backend.close()
    reason = events.failure("k-clean") or ""
    assert reason.startswith("SubmitJob: ") and expected in reason, reason
    assert "testing" not in reason


def test_a_dependency_aws_never_accepted_fails_the_hand_over(tmp_path: Path) -> None:
    events = EventRecorder()
    backend = AwsBatchBackend(str(tmp_path), poll_interval=None, client_factory=Stubs().factory)
    try:
        job = remote_job(definition(), depends_on=(RemoteDependency("k-lost"),))
        backend.hand_over(job, events)
        assert events.wait_final("k-clean", timeout=10)
    finally:
        backend.close()
    assert "k-lost has no AWS Batch job id" in (events.failure("k-clean") or "")


def test_overrides_go_to_submit_job_when_only_overridable_fields_differ() -> None:
    base = definition()
    changed = base.replace(
        command=("echo", "other"), memory=512, environment={"A": "1"}, timeout=300
    )
    co, extra = _overrides(base, changed) or ({}, {})
    assert co == {
        "command": ["echo", "other"],
        "environment": [{"name": "A", "value": "1"}],
        "resourceRequirements": [
            {"type": "MEMORY", "value": "512"},
            {"type": "VCPU", "value": "1"},
        ],
    }
    assert extra == {"timeout": 300}
    assert _overrides(base, base.replace(image="other:1")) is None  # not overridable


def test_explain_names_the_fix_without_credentials() -> None:
    settings = {"job_queue": "q", "region": "eu-west-1", "endpoint_url": "http://127.0.0.1:9"}
    assert "no AWS credentials found" in explain(boto_errors.NoCredentialsError(), "SubmitJob")
    assert "region=" in explain(boto_errors.NoRegionError(), "SubmitJob")
    unreachable = boto_errors.EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    assert "cannot reach AWS Batch at http://127.0.0.1:9" in explain(
        unreachable, "SubmitJob", settings
    )


def test_unreachable_endpoint_and_missing_credentials(tmp_path: Path) -> None:
    """For real (no stub): nothing listens on the endpoint; then no credentials at all."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = MotoServer(url=f"http://127.0.0.1:{port}", pid=0, log_path="")

    def no_retries(service: str, region: str | None, endpoint: str | None) -> Any:
        return boto3.session.Session(region_name=region).client(
            service, endpoint_url=endpoint, config=Config(retries={"max_attempts": 1})
        )

    def job(name: str) -> RemoteJob:
        return remote_job(
            definition(), job_id=name, depends_on=(), array_size=None, settings=server.settings()
        )

    events = EventRecorder()
    backend = AwsBatchBackend(str(tmp_path), client_factory=no_retries)
    try:
        backend.hand_over(job("k-nowhere"), events)
        assert events.wait_final("k-nowhere", timeout=20)
    finally:
        backend.close()
    reason = events.failure("k-nowhere") or ""
    assert "cannot reach AWS Batch" in reason and server.url in reason, reason

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)  # fake_credentials restores them
    backend = AwsBatchBackend(str(tmp_path), client_factory=no_retries)
    try:
        backend.hand_over(job("k-anonymous"), events)
        assert events.wait_final("k-anonymous", timeout=20)
    finally:
        backend.close()
    reason = events.failure("k-anonymous") or ""
    assert "no AWS credentials found" in reason and "AWS_PROFILE" in reason, reason


def test_service_not_answering_is_reported_and_no_log_line_is_lost(tmp_path: Path) -> None:
    """DescribeJobs fails, then CloudWatch fails halfway through a finished job's log: each
    problem is reported for the compute environment, the job's end waits until its whole log
    is read, no line comes twice, and the problem is cleared once AWS answers again."""
    stubs = Stubs()
    d = definition()
    stubs.register_new(d)
    stubs.batch_stub.add_response(
        "submit_job",
        {"jobName": "clean", "jobId": "aws-9", "jobArn": "arn:job/aws-9"},
        {
            "jobName": "clean",
            "jobQueue": "kadam-queue",
            "jobDefinition": ARN,
            "tags": {"kadam:job-id": "k-clean", "kadam:run-id": "run1"},
        },
    )
    succeeded = {
        "jobName": "clean",
        "jobId": "aws-9",
        "jobQueue": "q",
        "status": "SUCCEEDED",
        "startedAt": 1,
        "jobDefinition": ARN,
        "attempts": [
            {
                "container": {"exitCode": 0, "logStreamName": "s-a1", "taskArn": "t1"},
                "startedAt": 1,
                "stoppedAt": 2,
            }
        ],
        "container": {"exitCode": 0, "logStreamName": "s-a1", "taskArn": "t1"},
    }
    # round 1: AWS Batch does not answer
    stubs.batch_stub.add_client_error(
        "describe_jobs", "ServiceUnavailableException", "try later", 503, {"jobs": ["aws-9"]}
    )
    # round 2: the job is done; CloudWatch gives one page, then fails
    stubs.batch_stub.add_response("describe_jobs", {"jobs": [succeeded]}, {"jobs": ["aws-9"]})
    stubs.log_page("s-a1", None, ["one", "two"], "f/1")
    stubs.logs_stub.add_client_error(
        "get_log_events",
        "ThrottlingException",
        "Rate exceeded",
        400,
        {
            "logGroupName": LOG_GROUP,
            "logStreamName": "s-a1",
            "startFromHead": True,
            "nextToken": "f/1",
        },
    )
    # round 3: all answer; the log is read on from where it stopped
    stubs.batch_stub.add_response("describe_jobs", {"jobs": [succeeded]}, {"jobs": ["aws-9"]})
    stubs.log_page("s-a1", "f/1", ["three"], "f/2")
    stubs.log_page("s-a1", "f/2", [], "f/2")

    events = EventRecorder()
    backend = AwsBatchBackend(str(tmp_path), poll_interval=None, client_factory=stubs.factory)
    job = remote_job(d, depends_on=(), array_size=None, parameters={})
    try:
        backend.hand_over(job, events)
        assert events.wait(lambda: ("handed_over", "k-clean", "aws-9") in events.events, 10)
        assert not backend.poll_once()
        problems = events.problems()
        assert len(problems) == 1 and problems[0][0] == "cloud"
        said = problems[0][1] or ""
        assert said.startswith("DescribeJobs: AWS Batch refused it (ServiceUnavailableException")
        assert "asks again" in said and "last known state" in said
        assert events.observations("k-clean") == []

        assert not backend.poll_once()
        assert events.lines("k-clean") == ["one", "two"]
        assert events.final("k-clean") is None  # not SUCCEEDED before its whole log is read
        said = events.problems()[-1][1] or ""
        assert said.startswith("GetLogEvents: CloudWatch Logs refused it (Throttling"), said

        assert backend.poll_once()
    finally:
        backend.close()
    stubs.done()
    assert events.lines("k-clean") == ["one", "two", "three"]
    final = events.final("k-clean")
    assert (final.status, final.attempt, final.exit_code) == ("SUCCEEDED", 1, 0)
    assert events.problems()[-1] == ("cloud", None)
    assert len(events.problems()) == 3


def test_polling_slows_down_for_big_arrays_and_while_aws_does_not_answer() -> None:
    assert next_poll_wait(0.5, 0.5, ok=True, calls=1) == 0.5
    assert next_poll_wait(0.5, 0.5, ok=True, calls=100) == 10.0  # a 10,000-child array
    waits = [0.5]
    for _ in range(6):
        waits.append(next_poll_wait(0.5, waits[-1], ok=False, calls=1))
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert next_poll_wait(0.5, 10.0, ok=True, calls=1) == 0.5  # answers again: back at once

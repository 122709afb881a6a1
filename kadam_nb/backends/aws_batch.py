"""AWS Batch as a kadam compute environment (the only module that imports ``boto3``).

A compute environment of backend ``aws-batch`` hands its jobs whole to an AWS Batch job queue:
AWS (or an emulator such as ``moto_server``) schedules, retries and times them out; this backend
submits them and reports what it observes. Settings (the compute environment's): ``job_queue``
(name or ARN, required), ``region`` and ``endpoint_url`` (optional; boto3's usual chain
otherwise), ``mount_work_dir`` (``"true"`` where the containers run on this machine, as with
a local emulator: the state directory is bind-mounted at ``/kadam/state`` and ``KADAM_WORK``
set to the run's work directory there; the default is true for an ``endpoint_url`` on
127.0.0.1 or localhost, false otherwise).
Credentials always come from boto3's chain (environment, profile, instance role); nothing
secret is stored or shown.

Two threads, started on first use:

* the **submitter** takes hand-overs, cancels and terminates in call order. A hand-over
  registers the job's definition (``RegisterJobDefinition``, reusing an ACTIVE revision with
  the same content, found by ``DescribeJobDefinitions``) and submits it (``SubmitJob``) with
  ``dependsOn`` mapped to AWS job ids, ``arrayProperties``, ``parameters``, tags naming kadam's
  job and run, and (for a job whose definition differs from its registered revision only in
  what SubmitJob can override) ``containerOverrides``, ``retryStrategy`` and ``timeout``;
* the **poller** calls ``DescribeJobs`` (100 ids a call) about every ``poll_interval`` seconds
  while jobs are live (less often for many jobs, and while AWS does not answer: see
  :func:`next_poll_wait`) and turns each answer into :class:`~.base.Observation` s: status,
  ``statusReason``, attempt number, exit code and container reason; array children are
  reported as ``f"{kadam_parent_id}:{index}"``. Logs come from CloudWatch Logs
  (``/aws/batch/job``, or the definition's ``awslogs-group``; the attempt's ``logStreamName``),
  followed with ``nextForwardToken`` while the attempt runs; the rest is read before the
  attempt's end is reported. The token is kept under ``<state_dir>/aws-batch/`` so a later
  session (:meth:`AwsBatchBackend.adopt`) goes on where this one stopped.

botocore's errors (``ClientError``, ``NoCredentialsError``, ``EndpointConnectionError``, ...)
become reasons that say what to fix (:func:`explain`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore import exceptions as boto_errors
from botocore.config import Config

from ..core.aws import CONTAINER_PROPERTIES, definition_to_aws, submit_job_to_aws
from ..core.logs import STDOUT
from ..core.spec import JobDefinition
from ..errors import KadamError, SpecError
from .base import Observation, RemoteEvents, RemoteJob

__all__ = [
    "CONTAINER_STATE_DIR",
    "LOG_GROUP",
    "AwsBatchBackend",
    "ClientFactory",
    "explain",
    "observations",
    "same_definition",
]

log = logging.getLogger("kadam_nb")

LOG_GROUP = "/aws/batch/job"
"""Where AWS Batch's default ``awslogs`` driver writes every attempt's stream."""

CONTAINER_STATE_DIR = "/kadam/state"
"""Where ``mount_work_dir`` mounts the state directory inside the job's container."""

_DONE = ("SUCCEEDED", "FAILED")
_DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 ids
_LOG_PAGES_WHILE_RUNNING = 5  # pages of GetLogEvents per job per poll, so states keep moving
_MISSING_POLLS = 5  # polls without an answer for an id before kadam says AWS forgot the job
_CALLS_PER_SECOND = 10.0  # AWS calls a polling round may average: a big array polls less often
_MAX_BACKOFF = 10.0  # seconds between rounds, at most, while AWS does not answer


def next_poll_wait(interval: float, previous: float, ok: bool, calls: int) -> float:
    """Seconds until the next polling round: ``interval``, doubled (up to 10 s) after each
    round that ran into a problem, and long enough that one round's ``calls`` (DescribeJobs and
    GetLogEvents) average at most 10 a second: a 10,000-child array is 100 DescribeJobs."""
    wait = interval if ok else min(max(previous, 0.5) * 2, _MAX_BACKOFF)
    return max(wait, calls / _CALLS_PER_SECOND)


ClientFactory = Callable[[str, "str | None", "str | None"], Any]
"""``(service, region, endpoint_url) -> boto3 client``: a seam for tests (botocore's Stubber)."""


def _default_factory(service: str, region: str | None, endpoint_url: str | None) -> Any:
    session = boto3.session.Session(region_name=region)
    config = Config(
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="kadam-nb",
    )
    return session.client(service, endpoint_url=endpoint_url, config=config)


# ---------------------------------------------------------------------------------- errors


def explain(exc: BaseException, action: str, settings: Mapping[str, str] | None = None) -> str:
    """A one-line reason for a failed AWS call that says what to fix; never a credential.

    ``action`` names the call (``"SubmitJob"``); ``settings`` are the compute environment's
    (to name the queue, region or endpoint concerned)."""
    settings = settings or {}
    service = "CloudWatch Logs" if action == "GetLogEvents" else "AWS Batch"
    where = settings.get("endpoint_url") or (
        f"region {settings['region']}" if settings.get("region") else "the default region"
    )
    if isinstance(exc, boto_errors.NoCredentialsError):
        return (
            f"{action}: no AWS credentials found. Set AWS_PROFILE (a profile of ~/.aws/config) "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws configure` "
            "(kadam uses boto3's usual credential chain and never stores credentials)"
        )
    if isinstance(exc, boto_errors.NoRegionError):
        return (
            f"{action}: no AWS region: give the compute environment region='us-east-1' (for "
            "example) or set AWS_DEFAULT_REGION"
        )
    if isinstance(exc, (boto_errors.EndpointConnectionError, boto_errors.ConnectionError)):
        return (
            f"{action}: cannot reach {service} at {where}: check the compute environment's "
            f"endpoint_url and region, and the network ({type(exc).__name__})"
        )
    if isinstance(exc, boto_errors.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        message = str(error.get("Message", "")).strip()
        if code in (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "InvalidSignatureException",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "ExpiredTokenException",
        ):
            return (
                f"{action}: AWS refused the credentials ({code}: {message}); renew them "
                "(aws sso login, new keys) or pick another AWS_PROFILE"
            )
        if code in ("AccessDenied", "AccessDeniedException"):
            return (
                f"{action}: access denied ({message}); the credentials in use need the IAM "
                f"permission batch:{action} (and logs:GetLogEvents to follow logs)"
            )
        hint = ""
        low = message.lower()
        if "queue" in low and ("not exist" in low or "not found" in low):
            hint = (
                f"; create the queue or fix the compute environment's job_queue "
                f"({settings.get('job_queue', '?')!r}) in {where}"
            )
        elif "definition" in low and "not exist" in low:
            hint = "; register the definition again (it may have been deregistered)"
        return f"{action}: {service} refused it ({code}: {message}){hint}"
    if isinstance(exc, boto_errors.ParamValidationError):
        return f"{action}: the request is not valid for AWS Batch: {exc}"
    if isinstance(exc, SpecError):
        return f"{action}: {exc}"
    if isinstance(exc, KadamError):  # already explained by the call that failed
        return str(exc)
    if isinstance(exc, boto_errors.BotoCoreError):
        return f"{action}: {type(exc).__name__}: {exc}"
    return f"{action}: unexpected {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------- definitions

# containerProperties keys whose content matters when comparing with an existing revision:
# every key kadam writes, except those AWS may fill with its own defaults in a revision.
_FILLED_BY_AWS = {
    "networkConfiguration",
    "fargatePlatformConfiguration",
    "enableExecuteCommand",
    "ephemeralStorage",
    "runtimePlatform",
    "repositoryCredentials",
}
_CONTAINER_COMPARED = tuple(k for k in CONTAINER_PROPERTIES if k not in _FILLED_BY_AWS)
_TOP_COMPARED = (
    "type",
    "parameters",
    "retryStrategy",
    "timeout",
    "tags",
    "schedulingPriority",
    "propagateTags",
    "platformCapabilities",
)
_SORT_KEYS = {"environment": "name", "resourceRequirements": "type", "secrets": "name"}


def _normal(value: Any, key: str = "") -> Any:
    """A comparable form: empty and false values dropped (AWS fills in ``[]``, ``{}`` and
    ``false`` defaults), unordered lists sorted, ``action`` upper-cased (moto lowers it)."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            n = _normal(v, str(k))
            if n not in (None, [], {}, False, ""):
                out[str(k)] = n
        return out
    if isinstance(value, (list, tuple)):
        items = [_normal(v) for v in value]
        if key in _SORT_KEYS:
            items.sort(key=lambda x: str(x.get(_SORT_KEYS[key], "")) if isinstance(x, dict) else "")
        return items
    if key == "action" and isinstance(value, str):
        return value.upper()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def same_definition(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    """Whether the RegisterJobDefinition body ``ours`` has the content of the revision
    ``theirs`` (a DescribeJobDefinitions entry): same top-level fields and container."""

    def norm(value: Any, key: str) -> Any:
        n = _normal(value, key)
        return None if n in ([], {}, False, "") else n

    for key in _TOP_COMPARED:
        if norm(ours.get(key), key) != norm(theirs.get(key), key):
            return False
    mine = ours.get("containerProperties") or {}
    other = theirs.get("containerProperties") or {}
    keys = set(mine) | (set(other) & set(_CONTAINER_COMPARED))
    return all(norm(mine.get(k), k) == norm(other.get(k), k) for k in keys)


def _register_body(definition: JobDefinition, mount: tuple[str, str] | None) -> dict[str, Any]:
    """The RegisterJobDefinition body the backend sends: the definition's export, every mount
    point's ``readOnly`` written out (moto reads it unconditionally), plus the state directory
    volume when ``mount`` is ``(host path, container path)``."""
    body = definition_to_aws(definition)
    cp = body["containerProperties"]
    if mount is not None:
        cp.setdefault("volumes", []).append(
            {"name": "kadam-state", "host": {"sourcePath": mount[0]}}
        )
        cp.setdefault("mountPoints", []).append(
            {"sourceVolume": "kadam-state", "containerPath": mount[1], "readOnly": False}
        )
    for point in cp.get("mountPoints", []):
        point.setdefault("readOnly", False)
    return body


def _overrides(
    base: JobDefinition, actual: JobDefinition
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """What SubmitJob must say for a job whose definition is ``actual`` when ``base`` is
    registered: ``(containerOverrides, other SubmitJob fields)``, or None when they differ in
    something SubmitJob cannot override (then ``actual`` is registered as it is)."""
    overridable = {
        "command",
        "environment",
        "vcpus",
        "memory",
        "gpus",
        "retry_strategy",
        "timeout",
        "depends_on",
        "array_size",
        "array_dependency",
    }
    names = [f for f in base.__dataclass_fields__ if f not in ("revision",)]
    changed = [f for f in names if getattr(base, f) != getattr(actual, f)]
    if any(f not in overridable for f in changed):
        return None
    co: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if "command" in changed:
        co["command"] = list(actual.command)
    if "environment" in changed:
        added = {k: v for k, v in actual.environment.items() if base.environment.get(k) != v}
        if any(k not in actual.environment for k in base.environment):
            return None  # SubmitJob can add or replace variables, not remove them
        co["environment"] = [{"name": k, "value": v} for k, v in added.items()]
    if {"vcpus", "memory", "gpus"} & set(changed):
        reqs = [
            {"type": "MEMORY", "value": str(actual.memory)},
            {"type": "VCPU", "value": f"{actual.vcpus:g}"},
        ]
        if actual.gpus:
            reqs.append({"type": "GPU", "value": str(actual.gpus)})
        co["resourceRequirements"] = reqs
    if "retry_strategy" in changed:
        extra["retry_strategy"] = actual.retry_strategy
    if "timeout" in changed and actual.timeout is not None:
        extra["timeout"] = actual.timeout
    elif "timeout" in changed:
        return None  # SubmitJob cannot remove a definition's timeout
    return co, extra


# ---------------------------------------------------------------------------- observations


@dataclass
class _Attempt:
    token: str | None = None  # CloudWatch nextForwardToken reached
    started: bool = False  # an observation of it STARTING or RUNNING was reported
    ended: bool = False  # its end (exit code) was reported


@dataclass
class _Followed:
    """One AWS job the poller follows: a plain job, an array child, or an array parent (polled
    for AWS's sake, never reported: kadam's engine follows a parent through its children)."""

    job_id: str  # kadam's id (a child: f"{parent}:{index}")
    aws_id: str
    client_key: tuple[str | None, str | None]
    events: RemoteEvents
    compute_environment: str = ""
    log_group: str = LOG_GROUP
    is_parent: bool = False
    has_dependencies: bool = False
    attempts: dict[int, _Attempt] = field(default_factory=dict)
    last: tuple[Any, ...] | None = None
    done: bool = False
    missing: int = 0
    size: int = 0  # an array parent's number of children

    def attempt(self, number: int) -> _Attempt:
        return self.attempts.setdefault(number, _Attempt())


def _container(entry: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (entry or {}).get("container") or {}


def observations(job_id: str, described: Mapping[str, Any]) -> list[Observation]:
    """The observations one DescribeJobs entry gives, earliest first, for a follower that has
    seen nothing yet (a pure view of :meth:`AwsBatchBackend` 's rules, for tests and docs):
    each earlier attempt's start and end, then the job's state now."""
    out: list[Observation] = []
    for kind, _number, payload in _plan(
        described, _Followed(job_id, "", (None, None), _NoEvents())
    ):
        if kind == "observe":
            out.append(payload)
    return out


class _NoEvents:
    def handed_over(self, job_id: str, remote_id: str) -> None: ...
    def hand_over_failed(self, job_id: str, reason: str) -> None: ...
    def observed(self, observation: Observation) -> None: ...
    def log(self, key: tuple[str, int], stream: str, lines: list[str], at_ns: int) -> None: ...
    def service_problem(self, compute_environment: str, problem: str | None) -> None: ...


def _plan(d: Mapping[str, Any], f: _Followed) -> list[tuple[str, int, Any]]:
    """What to do for one DescribeJobs entry, in order: ``("observe", n, Observation)`` and
    ``("logs", n, (stream, drain))``; attempts already reported are not repeated.

    AWS lists finished attempts in ``attempts`` (moto also lists the running one, without
    ``stoppedAt``); the running attempt's stream is ``container.logStreamName``."""
    status = str(d.get("status", ""))
    reason = str(d.get("statusReason") or "")
    attempts = list(d.get("attempts") or [])
    finished = [a for a in attempts if a.get("stoppedAt")]
    current = _container(d)
    steps: list[tuple[str, int, Any]] = []
    done = status in _DONE
    if done:
        last_n = len(attempts) or (1 if d.get("startedAt") and current.get("logStreamName") else 0)
    elif status in ("STARTING", "RUNNING"):
        last_n = len(finished) + 1
    else:
        last_n = len(finished) + 1 if finished else 0

    def started(n: int, entry: Mapping[str, Any]) -> None:
        a = f.attempt(n)
        if not a.started:
            a.started = True
            handle = _container(entry).get("taskArn") or _container(entry).get("logStreamName")
            steps.append(("observe", n, Observation(f.job_id, "RUNNING", "", n, handle)))

    # earlier attempts: each one's start, its whole log, then its end (the service retried)
    for n, entry in enumerate(finished, 1):
        if n >= last_n:
            break
        if f.attempt(n).ended:
            continue
        started(n, entry)
        stream = _container(entry).get("logStreamName")
        if stream:
            steps.append(("logs", n, (stream, True)))
        f.attempt(n).ended = True
        c = _container(entry)
        steps.append(
            (
                "observe",
                n,
                Observation(
                    f.job_id,
                    "RUNNING",
                    str(entry.get("statusReason") or ""),
                    n,
                    c.get("taskArn"),
                    _int_or_none(c.get("exitCode")),
                    c.get("reason"),
                ),
            )
        )

    if done:
        exit_code = None
        attempt_reason = None
        if last_n:
            entry = attempts[last_n - 1] if len(attempts) >= last_n else {"container": current}
            started(last_n, entry)
            c = _container(entry)
            stream = c.get("logStreamName") or current.get("logStreamName")
            if stream:
                steps.append(("logs", last_n, (stream, True)))
            exit_code = _int_or_none(c.get("exitCode", current.get("exitCode")))
            attempt_reason = c.get("reason") or current.get("reason")
            f.attempt(last_n).ended = True
        elif not reason and f.has_dependencies:
            reason = "Failed before starting (the service gave no reason; a dependency failed?)"
        steps.append(
            (
                "observe",
                last_n,
                Observation(
                    f.job_id,
                    status,
                    reason,
                    last_n or None,
                    current.get("taskArn"),
                    exit_code,
                    attempt_reason,
                ),
            )
        )
    elif status in ("STARTING", "RUNNING"):
        running = next((a for a in attempts if not a.get("stoppedAt")), {"container": current})
        handle = current.get("taskArn") or _container(running).get("taskArn")
        f.attempt(last_n).started = True
        steps.append(("observe", last_n, Observation(f.job_id, status, reason, last_n, handle)))
        stream = current.get("logStreamName") or _container(running).get("logStreamName")
        if status == "RUNNING" and stream:
            steps.append(("logs", last_n, (stream, False)))
    elif status:
        steps.append(("observe", last_n, Observation(f.job_id, status, reason, last_n or None)))
    return steps


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------- backend


class AwsBatchBackend:
    """Hands jobs to AWS Batch and follows them (see the module's docstring)."""

    name = "aws-batch"
    remote = True

    def __init__(
        self,
        state_dir: str,
        *,
        poll_interval: float | None = 0.5,
        client_factory: ClientFactory | None = None,
    ) -> None:
        """``poll_interval`` None starts no polling thread: the caller calls :meth:`poll_once`
        (tests replaying recorded answers do)."""
        self.state_dir = os.path.abspath(state_dir)
        self.poll_interval = poll_interval
        self._factory = client_factory or _default_factory
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str | None, str | None], Any] = {}
        self._aws_ids: dict[str, str] = {}  # kadam id -> AWS id (children too)
        self._followed: dict[str, _Followed] = {}  # AWS id -> follower
        self._revisions: dict[tuple[Any, ...], str] = {}  # (client key, body) -> definition ARN
        self._inbox: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._submitter: threading.Thread | None = None
        self._poller: threading.Thread | None = None
        self.last_error: str | None = None  # the latest polling problem, for diagnostics
        # compute environment -> the problem its last polling round ran into, and whom to tell
        self._problems: dict[str, tuple[str, RemoteEvents]] = {}
        self._round_problems: dict[str, str] = {}
        self.calls_last_round = 0  # DescribeJobs and GetLogEvents calls the last round made

    # -------------------------------------------------------------- clients

    def _client(self, service: str, region: str | None, endpoint_url: str | None) -> Any:
        key = (service, region or None, endpoint_url or None)
        with self._lock:
            client = self._clients.get(key)
        if client is None:
            client = self._factory(service, key[1], key[2])
            with self._lock:
                client = self._clients.setdefault(key, client)
        return client

    @staticmethod
    def _key(settings: Mapping[str, str]) -> tuple[str | None, str | None]:
        return (settings.get("region") or None, settings.get("endpoint_url") or None)

    # -------------------------------------------------------------- threads

    def _ensure_threads(self) -> None:
        with self._lock:
            if self._closed.is_set():
                raise KadamError("the aws-batch backend is closed")
            if self._submitter is None:
                self._submitter = threading.Thread(
                    target=self._submit_loop, name="kadam-aws-submit", daemon=True
                )
                self._submitter.start()
            if self._poller is None and self.poll_interval is not None:
                self._poller = threading.Thread(
                    target=self._poll_loop, name="kadam-aws-poll", daemon=True
                )
                self._poller.start()

    def _submit_loop(self) -> None:
        while True:
            task = self._inbox.get()
            if task is None:
                return
            try:
                task()
            except Exception:  # a bug here must not stop the hand-overs after it
                log.exception("kadam aws-batch: submitter task failed")

    # -------------------------------------------------------------- the contract

    def hand_over(self, job: RemoteJob, events: RemoteEvents) -> None:
        """Register the definition and submit the job on the submitter thread, in call order."""
        self._ensure_threads()
        self._inbox.put(lambda: self._submit(job, events))

    def cancel(self, job_id: str, reason: str) -> None:
        """CancelJob (AWS fails a job not yet STARTING; others go on)."""
        self._ensure_threads()
        self._inbox.put(lambda: self._stop("cancel_job", "CancelJob", job_id, reason))

    def terminate(self, job_id: str, reason: str) -> None:
        """TerminateJob (AWS stops a job in any state)."""
        self._ensure_threads()
        self._inbox.put(lambda: self._stop("terminate_job", "TerminateJob", job_id, reason))

    def adopt(self, jobs: list[RemoteJob], events: RemoteEvents) -> None:
        """Follow again jobs an earlier session handed over, from their ``remote_id``."""
        self._ensure_threads()
        for job in jobs:
            if not job.remote_id:
                events.hand_over_failed(
                    job.job_id, "AWS Batch: the job has no AWS job id to follow (never submitted)"
                )
                continue
            self._follow(job, job.remote_id, events, adopted=True)
        self._wake.set()

    def close(self) -> None:
        """Stop the threads; jobs on AWS keep going (a later session adopts them)."""
        self._closed.set()
        self._wake.set()
        self._inbox.put(None)
        for thread in (self._submitter, self._poller):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=10)

    # -------------------------------------------------------------- submitting

    def _submit(self, job: RemoteJob, events: RemoteEvents) -> None:
        if self._closed.is_set():
            return
        settings = job.settings
        queue_name = settings.get("job_queue") or ""
        if not queue_name:
            events.hand_over_failed(
                job.job_id,
                f"compute environment {job.compute_environment!r} has no job_queue: create it "
                "with job_queue='<AWS Batch job queue name or ARN>'",
            )
            return
        region, endpoint = self._key(settings)
        try:
            batch = self._client("batch", region, endpoint)
            depends = self._depends_on(job)
            if isinstance(depends, str):
                events.hand_over_failed(job.job_id, depends)
                return
            definition = job.definition
            base = job.base_definition
            plan = _overrides(base, definition) if isinstance(base, JobDefinition) else None
            registered = base if plan is not None else definition
            assert registered is not None
            mount = self._mount(settings)
            arn = self._register(batch, (region, endpoint), registered, mount)
            overrides, extra = plan if plan is not None else ({}, {})
            environment = list(overrides.get("environment", []))
            if mount is not None:
                work = os.path.relpath(os.path.abspath(job.work_dir), self.state_dir)
                if not work.startswith(".."):
                    environment.append(
                        {"name": "KADAM_WORK", "value": f"{CONTAINER_STATE_DIR}/{work}"}
                    )
            if environment:
                overrides["environment"] = environment
            body = submit_job_to_aws(
                job_name=job.job_name,
                job_definition=arn,
                job_queue=queue_name,
                depends_on=[d for d in depends if "jobId" in d],
                array_size=job.array_size,
                parameters=dict(job.parameters) or None,
                retry_strategy=extra.get("retry_strategy"),
                timeout=extra.get("timeout"),
                container_overrides=overrides or None,
            )
            if any("jobId" not in d for d in depends):
                body.setdefault("dependsOn", []).append({"type": "SEQUENTIAL"})
            body["tags"] = {"kadam:job-id": job.job_id, "kadam:run-id": job.run_id}
            answer = batch.submit_job(**body)
        except Exception as exc:
            events.hand_over_failed(job.job_id, explain(exc, "SubmitJob", settings))
            return
        aws_id = str(answer["jobId"])
        events.handed_over(job.job_id, aws_id)
        self._follow(job, aws_id, events, adopted=False)
        self._wake.set()

    def _depends_on(self, job: RemoteJob) -> list[dict[str, str]] | str:
        """SubmitJob's dependsOn for ``job``, or the reason it cannot be given."""
        out: list[dict[str, str]] = []
        for dep in job.depends_on:
            if not dep.job_id or (dep.type == "SEQUENTIAL" and dep.job_id == job.job_id):
                out.append({"type": "SEQUENTIAL"})
                continue
            with self._lock:
                aws_id = dep.remote_id or self._aws_ids.get(dep.job_id)
            if aws_id is None:
                return (
                    f"SubmitJob: dependency {dep.job_id} has no AWS Batch job id (it was not "
                    "accepted by AWS Batch, or runs elsewhere); a job on AWS can only wait for "
                    "jobs on AWS"
                )
            entry = {"jobId": aws_id}
            if dep.type == "N_TO_N":
                entry["type"] = "N_TO_N"
            out.append(entry)
        return out

    def _mount(self, settings: Mapping[str, str]) -> tuple[str, str] | None:
        """``(state dir, its path in the container)`` when the jobs' containers run on this
        machine: ``mount_work_dir`` says so, or (when not given) an ``endpoint_url`` on the
        loopback interface (an emulator such as moto_server runs them on the local engine)."""
        flag = str(settings.get("mount_work_dir", "")).strip().lower()
        if not flag:
            host = urllib.parse.urlsplit(settings.get("endpoint_url") or "").hostname or ""
            flag = "true" if host in ("127.0.0.1", "localhost", "::1") else "false"
        return (self.state_dir, CONTAINER_STATE_DIR) if flag in ("1", "true", "yes") else None

    def _register(
        self,
        batch: Any,
        key: tuple[str | None, str | None],
        definition: JobDefinition,
        mount: tuple[str, str] | None,
    ) -> str:
        """The ARN of an ACTIVE revision with ``definition``'s content (registering one only
        when there is none): a re-run does not add revisions on AWS."""
        body = _register_body(definition, mount)
        cache_key = (key, json.dumps(body, sort_keys=True))
        with self._lock:
            known = self._revisions.get(cache_key)
        if known is not None:
            return known
        name = body["jobDefinitionName"]
        arn: str | None = None
        try:
            paginator = batch.get_paginator("describe_job_definitions")
            for page in paginator.paginate(jobDefinitionName=name, status="ACTIVE"):
                for entry in page.get("jobDefinitions", []):
                    if (
                        entry.get("status", "ACTIVE") == "ACTIVE"
                        and same_definition(body, entry)
                        and (arn is None or _revision(entry) > _revision_of(arn))
                    ):
                        arn = str(entry["jobDefinitionArn"])
        except boto_errors.ClientError as exc:
            raise KadamError(explain(exc, "DescribeJobDefinitions")) from exc
        if arn is None:
            try:
                arn = str(batch.register_job_definition(**body)["jobDefinitionArn"])
            except (boto_errors.ClientError, boto_errors.ParamValidationError) as exc:
                raise KadamError(explain(exc, "RegisterJobDefinition")) from exc
        with self._lock:
            self._revisions[cache_key] = arn
        return arn

    def _follow(self, job: RemoteJob, aws_id: str, events: RemoteEvents, adopted: bool) -> None:
        key = self._key(job.settings)
        group = LOG_GROUP
        lc = job.definition.log_configuration
        if lc is not None and lc.log_driver == "awslogs":
            group = lc.options.get("awslogs-group", LOG_GROUP)
        has_deps = bool(job.depends_on)
        env = job.compute_environment
        followers = []
        if job.array_size:
            followers.append(
                _Followed(
                    job.job_id, aws_id, key, events, env, group, is_parent=True, size=job.array_size
                )
            )
            for i in range(job.array_size):
                followers.append(
                    _Followed(
                        f"{job.job_id}:{i}",
                        f"{aws_id}:{i}",
                        key,
                        events,
                        env,
                        group,
                        has_dependencies=has_deps,
                    )
                )
        else:
            followers.append(
                _Followed(job.job_id, aws_id, key, events, env, group, has_dependencies=has_deps)
            )
        for f in followers:
            if adopted:
                for n in range(1, job.attempts_seen + 1):
                    f.attempt(n).started = True
                    f.attempt(n).token = self._load_token(f.job_id, n)
            with self._lock:
                self._aws_ids[f.job_id] = f.aws_id
                self._followed[f.aws_id] = f

    # -------------------------------------------------------------- cancel / terminate

    def _stop(self, method: str, action: str, job_id: str, reason: str) -> None:
        with self._lock:
            aws_id = self._aws_ids.get(job_id)
            f = self._followed.get(aws_id) if aws_id else None
        if aws_id is None or f is None:
            return  # never accepted by AWS: nothing to stop there
        region, endpoint = f.client_key
        try:
            batch = self._client("batch", region, endpoint)
            getattr(batch, method)(jobId=aws_id, reason=reason or f"{action} from kadam")
        except Exception as exc:
            self.last_error = explain(exc, action)
            log.warning("kadam aws-batch: %s", self.last_error)
        self._wake.set()

    # -------------------------------------------------------------- polling

    def _poll_loop(self) -> None:
        interval = self.poll_interval or 0.5
        backoff = interval
        while not self._closed.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            if self._closed.is_set():
                return
            try:
                ok = self.poll_once()
            except Exception:
                log.exception("kadam aws-batch: polling failed")
                ok = False
            backoff = next_poll_wait(interval, backoff, ok, self.calls_last_round)

    def poll_once(self) -> bool:
        """One round: DescribeJobs for every live job, then observations and logs. Returns
        False when a call failed (the poller then waits longer before the next round)."""
        with self._lock:
            live = [f for f in self._followed.values() if not f.done]
        groups: dict[tuple[str | None, str | None], list[_Followed]] = {}
        for f in live:
            groups.setdefault(f.client_key, []).append(f)
        self._round_problems = {}
        self.calls_last_round = 0
        try:
            return self._poll_groups(groups)
        finally:
            self._tell_problems(live)

    def _poll_groups(self, groups: dict[tuple[str | None, str | None], list[_Followed]]) -> bool:
        ok = True
        for key, followers in groups.items():
            try:
                batch = self._client("batch", *key)
            except Exception as exc:
                self._problem(followers, explain(exc, "DescribeJobs", _where(key)))
                ok = False
                continue
            for start in range(0, len(followers), _DESCRIBE_BATCH):
                chunk = followers[start : start + _DESCRIBE_BATCH]
                self.calls_last_round += 1
                try:
                    answer = batch.describe_jobs(jobs=[f.aws_id for f in chunk])
                except Exception as exc:
                    self._problem(chunk, explain(exc, "DescribeJobs", _where(key)))
                    ok = False
                    continue
                by_id = {str(d.get("jobId")): d for d in answer.get("jobs", [])}
                for f in chunk:
                    d = by_id.get(f.aws_id)
                    if d is None:
                        self._missing(f)
                        continue
                    f.missing = 0
                    if f.is_parent:
                        if d.get("status") in _DONE:
                            f.done = True
                        continue
                    self._apply(f, d, key)
                    if self._closed.is_set():
                        return ok
        self._parents_done()
        return ok and not self._round_problems

    def _problem(self, followers: Iterable[_Followed], reason: str) -> None:
        """Remember that this round could not follow these jobs, and why."""
        self.last_error = reason
        for f in followers:
            self._round_problems.setdefault(f.compute_environment, reason)

    def _tell_problems(self, followed: list[_Followed]) -> None:
        """Report each compute environment whose problem started, changed or ended."""
        events_by_env = {env: events for env, (_, events) in self._problems.items()}
        events_by_env.update((f.compute_environment, f.events) for f in followed)
        for env, events in events_by_env.items():
            now = self._round_problems.get(env)
            before = self._problems.get(env)
            if now == (before[0] if before else None):
                continue
            if now is None:
                del self._problems[env]
                events.service_problem(env, None)
            else:
                self._problems[env] = (now, events)
                events.service_problem(
                    env,
                    f"{now}. kadam asks again every few seconds; its jobs keep their last "
                    "known state until AWS answers",
                )

    def _missing(self, f: _Followed) -> None:
        f.missing += 1
        if f.missing < _MISSING_POLLS or f.is_parent:
            f.done = f.done or (f.is_parent and f.missing >= _MISSING_POLLS)
            return
        f.done = True
        f.events.observed(
            Observation(
                f.job_id,
                "FAILED",
                f"AWS Batch no longer knows job {f.aws_id} (jobs are kept about 7 days after "
                "they finish, and an emulator forgets them when it restarts)",
            )
        )

    def _apply(
        self, f: _Followed, d: Mapping[str, Any], key: tuple[str | None, str | None]
    ) -> None:
        before = {n: (a.started, a.ended) for n, a in f.attempts.items()}
        steps = _plan(d, f)
        for done_steps, (kind, number, payload) in enumerate(steps):
            if kind == "logs":
                stream, drain = payload
                if not self._read_logs(f, number, stream, drain, key) and drain:
                    # An attempt's end is reported only after its whole log: leave the rest of
                    # this plan to the next round, which reads on from the saved token.
                    for _kind, n, _payload in steps[done_steps:]:
                        a = f.attempt(n)
                        a.started, a.ended = before.get(n, (False, False))
                    return
                continue
            obs: Observation = payload
            signature = (obs.status, obs.attempt, obs.exit_code, obs.reason, obs.attempt_reason)
            if signature == f.last:
                continue
            f.last = signature
            f.events.observed(obs)
        if d.get("status") in _DONE:
            f.done = True

    def _parents_done(self) -> None:
        """An array parent is followed (for AWS's sake: moto settles a parent, and so releases
        its dependents, only when it is described) until all its children have finished."""
        with self._lock:
            for f in self._followed.values():
                if f.is_parent and not f.done and f.size:
                    children = (self._followed.get(f"{f.aws_id}:{i}") for i in range(f.size))
                    f.done = all(c is None or c.done for c in children)

    # -------------------------------------------------------------- logs

    def _read_logs(
        self,
        f: _Followed,
        number: int,
        stream: str,
        drain: bool,
        key: tuple[str | None, str | None],
    ) -> bool:
        """Report the attempt's new CloudWatch events as log lines (all of them when ``drain``;
        a few pages otherwise, so that states keep moving for other jobs). False when
        CloudWatch did not answer (the lines are read from where it stopped next time)."""
        a = f.attempt(number)
        pages = 0
        while not self._closed.is_set():
            kwargs: dict[str, Any] = {
                "logGroupName": f.log_group,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if a.token:
                kwargs["nextToken"] = a.token
            self.calls_last_round += 1
            try:
                answer = self._client("logs", *key).get_log_events(**kwargs)
            except boto_errors.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ResourceNotFoundException":  # no stream yet: nothing written
                    return True
                self._problem([f], explain(exc, "GetLogEvents", _where(key)))
                return False
            except Exception as exc:
                self._problem([f], explain(exc, "GetLogEvents", _where(key)))
                return False
            events = answer.get("events") or []
            lines: list[str] = []
            for event in events:
                message = str(event.get("message", ""))
                lines.extend(message.splitlines() or [""])
            token = answer.get("nextForwardToken")
            if lines:
                at_ns = int(float(events[-1].get("timestamp", time.time() * 1000)) * 1_000_000)
                f.events.log((f.job_id, number), STDOUT, lines, at_ns)
            same = token is None or token == a.token
            if token:
                a.token = token
                self._save_token(f.job_id, number, token)
            pages += 1
            if not events or same or (not drain and pages >= _LOG_PAGES_WHILE_RUNNING):
                return True
        return True

    def _token_path(self, job_id: str, number: int) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.:-]", "_", job_id)
        return os.path.join(self.state_dir, "aws-batch", f"{safe}.{number}.token")

    def _save_token(self, job_id: str, number: int, token: str) -> None:
        path = self._token_path(job_id, number)
        with contextlib.suppress(OSError):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(token)
            os.replace(tmp, path)

    def _load_token(self, job_id: str, number: int) -> str | None:
        try:
            with open(self._token_path(job_id, number), encoding="utf-8") as fh:
                return fh.read().strip() or None
        except OSError:
            return None


def _where(key: tuple[str | None, str | None]) -> dict[str, str]:
    """The settings :func:`explain` names a place by, from a client key (region, endpoint)."""
    region, endpoint = key
    return {"region": region or "", "endpoint_url": endpoint or ""}


def _revision(entry: Mapping[str, Any]) -> int:
    return int(entry.get("revision") or 0)


def _revision_of(arn: str) -> int:
    tail = arn.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0

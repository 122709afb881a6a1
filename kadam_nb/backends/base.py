"""The contract between the scheduler and the things that run attempts (processes, containers).

A backend runs one attempt per :meth:`Backend.start` call and reports what happens to it through
the :class:`AttemptEvents` it was given, from whatever thread it likes: the scheduler turns those
reports into state changes on its own thread. A backend never changes job state itself.

Order of reports for one attempt: ``progress*`` then either ``failed_to_start`` (the attempt never
ran) or ``started``, ``log*``, ``exited``. ``exited`` comes last, after every log line has been
reported, so that the store holds the whole log when the job is seen to finish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..core.logs import STDERR, STDOUT
from ..core.spec import JobDefinition

__all__ = [
    "STDERR",
    "STDOUT",
    "AttemptEvents",
    "AttemptKey",
    "AttemptSpec",
    "Backend",
    "Observation",
    "RemoteBackend",
    "RemoteDependency",
    "RemoteEvents",
    "RemoteJob",
]

AttemptKey = tuple[str, int]
"""(job id, attempt number); attempt numbers start at 1 as AWS_BATCH_JOB_ATTEMPT does."""


@dataclass(frozen=True)
class AttemptSpec:
    """Everything a backend needs to run one attempt, resolved by the scheduler.

    ``command`` has ``Ref::`` parameters substituted; ``environment`` holds the definition's
    variables plus the injected ``AWS_BATCH_*`` ones. The backend adds ``KADAM_WORK`` itself,
    because only it knows where ``work_dir`` appears to the job (the host path for processes,
    ``/kadam/work`` inside containers).
    """

    job_id: str
    job_name: str
    attempt: int
    run_id: str
    command: tuple[str, ...]
    environment: Mapping[str, str]
    work_dir: str
    definition: JobDefinition
    image: str | None = None
    vcpus: float = 1.0
    memory: int = 2048
    gpus: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> AttemptKey:
        return (self.job_id, self.attempt)


class AttemptEvents(Protocol):
    """What a backend reports about an attempt. Implemented by the scheduler; thread-safe."""

    def progress(self, key: AttemptKey, message: str) -> None:
        """Something worth showing while STARTING (e.g. an image pull's progress)."""

    def started(self, key: AttemptKey, handle: str) -> None:
        """The process or container is running; ``handle`` is its pid or container id."""

    def failed_to_start(self, key: AttemptKey, reason: str) -> None:
        """The attempt never ran; ``reason`` is AWS-style, e.g.
        ``CannotPullContainerError: ...``."""

    def log(self, key: AttemptKey, stream: str, lines: list[str], at_ns: int) -> None:
        """Complete lines (without their newline) read from ``stream`` at ``at_ns`` (Unix ns)."""

    def exited(self, key: AttemptKey, exit_code: int | None, reason: str | None) -> None:
        """The attempt ended. ``exit_code`` follows Docker (killed by signal N gives 128+N);
        ``reason`` is the container-level reason AWS reports (e.g. the OOM reason), or None."""


class Backend(Protocol):
    """Runs attempts. ``start`` and ``stop`` return quickly; the work happens on the backend's
    own threads, at most one per running attempt (so threads stay bounded by capacity)."""

    name: str

    def start(self, spec: AttemptSpec, events: AttemptEvents) -> None:
        """Begin running an attempt. Problems are reported through ``events``, not raised."""

    def stop(self, key: AttemptKey, grace: float) -> None:
        """Send SIGTERM to the attempt, then SIGKILL if it still runs after ``grace`` seconds.
        The attempt then reports ``exited`` as usual. Unknown or finished attempts are ignored."""

    def close(self) -> None:
        """Release resources. Attempts still running are stopped (grace 0) unless the backend
        can re-adopt them later (containers can; host processes cannot)."""


# ---------------------------------------------------------------------- services that schedule


@dataclass(frozen=True)
class RemoteDependency:
    """A dependency of a job handed to a service: kadam's job id, the service's id for it when
    kadam knows one (handed over earlier, or by an earlier session), and AWS's array type."""

    job_id: str
    remote_id: str | None = None
    type: str | None = None  # None, "N_TO_N" or "SEQUENTIAL"


@dataclass(frozen=True)
class RemoteJob:
    """A job handed whole to a service that schedules it itself (AWS Batch, Slurm).

    The service, not kadam's engine, decides when it runs, retries it (AWS) and times it out; the
    backend reports what it sees as :class:`Observation` s. An array job is handed over once, as
    its parent; the backend reports its children as ``f"{job_id}:{index}"`` (kadam's ids).
    ``depends_on`` lists only dependencies that have not yet succeeded: each on a job handed
    to the same backend before this one (the backend maps kadam ids to its own).
    ``command`` is the definition's, ``Ref::`` not substituted (AWS substitutes ``parameters``
    itself; a backend for a service that doesn't calls ``core.policy.substitute_parameters``).
    ``settings`` are the compute environment's (e.g. ``job_queue``, ``region``,
    ``endpoint_url`` for AWS Batch; ``partition``, ``account`` for Slurm).
    ``remote_id`` is set when kadam hands back a job an earlier session handed over (adopt).
    """

    job_id: str
    job_name: str
    run_id: str
    queue: str
    compute_environment: str
    definition: JobDefinition
    parameters: Mapping[str, str]
    depends_on: tuple[RemoteDependency, ...]
    array_size: int | None
    settings: Mapping[str, str]
    work_dir: str
    remote_id: str | None = None
    attempts_seen: int = 0  # attempts kadam has already recorded (adopt)
    lines_seen: Mapping[str, int] = field(default_factory=dict)
    """(adopt) Lines of the last recorded attempt already stored, per stream: skip them."""
    base_definition: JobDefinition | None = None
    """The registered revision ``definition`` was made from by a submit's overrides (command,
    environment, resources...): a service that can override at submit time registers this one
    and sends the differences with the job (AWS: ``containerOverrides``)."""


@dataclass(frozen=True)
class Observation:
    """What a backend saw of a job on the service: its state now, in AWS's words.

    ``attempt`` numbers from 1 and says which attempt a STARTING, RUNNING, SUCCEEDED or FAILED
    state belongs to; a higher number than before means the earlier attempt ended and the
    service retried (give the earlier one's ``exit_code``/``attempt_reason`` in an observation
    of it before, when known). ``reason`` is the job's statusReason; ``attempt_reason`` the
    container-level one (e.g. the OOM reason); ``handle`` the service's id of the attempt.
    The engine ignores observations that would move a job backwards, and fills in states the
    service passed through between two polls.
    """

    job_id: str
    status: str  # one of the seven JobStatus values
    reason: str = ""
    attempt: int | None = None
    handle: str | None = None
    exit_code: int | None = None
    attempt_reason: str | None = None


class RemoteEvents(Protocol):
    """What a service backend reports. Implemented by the scheduler; thread-safe."""

    def handed_over(self, job_id: str, remote_id: str) -> None:
        """The service accepted the job under ``remote_id`` (kadam stores it, to adopt later)."""

    def hand_over_failed(self, job_id: str, reason: str) -> None:
        """The service refused the job; it FAILS with ``reason`` (say what to fix)."""

    def observed(self, observation: Observation) -> None:
        """The job's state on the service (report changes; repeats are ignored)."""

    def log(self, key: AttemptKey, stream: str, lines: list[str], at_ns: int) -> None:
        """Log lines of attempt ``key`` (job id, attempt number), as for :class:`AttemptEvents`.
        Report an attempt's lines after the observation that started it."""

    def service_problem(self, compute_environment: str, problem: str | None) -> None:
        """The service stopped answering while kadam followed ``compute_environment``'s jobs
        (``problem`` says what failed and how to fix it), or answers again (None). Report
        changes; repeats are ignored. The jobs keep their last known state meanwhile."""


class RemoteBackend(Protocol):
    """A service that schedules jobs itself. Calls return quickly; submission and polling run on
    the backend's own threads, in the order jobs were handed over."""

    name: str
    remote: bool  # True: the scheduler hands jobs over instead of starting attempts

    def hand_over(self, job: RemoteJob, events: RemoteEvents) -> None:
        """Submit the job (its dependencies were handed over before it) and follow it."""

    def cancel(self, job_id: str, reason: str) -> None:
        """AWS CancelJob (Slurm: scancel) of a job not yet STARTING; ``job_id`` is kadam's."""

    def terminate(self, job_id: str, reason: str) -> None:
        """AWS TerminateJob (Slurm: scancel) of a job in any state; ``job_id`` is kadam's."""

    def adopt(self, jobs: list[RemoteJob], events: RemoteEvents) -> None:
        """Follow again jobs an earlier session handed over (each has ``remote_id``)."""

    def close(self) -> None:
        """Stop following; jobs on the service keep running (a later session adopts them)."""

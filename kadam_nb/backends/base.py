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

__all__ = ["STDERR", "STDOUT", "AttemptEvents", "AttemptKey", "AttemptSpec", "Backend"]

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

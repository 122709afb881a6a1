"""Immutable snapshots of jobs and attempts, and the events observers receive.

The scheduler publishes a new :class:`JobView` each time a job changes; the store builds the
same views from its rows. Users and observers only ever see these, never the engine's records.
"""

from __future__ import annotations

from dataclasses import dataclass

from .jobs import AttemptRecord, Dependency, JobRecord
from .states import JobStatus

__all__ = ["AttemptView", "JobView", "LogLines", "Progress", "ServiceProblem", "StateChanged"]


@dataclass(frozen=True)
class AttemptView:
    job_id: str
    number: int
    compute_environment: str
    backend: str
    created_at: float
    started_at: float | None
    stopped_at: float | None
    exit_code: int | None
    reason: str | None
    status_reason: str | None
    handle: str | None
    log_path: str | None

    @classmethod
    def of(cls, a: AttemptRecord) -> AttemptView:
        return cls(
            a.job_id,
            a.number,
            a.compute_environment,
            a.backend,
            a.created_at,
            a.started_at,
            a.stopped_at,
            a.exit_code,
            a.reason,
            a.status_reason,
            a.handle,
            a.log_path,
        )


@dataclass(frozen=True)
class JobView:
    id: str
    name: str
    definition_name: str
    revision: int | None
    run_id: str
    queue: str
    status: JobStatus
    status_reason: str
    created_at: float
    started_at: float | None
    stopped_at: float | None
    attempts: tuple[AttemptView, ...]
    parent_id: str | None
    array_index: int | None
    array_size: int | None
    children: tuple[str, ...]
    depends_on: tuple[Dependency, ...]
    max_attempts: int
    cached_from: str | None
    remote_id: str | None = None  # the service's job id (AWS Batch, Slurm)

    @property
    def display_name(self) -> str:
        return self.name if self.array_index is None else f"{self.name}[{self.array_index}]"

    @property
    def exit_code(self) -> int | None:
        return self.attempts[-1].exit_code if self.attempts else None

    @property
    def is_parent(self) -> bool:
        return self.array_size is not None and self.array_index is None

    @classmethod
    def of(cls, job: JobRecord) -> JobView:
        return cls(
            id=job.id,
            name=job.name,
            definition_name=job.definition.name,
            revision=job.definition.revision,
            run_id=job.run_id,
            queue=job.queue,
            status=job.status,
            status_reason=job.status_reason,
            created_at=job.created_at,
            started_at=job.started_at,
            stopped_at=job.stopped_at,
            attempts=tuple(AttemptView.of(a) for a in job.attempts),
            parent_id=job.parent_id,
            array_index=job.array_index,
            array_size=job.array_size,
            children=tuple(job.children),
            depends_on=job.depends_on,
            max_attempts=job.definition.retry_strategy.attempts,
            cached_from=job.cached_from,
            remote_id=job.remote_id,
        )


@dataclass(frozen=True)
class StateChanged:
    """A job moved from ``src`` to ``dst`` (``src`` is None when it was submitted)."""

    job: JobView
    src: JobStatus | None
    dst: JobStatus
    reason: str
    at: float


@dataclass(frozen=True)
class LogLines:
    """Lines an attempt wrote, already stored in its log file."""

    job_id: str
    job_name: str
    attempt: int
    stream: str
    lines: list[str]
    at_ns: int


@dataclass(frozen=True)
class Progress:
    """Something a backend reports while an attempt starts (e.g. an image pull)."""

    job_id: str
    job_name: str
    attempt: int
    message: str


@dataclass(frozen=True)
class ServiceProblem:
    """A service that schedules jobs (AWS Batch, Slurm) stopped answering kadam, or answers
    again (``problem`` None). Its jobs keep their last known state meanwhile: kadam keeps asking.
    """

    compute_environment: str
    problem: str | None
    at: float

"""Records of jobs, attempts, transitions, queues and compute environments.

These are the engine's own mutable records (only the scheduler thread touches them) and the
plain values the store writes. Views for users are built from them elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .spec import FrozenMap, JobDefinition
from .states import JobStatus

__all__ = [
    "AttemptRecord",
    "ComputeEnvironment",
    "Dependency",
    "JobQueue",
    "JobRecord",
    "Transition",
]


@dataclass(frozen=True)
class Dependency:
    """One entry of SubmitJob's ``dependsOn``: a job id and an optional array type."""

    job_id: str
    type: str | None = None  # None, "N_TO_N" or "SEQUENTIAL"

    def to_aws(self) -> dict[str, str]:
        return {"jobId": self.job_id, **({"type": self.type} if self.type else {})}


@dataclass(frozen=True)
class Transition:
    """A recorded state change: ``src`` is None for the first record of a submitted job."""

    job_id: str
    at: float
    src: JobStatus | None
    dst: JobStatus
    reason: str


@dataclass(eq=False)
class AttemptRecord:
    """One try at running a job: one process or container."""

    job_id: str
    number: int
    compute_environment: str
    backend: str
    created_at: float
    started_at: float | None = None
    stopped_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    status_reason: str | None = None
    handle: str | None = None
    log_path: str | None = None
    stop_cause: str | None = None  # "timeout" | "terminate", when kadam stopped it
    stop_message: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.job_id, self.number)

    @property
    def done(self) -> bool:
        return self.stopped_at is not None


@dataclass(eq=False)
class JobRecord:
    """A submitted job. Array parents hold their children's ids and never run themselves."""

    id: str
    name: str
    definition: JobDefinition
    run_id: str
    queue: str
    seq: int
    created_at: float
    depends_on: tuple[Dependency, ...] = ()
    parameters: FrozenMap = field(default_factory=FrozenMap)
    parent_id: str | None = None
    array_index: int | None = None
    array_size: int | None = None
    status: JobStatus = JobStatus.SUBMITTED
    status_reason: str = ""
    started_at: float | None = None
    stopped_at: float | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    cached_from: str | None = None
    remote_id: str | None = None  # the service's id once handed over (AWS Batch, Slurm)

    @property
    def is_parent(self) -> bool:
        return self.array_size is not None and self.array_index is None

    @property
    def display_name(self) -> str:
        return self.name if self.array_index is None else f"{self.name}[{self.array_index}]"

    @property
    def exit_code(self) -> int | None:
        return self.attempts[-1].exit_code if self.attempts else None

    @property
    def current_attempt(self) -> AttemptRecord | None:
        return self.attempts[-1] if self.attempts else None


@dataclass(eq=False)
class ComputeEnvironment:
    """Capacity that attempts run in; ``backend`` names what runs them ("local", "docker").

    A ``remote`` environment is a service that schedules jobs itself ("aws-batch", "slurm"):
    its jobs are handed over whole, ``settings`` say where (queue, region, partition...), and
    its capacity is the service's, not counted here. ``status_reason`` says why kadam cannot
    reach that service right now ("" while it answers), as AWS's statusReason does.
    """

    name: str
    max_vcpus: float
    max_memory: int  # MiB
    backend: str
    max_gpus: int = 0
    remote: bool = False
    settings: FrozenMap = field(default_factory=FrozenMap)
    status_reason: str = ""
    used_vcpus: float = 0.0
    used_memory: int = 0
    used_gpus: int = 0

    @property
    def free_vcpus(self) -> float:
        return self.max_vcpus - self.used_vcpus

    @property
    def free_memory(self) -> int:
        return self.max_memory - self.used_memory

    @property
    def free_gpus(self) -> int:
        return self.max_gpus - self.used_gpus


@dataclass(eq=False)
class JobQueue:
    """Where jobs wait RUNNABLE; higher ``priority`` is scheduled first, then submission order."""

    name: str
    priority: int
    compute_environments: tuple[str, ...]

"""What the engine asks the outside world to do, and what changed: its effects.

The scheduler takes them after each batch of facts and decisions (``BatchEngine.take_effects``):
it stores the records and transitions, shows them, then carries out the actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .jobs import AttemptRecord, ComputeEnvironment, Dependency, JobRecord, Transition

__all__ = [
    "Action",
    "Effects",
    "FollowAttempt",
    "HandOver",
    "RemoteCall",
    "StartAttempt",
    "StopAttempt",
]


@dataclass(frozen=True)
class StartAttempt:
    """Run this attempt on its compute environment's backend."""

    job: JobRecord
    attempt: AttemptRecord


@dataclass(frozen=True)
class StopAttempt:
    """Stop this attempt (SIGTERM, then SIGKILL after the grace period)."""

    job_id: str
    attempt: int
    cause: str  # "timeout" | "terminate"


@dataclass(frozen=True)
class HandOver:
    """Hand this job (an array: its parent, for every child) to its remote environment's
    service; ``depends_on`` are the dependencies that have not yet succeeded, each on a job
    handed to the same service before it."""

    job: JobRecord
    environment: ComputeEnvironment
    depends_on: tuple[Dependency, ...]


@dataclass(frozen=True)
class RemoteCall:
    """Ask the service to cancel or terminate a job it was handed."""

    job_id: str
    environment: ComputeEnvironment
    verb: str  # "cancel" | "terminate"
    reason: str


@dataclass(frozen=True)
class FollowAttempt:
    """A service started an attempt: keep its log (the scheduler opens the file)."""

    job: JobRecord
    attempt: AttemptRecord


Action = StartAttempt | StopAttempt | HandOver | RemoteCall | FollowAttempt


@dataclass
class Effects:
    """What happened since the last ``take_effects``: to store, to show, to do."""

    transitions: list[Transition] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    jobs: list[JobRecord] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.transitions or self.actions or self.jobs or self.attempts)

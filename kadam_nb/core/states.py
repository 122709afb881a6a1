"""The seven job states of AWS Batch, the transitions between them, and their status reasons.

Only the transitions AWS Batch makes are legal. One more edge exists, labelled as kadam's own:
SUBMITTED → SUCCEEDED for a job reused from an earlier identical run (opt-in cache).
"""

from __future__ import annotations

from collections import deque
from enum import Enum

__all__ = [
    "ACTIVE_STATES",
    "DONE_STATES",
    "EDGE_CAUSES",
    "TRANSITIONS",
    "JobStatus",
    "Reasons",
    "check_transition",
    "forward_path",
    "is_ahead",
    "is_legal",
]


class JobStatus(str, Enum):
    """A job's state, spelled as AWS Batch's DescribeJobs reports it."""

    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value

    @property
    def done(self) -> bool:
        return self in DONE_STATES


S = JobStatus
DONE_STATES = frozenset({S.SUCCEEDED, S.FAILED})
ACTIVE_STATES = frozenset({S.STARTING, S.RUNNING})
"""States in which an attempt holds capacity."""

# Each legal edge with what causes it (the teaching lifecycle diagram draws these labels).
EDGE_CAUSES: dict[tuple[JobStatus, JobStatus], str] = {
    (S.SUBMITTED, S.PENDING): "has unfinished dependencies (or is an array parent)",
    (S.SUBMITTED, S.RUNNABLE): "no unfinished dependencies",
    (S.SUBMITTED, S.FAILED): "cancelled, or a dependency already failed",
    (S.SUBMITTED, S.SUCCEEDED): "kadam cache: identical to an earlier job that succeeded (not AWS)",
    (S.PENDING, S.RUNNABLE): "all dependencies succeeded",
    (S.PENDING, S.FAILED): "a dependency failed, or cancelled",
    (S.PENDING, S.SUCCEEDED): "array parent: every child succeeded",
    (S.RUNNABLE, S.STARTING): "capacity free in a compute environment",
    (S.RUNNABLE, S.FAILED): "cancelled or terminated",
    (S.STARTING, S.RUNNING): "the container (or process) started",
    (S.STARTING, S.RUNNABLE): "could not start; attempts left, so retried",
    (S.STARTING, S.FAILED): "could not start, or terminated",
    (S.RUNNING, S.SUCCEEDED): "exited 0",
    (S.RUNNING, S.RUNNABLE): "failed; retry strategy says retry",
    (S.RUNNING, S.FAILED): "failed with no retry left, timed out, or terminated",
}
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {state: frozenset() for state in JobStatus}
for _src, _dst in EDGE_CAUSES:
    TRANSITIONS[_src] = TRANSITIONS[_src] | {_dst}


def is_legal(src: JobStatus, dst: JobStatus) -> bool:
    return dst in TRANSITIONS[src]


def check_transition(job: str, src: JobStatus, dst: JobStatus) -> None:
    """Raise if ``src → dst`` is not an AWS Batch transition (a kadam bug, never user input)."""
    if not is_legal(src, dst):
        from ..errors import StateError

        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[src])) or "none (final state)"
        raise StateError(
            f"job {job}: {src} → {dst} is not a legal transition; from {src}: {allowed}"
        )


class Reasons:
    """Status reasons: each one a sentence a person can act on. AWS's own wording is kept where
    AWS has one (so that evaluateOnExit patterns written for AWS match here too)."""

    OOM = "OutOfMemoryError: Container killed due to memory usage"
    TIMEOUT = "Job attempt duration exceeded timeout"
    ESSENTIAL_EXITED = "Essential container in task exited"

    @staticmethod
    def timeout(seconds: int) -> str:
        return (
            f"Job attempt duration exceeded timeout ({seconds} s): stopped with SIGTERM, then "
            "SIGKILL after the grace period; raise the definition's timeout if it needs longer"
        )

    @staticmethod
    def dependency_failed(name: str, job_id: str) -> str:
        return f"Dependent job {name} ({job_id}) failed, so this job cannot run"

    @staticmethod
    def cancelled(reason: str) -> str:
        return f"Cancelled by user: {reason}" if reason else "Cancelled by user"

    @staticmethod
    def terminated(reason: str) -> str:
        return f"Terminated by user: {reason}" if reason else "Terminated by user"

    @staticmethod
    def waiting_for(names: list[str]) -> str:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"Waiting for dependencies to succeed: {shown}"

    @staticmethod
    def cached(job_id: str) -> str:
        return f"cached: same as job {job_id} (kadam skip-if-unchanged; not an AWS Batch behaviour)"


# ---------------------------------------------------------------------- a service's jobs

_RANK = {
    S.SUBMITTED: 0,
    S.PENDING: 1,
    S.RUNNABLE: 2,
    S.STARTING: 3,
    S.RUNNING: 4,
    S.SUCCEEDED: 5,
    S.FAILED: 5,
}
# Forward edges a service's job can take (no cache edge, no array-parent edge, no retry edge).
_FORWARD = {
    src: [dst for dst in sorted(dsts, key=_RANK.__getitem__) if _RANK[dst] > _RANK[src]]
    for src, dsts in TRANSITIONS.items()
}
_FORWARD[S.SUBMITTED].remove(S.SUCCEEDED)
_FORWARD[S.PENDING].remove(S.SUCCEEDED)


def is_ahead(dst: JobStatus, src: JobStatus) -> bool:
    """Whether ``dst`` comes after ``src`` in a job's life (a retry aside)."""
    return _RANK[dst] > _RANK[src]


def forward_path(src: JobStatus, dst: JobStatus, via: JobStatus | None) -> list[JobStatus]:
    """The states after ``src`` up to ``dst``, through ``via`` when given and still ahead:
    the shortest legal way a job could have gone between two polls."""
    if via is not None and _RANK[via] > _RANK[src]:
        return _shortest(src, via) + _shortest(via, dst)
    return _shortest(src, dst)


def _shortest(src: JobStatus, dst: JobStatus) -> list[JobStatus]:
    if src == dst:
        return []
    paths: deque[list[JobStatus]] = deque([[src]])
    while paths:
        path = paths.popleft()
        for nxt in _FORWARD[path[-1]]:
            if nxt == dst:
                return [*path[1:], nxt]
            paths.append([*path, nxt])
    return []

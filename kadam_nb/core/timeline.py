"""A job's recorded transitions as time intervals per state: the data behind the lifecycle and
timeline pictures (pure; the pictures are drawn in kadam_nb.display)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .jobs import Transition
from .states import JobStatus

__all__ = ["BAR_STATES", "Interval", "path_edges", "state_intervals", "time_in_states"]

BAR_STATES = (JobStatus.PENDING, JobStatus.RUNNABLE, JobStatus.STARTING, JobStatus.RUNNING)
"""The waiting and working states a timeline draws as bars."""


@dataclass(frozen=True)
class Interval:
    """A job was in ``state`` from ``start`` to ``end`` (None: still is); during ``attempt``."""

    job_id: str
    state: JobStatus
    start: float
    end: float | None
    attempt: int
    reason: str

    def duration(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start


def state_intervals(job_id: str, transitions: Sequence[Transition]) -> list[Interval]:
    """Every state the job was in, in order, with the attempt it belonged to (the attempt count
    goes up each time the job enters STARTING)."""
    intervals: list[Interval] = []
    attempt = 0
    ordered = sorted(transitions, key=lambda t: t.at)
    for i, t in enumerate(ordered):
        if t.dst == JobStatus.STARTING:
            attempt += 1
        end = ordered[i + 1].at if i + 1 < len(ordered) else None
        if t.dst.done:
            end = t.at
        intervals.append(Interval(job_id, t.dst, t.at, end, attempt, t.reason))
    return intervals


def time_in_states(intervals: Sequence[Interval], now: float) -> dict[JobStatus, float]:
    """Seconds spent in each state (summed over attempts)."""
    spent: dict[JobStatus, float] = {}
    for interval in intervals:
        if not interval.state.done:
            spent[interval.state] = spent.get(interval.state, 0.0) + interval.duration(now)
    return spent


def path_edges(transitions: Sequence[Transition]) -> list[tuple[JobStatus, JobStatus]]:
    """The edges of the state machine a job took, in order (repeats kept: a retry goes
    RUNNING → RUNNABLE → STARTING again)."""
    ordered = sorted(transitions, key=lambda t: t.at)
    return [(t.src, t.dst) for t in ordered if t.src is not None]

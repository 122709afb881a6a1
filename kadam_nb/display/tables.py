"""Jobs and attempts as pandas DataFrames: the only module that imports pandas."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..core.views import JobView

__all__ = ["attempts_frame", "jobs_frame"]

JOB_COLUMNS = [
    "job",
    "status",
    "status_reason",
    "attempts",
    "exit_code",
    "created",
    "started",
    "stopped",
    "duration",
    "definition",
    "revision",
    "queue",
    "run_id",
    "job_id",
]
ATTEMPT_COLUMNS = [
    "job",
    "attempt",
    "exit_code",
    "reason",
    "status_reason",
    "started",
    "stopped",
    "duration",
    "compute_environment",
    "backend",
    "handle",
    "log_path",
    "job_id",
]


def _ts(values: list[float | None]) -> Any:
    return pd.to_datetime(pd.Series(values, dtype="float64"), unit="s", utc=True)


def jobs_frame(views: Iterable[JobView]) -> pd.DataFrame:
    """One row per job (array children included), in submission order."""
    views = list(views)
    frame = pd.DataFrame(
        {
            "job": [v.display_name for v in views],
            "status": pd.Categorical(
                [v.status.value for v in views],
                categories=[
                    "SUBMITTED",
                    "PENDING",
                    "RUNNABLE",
                    "STARTING",
                    "RUNNING",
                    "SUCCEEDED",
                    "FAILED",
                ],
            ),
            "status_reason": [v.status_reason for v in views],
            "attempts": pd.array([len(v.attempts) for v in views], dtype="Int64"),
            "exit_code": pd.array([v.exit_code for v in views], dtype="Int64"),
            "definition": [v.definition_name for v in views],
            "revision": pd.array([v.revision for v in views], dtype="Int64"),
            "queue": [v.queue for v in views],
            "run_id": [v.run_id for v in views],
            "job_id": [v.id for v in views],
        }
    )
    frame["created"] = _ts([v.created_at for v in views])
    frame["started"] = _ts([v.started_at for v in views])
    frame["stopped"] = _ts([v.stopped_at for v in views])
    frame["duration"] = frame["stopped"] - frame["started"]
    return frame[JOB_COLUMNS]


def attempts_frame(views: Iterable[JobView]) -> pd.DataFrame:
    """One row per attempt of every job."""
    rows = [(v, a) for v in views for a in v.attempts]
    frame = pd.DataFrame(
        {
            "job": [v.display_name for v, _ in rows],
            "attempt": pd.array([a.number for _, a in rows], dtype="Int64"),
            "exit_code": pd.array([a.exit_code for _, a in rows], dtype="Int64"),
            "reason": [a.reason for _, a in rows],
            "status_reason": [a.status_reason for _, a in rows],
            "compute_environment": [a.compute_environment for _, a in rows],
            "backend": [a.backend for _, a in rows],
            "handle": [a.handle for _, a in rows],
            "log_path": [a.log_path for _, a in rows],
            "job_id": [v.id for v, _ in rows],
        }
    )
    frame["started"] = _ts([a.started_at for _, a in rows])
    frame["stopped"] = _ts([a.stopped_at for _, a in rows])
    frame["duration"] = frame["stopped"] - frame["started"]
    return frame[ATTEMPT_COLUMNS]

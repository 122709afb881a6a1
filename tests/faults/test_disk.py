"""The state directory's log folder runs out of space, or cannot be written.

Real file systems: a small tmpfs mounted over the runs folder and filled up, and a read-only
bind mount (root ignores permission bits, so ``chmod`` would prove nothing here).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kadam_nb.core.states import JobStatus
from kadam_nb.errors import KadamError
from kadam_nb.facade import Registry

S = JobStatus


def _mount(*argv: str) -> None:
    if os.geteuid() != 0:
        pytest.fail("the disk fault tests mount file systems: run them as root")
    subprocess.run(["mount", *argv], check=True, capture_output=True)


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Mount points to unmount at the end, last first."""
    points: list[Path] = []
    yield points
    for point in reversed(points):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _integrity(state_dir: Path) -> list[tuple[str]]:
    db = sqlite3.connect(state_dir / "kadam.db")
    try:
        return db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()


def test_log_disk_full_fails_the_job_and_keeps_what_was_written(
    docker_reg: Registry, mounts: list[Path]
) -> None:
    reg = docker_reg
    runs = reg.store.runs_dir
    _mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(runs))
    mounts.append(runs)
    filler = runs / "filler"
    with open(filler, "wb") as f:  # leave two pages for the job's log
        f.write(b"x" * (os.statvfs(runs).f_bavail * os.statvfs(runs).f_frsize - 8192))
    reg.register("chatty", command="seq 1 20000; sleep 60", memory=64)
    job = reg.submit("chatty")
    assert job.wait(timeout=60) is False
    reason = job.status_reason
    assert "LogStorageError" in reason and "No space left on device" in reason, reason
    assert "Free space" in reason
    assert job.exit_code in (137, 143)  # stopped by kadam, not finished
    assert _states(job) == [S.SUBMITTED, S.RUNNABLE, S.STARTING, S.RUNNING, S.FAILED]
    kept = [line.text for line in job.log_lines()]
    assert 100 < len(kept) < 20000  # what fitted is kept, in order, nothing invented
    assert kept == [str(i) for i in range(1, len(kept) + 1)]
    assert _integrity(reg.state_dir) == [("ok",)]
    filler.unlink()  # space again: the same Registry runs the next job
    reg.register("small", command="echo fits now", memory=64)
    small = reg.submit("small")
    assert small.wait(timeout=60), small.status_reason
    assert small.logs() == "fits now\n"


def test_read_only_log_folder_refuses_the_run_and_fails_a_late_job(
    docker_reg: Registry, mounts: list[Path]
) -> None:
    reg = docker_reg
    reg.register("first", command="echo one", memory=64)
    reg.register("second", command="echo two", memory=64)
    first = reg.submit("first")
    assert first.wait(timeout=60)
    logs = reg.store.runs_dir / first.view.run_id / "logs"
    _mount("--bind", "-o", "ro", str(logs), str(logs))  # the run's log folder turns read-only
    mounts.append(logs)
    second = reg.submit("second", depends_on=[first])  # joins the run: its log cannot be made
    assert second.wait(timeout=60) is False
    assert "log file cannot be created (Read-only file system" in second.status_reason
    assert second.attempts[0].exit_code is None and second.attempts[0].handle is None
    assert _states(second) == [S.SUBMITTED, S.RUNNABLE, S.STARTING, S.FAILED]
    assert first.logs() == "one\n"  # earlier logs stay readable
    runs = reg.store.runs_dir  # now the whole runs folder: a new run cannot even start
    _mount("--bind", "-o", "ro", str(runs), str(runs))
    mounts.append(runs)
    before = len(reg.jobs())
    with pytest.raises(KadamError, match=r"cannot create the run's folders .*Read-only file"):
        reg.submit("first")
    assert len(reg.jobs()) == before and len(reg.store.runs()) == 1  # nothing half-submitted
    assert _integrity(reg.state_dir) == [("ok",)]


def _states(job: object) -> list[JobStatus]:
    return [t.dst for t in job.transitions()]  # type: ignore[attr-defined]

"""Handles users hold: :class:`Job` and :class:`Run`. They read snapshots; they never own state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.jobs import Transition
from .core.logs import LogLine
from .core.states import JobStatus
from .core.views import AttemptView, JobView

if TYPE_CHECKING:
    from pathlib import Path

    from .facade import Registry

__all__ = ["Job", "Run"]


class Job:
    """A submitted job: its id, state, attempts and logs, always current."""

    def __init__(self, registry: Registry, job_id: str) -> None:
        self._registry = registry
        self.id = job_id

    @property
    def view(self) -> JobView:
        """The latest snapshot of this job."""
        return self._registry._view(self.id)

    @property
    def name(self) -> str:
        """The definition's name, with ``[i]`` for an array child."""
        return self.view.display_name

    @property
    def status(self) -> JobStatus:
        return self.view.status

    @property
    def status_reason(self) -> str:
        return self.view.status_reason

    @property
    def exit_code(self) -> int | None:
        return self.view.exit_code

    @property
    def attempts(self) -> tuple[AttemptView, ...]:
        return self.view.attempts

    @property
    def children(self) -> list[Job]:
        return [Job(self._registry, c) for c in self.view.children]

    @property
    def run_id(self) -> str:
        return self.view.run_id

    @property
    def done(self) -> bool:
        return self.view.status.done

    def transitions(self) -> list[Transition]:
        """Every state change this job went through, with times and reasons."""
        return self._registry.store.transitions(self.id)

    def log_lines(self, attempt: int | None = None) -> list[LogLine]:
        """Stored lines (timestamp, stream, text) of one attempt, or of all attempts in order."""
        view = self.view
        lines: list[LogLine] = []
        for a in view.attempts:
            if (attempt is None or a.number == attempt) and a.log_path:
                lines.extend(self._registry.store.read_log(a.log_path))
        return lines

    def logs(self, attempt: int | None = None) -> str:
        """The job's output as text: stdout and stderr interleaved as they were written. With
        several attempts (or array children), each part starts with a ``--- ... ---`` line."""
        view = self.view
        if view.is_parent:
            parts = [f"--- {c.name} ---\n{c.logs(attempt)}" for c in self.children]
            return "".join(parts)
        chosen = [a for a in view.attempts if attempt is None or a.number == attempt]
        out: list[str] = []
        for a in chosen:
            if len(chosen) > 1:
                out.append(f"--- attempt {a.number} ---\n")
            out.extend(line.text + "\n" for line in self.log_lines(a.number))
        return "".join(out)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job finishes (or ``timeout`` s pass). True if it SUCCEEDED."""
        self._registry._wait_ids([self.id], timeout)
        return self.view.status == JobStatus.SUCCEEDED

    def cancel(self, reason: str = "") -> bool:
        return self._registry.cancel(self.id, reason)

    def terminate(self, reason: str = "") -> bool:
        return self._registry.terminate(self.id, reason)

    def _repr_html_(self) -> str:
        from .display.html import job_html

        return job_html(self.view)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        v = self.view
        code = f", exit {v.exit_code}" if v.exit_code is not None else ""
        return f"<Job {v.display_name} {v.status.value}{code} id={v.id}>"


class Run:
    """One submission of a pipeline: its jobs share a work directory (KADAM_WORK)."""

    def __init__(self, registry: Registry, run_id: str, jobs: list[Job], work_dir: Path) -> None:
        self._registry = registry
        self.id = run_id
        self.jobs = jobs
        self.work_dir = work_dir

    @property
    def done(self) -> bool:
        return all(j.done for j in self.jobs)

    @property
    def succeeded(self) -> bool:
        return all(j.status == JobStatus.SUCCEEDED for j in self.jobs)

    @property
    def statuses(self) -> dict[str, JobStatus]:
        return {j.name: j.status for j in self.jobs}

    def job(self, name: str) -> Job:
        for j in self.jobs:
            if j.name == name:
                return j
        from .errors import NotFound

        raise NotFound(f"run {self.id} has no job {name}; it has {', '.join(self.statuses)}")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every job finished (or ``timeout`` s pass). True if all SUCCEEDED;
        False if any failed or the time ran out (``run.done`` tells which)."""
        self._registry._wait_ids([j.id for j in self.jobs], timeout)
        return self.succeeded

    def cancel(self, reason: str = "") -> int:
        return sum(j.cancel(reason) for j in self.jobs)

    def terminate(self, reason: str = "") -> int:
        return sum(j.terminate(reason) for j in self.jobs)

    def __repr__(self) -> str:
        states = ", ".join(f"{n}={s.value}" for n, s in self.statuses.items())
        return f"<Run {self.id} {states}>"

"""Printing a run as it happens, for terminals (``kadam`` command, ``make demo``)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable
from typing import TextIO

from .core.secrets import mask_text
from .core.views import LogLines, Progress, ServiceProblem, StateChanged
from .scheduler import Event

__all__ = ["ConsolePrinter"]


class ConsolePrinter:
    """An observer that prints state changes and log lines, prefixed by job name.

    Subscribe it with ``registry.subscribe(printer)``. Lines are written from the scheduler
    thread under a lock, so output from several jobs never interleaves mid-line. ``secrets``
    (see :func:`kadam_nb.core.secrets.secret_values`) are masked wherever a line shows one.
    """

    def __init__(
        self, out: TextIO | None = None, *, total: int | None = None, secrets: Iterable[str] = ()
    ) -> None:
        self.out = out or sys.stdout
        self.total = total
        self.secrets = tuple(secrets)
        self.done: set[str] = set()
        self._lock = threading.Lock()
        self._width = 12

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, StateChanged):
                self._state(event)
            elif isinstance(event, LogLines):
                mark = "|" if event.stream == "stdout" else "!"
                name = event.job_name.ljust(self._width)
                stamp = _clock(event.at_ns / 1e9)
                text = "".join(f"{stamp}  {name} {mark} {line}\n" for line in event.lines)
                self.out.write(mask_text(text, self.secrets) if self.secrets else text)
            elif isinstance(event, Progress):
                self.out.write(
                    f"{_clock(time.time())}  {event.job_name.ljust(self._width)} … "
                    f"{event.message}\n"
                )
            elif isinstance(event, ServiceProblem):
                said = (
                    f"cannot follow its jobs: {event.problem}"
                    if event.problem
                    else "answers again: its jobs are followed again"
                )
                self.out.write(f"{_clock(event.at)}  {event.compute_environment} {said}\n")
            self.out.flush()

    def _state(self, event: StateChanged) -> None:
        job = event.job
        self._width = max(self._width, len(job.display_name))
        arrow = f"{event.src.value} → {event.dst.value}" if event.src else event.dst.value
        progress = ""
        if event.dst.done and not job.is_parent:
            self.done.add(job.id)
            if self.total:
                progress = f"  [{len(self.done)}/{self.total} done]"
        self.out.write(
            f"{_clock(event.at)}  {job.display_name.ljust(self._width)} {arrow:<22} "
            f"{event.reason}{progress}\n"
        )


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"

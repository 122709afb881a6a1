"""The one thread that writes widgets: a buffer any thread may post to, drained a few times a
second.

Why: observers of a :class:`~kadam_nb.facade.Registry` run on the scheduler thread and must
return at once, and a browser drops comm messages above ~1,000 a second. So producers only
:meth:`Pump.post` (a ``deque.append`` and an ``Event.set``), and one daemon thread calls
``tick(items)`` with everything posted since the last call, at most ``rate`` times a second. The
tick does the real work (bookkeeping, then setting each changed widget once) and says when it
wants to run again even if nothing is posted (a clock), or that it has finished.

Posting is lock-free (``deque.append`` and ``Event.set`` are thread-safe), so a flood of posts
costs the poster almost nothing; the tick sees them in the order they were posted.

Between two ticks the buffer would hold everything posted meanwhile (a process writing a
million lines at once puts ~800,000 of them in 0.1 s). With a ``fold`` callback, the thread
hands what is waiting to ``fold(items)`` every ``fold_interval`` seconds while it waits for its
next tick: ``fold`` only updates plain state (bounded ring buffers), never widgets, so memory
stays bounded by ``fold_interval`` seconds of output and widgets are still written at most
``rate`` times a second.

Standard library only: the widgets live in :mod:`kadam_nb.notebook.dashboard`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_RATE", "Pump", "Tick"]

log = logging.getLogger("kadam_nb")

MAX_RATE = 20.0
"""Ticks a second are never more than this, whatever is asked (the browser's limit is ~1,000
messages a second for all widgets together)."""

Tick = Callable[[list[Any]], "float | None"]
"""``tick(items) -> delay``: handle the items posted since the last tick (or fold); return the
seconds after which to tick again even if nothing is posted, or None when finished (the thread
exits)."""
Fold = Callable[[list[Any]], None]
"""``fold(items)``: take items into plain state between two ticks; must not write widgets."""


class Pump:
    """A buffer drained by one daemon thread at most ``rate`` times a second.

    ``tick`` runs only on the pump's thread. ``idle`` is the longest the thread sleeps without
    a post when the tick did not ask for a delay of its own.
    """

    def __init__(
        self,
        tick: Tick,
        *,
        rate: float,
        name: str = "kadam-pump",
        idle: float = 1.0,
        fold: Fold | None = None,
        fold_interval: float = 0.02,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 ticks a second, not {rate}")
        self.rate = min(float(rate), MAX_RATE)
        self.interval = 1.0 / self.rate
        self.idle = idle
        self.name = name
        self.ticks = 0
        self.errors: list[str] = []
        self.folds = 0
        self.fold_interval = fold_interval
        self._tick = tick
        self._fold = fold
        self._folded = False  # folded items that no tick has shown yet
        self._buffer: deque[Any] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._exited = threading.Event()
        self._busy = False
        self._finished = False
        self._final_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ any thread

    def post(self, item: Any) -> None:
        """Hand ``item`` to the next tick. Cheap and non-blocking: safe on the scheduler thread.

        Items posted after the pump finished are never seen: use :meth:`post_or_refuse` when
        that matters.
        """
        self._buffer.append(item)
        self._wake.set()

    def post_or_refuse(self, item: Any) -> bool:
        """Post ``item`` if a tick will still see it; False (nothing posted) once the pump has
        finished or was never started, so that the caller can handle it itself."""
        with self._final_lock:
            if self._finished or self._thread is None:
                return False
            self.post(item)
            return True

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (the tick in progress completes) and wait for it to exit."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def finished(self) -> bool:
        """The thread has exited (or was never started)."""
        return self._thread is None or self._exited.is_set()

    def pending(self) -> int:
        """Items posted and not yet taken by a tick."""
        return len(self._buffer)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every item posted so far has been handled by a tick (or the thread has
        exited). True if so, False if ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # The buffer is read before the flag: the thread sets _busy before draining.
            if self.finished or (not self._buffer and not self._busy and not self._folded):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._exited.wait(0.01)

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Block until the thread has exited. True if it has."""
        if self._thread is None:
            return True
        return self._exited.wait(timeout)

    # ------------------------------------------------------------------ the thread

    def _drain(self) -> list[Any]:
        items: list[Any] = []
        pop = self._buffer.popleft
        while True:
            try:
                items.append(pop())
            except IndexError:
                return items

    def _run(self) -> None:
        next_at = 0.0  # monotonic time before which no tick may start
        wait = 0.0  # how long to wait for a post before ticking anyway
        try:
            while not self._stop.is_set():
                if self._wait_for_slot(next_at):
                    break
                if not self._buffer:
                    self._wake.wait(wait)
                if self._stop.is_set():
                    break
                self._busy = True
                self._wake.clear()  # before draining: a later post sets it again
                next_at = time.monotonic() + self.interval
                items = self._drain()
                try:
                    again = self._call(items)
                finally:
                    self._folded = False
                    self._busy = False
                if again is None:
                    with self._final_lock:  # whatever was posted meanwhile gets a last tick
                        self._finished = True
                        items = self._drain()
                    if items:
                        self._call(items)
                    break
                wait = max(0.0, min(again, self.idle))
        finally:
            with self._final_lock:
                self._finished = True
            self._exited.set()

    def _wait_for_slot(self, next_at: float) -> bool:
        """Sleep until ``next_at``, folding what is posted meanwhile. True if stopped."""
        while True:
            delay = next_at - time.monotonic()
            if delay <= 0:
                return False
            if self._fold is None:
                return self._stop.wait(delay)
            if self._stop.wait(min(delay, self.fold_interval)):
                return True
            if self._buffer:
                self._busy = True
                try:
                    self.folds += 1
                    self._fold(self._drain())
                except Exception as exc:
                    log.exception("kadam pump %s: a fold failed", self.name)
                    self.errors.append(repr(exc))
                finally:
                    self._folded = True
                    self._busy = False

    def _call(self, items: list[Any]) -> float | None:
        self.ticks += 1
        try:
            return self._tick(items)
        except Exception as exc:  # a bug must not stop the updates; keep ticking, say so
            log.exception("kadam pump %s: a tick failed", self.name)
            self.errors.append(repr(exc))
            return self.idle

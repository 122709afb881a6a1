"""The live dashboard of one run: its DAG, a table of jobs, progress, one log pane per job, and
Cancel / Terminate buttons. ``%kadam run`` returns one; ``Dashboard(registry, run)`` makes one.

How it stays cheap and safe (see "Widgets written from threads" in the project's notes):

* The registry's observer runs on the scheduler thread and only posts each event to a
  :class:`~kadam_nb.notebook.pump.Pump` (a ``deque.append`` and an ``Event.set``).
* One daemon thread, ``kadam-dashboard-pump``, ticks at most ``Kadam.updates_per_second`` times
  a second (10 by default, never more than 20): it takes every event posted since, updates plain
  Python state, and then sets each widget that changed once. It is the only thread that writes
  widgets while the run goes on; button clicks post their messages to it too.
* A log pane keeps the last ``Kadam.log_lines`` rows of its job in a ``deque(maxlen=N)`` (the
  ``--- attempt k ---`` separators take a row too) and a count of all lines: per event that is
  one ``deque.extend`` of at most N lines, whatever the batch size, so a job printing a million
  lines costs the dashboard N lines of memory and one bounded HTML string per tick. While the
  pump waits for its next tick it folds waiting events into those ring buffers every 20 ms
  (no widget writes), so that its buffer never holds more than a moment's output.
* Each pane is ONE ``widgets.HTML`` whose value is replaced as a whole: never
  ``Output.append_stdout``, never ``print``, never ``with output:``.
* The graph (SVG from graphviz, tens of milliseconds to draw) is redrawn only when some job's
  state changed since the last drawing, and at most twice a second.
* Every text that comes from a user or a process (job names, reasons, log lines) is
  ``html.escape``-d; ANSI escape sequences and other control characters are stripped from log
  lines; values of environment variables whose names match ``Kadam.secret_patterns`` are masked
  in log lines.

Array jobs get ONE pane per array (not one per child): children's lines are interleaved in the
order they arrive, each prefixed with ``[i]``, so that a 10,000-child array costs one pane, not
10,000 widgets. The footer says how to see one child's whole log (``%kadam logs name[i]``).

The dashboard starts from what already happened: it subscribes and measures the log files in one
step on the scheduler thread, then reads those files up to the measured sizes (only their last N
lines are parsed), so no line is shown twice or missed. A run that is already finished is read
once, without a thread. A run whose scheduler lives in another kernel (this Registry is
read-only) is followed by polling the store and the log files once a second.
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
import os
import re
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ..core.logs import STDERR, parse_log_line
from ..core.secrets import mask_text, secret_values
from ..core.states import JobStatus
from ..core.views import JobView, LogLines, Progress, ServiceProblem, StateChanged
from ..display.colors import state_color
from ..errors import KadamError, NotFound
from .pump import MAX_RATE, Pump

if TYPE_CHECKING:
    from ..facade import Registry
    from ..jobs import Run
    from .config import Kadam

__all__ = ["GRAPH_INTERVAL", "MAX_CHILD_ROWS", "MAX_LINE_CHARS", "Dashboard", "clean_log_text"]

log = logging.getLogger("kadam_nb")

S = JobStatus

GRAPH_INTERVAL = 0.5
MESSAGES_PER_SECOND = 20.0
"""Widget messages the pump may send a second, whatever the log rate (a token bucket): the
browser drops messages above ~1,000 a second and stays smooth at 10-20 view updates."""
"""Seconds between two drawings of the graph, at least (drawing SVG costs tens of ms)."""
MAX_LINE_CHARS = 2000
"""A log line longer than this is cut in its pane (the file keeps it whole)."""
MAX_CHILD_ROWS = 20
"""Array children listed in the table under their parent, at most."""
CLOCK_INTERVAL = 1.0
"""Seconds between two updates of the elapsed time and durations while jobs run."""
FOLLOW_INTERVAL = 1.0
"""Seconds between two polls of the store when another kernel runs the jobs."""
PUMP_THREAD_NAME = "kadam-dashboard-pump"
CANCEL_REASON = "from the kadam dashboard"
TERMINATE_REASON = "from the kadam dashboard"

_NOT_STARTED = frozenset({S.SUBMITTED, S.PENDING, S.RUNNABLE})
_GLYPH = {
    S.SUBMITTED: "·",
    S.PENDING: "·",
    S.RUNNABLE: "…",
    S.STARTING: "▷",
    S.RUNNING: "▶",
    S.SUCCEEDED: "✓",
    S.FAILED: "✗",
}

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), DCS/SOS/PM/APC strings, and 2-byte escapes.
_ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|[@-Z\\-_])"  # two-byte escapes
)
# C0 controls but tab, DEL, C1 controls and lone surrogates: none belongs in a pane.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")

_STYLE = """<style>
.kadam-dash { font-family: var(--jp-ui-font-family, Helvetica, Arial, sans-serif); }
.kadam-dash .kadam-log { max-height: 22em; overflow-y: auto; display: flex;
  flex-direction: column-reverse; border: 1px solid var(--jp-border-color2, #ddd);
  background: var(--jp-layout-color2, #f7f7f7); }
.kadam-dash .kadam-log pre { margin: 0; padding: 4px 6px; font-size: 12px; line-height: 1.35;
  white-space: pre-wrap; word-break: break-all;
  font-family: var(--jp-code-font-family, monospace); }
.kadam-dash .kadam-stderr { color: #c62828; }
.kadam-dash .kadam-meta { color: var(--jp-ui-font-color2, #777); font-style: italic; }
.kadam-dash .kadam-foot, .kadam-dash .kadam-muted { color: var(--jp-ui-font-color2, #666);
  font-size: 11px; }
.kadam-dash .kadam-error { color: #c62828; }
.kadam-dash table.kadam-jobs { border-collapse: collapse; font-size: 12px; }
.kadam-dash table.kadam-jobs th, .kadam-dash table.kadam-jobs td { padding: 2px 8px;
  text-align: left; vertical-align: top;
  border-bottom: 1px solid var(--jp-border-color2, #e4e4e4); }
.kadam-dash .kadam-state { padding: 0 5px; border-radius: 3px; color: #000; white-space: nowrap; }
.kadam-dash .kadam-child td:first-child { padding-left: 22px; }
.kadam-dash .kadam-graph { overflow: auto; max-height: 32em; }
</style>"""


# ---------------------------------------------------------------------------------------------
# Log text


def clean_log_text(text: str) -> str:
    """A log line as a pane shows it (before HTML escaping): ANSI escape sequences removed; a
    line redrawn with ``\\r`` (progress bars) shows its last state; other control characters
    removed. Tabs stay."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\r" in text:
        text = text.rstrip("\r")
        text = text[text.rfind("\r") + 1 :]
    return _CONTROL.sub("", text)


def _cut(prefix: str, text: str) -> str:
    """``prefix + text``, cut after MAX_LINE_CHARS characters. A long line redrawn with ``\r``
    (a progress bar's whole history) keeps its last state first, so the cut shows that."""
    if len(text) > MAX_LINE_CHARS and "\r" in text:
        text = text.rstrip("\r")
        text = text[text.rfind("\r") + 1 :]
    text = prefix + text
    if len(text) <= MAX_LINE_CHARS:
        return text
    return f"{text[:MAX_LINE_CHARS]} … ({len(text) - MAX_LINE_CHARS:,} more characters)"


class _Record(NamedTuple):
    timestamp: str
    kind: str  # "O" stdout, "E" stderr, "M" a line of kadam's own (attempt separator)
    text: str


def _read_tail(
    path: str, n: int, start: int = 0, end: int | None = None
) -> tuple[list[_Record], int, int]:
    """The last ``n`` records of a log file between byte offsets ``start`` and ``end`` (the
    file's size when None), how many complete records that range holds, and the offset just
    after its last complete record (where the next read starts).

    Only the tail is decoded and parsed; the rest is only counted (``bytes.count``), so a file
    of a million lines costs a few tens of milliseconds.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError:
        return [], 0, start
    with f:
        size = os.fstat(f.fileno()).st_size
        end = _after_last_newline(f, start, size if end is None else min(end, size))
        if end <= start:
            return [], 0, start
        total, pos = 0, start
        f.seek(start)
        while pos < end:
            chunk = f.read(min(1 << 20, end - pos))
            if not chunk:
                break
            total += chunk.count(b"\n")
            pos += len(chunk)
        data, pos, block = b"", end, 1 << 16
        while pos > start and data.count(b"\n") <= n:
            step = min(block, pos - start)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
            block *= 2
    if pos > start:  # the first bytes are the end of an earlier record
        data = data[data.index(b"\n") + 1 :]
    records: list[_Record] = []
    raws = data.decode("utf-8", "replace").split("\n")[:-1]
    for raw in raws[-n:] if n > 0 else []:
        try:
            line = parse_log_line(raw)
        except ValueError:  # not a kadam record: show it as it is
            records.append(_Record("", "O", raw))
            continue
        records.append(_Record(line.timestamp, "E" if line.stream == STDERR else "O", line.text))
    return records, total, end


def _after_last_newline(f: Any, start: int, end: int) -> int:
    """The offset just after the last ``\\n`` in bytes ``[start, end)`` of ``f`` (``start`` if
    there is none): an unterminated last record may still be being written."""
    pos, block = end, 1 << 16
    while pos > start:
        step = min(block, pos - start)
        pos -= step
        f.seek(pos)
        found = f.read(step).rfind(b"\n")
        if found >= 0:
            return pos + found + 1
        block = min(block * 2, 1 << 22)
    return start


# ---------------------------------------------------------------------------------------------
# State of one pane


@dataclass(frozen=True)
class _Tail:
    """The last lines of a big LogLines batch, with the batch's size."""

    job_id: str
    attempt: int
    stream: str
    lines: list[str]
    count: int


@dataclass
class _Pane:
    """The in-memory state of one top-level job's log pane (an array's children share it)."""

    job_id: str
    name: str
    is_array: bool
    maxlen: int
    lines: deque[tuple[str, str]] = field(init=False)  # (kind, text), the last `maxlen`
    total: int = 0  # every line received or found on disk
    attempts: dict[str, int] = field(default_factory=dict)  # last attempt seen per leaf job
    dirty: bool = True

    def __post_init__(self) -> None:
        self.lines = deque(maxlen=self.maxlen)

    def _attempt(self, job_id: str, attempt: int, prefix: str) -> None:
        last = self.attempts.get(job_id)
        if last != attempt:
            self.attempts[job_id] = attempt
            if last is not None or attempt > 1:
                self.lines.append(("M", f"--- {prefix}attempt {attempt} ---"))

    def add(
        self,
        job_id: str,
        attempt: int,
        stream: str,
        lines: Sequence[str],
        prefix: str,
        count: int | None = None,
    ) -> None:
        """A batch from an event: O(min(len(lines), maxlen)), whatever the batch's size.
        ``count`` is the batch's size when ``lines`` is only its tail."""
        self._attempt(job_id, attempt, prefix)
        self.total += len(lines) if count is None else count
        kind = "E" if stream == STDERR else "O"
        tail = lines[-self.maxlen :] if len(lines) > self.maxlen else lines
        self.lines.extend((kind, _cut(prefix, text)) for text in tail)
        self.dirty = True

    def add_record(self, job_id: str, attempt: int, kind: str, text: str, prefix: str) -> None:
        self._attempt(job_id, attempt, prefix)
        if kind != "M":
            self.lines.append((kind, _cut(prefix, text)))
        self.dirty = True


@dataclass(frozen=True)
class _Status:
    """A message for the status line (from a button callback, on its thread)."""

    text: str
    error: bool
    at: float


@dataclass
class JobControls:
    """The widgets of one top-level job: its log pane and its buttons."""

    job_id: str
    name: str
    log: Any  # widgets.HTML
    cancel: Any  # widgets.Button
    terminate: Any  # widgets.Button
    box: Any  # the Tab's child


# ---------------------------------------------------------------------------------------------
# The dashboard


class Dashboard:
    """A live view of one run, built from ipywidgets; ``self.widget`` is its root.

    ``Dashboard(registry, run, settings)`` returns at once: the kernel stays free. ``run`` is a
    :class:`~kadam_nb.jobs.Run` or a run id (also of a run from an earlier kernel's history).
    ``settings`` is a :class:`~kadam_nb.notebook.config.Kadam` (``log_lines``,
    ``updates_per_second``, ``secret_patterns``); a default one when None.

    Widgets (public, for tests and for people who compose their own layout): ``graph``,
    ``table``, ``progress``, ``elapsed``, ``status``, ``tabs``, ``cancel_button``,
    ``terminate_button``, and ``jobs`` (a dict of :class:`JobControls` by the top-level job's
    name, each with ``log``, ``cancel``, ``terminate``). ``panes`` maps the same names to the
    log panes.

    Counters: ``updates_sent`` (widget trait writes, each one comm message to the browser),
    ``ticks`` (pump ticks), ``ticks_with_writes`` (ticks that wrote at least one trait; at most
    ``updates_per_second`` a second), ``redraws`` (graph drawings).

    ``mode`` is "live" (this kernel runs the jobs: events), "follow" (another kernel does: the
    store and the log files are polled every second) or "static" (the run was over: read once).
    """

    def __init__(self, registry: Registry, run: Run | str, settings: Kadam | None = None) -> None:
        if settings is None:
            from .config import Kadam

            settings = Kadam()
        self.registry = registry
        self.settings = settings
        self.run_id: str = run if isinstance(run, str) else run.id
        self.log_lines = max(1, int(settings.log_lines))
        self.updates_per_second = min(MAX_RATE, max(0.1, float(settings.updates_per_second)))
        self.updates_sent = 0
        self.ticks = 0
        self.ticks_with_writes = 0
        self.redraws = 0
        self.errors: list[str] = []
        self.created_at = time.monotonic()
        self.finished_at: float | None = None

        self._views: dict[str, JobView] = {}
        self._top: list[str] = []  # top-level job ids in submission order
        self._panes: dict[str, _Pane] = {}  # by top-level job id
        self._pane_of: dict[str, _Pane] = {}  # by leaf job id
        self._prefix: dict[str, str] = {}  # by leaf job id: "" or "[i] "
        self._progress_msgs: dict[str, str] = {}
        self._offsets: dict[tuple[str, int], int] = {}  # bytes of each attempt's log read
        self._complete: set[tuple[str, int]] = set()  # attempts whose log was read to its end
        self._state_version = 0
        self._graph_version = -1
        self._last_graph_at = -math.inf
        self._graph_unavailable: str | None = None
        self._table_dirty = True
        self._tabs_dirty = False
        self._last_clock = -math.inf
        self._status_item: _Status | None = None
        # compute environment -> (why kadam cannot reach its service, since when)
        self._service_problems: dict[str, tuple[str, float]] = {}
        self._service_dirty = False
        self._tokens = MESSAGES_PER_SECOND / 2  # the first fill; construction used the rest
        self._tokens_at = time.monotonic()
        self._deferred = False  # a write waited for the budget this tick
        self._budget_on = True
        self._final_pending = False
        self._done = False
        self._closed = False
        self._unsubscribe: Any = None
        self._seed_sizes: dict[tuple[str, int], int] | None = None
        self._seed_pending = False
        self._secrets: list[str] = []
        self.mode = "static"

        self._pump = Pump(
            self._tick, rate=self.updates_per_second, name=PUMP_THREAD_NAME, fold=self._fold
        )
        live = _runs_here(registry)
        views: list[JobView] = []
        if live:
            try:
                views, self._seed_sizes = registry._scheduler.call(self._subscribe_and_snapshot)
            except KadamError:  # closed meanwhile: show what the store has
                live = False
        if not live:
            views = registry.views(self.run_id)
        try:
            self._build(views, live)
        except BaseException:  # never leave an observer feeding a buffer nobody drains
            self._stop_listening()
            self._pump.stop()
            raise

    def _build(self, views: list[JobView], live: bool) -> None:
        import ipywidgets as widgets

        registry = self.registry
        if not views:
            raise NotFound(f"no run {self.run_id!r} in {registry.state_dir}")
        for view in views:
            self._add_view(view)
        self._secrets = self._secret_values()

        # ---- widgets (created with placeholders; the first update fills them)
        self.style = widgets.HTML(_STYLE)
        self.title = widgets.HTML(
            f"<b>kadam run</b> <code>{html.escape(self.run_id)}</code>"
            f" <span class='kadam-muted'>{html.escape(', '.join(self._top_names()))}</span>"
        )
        self.progress = widgets.IntProgress(
            value=0, min=0, max=max(1, len(self._leaves())), description=f"0/{len(self._leaves())}"
        )
        self.elapsed = widgets.HTML("")
        self.cancel_button = widgets.Button(
            description="Cancel run",
            button_style="warning",
            icon="ban",
            disabled=registry.read_only,
            tooltip="Cancel every job of this run that has not started (AWS CancelJob)",
        )
        self.terminate_button = widgets.Button(
            description="Terminate run",
            button_style="danger",
            icon="stop",
            disabled=registry.read_only,
            tooltip="Stop every unfinished job of this run (AWS TerminateJob): SIGTERM, then "
            "SIGKILL after the grace period; terminated jobs are not retried",
        )
        self.cancel_button.on_click(lambda _b: self._cancel_run())
        self.terminate_button.on_click(lambda _b: self._terminate_run())
        self.status = widgets.HTML("")
        self.service = widgets.HTML("")
        for name, env in registry.compute_environments.items():
            if env.status_reason and name in self._run_environments():
                self._service_problems[name] = (env.status_reason, time.time())
        self._service_dirty = bool(self._service_problems)
        self.graph = widgets.HTML("<span class='kadam-muted'>drawing the graph…</span>")
        self.table = widgets.HTML("")
        self.jobs: dict[str, JobControls] = {}
        for job_id in self._top:
            self._make_controls(job_id)
        self.tabs = widgets.Tab(  # built whole: no update message right after it opens
            children=tuple(c.box for c in self.jobs.values()),
            titles=tuple(self._tab_title(c.job_id) for c in self.jobs.values()),
        )
        self.widget = widgets.VBox(
            _dom_classes=("kadam-dash",),
            children=[
                self.style,
                widgets.HBox([self.title]),
                widgets.HBox([self.progress, self.elapsed]),
                widgets.HBox([self.cancel_button, self.terminate_button, self.status]),
                self.service,
                self.graph,
                self.table,
                self.tabs,
            ],
        )

        if live and not self._all_done():
            self.mode = "live"
            self._seed_pending = True
            self._pump.start()
        elif registry.read_only and not self._all_done():
            self.mode = "follow"
            self._seed_pending = True
            self._pump.start()
        else:  # finished (or nothing will change it from here): read once, no thread
            self.mode = "static"
            self._stop_listening()
            self._load_logs(self._seed_sizes)
            self._finish()
            self._budget_on = False  # built before it is shown: nothing to pace
            self._render(final=True)

    # ------------------------------------------------------------------ public

    @property
    def panes(self) -> dict[str, Any]:
        """The log pane (a ``widgets.HTML``) of each top-level job, by name."""
        return {name: c.log for name, c in self.jobs.items()}

    @property
    def done(self) -> bool:
        """The final update was made: every job finished (or the registry closed)."""
        return self._done

    @property
    def pump_alive(self) -> bool:
        return self._pump.alive

    def wait_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until the widgets show everything that has happened so far: every event
        handled; and when the run is over (or the Registry closed), until the final update
        was made and the pump exited. True if so within ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        if self.mode == "static":
            return True
        if self._run_over_now():
            return self._pump.wait_finished(left())
        while True:  # idle: every event handled, and no write waiting for the message budget
            if not self._pump.wait_idle(left()):
                return False
            if not self._deferred:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(1.0 / MESSAGES_PER_SECOND)

    def close(self) -> None:
        """Stop following the run: unsubscribe and stop the pump (widgets stay as they are)."""
        self._closed = True
        self._stop_listening()
        self._pump.stop()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        leaves = self._leaves()
        done = sum(self._views[i].status.done for i in leaves)
        return f"<Dashboard run {self.run_id} {done}/{len(leaves)} done ({self.mode})>"

    # ------------------------------------------------------------------ jobs and panes

    def _add_view(self, view: JobView) -> None:
        """Take in a job (at start, or submitted into this run later)."""
        known = view.id in self._views
        self._views[view.id] = view
        if known:
            return
        if view.parent_id is None:
            self._top.append(view.id)
            pane = _Pane(view.id, view.display_name, view.is_parent, self.log_lines)
            self._panes[view.id] = pane
            self._pane_of[view.id] = pane
            self._prefix[view.id] = ""
            if hasattr(self, "tabs"):  # a job added to the run while we watch
                self._make_controls(view.id)
                self._tabs_dirty = True
        else:
            parent = self._panes.get(view.parent_id)
            if parent is not None:
                self._pane_of[view.id] = parent
                self._prefix[view.id] = f"[{view.array_index}] "

    def _leaves(self) -> list[str]:
        return [i for i, v in self._views.items() if not v.is_parent]

    def _top_names(self) -> list[str]:
        return [self._views[i].display_name for i in self._top]

    def _all_done(self) -> bool:
        return all(v.status.done for v in self._views.values())

    def _children(self, job_id: str) -> list[JobView]:
        return [self._views[c] for c in self._views[job_id].children if c in self._views]

    def _make_controls(self, job_id: str) -> None:
        import ipywidgets as widgets

        name = self._views[job_id].display_name
        key = name if name not in self.jobs else f"{name} ({job_id[:8]})"
        log_widget = widgets.HTML(self._pane_html(self._panes[job_id]))
        cancel = widgets.Button(
            description="Cancel",
            button_style="warning",
            icon="ban",
            disabled=self.registry.read_only,
            tooltip=f"Cancel {name} if it has not started (AWS CancelJob)",
        )
        terminate = widgets.Button(
            description="Terminate",
            button_style="danger",
            icon="stop",
            disabled=self.registry.read_only,
            tooltip=f"Stop {name} (AWS TerminateJob); it fails and is not retried",
        )
        cancel.on_click(lambda _b: self._cancel_job(job_id))
        terminate.on_click(lambda _b: self._terminate_job(job_id))
        box = widgets.VBox([widgets.HBox([cancel, terminate]), log_widget])
        self.jobs[key] = JobControls(job_id, name, log_widget, cancel, terminate, box)

    def _set_tabs(self) -> bool:
        children = tuple(c.box for c in self.jobs.values())
        titles = tuple(self._tab_title(c.job_id) for c in self.jobs.values())
        return self._write(self.tabs, "children", children) and self._write(
            self.tabs, "titles", titles
        )

    def _tab_title(self, job_id: str) -> str:
        view = self._views[job_id]
        return f"{_GLYPH[view.status]} {view.display_name}"

    def _secret_values(self) -> list[str]:
        """Values of secret-looking environment variables and parameters of this run's
        definitions (the rule of :mod:`kadam_nb.core.secrets`), to mask in log lines."""
        patterns = list(self.settings.secret_patterns)
        values: set[str] = set()
        seen: set[tuple[str, int | None]] = set()
        for view in self._views.values():
            key = (view.definition_name, view.revision)
            if key in seen:
                continue
            seen.add(key)
            try:
                definition = self.registry.definition(view.definition_name, view.revision)
            except Exception:  # a definition we cannot read: nothing to mask from it
                continue
            values.update(secret_values(definition.environment, patterns))
            values.update(secret_values(definition.parameters, patterns))
        return sorted(values, key=lambda v: (-len(v), v))

    # ------------------------------------------------------------------ scheduler thread

    def _subscribe_and_snapshot(self) -> tuple[list[JobView], dict[tuple[str, int], int]]:
        """On the scheduler thread, between two steps: subscribe, and note the run's views and
        the sizes of its log files. Lines up to those sizes are in the files; every later one
        comes as an event: none is missed or shown twice."""
        self._unsubscribe = self.registry.subscribe(self._observe)
        views = self.registry.views(self.run_id)
        sizes: dict[tuple[str, int], int] = {}
        for view in views:
            for attempt in view.attempts:
                if attempt.log_path:
                    try:
                        sizes[(view.id, attempt.number)] = os.path.getsize(attempt.log_path)
                    except OSError:
                        sizes[(view.id, attempt.number)] = 0
        return views, sizes

    def _observe(self, event: Any) -> None:
        """The registry's observer: on the scheduler thread; only hands the event over (a big
        batch of lines as its last ``log_lines`` lines and its size, so that what waits for
        the pump stays small even when the pump is slow)."""
        if isinstance(event, LogLines) and len(event.lines) > self.log_lines:
            tail = event.lines[-self.log_lines :]
            event = _Tail(event.job_id, event.attempt, event.stream, tail, len(event.lines))
        self._pump.post(event)

    def _stop_listening(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    # ------------------------------------------------------------------ the pump's tick

    def _tick(self, items: list[Any]) -> float | None:
        """Runs on the pump thread only: apply what happened, then write what changed."""
        self.ticks += 1
        before = self.updates_sent
        try:
            if self._done and not self._final_pending:  # leftovers after the final update
                for item in items:
                    if isinstance(item, _Status):
                        self._status_item = item
                self._deferred = False
                self._render_status()
                return 1.0 / MESSAGES_PER_SECOND if self._deferred else None
            self._fold(items)
            if self.mode == "follow" and not self._closed:
                self._poll()
            final = self._closed or self._all_done() or self._registry_gone()
            if final:
                self._finish()
            complete = self._render(final=final)
            self._final_pending = final and not complete
        finally:
            if self.updates_sent > before:
                self.ticks_with_writes += 1
        if self._final_pending:  # the last writes wait for the message budget
            return 1.0 / MESSAGES_PER_SECOND
        if final:
            return None
        return self._next_delay()

    def _fold(self, items: list[Any]) -> None:
        """Take events into plain state (ring buffers, views); no widget is written here. The
        pump calls it between ticks too, so that events do not pile up in its buffer."""
        if self._seed_pending:
            self._seed_pending = False
            self._load_logs(self._seed_sizes)
            self._seed_sizes = None
        for item in items:
            self._apply(item)

    def _next_delay(self) -> float:
        delay = FOLLOW_INTERVAL if self.mode == "follow" else CLOCK_INTERVAL
        if self._deferred:  # writes wait for the message budget: come back when it allows
            delay = min(delay, 1.0 / MESSAGES_PER_SECOND)
        if self._state_version != self._graph_version:  # a redraw is waiting for its slot
            due = self._last_graph_at + GRAPH_INTERVAL - time.monotonic()
            delay = min(delay, max(0.0, due))
        return delay

    def _apply(self, item: Any) -> None:
        if isinstance(item, (LogLines, _Tail)):
            pane = self._pane_of.get(item.job_id)
            if pane is not None:
                count = item.count if isinstance(item, _Tail) else None
                prefix = self._prefix[item.job_id]
                pane.add(item.job_id, item.attempt, item.stream, item.lines, prefix, count)
        elif isinstance(item, StateChanged):
            view = item.job
            if view.run_id != self.run_id:
                return
            self._add_view(view)
            self._state_version += 1
            self._table_dirty = True
            if item.dst != S.STARTING:
                self._progress_msgs.pop(view.id, None)
            pane = self._pane_of.get(view.id)
            if pane is not None and pane.total == 0:
                pane.dirty = True  # "no output yet" becomes "no output"
        elif isinstance(item, Progress):
            if item.job_id in self._views:
                self._progress_msgs[item.job_id] = item.message
                self._table_dirty = True
        elif isinstance(item, ServiceProblem):
            if item.compute_environment not in self._run_environments():
                return
            if item.problem:
                self._service_problems[item.compute_environment] = (item.problem, item.at)
            else:
                self._service_problems.pop(item.compute_environment, None)
            self._service_dirty = True
        elif isinstance(item, _Status):
            self._status_item = item

    def _run_environments(self) -> set[str]:
        """The compute environments this run's queues send jobs to."""
        queues = self.registry.queues
        names = {v.queue for v in self._views.values()}
        return {env for q in names if q in queues for env in queues[q].compute_environments}

    def _registry_gone(self) -> bool:
        if self.mode != "live":
            return False
        if self.registry._closed or not self.registry._scheduler.alive:
            self._status_item = _Status(
                "The Registry was closed: this dashboard stopped following the run.",
                True,
                time.time(),
            )
            return True
        return False

    def _run_over_now(self) -> bool:
        """Whether the run is over as the registry sees it now (any thread)."""
        if self._done or self._closed:
            return True
        if self.mode == "live" and (self.registry._closed or not self.registry._scheduler.alive):
            return True
        try:
            return all(self.registry._view(i).status.done for i in list(self._views))
        except Exception:
            return False

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self.finished_at = time.monotonic()
        self._table_dirty = True
        self._stop_listening()

    def _poll(self) -> None:
        """Follow mode: read the run's views from the store and the new bytes of its logs."""
        try:
            views = self.registry.views(self.run_id)
        except Exception as exc:  # a busy database: try again next time
            self.errors.append(repr(exc))
            return
        for view in views:
            if self._views.get(view.id) != view:
                self._add_view(view)
                self._state_version += 1
                self._table_dirty = True
                pane = self._pane_of.get(view.id)
                if pane is not None and pane.total == 0:
                    pane.dirty = True
        self._load_logs(None)

    def _load_logs(self, sizes: dict[tuple[str, int], int] | None) -> None:
        """Read the run's log files from where the last read stopped (the start, at first) up
        to ``sizes`` (their ends when None): the last N lines of each pane, merged by time
        across an array's children, and how many lines there are."""
        for top_id, pane in self._panes.items():
            ids = [top_id] + [c.id for c in self._children(top_id)]
            merged: list[tuple[str, int, str, int, str, str]] = []  # (ts, order, id, n, kind, text)
            order = 0
            for job_id in ids:
                view = self._views[job_id]
                if view.is_parent:
                    continue
                for attempt in view.attempts:
                    if not attempt.log_path:
                        continue
                    key = (job_id, attempt.number)
                    if key in self._complete:
                        continue  # read to its end after it stopped: nothing more will come
                    if sizes is not None and key not in sizes:
                        continue  # started after the snapshot: its lines come as events
                    start = self._offsets.get(key, 0)
                    end = sizes.get(key) if sizes is not None else None
                    records, count, stop = _read_tail(attempt.log_path, self.log_lines, start, end)
                    self._offsets[key] = stop
                    if attempt.stopped_at is not None:
                        self._complete.add(key)
                    if not count:
                        continue
                    pane.total += count
                    pane.dirty = True
                    for rec in records:
                        merged.append(
                            (rec.timestamp, order, job_id, attempt.number, rec.kind, rec.text)
                        )
                        order += 1
            merged.sort(key=lambda r: (r[0], r[1]))
            for _ts, _order, job_id, number, kind, text in merged[-self.log_lines :]:
                pane.add_record(job_id, number, kind, text, self._prefix.get(job_id, ""))

    # ------------------------------------------------------------------ writing widgets

    def _write(self, widget: Any, name: str, value: Any) -> bool:
        """Set one trait if its value changed (each write is one message to the browser), within
        the message budget. True when the widget shows ``value``; False when the write has to
        wait for the budget (the caller keeps it dirty for a later tick)."""
        if getattr(widget, name) == value:
            return True
        if not self._take_token():
            self._deferred = True
            return False
        setattr(widget, name, value)
        self.updates_sent += 1
        return True

    def _has_token(self) -> bool:
        if not self._budget_on:
            return True
        refill = (time.monotonic() - self._tokens_at) * MESSAGES_PER_SECOND
        return min(MESSAGES_PER_SECOND, self._tokens + refill) >= 1.0

    def _take_token(self) -> bool:
        if not self._budget_on:
            return True
        now = time.monotonic()
        refill = (now - self._tokens_at) * MESSAGES_PER_SECOND
        self._tokens = min(MESSAGES_PER_SECOND, self._tokens + refill)
        self._tokens_at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _render(self, final: bool) -> bool:
        """Write what changed, panes first, within the message budget. True if everything is
        shown; False if some writes wait for the next tick (they stay dirty)."""
        self._deferred = False
        now = time.time()
        self._render_status()  # what a button click did: the first thing a person looks for
        if self._service_dirty:
            self._service_dirty = not self._write(self.service, "value", self._service_html())
        if self._tabs_dirty:
            self._tabs_dirty = not self._set_tabs()
        for controls in self.jobs.values():
            pane = self._panes[controls.job_id]
            if pane.dirty:
                pane.dirty = not self._write(controls.log, "value", self._pane_html(pane))
        clock_due = now - self._last_clock >= CLOCK_INTERVAL and not self._done
        if clock_due or final:
            self._last_clock = now  # times shown move once a second, not on every tick
        if self._table_dirty or clock_due or final:
            before, self._deferred = self._deferred, False
            self._render_table(self._last_clock)
            self._table_dirty = self._deferred
            self._deferred = before or self._deferred
        graph_due = self._state_version != self._graph_version and (
            final or time.monotonic() - self._last_graph_at >= GRAPH_INTERVAL
        )
        if graph_due and not self._has_token():  # drawing costs tens of ms: only when sendable
            self._deferred = True
        elif graph_due:
            version = self._state_version
            if self._write(self.graph, "value", self._graph_html()):
                self._graph_version = version
                self._last_graph_at = time.monotonic()
        return not self._deferred

    def _render_table(self, now: float) -> None:
        leaves = [self._views[i] for i in self._leaves()]
        finished = sum(v.status.done for v in leaves)
        failed = sum(v.status == S.FAILED for v in leaves)
        running = sum(v.status in (S.STARTING, S.RUNNING) for v in leaves)
        total = len(leaves)
        with self.progress.hold_sync():
            self._write(self.progress, "max", max(1, total))
            self._write(self.progress, "value", finished)
            self._write(self.progress, "description", f"{finished}/{total}")
            style = "danger" if failed else ("success" if finished == total else "info")
            self._write(self.progress, "bar_style", style)
        self._write(self.elapsed, "value", self._elapsed_html(now, running, failed))
        self._write(self.table, "value", self._table_html(now))
        titles = tuple(self._tab_title(c.job_id) for c in self.jobs.values())
        self._write(self.tabs, "titles", titles)
        control = not self.registry.read_only
        for c in self.jobs.values():
            view = self._views[c.job_id]
            can_cancel = (
                control and not view.status.done and (view.status in _NOT_STARTED or view.is_parent)
            )
            self._write(c.cancel, "disabled", not can_cancel or self._done)
            self._write(c.terminate, "disabled", not control or view.status.done or self._done)
        open_jobs = [v for v in leaves if not v.status.done]
        not_started = any(v.status in _NOT_STARTED for v in open_jobs)
        self._write(self.cancel_button, "disabled", self._done or not control or not not_started)
        self._write(self.terminate_button, "disabled", self._done or not control or not open_jobs)

    def _render_status(self) -> None:
        item = self._status_item
        if item is None:
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(item.at))
        css = "kadam-error" if item.error else "kadam-muted"
        value = f"<span class='{css}'>{stamp} {html.escape(item.text)}</span>"
        self._write(self.status, "value", value)

    # ------------------------------------------------------------------ HTML

    def _service_html(self) -> str:
        """One line per compute environment whose service does not answer (none: empty)."""
        rows = []
        for env, (problem, since) in sorted(self._service_problems.items()):
            stamp = time.strftime("%H:%M:%S", time.localtime(since))
            rows.append(
                f"<div class='kadam-error'>⚠ {html.escape(env)} does not answer (since {stamp}):"
                f" {html.escape(problem)}</div>"
            )
        return "".join(rows)

    def _mask(self, text: str) -> str:
        return mask_text(text, self._secrets)

    def _pane_html(self, pane: _Pane) -> str:
        esc = html.escape
        rows = []
        for kind, text in pane.lines:
            shown = esc(self._mask(clean_log_text(text)), quote=False)
            if kind == "E":
                rows.append(f'<span class="kadam-stderr">{shown}</span>')
            elif kind == "M":
                rows.append(f'<span class="kadam-meta">{shown}</span>')
            else:
                rows.append(shown)
        shown_lines = sum(kind != "M" for kind, _ in pane.lines)
        if pane.total == 0:
            view = self._views[pane.job_id]
            finished = view.status.done and all(c.status.done for c in self._children(pane.job_id))
            body = f'<span class="kadam-meta">{"no output" if finished else "no output yet"}</span>'
        else:
            body = "\n".join(rows)
        name = esc(pane.name)
        if pane.total > shown_lines:
            count = f"the last {shown_lines:,} of {pane.total:,} lines"
        else:
            count = f"{pane.total:,} line{'s' if pane.total != 1 else ''}"
        if pane.is_array:
            how = (
                f"one child's whole log: <code>%kadam logs {name}[i]</code> or "
                f"<code>reg.job(&quot;{esc(pane.job_id)}&quot;).children[i].logs()</code>"
            )
            count += " of all children, each prefixed with [i]"
        else:
            how = (
                f"the whole log: <code>%kadam logs {name}</code> or "
                f"<code>reg.job(&quot;{esc(pane.job_id)}&quot;).logs()</code>"
            )
        return (
            f'<div class="kadam-log"><pre>{body}</pre></div>'
            f'<div class="kadam-foot">Showing {count}; stderr in red; {how}</div>'
        )

    def _elapsed_html(self, now: float, running: int, failed: int) -> str:
        views = list(self._views.values())
        start = min(v.created_at for v in views)
        if self._done:
            stops = [v.stopped_at for v in views if v.stopped_at is not None]
            end = max(stops) if stops else now
        else:
            end = now
        parts = [f"elapsed {_duration(end - start)}"]
        if running:
            parts.append(f"{running} running")
        if failed:
            parts.append(f"<span class='kadam-error'>{failed} failed</span>")
        if self.mode == "follow":
            parts.append("followed from another kernel (read-only)")
        elif self._done:
            parts.append("finished")
        return "<span class='kadam-muted'>" + " · ".join(parts) + "</span>"

    def _table_html(self, now: float) -> str:
        head = "".join(
            f"<th>{h}</th>"
            for h in ("job", "state", "reason", "attempt", "exit code", "started", "duration")
        )
        rows = []
        for job_id in self._top:
            view = self._views[job_id]
            rows.append(self._row(view, now))
            if view.is_parent:
                children = self._children(job_id)
                shown = children
                if len(children) > MAX_CHILD_ROWS:  # the interesting ones first
                    rank = {S.FAILED: 0, S.RUNNING: 1, S.STARTING: 2}
                    shown = sorted(children, key=lambda c: rank.get(c.status, 3))[:MAX_CHILD_ROWS]
                    shown.sort(key=lambda c: c.array_index or 0)
                rows.extend(self._row(c, now, child=True) for c in shown)
                if len(shown) < len(children):
                    rows.append(
                        f"<tr class='kadam-child'><td colspan='7' class='kadam-muted'>… and "
                        f"{len(children) - len(shown):,} more children</td></tr>"
                    )
        return (
            f"<table class='kadam-jobs'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def _row(self, view: JobView, now: float, child: bool = False) -> str:
        esc = html.escape
        reason = view.status_reason
        if view.id in self._progress_msgs and view.status == S.STARTING:
            reason = self._progress_msgs[view.id]
        if view.is_parent:
            counts: dict[str, int] = {}
            for c in self._children(view.id):
                counts[c.status.value] = counts.get(c.status.value, 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in counts.items())
            reason = f"{reason} ({summary})" if reason else summary
            attempt = "—"
        else:
            attempt = f"{len(view.attempts)}/{view.max_attempts}"
        code = "" if view.exit_code is None else str(view.exit_code)
        started = (
            time.strftime("%H:%M:%S", time.localtime(view.started_at)) if view.started_at else ""
        )
        if view.started_at is None:
            duration = ""
        else:
            duration = _duration((view.stopped_at or now) - view.started_at)
        state = (
            f"<span class='kadam-state' style='background:{state_color(view.status)}'>"
            f"{esc(view.status.value)}</span>"
        )
        cls = " class='kadam-child'" if child else ""
        cells = [
            esc(view.display_name),
            state,
            esc(reason),
            esc(attempt),
            esc(code),
            esc(started),
            esc(duration),
        ]
        return f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    def _graph_html(self) -> str:
        views = list(self._views.values())
        if self._graph_unavailable is None:
            try:
                from ..display.graph import jobs_graph, to_svg

                svg = to_svg(jobs_graph(views))
                self.redraws += 1
                start = svg.find("<svg")
                return f"<div class='kadam-graph'>{svg[start:] if start >= 0 else svg}</div>"
            except (ImportError, KadamError) as exc:  # no graphviz, or no `dot`: stop trying
                self._graph_unavailable = str(exc) or type(exc).__name__
            except Exception as exc:  # never fail the dashboard for a picture
                log.exception("kadam dashboard: drawing the graph failed")
                self.errors.append(repr(exc))
                return self._graph_list(views, f"the graph could not be drawn: {exc}")
        return self._graph_list(views, self._graph_unavailable)

    def _graph_list(self, views: Iterable[JobView], why: str | None) -> str:
        """The run as a plain list, when graphviz cannot draw it."""
        esc = html.escape
        by_id = {v.id: v for v in views}
        items = []
        for job_id in self._top:
            view = by_id[job_id]
            deps = [
                by_id[d.job_id].display_name if d.job_id in by_id else d.job_id[:8]
                for d in view.depends_on
                if d.job_id
            ]
            after = (
                f" <span class='kadam-muted'>after {esc(', '.join(deps))}</span>" if deps else ""
            )
            items.append(
                f"<li><span class='kadam-state' style='background:{state_color(view.status)}' "
                f"title='{esc(view.status_reason)}'>{esc(view.status.value)}</span> "
                f"<b>{esc(view.display_name)}</b>{after}</li>"
            )
        note = (
            f"<div class='kadam-muted'>graph drawing unavailable: {esc(why)}</div>" if why else ""
        )
        return f"<div class='kadam-graph'><ul>{''.join(items)}</ul>{note}</div>"

    # ------------------------------------------------------------------ buttons (caller's thread)

    def _say(self, text: str, error: bool = False) -> None:
        item = _Status(text, error, time.time())
        if not self._pump.post_or_refuse(item):  # no pump (any more): nobody else writes now
            self._status_item = item
            self._budget_on = False  # a rare, single write: send it now
            self._render_status()

    def _act(self, verb: str, job_id: str) -> None:
        name = self._views[job_id].display_name
        try:
            if verb == "cancel":
                ok = self.registry.cancel(job_id, CANCEL_REASON)
            else:
                ok = self.registry.terminate(job_id, TERMINATE_REASON)
        except Exception as exc:
            self._say(f"{verb.capitalize()} {name} failed: {exc}", error=True)
            return
        if ok:
            self._say(f"{'Cancelled' if verb == 'cancel' else 'Terminating'} {name}.")
        elif verb == "cancel":
            self._say(
                f"{name} was not cancelled: it has already started or finished (Cancel only "
                "stops jobs that have not started; use Terminate).",
                error=True,
            )
        else:
            self._say(f"{name} was not terminated: it has already finished.", error=True)

    def _cancel_job(self, job_id: str) -> None:
        self._act("cancel", job_id)

    def _terminate_job(self, job_id: str) -> None:
        self._act("terminate", job_id)

    def _run_action(self, verb: str) -> None:
        hits, errors = 0, []
        for job_id in list(self._top):
            if self._views[job_id].status.done:
                continue
            try:
                if verb == "cancel":
                    hits += bool(self.registry.cancel(job_id, CANCEL_REASON))
                else:
                    hits += bool(self.registry.terminate(job_id, TERMINATE_REASON))
            except Exception as exc:
                errors.append(f"{self._views[job_id].display_name}: {exc}")
        if errors:
            self._say(f"{verb.capitalize()} run failed for " + "; ".join(errors), error=True)
        else:
            done = "Cancelled" if verb == "cancel" else "Terminating"
            self._say(f"{done} {hits} job{'s' if hits != 1 else ''} of this run.")

    def _cancel_run(self) -> None:
        self._run_action("cancel")

    def _terminate_run(self) -> None:
        self._run_action("terminate")


def _runs_here(registry: Registry) -> bool:
    """Whether this Registry's scheduler runs (and so reports) the jobs."""
    with contextlib.suppress(AttributeError):
        return not registry.read_only and not registry._closed and registry._scheduler.alive
    return False


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

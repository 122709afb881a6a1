"""A Gantt picture of a run: one row per job, bars coloured by state (matplotlib; the only
module that imports it)."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..core.states import JobStatus
from ..core.timeline import BAR_STATES, Interval
from .colors import state_color

__all__ = ["Timeline", "timeline_figure"]


@dataclass
class Timeline:
    """The picture and the data it was drawn from (``rows``: label and intervals per job)."""

    figure: Any
    rows: list[tuple[str, list[Interval]]]
    origin: float
    now: float | None
    bars: list[tuple[str, JobStatus, float, float]] = field(default_factory=list)

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        FigureCanvasAgg(self.figure).print_png(buffer)
        return buffer.getvalue()

    def _repr_svg_(self) -> str:
        buffer = io.StringIO()
        self.figure.savefig(buffer, format="svg")
        return buffer.getvalue()


def timeline_figure(
    rows: Sequence[tuple[str, Sequence[Interval]]], *, live: bool = False, now: float | None = None
) -> Timeline:
    """Rows of (job label, its intervals), top to bottom. PENDING (waiting for dependencies),
    RUNNABLE (waiting for capacity), STARTING and RUNNING are bars; each attempt's start is a
    tick, a failure a red cross; ``live`` adds a vertical line for now."""
    now = time.time() if now is None else now
    starts = [i.start for _, intervals in rows for i in intervals]
    origin = min(starts) if starts else now
    height = max(2.0, 0.35 * len(rows) + 1.2)
    figure = Figure(figsize=(9, height), dpi=100)
    axes = figure.add_subplot(1, 1, 1)
    bars: list[tuple[str, JobStatus, float, float]] = []
    for row, (label, intervals) in enumerate(rows):
        y = len(rows) - 1 - row
        for interval in intervals:
            if interval.state in BAR_STATES:
                left = interval.start - origin
                width = max(interval.duration(now), 0.0)
                axes.barh(
                    y,
                    width,
                    left=left,
                    height=0.6,
                    color=state_color(interval.state),
                    edgecolor="#555555",
                    linewidth=0.4,
                )
                bars.append((label, interval.state, left, width))
            if interval.state == JobStatus.STARTING:
                axes.plot(
                    [interval.start - origin] * 2,
                    [y - 0.38, y + 0.38],
                    color="#1f4e79",
                    linewidth=1.2,
                )
                axes.annotate(
                    f"#{interval.attempt}",
                    (interval.start - origin, y + 0.32),
                    fontsize=7,
                    color="#1f4e79",
                )
            if interval.state == JobStatus.FAILED:
                axes.plot(
                    interval.start - origin,
                    y,
                    marker="x",
                    color="#c0392b",
                    markersize=9,
                    markeredgewidth=2,
                )
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([label for label, _ in reversed(rows)], fontsize=8)
    axes.set_xlabel("seconds since the run's first job was submitted")
    if live:
        axes.axvline(now - origin, color="#c0392b", linestyle="--", linewidth=1)
    handles = [Patch(facecolor=state_color(state), label=state.value) for state in BAR_STATES]
    axes.legend(handles=handles, fontsize=7, loc="upper right", ncol=4, frameon=False)
    axes.set_xlim(left=0)
    figure.tight_layout()
    return Timeline(
        figure, [(label, list(i)) for label, i in rows], origin, now if live else None, bars
    )

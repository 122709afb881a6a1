"""The colours of job states, shared by the graphs (graphviz) and the HTML cards.

Pure data, standard library only, so that :mod:`kadam_nb.display.html` can use the same colours
as :mod:`kadam_nb.display.graph` without importing graphviz. Every fill is light enough for
black text.
"""

from __future__ import annotations

__all__ = [
    "EXTERNAL_COLOR",
    "LINE_COLOR",
    "MISSING_COLOR",
    "MUTED_TEXT_COLOR",
    "NOT_RUN",
    "STATE_COLORS",
    "TEXT_COLOR",
    "state_color",
]

NOT_RUN = "NOT_RUN"
"""The key of the colour of a definition that has no job yet."""

STATE_COLORS: dict[str, str] = {
    "SUBMITTED": "#e0e0e0",  # light grey
    "PENDING": "#fff2a8",  # light yellow
    "RUNNABLE": "#ffd199",  # light orange
    "STARTING": "#cce0ff",  # light blue
    "RUNNING": "#8fbfff",  # blue
    "SUCCEEDED": "#9fdf9f",  # green
    "FAILED": "#f59e9e",  # red
    NOT_RUN: "#ffffff",  # white: defined, never run
}
"""Fill colour per job state (the state's string value, e.g. ``"RUNNING"``) and ``NOT_RUN``."""

TEXT_COLOR = "#000000"
MUTED_TEXT_COLOR = "#666666"
"""Grey text: missing dependencies, jobs of earlier runs, secondary lines."""
LINE_COLOR = "#555555"
MISSING_COLOR = "#f0f0f0"
"""Fill of a dependency on a definition that is not registered."""
EXTERNAL_COLOR = "#eeeeee"
"""Fill of a job from an earlier run that a job of this run depends on."""


def state_color(state: object) -> str:
    """The fill colour of ``state`` (a JobStatus, its string value, or None for "not run")."""
    if state is None:
        return STATE_COLORS[NOT_RUN]
    key = getattr(state, "value", state)
    return STATE_COLORS.get(str(key), STATE_COLORS[NOT_RUN])

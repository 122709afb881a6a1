"""The job state machine as a picture, optionally with the path one job took."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import graphviz

from ..core.jobs import Transition
from ..core.states import EDGE_CAUSES, JobStatus
from ..core.timeline import path_edges, state_intervals, time_in_states
from .colors import LINE_COLOR, state_color

__all__ = ["lifecycle_graph"]

_ORDER = list(JobStatus)


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def lifecycle_graph(
    transitions: Sequence[Transition] | None = None, *, title: str = "", now: float | None = None
) -> Any:
    """AWS Batch's seven states and every legal transition, each edge labelled with its cause.

    With a job's ``transitions``, the edges it took are drawn bold (with how many times), the
    states it visited are filled and show the time spent in them, and each taken edge's tooltip
    holds the recorded reasons.
    """
    now = time.time() if now is None else now
    taken = Counter(path_edges(transitions or []))
    reasons: dict[tuple[JobStatus, JobStatus], list[str]] = {}
    for t in transitions or []:
        if t.src is not None:
            reasons.setdefault((t.src, t.dst), []).append(t.reason)
    visited = {t.dst for t in transitions or []}
    spent = time_in_states(state_intervals("", transitions or []), now) if transitions else {}
    graph = graphviz.Digraph("lifecycle", graph_attr={"rankdir": "LR", "fontname": "Helvetica"})
    graph.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="11")
    graph.attr("edge", fontname="Helvetica", fontsize="9", color=LINE_COLOR)
    if title:
        graph.attr(label=graphviz.escape(title), labelloc="t")
    for state in _ORDER:
        label = state.value
        if state in spent:
            label += f"\\n{_seconds(spent[state])}"
        fill = state_color(state) if (state in visited or not transitions) else "#ffffff"
        graph.node(
            state.value, label=label, fillcolor=fill, penwidth="2" if state in visited else "1"
        )
    for (src, dst), cause in EDGE_CAUSES.items():
        count = taken.get((src, dst), 0)
        attrs = {"label": graphviz.escape(cause), "tooltip": graphviz.escape(cause)}
        if count:
            shown = " | ".join(dict.fromkeys(reasons.get((src, dst), [])))[:500]
            attrs.update(
                penwidth="3",
                color="#1f4e79",
                fontcolor="#1f4e79",
                label=graphviz.escape(cause + (f" ×{count}" if count > 1 else "")),
                tooltip=graphviz.escape(shown or cause),
            )
        elif transitions:
            attrs.update(style="dashed", color="#bbbbbb", fontcolor="#999999")
        graph.edge(src.value, dst.value, **attrs)
    return graph

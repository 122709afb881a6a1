"""Pictures of pipelines and runs with graphviz: the only module that imports ``graphviz``.

* :func:`definitions_graph`: the pipeline, one node per job definition, edges from each
  dependency to its dependent (upstream → downstream), coloured by the state of the latest job.
* :func:`jobs_graph`: the jobs of one run; an array job is one node with its progress.
* :func:`to_svg`: the SVG text, with an error that says how to install ``dot`` when it is missing.

Every text a user wrote (names, reasons) goes into the DOT source quoted: labels are HTML-like
labels built with :func:`html.escape`, other attributes go through :func:`graphviz.escape`, and
node ids are our own (``d0``, ``j3``, ...), never user text. Output is deterministic: nodes keep
the order of the input.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import graphviz

from ..core.spec import JobDefinition
from ..core.states import JobStatus
from ..core.views import JobView
from ..errors import KadamError
from . import colors

__all__ = [
    "EXTERNAL_COLOR",
    "MAX_NODES",
    "MISSING_COLOR",
    "NOT_RUN_COLOR",
    "STATE_COLORS",
    "definitions_graph",
    "jobs_graph",
    "to_svg",
]

STATE_COLORS: dict[JobStatus, str] = {s: colors.STATE_COLORS[s.value] for s in JobStatus}
"""Fill colour of a node per job state (readable with black text)."""
NOT_RUN_COLOR = colors.STATE_COLORS[colors.NOT_RUN]
"""Fill colour of a definition that has no job yet."""
MISSING_COLOR = colors.MISSING_COLOR
EXTERNAL_COLOR = colors.EXTERNAL_COLOR

MAX_NODES = 500
"""Above this many nodes a graph is collapsed (jobs grouped by definition) and says so."""

N_TO_N = "N_TO_N"
SEQUENTIAL = "SEQUENTIAL"

_FONT = "Helvetica"
_ID_PREFIX = 8  # characters of a job id shown for jobs of earlier runs
_FAILED_IN_TOOLTIP = 3  # failed array children whose reasons an array's tooltip lists
# Characters XML 1.0 forbids (graphviz would write them into the SVG as they are).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CHILD_ID = re.compile(r"^(?P<parent>.+):(?P<index>\d+)$")

# The states of unfinished jobs, least advanced first (see _summary_status).
_UNFINISHED = (
    JobStatus.SUBMITTED,
    JobStatus.PENDING,
    JobStatus.RUNNABLE,
    JobStatus.STARTING,
    JobStatus.RUNNING,
)


# ---------------------------------------------------------------------------------------------
# Quoting


def _clean(text: object) -> str:
    """``text`` as a string without the control characters XML cannot carry."""
    return _XML_INVALID.sub("\ufffd", str(text))


def _h(text: object) -> str:
    """Text for an HTML-like label: escaped, so it renders literally."""
    return html.escape(_clean(text), quote=True)


def _attr(text: object) -> str:
    """Text for a plain attribute (tooltip, graph label): rendered literally.

    ``graphviz.escape`` disables ``\\N``-style escapes and ``<...>`` HTML strings; the ``&`` is
    doubled as ``&amp;`` because graphviz passes entity references in strings through to SVG.
    """
    return graphviz.escape(_clean(text).replace("&", "&amp;"))


def _label(title: str, *lines: str) -> str:
    """An HTML-like label: ``title`` in bold, then ``lines`` (all already escaped)."""
    rows = [f"<b>{title}</b>", *(line for line in lines if line)]
    return "<" + "<br/>".join(rows) + ">"


def _plain_label(text: str) -> str:
    """An HTML-like label of one line of (unescaped) text, not bold."""
    return "<" + _h(text) + ">"


def _small(text: str) -> str:
    return f'<font point-size="9">{text}</font>' if text else ""


# ---------------------------------------------------------------------------------------------
# Graph scaffolding


def _new_graph(name: str) -> graphviz.Digraph:
    g = graphviz.Digraph(name=name)
    g.attr("graph", rankdir="LR", fontname=_FONT, fontsize="10", nodesep="0.25", ranksep="0.4")
    g.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fontname=_FONT,
        fontsize="11",
        fontcolor=colors.TEXT_COLOR,
        color=colors.LINE_COLOR,
        margin="0.12,0.05",
        height="0.3",
    )
    g.attr(
        "edge",
        fontname=_FONT,
        fontsize="9",
        color=colors.LINE_COLOR,
        fontcolor=colors.LINE_COLOR,
        arrowsize="0.7",
    )
    return g


def _edge(g: graphviz.Digraph, src: str, dst: str, kind: str | None) -> None:
    if kind == N_TO_N:
        g.edge(src, dst, label=N_TO_N, style="dashed")
    elif kind == SEQUENTIAL:
        g.edge(src, dst, label=SEQUENTIAL)
    else:
        g.edge(src, dst)


def _collapsed_note(g: graphviz.Digraph, text: str) -> None:
    g.attr("graph", label=_attr(text), labelloc="t", labeljust="l", fontcolor="#333333")


def _rev(revision: int | None) -> str:
    return f"rev {revision}" if revision is not None else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


# ---------------------------------------------------------------------------------------------
# The pipeline


def definitions_graph(
    definitions: Sequence[JobDefinition],
    latest: Mapping[str, JobView] | None = None,
    *,
    max_nodes: int = MAX_NODES,
) -> graphviz.Digraph:
    """The pipeline: one node per definition, an edge from each dependency to its dependent.

    A node shows the name, ``rev N``, ``array ×N`` for an array, and when ``latest`` (definition
    name → its latest job) has a job for it, that job's state, which also colours the node
    (white: not run yet). An N_TO_N dependency between two arrays is a dashed edge labelled
    ``N_TO_N``; a SEQUENTIAL array has a self-loop labelled ``SEQUENTIAL``. A dependency on a name
    that is not among ``definitions`` is a dashed grey node ``missing: NAME`` (``run`` would
    refuse it). If a name appears twice, the later definition is drawn at the first's place.
    With more than ``max_nodes`` nodes, only the first are drawn and the graph says so.
    """
    latest = latest or {}
    by_name: dict[str, JobDefinition] = {}
    for d in definitions:
        by_name[d.name] = d
    missing = list(
        dict.fromkeys(dep for d in by_name.values() for dep in d.depends_on if dep not in by_name)
    )
    total = len(by_name) + len(missing)
    shown_defs = list(by_name.values())[:max_nodes]
    shown_missing = missing[: max(0, max_nodes - len(shown_defs))]

    g = _new_graph("pipeline")
    ids: dict[str, str] = {}
    for i, d in enumerate(shown_defs):
        ids[d.name] = f"d{i}"
        job = latest.get(d.name)
        state = job.status.value if job is not None else ""
        tip = [f"{d.name} {_rev(d.revision)}".strip()]
        if d.image:
            tip.append(f"image: {d.image}")
        if job is not None:
            tip.append(f"latest job: {job.status.value}")
            if job.status_reason:
                tip.append(job.status_reason)
        else:
            tip.append("not run yet")
        g.node(
            ids[d.name],
            label=_label(
                _h(d.name),
                _small(_h(_join(_rev(d.revision), f"array ×{d.array_size}" if d.is_array else ""))),
                _h(state),
            ),
            fillcolor=STATE_COLORS[job.status] if job is not None else NOT_RUN_COLOR,
            tooltip=_attr("\n".join(tip)),
        )
    for i, name in enumerate(shown_missing):
        ids[name] = f"m{i}"
        g.node(
            ids[name],
            label=_plain_label(f"missing: {name}"),
            style="rounded,filled,dashed",
            fillcolor=MISSING_COLOR,
            color=colors.MUTED_TEXT_COLOR,
            fontcolor=colors.MUTED_TEXT_COLOR,
            tooltip=_attr(f"{name} is not registered: register it or remove the dependency"),
        )
    for d in shown_defs:
        for dep in d.depends_on:
            if dep not in ids:
                continue  # hidden by the node limit
            if dep in by_name:
                upstream_is_array = by_name[dep].is_array
                kind = N_TO_N if d.array_dependency == N_TO_N and upstream_is_array else None
                _edge(g, ids[dep], ids[d.name], kind)
            else:
                g.edge(ids[dep], ids[d.name], style="dashed", color=colors.MUTED_TEXT_COLOR)
        if d.array_dependency == SEQUENTIAL and d.is_array:
            _edge(g, ids[d.name], ids[d.name], SEQUENTIAL)
    shown = len(shown_defs) + len(shown_missing)
    if shown < total:
        _collapsed_note(
            g,
            f"collapsed: {total} nodes, more than {max_nodes}; showing the first {shown} "
            f"({total - shown} nodes hidden)",
        )
    return g


# ---------------------------------------------------------------------------------------------
# The jobs of a run


@dataclass
class _JobNode:
    """One node of a jobs graph: a plain job, or an array (parent and/or children)."""

    key: str
    view: JobView | None = None  # the job itself, or the array's parent
    children: list[JobView] = field(default_factory=list)
    sequential: bool = False

    @property
    def first(self) -> JobView:
        return self.view if self.view is not None else self.children[0]

    @property
    def is_array(self) -> bool:
        return bool(self.children) or (self.view is not None and self.view.is_parent)

    @property
    def status(self) -> JobStatus:
        if self.view is not None:
            return self.view.status
        return _summary_status(c.status for c in self.children)

    @property
    def definition_name(self) -> str:
        return self.first.definition_name


def _summary_status(states: Iterable[JobStatus]) -> JobStatus:
    """One state for many jobs: FAILED if one failed, else the least advanced one still going,
    else SUCCEEDED."""
    present = set(states)
    if JobStatus.FAILED in present:
        return JobStatus.FAILED
    for state in _UNFINISHED:
        if state in present:
            return state
    return JobStatus.SUCCEEDED


def _child_parent(job_id: str) -> str | None:
    m = _CHILD_ID.match(job_id)
    return m.group("parent") if m else None


def _collect(
    views: Sequence[JobView],
) -> tuple[dict[str, _JobNode], dict[str, str], dict[tuple[str, str], str | None]]:
    """Nodes keyed by job id (arrays by parent id), external job ids (key → full id of the
    first one seen) and edges ``(src key, dst key) → kind``, all in input order."""
    nodes: dict[str, _JobNode] = {}
    owner: dict[str, str] = {}
    for v in views:
        key = v.parent_id if v.parent_id is not None else v.id
        node = nodes.setdefault(key, _JobNode(key))
        if v.parent_id is not None:
            node.children.append(v)
        else:
            node.view = v
        owner[v.id] = key

    external: dict[str, str] = {}

    def resolve(job_id: str) -> str:
        if job_id in owner:
            return owner[job_id]
        parent = _child_parent(job_id)
        if parent is not None and parent in owner:
            return owner[parent]
        key = parent if parent is not None else job_id
        external.setdefault(key, job_id)
        return key

    edges: dict[tuple[str, str], str | None] = {}
    for node in nodes.values():
        # An array's parent carries its dependencies (with their types); its children's are
        # derived from them, so they are read only when the parent is not among the views.
        sources = [node.view] if node.view is not None else node.children
        for v in sources:
            for dep in v.depends_on:
                if dep.type == SEQUENTIAL:
                    node.sequential = True
                if not dep.job_id:
                    continue
                src = resolve(dep.job_id)
                if src == node.key:
                    node.sequential = True  # child i waiting for child i - 1
                    continue
                kind = dep.type if dep.type == N_TO_N else None
                if edges.get((src, node.key)) != N_TO_N:
                    edges[(src, node.key)] = kind
    return nodes, external, edges


def _job_lines(node: _JobNode) -> tuple[list[str], str]:
    """The label lines (escaped) under the name, and the tooltip text of a job node."""
    first = node.first
    status = node.status
    reason = node.view.status_reason if node.view is not None else ""
    if node.is_array:
        size = first.array_size or len(node.children)
        if node.children:
            done = sum(c.status.done for c in node.children)
            failed = [c for c in node.children if c.status is JobStatus.FAILED]
            progress = _join(f"{done}/{size} done", f"{len(failed)} failed" if failed else "")
        elif status is JobStatus.SUCCEEDED:
            failed = []
            progress = f"{size}/{size} done"
        else:
            failed = []
            progress = f"array ×{size}"
        lines = [_small(_h(_rev(first.revision))), _h(status.value), _h(progress)]
        tip = [reason or status.value]
        for c in failed[:_FAILED_IN_TOOLTIP]:
            tip.append(f"{c.display_name}: {c.status_reason or c.status.value}")
        if len(failed) > _FAILED_IN_TOOLTIP:
            tip.append(f"... and {len(failed) - _FAILED_IN_TOOLTIP} more failed")
        return lines, "\n".join(tip)
    v = first
    detail = [f"attempt {len(v.attempts)}/{v.max_attempts}"]
    if v.status.done and v.exit_code is not None:
        detail.append(f"exit {v.exit_code}")
    if v.cached_from:
        detail.append("cached")
    lines = [_small(_h(_rev(v.revision))), _h(v.status.value), _small(_h(_join(*detail)))]
    return lines, v.status_reason or v.status.value


def jobs_graph(views: Sequence[JobView], *, max_nodes: int = MAX_NODES) -> graphviz.Digraph:
    """The jobs of one run: one node per job, an array (parent and children) as one node.

    A plain job shows its name, ``rev N``, its state, ``attempt k/n`` and its exit code when it
    has finished; an array shows name, revision, state and progress (``3/4 done``, ``1 failed``).
    Nodes are filled with their state's colour; the tooltip is the status reason. Edges come
    from ``depends_on`` (N_TO_N dashed and labelled; SEQUENTIAL as a labelled self-loop); jobs
    outside ``views`` that are depended on (earlier runs) are small grey nodes named by a
    prefix of their id. With more than ``max_nodes`` nodes, jobs are grouped by definition and
    the graph says how many nodes it hid.
    """
    nodes, external, edges = _collect(views)
    total = len(nodes) + len(external)
    if total > max_nodes:
        return _collapsed_jobs_graph(nodes, external, edges, max_nodes)

    g = _new_graph("jobs")
    ids: dict[str, str] = {}
    for i, node in enumerate(nodes.values()):
        ids[node.key] = f"j{i}"
        lines, tip = _job_lines(node)
        g.node(
            ids[node.key],
            label=_label(_h(node.first.name), *lines),
            fillcolor=STATE_COLORS[node.status],
            tooltip=_attr(tip),
        )
    for i, (key, full_id) in enumerate(external.items()):
        ids[key] = f"x{i}"
        g.node(
            ids[key],
            label=_plain_label(key[:_ID_PREFIX]),
            shape="box",
            style="rounded,filled",
            fillcolor=EXTERNAL_COLOR,
            color=colors.MUTED_TEXT_COLOR,
            fontcolor=colors.MUTED_TEXT_COLOR,
            fontsize="9",
            height="0.2",
            tooltip=_attr(f"job {full_id} (not in this run)"),
        )
    for (src, dst), kind in edges.items():
        _edge(g, ids[src], ids[dst], kind)
    for node in nodes.values():
        if node.sequential:
            _edge(g, ids[node.key], ids[node.key], SEQUENTIAL)
    return g


def _collapsed_jobs_graph(
    nodes: Mapping[str, _JobNode],
    external: Mapping[str, str],
    edges: Mapping[tuple[str, str], str | None],
    max_nodes: int,
) -> graphviz.Digraph:
    """Jobs grouped by definition name (earlier runs' jobs as one node)."""
    group_of: dict[str, str] = {}
    members: dict[str, list[_JobNode]] = {}
    for node in nodes.values():
        group_of[node.key] = node.definition_name
        members.setdefault(node.definition_name, []).append(node)
    total = len(nodes) + len(external)
    names = list(members)[:max_nodes]
    g = _new_graph("jobs")
    ids = {name: f"g{i}" for i, name in enumerate(names)}
    for name in names:
        group = members[name]
        counts = Counter(n.status for n in group)
        states = ", ".join(f"{counts[s]} {s.value}" for s in JobStatus if counts[s])
        arrays = sum(n.is_array for n in group)
        count = _plural(len(group), "job")
        if arrays:
            count += f" ({_plural(arrays, 'array')})"
        g.node(
            ids[name],
            label=_label(_h(name), _small(_h(count)), _small(_h(states))),
            fillcolor=STATE_COLORS[_summary_status(counts)],
            tooltip=_attr(f"{name}: {count}\n{states}"),
        )
        if any(n.sequential for n in group):
            _edge(g, ids[name], ids[name], SEQUENTIAL)
    earlier = "x0"
    if external:
        g.node(
            earlier,
            label=_plain_label(f"earlier runs: {_plural(len(external), 'job')}"),
            fillcolor=EXTERNAL_COLOR,
            color=colors.MUTED_TEXT_COLOR,
            fontcolor=colors.MUTED_TEXT_COLOR,
            fontsize="9",
        )
    drawn: dict[tuple[str, str], str | None] = {}
    for (src, dst), kind in edges.items():
        a = ids.get(group_of[src]) if src in group_of else earlier
        b = ids.get(group_of[dst])
        if a is None or b is None or a == b:
            continue
        if drawn.get((a, b)) != N_TO_N:
            drawn[(a, b)] = kind
    for (a, b), kind in drawn.items():
        _edge(g, a, b, kind)
    shown = len(names) + (1 if external else 0)
    note = (
        f"collapsed: {total} nodes, more than {max_nodes}, grouped by definition into {shown} "
        f"({total - shown} nodes hidden)"
    )
    if len(members) > len(names):
        note += f"; only the first {len(names)} of {len(members)} definitions are shown"
    _collapsed_note(g, note)
    return g


# ---------------------------------------------------------------------------------------------
# Rendering


def to_svg(graph: graphviz.Digraph) -> str:
    """The graph as SVG text, drawn by graphviz's ``dot`` program.

    Raises :class:`~kadam_nb.errors.KadamError` saying how to install graphviz when ``dot`` is
    not on the PATH.
    """
    try:
        data: bytes = graph.pipe(format="svg")
    except graphviz.ExecutableNotFound as e:
        raise KadamError(
            "cannot draw the graph: graphviz's `dot` program was not found on the PATH. "
            "Install graphviz (the program, not only the Python package): "
            "`apt-get install graphviz` on Debian/Ubuntu, `brew install graphviz` on macOS, "
            "or `conda install -c conda-forge graphviz`; then restart the kernel"
        ) from e
    return data.decode("utf-8")

"""The pipeline and run graphs, checked on the SVG that a user sees."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import graphviz
import pytest

from kadam_nb.core.jobs import Dependency
from kadam_nb.core.spec import JobDefinition
from kadam_nb.core.states import JobStatus
from kadam_nb.core.views import AttemptView, JobView
from kadam_nb.display import colors
from kadam_nb.display.graph import (
    EXTERNAL_COLOR,
    MISSING_COLOR,
    NOT_RUN_COLOR,
    STATE_COLORS,
    definitions_graph,
    jobs_graph,
    to_svg,
)
from kadam_nb.errors import KadamError

S = JobStatus
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
HOSTILE_NAME = 'a<b&"c'
HOSTILE_REASON = "<script>alert('x')</script> & &amp; \\n \"quoted\"\nsecond line"


# ---------------------------------------------------------------------------------------------
# Factories


def attempt(
    job_id: str, number: int = 1, exit_code: int | None = 0, reason: str = ""
) -> AttemptView:
    return AttemptView(
        job_id=job_id,
        number=number,
        compute_environment="default",
        backend="local",
        created_at=1000.0,
        started_at=1001.0,
        stopped_at=None if exit_code is None else 1003.5,
        exit_code=exit_code,
        reason=None,
        status_reason=reason or None,
        handle=None,
        log_path=None,
    )


def view(
    name: str,
    status: JobStatus = S.SUCCEEDED,
    *,
    id: str | None = None,
    reason: str = "",
    attempts: tuple[AttemptView, ...] = (),
    depends_on: tuple[Dependency, ...] = (),
    parent_id: str | None = None,
    array_index: int | None = None,
    array_size: int | None = None,
    children: tuple[str, ...] = (),
    max_attempts: int = 1,
    revision: int | None = 1,
    definition_name: str | None = None,
) -> JobView:
    job_id = id or (f"{parent_id}:{array_index}" if parent_id else f"id-{name}")
    return JobView(
        id=job_id,
        name=name,
        definition_name=definition_name or name,
        revision=revision,
        run_id="run-1",
        queue="default",
        status=status,
        status_reason=reason,
        created_at=1000.0,
        started_at=None,
        stopped_at=None,
        attempts=attempts,
        parent_id=parent_id,
        array_index=array_index,
        array_size=array_size,
        children=children,
        depends_on=depends_on,
        max_attempts=max_attempts,
        cached_from=None,
    )


def array(
    name: str,
    parent_status: JobStatus,
    child_states: list[JobStatus],
    *,
    depends_on: tuple[Dependency, ...] = (),
    child_deps: list[tuple[Dependency, ...]] | None = None,
    reasons: dict[int, str] | None = None,
) -> list[JobView]:
    """An array parent followed by its children."""
    pid = f"id-{name}"
    size = len(child_states)
    parent = view(
        name,
        parent_status,
        id=pid,
        array_size=size,
        children=tuple(f"{pid}:{i}" for i in range(size)),
        depends_on=depends_on,
    )
    kids = [
        view(
            name,
            state,
            parent_id=pid,
            array_index=i,
            array_size=size,
            reason=(reasons or {}).get(i, ""),
            depends_on=child_deps[i] if child_deps else (),
        )
        for i, state in enumerate(child_states)
    ]
    return [parent, *kids]


def definition(name: str, **kwargs: object) -> JobDefinition:
    return JobDefinition.create(name, command="true", **kwargs)  # type: ignore[arg-type]


def registered(d: JobDefinition, revision: int = 1) -> JobDefinition:
    return dataclasses.replace(d, revision=revision)


def renamed(d: JobDefinition, name: str) -> JobDefinition:
    """A definition with a name validation would refuse (as if read from a foreign source)."""
    object.__setattr__(d, "name", name)
    return d


# ---------------------------------------------------------------------------------------------
# Reading the SVG


@dataclass
class Node:
    id: str
    texts: list[str]
    fill: str | None
    tooltip: str | None
    dashed: bool

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


@dataclass
class Edge:
    src: str
    dst: str
    labels: list[str]
    dashed: bool


@dataclass
class Picture:
    root: ET.Element
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """First lines of the nodes, in the order they were declared (ids d0, d1, ..., m0)."""
        ordered = sorted(
            self.nodes, key=lambda n: (n.id[0] != "d" and n.id[0] != "j", n.id[0], int(n.id[1:]))
        )
        return [n.texts[0] for n in ordered]

    def node(self, first_line: str) -> Node:
        found = [n for n in self.nodes if n.texts and n.texts[0] == first_line]
        assert len(found) == 1, f"{first_line!r} in {[n.texts for n in self.nodes]}"
        return found[0]

    def edge(self, src: str, dst: str) -> Edge:
        a, b = self.node(src).id, self.node(dst).id
        found = [e for e in self.edges if (e.src, e.dst) == (a, b)]
        assert len(found) == 1, f"edges {src} -> {dst}: {found}"
        return found[0]

    def has_edge(self, src: str, dst: str) -> bool:
        a, b = self.node(src).id, self.node(dst).id
        return any((e.src, e.dst) == (a, b) for e in self.edges)

    @property
    def label(self) -> str:
        """The graph's own label (texts outside nodes and edges)."""
        graph = next(g for g in self.root.iter(f"{SVG}g") if g.get("class") == "graph")
        return " ".join(t.text or "" for t in graph.findall(f"{SVG}text"))


def _shape(g: ET.Element) -> ET.Element | None:
    for tag in ("path", "polygon", "ellipse"):
        el = g.find(f".//{SVG}{tag}")
        if el is not None:
            return el
    return None


def picture(graph: graphviz.Digraph) -> Picture:
    svg = to_svg(graph)
    root = ET.fromstring(svg)  # raises if the SVG is not well-formed XML
    pic = Picture(root)
    for g in root.iter(f"{SVG}g"):
        title = g.findtext(f"{SVG}title") or ""
        texts = [t.text or "" for t in g.iter(f"{SVG}text")]
        shape = _shape(g)
        dashed = shape is not None and bool(shape.get("stroke-dasharray"))
        if g.get("class") == "node":
            anchor = g.find(f".//{SVG}a")
            tooltip = anchor.get(f"{XLINK}title") if anchor is not None else None
            fill = shape.get("fill") if shape is not None else None
            pic.nodes.append(Node(title, texts, fill, tooltip, dashed))
        elif g.get("class") == "edge":
            src, _, dst = title.partition("->")
            pic.edges.append(Edge(src, dst, texts, dashed))
    return pic


# ---------------------------------------------------------------------------------------------
# Colours


def test_every_state_has_a_distinct_colour_shared_with_the_html_table() -> None:
    assert set(STATE_COLORS) == set(JobStatus)
    values = [*STATE_COLORS.values(), NOT_RUN_COLOR]
    assert len(set(values)) == len(values)
    for state, colour in STATE_COLORS.items():
        assert colors.STATE_COLORS[state.value] == colour
    assert colors.STATE_COLORS[colors.NOT_RUN] == NOT_RUN_COLOR


def test_colours_are_light_enough_for_black_text() -> None:
    for colour in [*STATE_COLORS.values(), NOT_RUN_COLOR, MISSING_COLOR, EXTERNAL_COLOR]:
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert 0.299 * r + 0.587 * g + 0.114 * b > 140, colour


# ---------------------------------------------------------------------------------------------
# The pipeline


def pipeline() -> list[JobDefinition]:
    return [
        registered(definition("extract"), 2),
        registered(definition("clean", depends_on="extract", array_size=4)),
        registered(
            definition("split", depends_on="clean", array_size=4, array_dependency="N_TO_N")
        ),
        registered(
            definition("seq", depends_on="extract", array_size=3, array_dependency="SEQUENTIAL")
        ),
        registered(
            definition("one", depends_on="extract", array_size=2, array_dependency="N_TO_N")
        ),
        registered(definition("report", depends_on=["split", "ghost"])),
    ]


def test_definitions_graph_draws_each_definition_and_its_dependencies() -> None:
    pic = picture(definitions_graph(pipeline()))
    names = pic.names
    assert names == ["extract", "clean", "split", "seq", "one", "report", "missing: ghost"]
    assert "rev 2" in pic.node("extract").text
    assert "array ×4" in pic.node("clean").text
    assert "array" not in pic.node("report").text
    # Upstream points to downstream, plain and solid.
    plain = pic.edge("extract", "clean")
    assert not plain.dashed and plain.labels == []
    assert not pic.has_edge("clean", "extract")
    # N_TO_N between two arrays: dashed and labelled.
    n_to_n = pic.edge("clean", "split")
    assert n_to_n.dashed and n_to_n.labels == ["N_TO_N"]
    # N_TO_N on a plain upstream is a plain dependency (as the registry submits it).
    assert not pic.edge("extract", "one").dashed
    # SEQUENTIAL: a labelled self-loop on the array.
    loop = pic.edge("seq", "seq")
    assert loop.labels == ["SEQUENTIAL"]
    assert len(pic.edges) == 7


def test_a_dependency_on_an_unregistered_name_is_a_dashed_grey_node() -> None:
    pic = picture(definitions_graph(pipeline()))
    ghost = pic.node("missing: ghost")
    assert ghost.dashed
    assert ghost.fill == MISSING_COLOR
    assert ghost.tooltip is not None and "not registered" in ghost.tooltip
    assert pic.edge("missing: ghost", "report").dashed


def test_the_same_missing_name_is_one_node() -> None:
    defs = [definition("a", depends_on="ghost"), definition("b", depends_on="ghost")]
    pic = picture(definitions_graph(defs))
    assert pic.names == ["a", "b", "missing: ghost"]


def test_definitions_are_coloured_by_their_latest_job() -> None:
    latest = {
        "extract": view("extract", S.SUCCEEDED),
        "clean": view("clean", S.FAILED, reason="Dependent job x failed", array_size=4),
        "split": view("split", S.RUNNING),
    }
    pic = picture(definitions_graph(pipeline(), latest))
    assert pic.node("extract").fill == STATE_COLORS[S.SUCCEEDED]
    assert "SUCCEEDED" in pic.node("extract").texts
    clean = pic.node("clean")
    assert clean.fill == STATE_COLORS[S.FAILED]
    assert "FAILED" in clean.texts
    assert clean.tooltip is not None and "Dependent job x failed" in clean.tooltip
    assert pic.node("split").fill == STATE_COLORS[S.RUNNING]
    report = pic.node("report")
    assert report.fill == NOT_RUN_COLOR
    assert not any(s.value in report.texts for s in JobStatus)


def test_definitions_graph_is_deterministic_and_left_to_right() -> None:
    one = definitions_graph(pipeline())
    two = definitions_graph(pipeline())
    assert one.source == two.source
    assert "rankdir=LR" in one.source
    assert "fontname=Helvetica" in one.source


def test_a_pipeline_over_the_node_limit_says_it_was_cut() -> None:
    defs = [definition(f"d{i}") for i in range(6)]
    pic = picture(definitions_graph(defs, max_nodes=4))
    assert len(pic.nodes) == 4
    assert "collapsed" in pic.label and "2 nodes hidden" in pic.label


def test_definition_names_render_literally() -> None:
    d = renamed(definition("x"), HOSTILE_NAME)
    e = definition("y", depends_on="x")
    object.__setattr__(e, "depends_on", (HOSTILE_NAME, "<b>ghost</b>"))
    latest = {HOSTILE_NAME: view(HOSTILE_NAME, S.FAILED, reason=HOSTILE_REASON)}
    graph = definitions_graph([d, e], latest)
    svg = to_svg(graph)
    assert "<script>" not in svg and "<b>ghost" not in svg
    pic = picture(graph)
    node = pic.node(HOSTILE_NAME)
    assert node.tooltip is not None and HOSTILE_REASON in node.tooltip
    assert pic.node("missing: <b>ghost</b>").dashed
    assert pic.has_edge(HOSTILE_NAME, "y")


# ---------------------------------------------------------------------------------------------
# The jobs of a run


def run_views() -> list[JobView]:
    extract = view(
        "extract",
        S.SUCCEEDED,
        attempts=(attempt("id-extract", 1, 1), attempt("id-extract", 2, 0)),
        max_attempts=3,
        reason="Essential container in task exited",
        depends_on=(Dependency("0123456789abcdef-earlier"),),
    )
    clean = array(
        "clean",
        S.PENDING,
        [S.SUCCEEDED, S.FAILED, S.SUCCEEDED, S.RUNNING],
        depends_on=(Dependency("id-extract"),),
        child_deps=[(Dependency("id-extract"),)] * 4,
        reasons={1: "OutOfMemoryError: Container killed due to memory usage"},
    )
    split = array(
        "split",
        S.PENDING,
        [S.PENDING] * 4,
        depends_on=(Dependency("id-clean", "N_TO_N"),),
        child_deps=[(Dependency(f"id-clean:{i}"),) for i in range(4)],
    )
    seq = array(
        "seq",
        S.PENDING,
        [S.RUNNABLE, S.PENDING, S.PENDING],
        depends_on=(Dependency("id-extract"), Dependency("", "SEQUENTIAL")),
        child_deps=[
            (Dependency("id-extract"),),
            (Dependency("id-extract"), Dependency("id-seq:0")),
            (Dependency("id-extract"), Dependency("id-seq:1")),
        ],
    )
    report = view(
        "report",
        S.PENDING,
        reason="Waiting for dependencies to succeed: split",
        depends_on=(Dependency("id-split"), Dependency("id-seq")),
        max_attempts=2,
    )
    return [extract, *clean, *split, *seq, report]


def test_arrays_are_one_node_with_their_progress() -> None:
    pic = picture(jobs_graph(run_views()))
    names = pic.names
    assert names == ["extract", "clean", "split", "seq", "report", "0123456789abcdef-earlier"[:8]]
    clean = pic.node("clean")
    assert "PENDING" in clean.texts
    assert "rev 1" in clean.texts
    assert "3/4 done · 1 failed" in clean.text
    assert clean.fill == STATE_COLORS[S.PENDING]
    assert clean.tooltip is not None and "clean[1]: OutOfMemoryError" in clean.tooltip
    assert "0/4 done" in pic.node("split").text
    assert "failed" not in pic.node("split").text


def test_plain_jobs_show_attempts_exit_code_and_reason() -> None:
    pic = picture(jobs_graph(run_views()))
    extract = pic.node("extract")
    assert "SUCCEEDED" in extract.texts
    assert "attempt 2/3 · exit 0" in extract.text
    assert extract.fill == STATE_COLORS[S.SUCCEEDED]
    assert extract.tooltip == "Essential container in task exited"
    report = pic.node("report")
    assert "attempt 0/2" in report.text
    assert "exit" not in report.text  # not finished
    assert report.tooltip == "Waiting for dependencies to succeed: split"


def test_job_edges_follow_depends_on_with_their_types() -> None:
    pic = picture(jobs_graph(run_views()))
    assert not pic.edge("extract", "clean").dashed
    n_to_n = pic.edge("clean", "split")
    assert n_to_n.dashed and n_to_n.labels == ["N_TO_N"]
    assert pic.edge("seq", "seq").labels == ["SEQUENTIAL"]
    assert pic.has_edge("split", "report") and pic.has_edge("seq", "report")
    assert pic.has_edge("extract", "seq")
    # Nothing to or from an empty job id, no edge per child.
    assert len(pic.edges) == 7


def test_jobs_of_earlier_runs_are_small_grey_nodes() -> None:
    pic = picture(jobs_graph(run_views()))
    earlier = pic.node("01234567")
    assert earlier.fill == EXTERNAL_COLOR
    assert earlier.tooltip is not None and "0123456789abcdef-earlier" in earlier.tooltip
    assert pic.has_edge("01234567", "extract")


def test_children_of_an_earlier_array_map_to_one_node() -> None:
    views = [
        view("a", S.RUNNING, depends_on=(Dependency("old:0"),)),
        view("b", S.RUNNING, depends_on=(Dependency("old:1"), Dependency("old"))),
    ]
    pic = picture(jobs_graph(views))
    assert pic.names == ["a", "b", "old"]
    assert pic.has_edge("old", "a") and pic.has_edge("old", "b")


def test_children_without_their_parent_are_still_one_node() -> None:
    kids = array("clean", S.RUNNING, [S.SUCCEEDED, S.SUCCEEDED, S.RUNNING])[1:]
    pic = picture(jobs_graph([view("extract"), *kids]))
    assert pic.names == ["extract", "clean"]
    clean = pic.node("clean")
    assert "2/3 done" in clean.text
    assert clean.fill == STATE_COLORS[S.RUNNING]


def test_a_finished_array_without_its_children_shows_full_progress() -> None:
    parent = array("clean", S.SUCCEEDED, [S.SUCCEEDED] * 4)[0]
    assert "4/4 done" in picture(jobs_graph([parent])).node("clean").text


def test_a_large_array_is_still_one_node() -> None:
    views = array("big", S.PENDING, [S.SUCCEEDED] * 600 + [S.RUNNING] * 400)
    pic = picture(jobs_graph(views))
    assert len(pic.nodes) == 1
    assert "600/1000 done" in pic.node("big").text
    assert "collapsed" not in pic.label


def test_many_jobs_are_grouped_by_definition_and_the_graph_says_so() -> None:
    views = [
        view(f"job{i}", S.SUCCEEDED if i % 3 else S.FAILED, definition_name=f"def{i % 3}")
        for i in range(600)
    ]
    views.append(
        view("last", S.RUNNING, definition_name="def0", depends_on=(Dependency("id-job1"),))
    )
    pic = picture(jobs_graph(views))
    assert pic.names == ["def0", "def1", "def2"]
    assert "collapsed" in pic.label
    assert "598 nodes hidden" in pic.label
    def0 = pic.node("def0")
    assert "201 jobs" in def0.text
    assert def0.fill == STATE_COLORS[S.FAILED]
    assert pic.node("def1").fill == STATE_COLORS[S.SUCCEEDED]
    assert pic.has_edge("def1", "def0")


def test_job_names_and_reasons_render_literally() -> None:
    hostile = view(HOSTILE_NAME, S.FAILED, reason=HOSTILE_REASON, id="<id>&")
    child_reason = "<script>x</script>"
    kids = array(HOSTILE_NAME + "[]", S.FAILED, [S.FAILED, S.SUCCEEDED], reasons={0: child_reason})
    graph = jobs_graph(
        [hostile, *kids, view("y", depends_on=(Dependency("<id>&"), Dependency("<b>")))]
    )
    svg = to_svg(graph)
    assert "<script>" not in svg
    pic = picture(graph)
    node = pic.node(HOSTILE_NAME)
    assert node.tooltip == HOSTILE_REASON
    assert pic.node(HOSTILE_NAME + "[]").tooltip is not None
    assert child_reason in (pic.node(HOSTILE_NAME + "[]").tooltip or "")
    assert pic.has_edge(HOSTILE_NAME, "y")
    assert pic.has_edge("<b>", "y")


def test_control_characters_do_not_break_the_svg() -> None:
    pic = picture(jobs_graph([view("a", S.FAILED, reason="bell\x07 nul\x00 esc\x1b[31m")]))
    assert pic.node("a").tooltip is not None


def test_jobs_graph_is_deterministic() -> None:
    assert jobs_graph(run_views()).source == jobs_graph(run_views()).source


# ---------------------------------------------------------------------------------------------
# Rendering


def test_to_svg_returns_svg_text() -> None:
    svg = to_svg(definitions_graph([definition("a")]))
    assert isinstance(svg, str)
    assert ET.fromstring(svg).tag == f"{SVG}svg"


def test_missing_dot_says_how_to_install_graphviz(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KadamError, match="apt-get install graphviz") as info:
        to_svg(definitions_graph([definition("a")]))
    assert isinstance(info.value.__cause__, graphviz.ExecutableNotFound)

"""The teaching pictures, tested on their content: the lifecycle's highlighted path is the
job's recorded transitions; the timeline's bars are the recorded state intervals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kadam_nb.core.jobs import Transition
from kadam_nb.core.states import EDGE_CAUSES, JobStatus
from kadam_nb.core.timeline import path_edges, state_intervals, time_in_states
from kadam_nb.display.lifecycle import lifecycle_graph
from kadam_nb.display.timeline import timeline_figure
from kadam_nb.facade import Registry

S = JobStatus


def transitions(*steps: tuple[float, JobStatus | None, JobStatus]) -> list[Transition]:
    return [Transition("j", at, src, dst, f"reason {i}") for i, (at, src, dst) in enumerate(steps)]


RETRIED = transitions(
    (0.0, None, S.SUBMITTED),
    (0.1, S.SUBMITTED, S.RUNNABLE),
    (0.5, S.RUNNABLE, S.STARTING),
    (0.7, S.STARTING, S.RUNNING),
    (2.0, S.RUNNING, S.RUNNABLE),
    (2.0, S.RUNNABLE, S.STARTING),
    (2.2, S.STARTING, S.RUNNING),
    (3.0, S.RUNNING, S.FAILED),
)


def test_intervals_follow_the_transitions() -> None:
    intervals = state_intervals("j", RETRIED)
    assert [(i.state, i.start, i.end, i.attempt) for i in intervals] == [
        (S.SUBMITTED, 0.0, 0.1, 0),
        (S.RUNNABLE, 0.1, 0.5, 0),
        (S.STARTING, 0.5, 0.7, 1),
        (S.RUNNING, 0.7, 2.0, 1),
        (S.RUNNABLE, 2.0, 2.0, 1),
        (S.STARTING, 2.0, 2.2, 2),
        (S.RUNNING, 2.2, 3.0, 2),
        (S.FAILED, 3.0, 3.0, 2),
    ]
    spent = time_in_states(intervals, now=10.0)
    assert spent[S.RUNNING] == pytest.approx(1.3 + 0.8)


def edge_attrs(dot: str) -> dict[tuple[str, str], str]:
    return {(m[0], m[1]): m[2] for m in re.findall(r"\t(\w+) -> (\w+) \[(.*?)\]\n", dot)}


def test_lifecycle_draws_every_aws_edge_with_its_cause() -> None:
    dot = lifecycle_graph().source
    edges = edge_attrs(dot)
    assert set(edges) == {(a.value, b.value) for a, b in EDGE_CAUSES}
    for (a, b), cause in EDGE_CAUSES.items():
        assert cause in edges[(a.value, b.value)]


def test_lifecycle_highlights_exactly_the_path_taken() -> None:
    dot = lifecycle_graph(RETRIED, now=3.0).source
    bold = {e for e, attrs in edge_attrs(dot).items() if "penwidth=3" in attrs}
    assert bold == {(a.value, b.value) for a, b in path_edges(RETRIED)}
    assert "×2" in edge_attrs(dot)[("RUNNABLE", "STARTING")]  # taken twice: the retry
    assert "reason 4" in edge_attrs(dot)[("RUNNING", "RUNNABLE")]  # the recorded reason
    assert re.search(r"RUNNING\\n2\.1 s", dot)  # time spent running, both attempts


def test_timeline_bars_are_the_recorded_intervals() -> None:
    rows = [("j", state_intervals("j", RETRIED))]
    picture = timeline_figure(rows, now=3.0)
    expected = [
        ("j", i.state, i.start - 0.0, i.end - i.start)
        for i in rows[0][1]
        if i.state in (S.PENDING, S.RUNNABLE, S.STARTING, S.RUNNING) and i.end is not None
    ]
    assert picture.bars == expected
    axes = picture.figure.axes[0]
    drawn = sorted((round(p.get_x(), 6), round(p.get_width(), 6)) for p in axes.patches)
    assert drawn == sorted((round(b[2], 6), round(b[3], 6)) for b in expected)
    assert picture._repr_png_().startswith(b"\x89PNG")


def test_registry_pictures_of_a_real_run(tmp_path: Path) -> None:
    with Registry(state_dir=tmp_path, backend="local", max_vcpus=1) as reg:
        reg.register("first", command="sleep 0.3")
        reg.register("second", command="sleep 0.3")  # waits RUNNABLE: one vCPU
        reg.register("after", command="true", depends_on=["first", "second"])
        run = reg.run()
        assert run.wait(timeout=30)
        picture = reg.timeline(run)
        labels = [label for label, _ in picture.rows]
        assert labels == ["first", "second", "after"]
        states = {(label, state) for label, state, _, _ in picture.bars}
        assert ("second", S.RUNNABLE) in states  # waited for capacity
        assert ("after", S.PENDING) in states  # waited for its dependencies
        job = reg.job("after")
        dot = reg.lifecycle(job).source
        bold = {e for e, attrs in edge_attrs(dot).items() if "penwidth=3" in attrs}
        assert bold == {(a.value, b.value) for a, b in path_edges(job.transitions())}

"""Hostile text in every place a user's text is shown: job names, status reasons, commands,
environment values, log lines with ``<script>``, quotes, ``&``, newlines, ANSI escapes, NUL
bytes and very long strings. The HTML cards, the pandas tables, the SVG graph, the dashboard's
table and log panes show them as text: no element or attribute comes from the user's text, and
the text is there to read.

Counts: 1,000 HTML cards, 200 pandas tables, 150 SVG graphs (each runs ``dot``), 500 dashboard
panes and tables; plus one real job printing hostile lines into a live dashboard.
"""

from __future__ import annotations

import dataclasses
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kadam_nb.core.spec import JobDefinition
from kadam_nb.core.states import JobStatus
from kadam_nb.core.views import AttemptView, JobView
from kadam_nb.display.html import definition_html, job_html, registry_html
from kadam_nb.display.tables import attempts_frame, jobs_frame
from kadam_nb.errors import SpecError
from kadam_nb.facade import Registry
from tests.fuzz.strategies import hostile_text
from tests.support.comms import Msg

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Page(HTMLParser):
    """The elements, attributes and text of an HTML fragment, as a browser would parse it."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.texts: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)


# The elements and attributes kadam's own markup uses; anything else came from user text.
TAGS = {"div", "span", "b", "table", "thead", "tbody", "tr", "th", "td", "code", "pre", "br"}
TAGS |= {"style", "progress", "details", "summary", "a", "svg", "i", "small", "p", "ul", "li"}
ATTRS = {"class", "style", "title", "colspan", "border", "value", "max", "href", "target"}


def assert_inert(markup: str, *shown: str) -> _Page:
    """No element or attribute of ``markup`` comes from user text, and each of ``shown``
    reads as text (modulo what a view drops on purpose: control characters)."""
    page = _Page(markup)
    assert set(page.tags) <= TAGS, set(page.tags) - TAGS
    assert set(page.attrs) <= ATTRS, set(page.attrs) - ATTRS
    assert not any(a.startswith("on") for a in page.attrs)
    flat = _XML_INVALID.sub("", page.text)
    for text in shown:
        for part in _XML_INVALID.sub("", text).split("\n"):
            if part.strip():
                assert part.strip()[:200] in flat, (part[:80], flat[:300])
    return page


def a_view(name: str, reason: str, attempt_reason: str, *, status: JobStatus) -> JobView:
    attempt = AttemptView(
        job_id=f"id-{name}",
        number=1,
        compute_environment="default",
        backend="local",
        created_at=1000.0,
        started_at=1001.0,
        stopped_at=1002.0,
        exit_code=1,
        reason=attempt_reason,
        status_reason=None,
        handle=None,
        log_path=None,
    )
    return JobView(
        id=f"id-{name}",
        name=name,
        definition_name=name,
        revision=1,
        run_id="run-1",
        queue="default",
        status=status,
        status_reason=reason,
        created_at=1000.0,
        started_at=1001.0,
        stopped_at=1002.0,
        attempts=(attempt,),
        parent_id=None,
        array_index=None,
        array_size=None,
        children=(),
        depends_on=(),
        max_attempts=1,
        cached_from=None,
    )


statuses = st.sampled_from(list(JobStatus))


@FUZZ
@given(name=hostile_text, reason=hostile_text, attempt_reason=hostile_text, status=statuses)
def test_job_cards_show_hostile_text_as_text(
    name: str, reason: str, attempt_reason: str, status: JobStatus
) -> None:
    v = a_view(name, reason, attempt_reason, status=status)
    assert_inert(job_html(v), name, reason, attempt_reason)


@FUZZ
@given(script=hostile_text, argv=st.lists(hostile_text, min_size=1, max_size=3), env=hostile_text)
def test_definition_sheets_show_hostile_text_as_text(
    script: str, argv: list[str], env: str
) -> None:
    for command in (script, argv):
        try:
            d = JobDefinition.create(
                "d", command=command, environment={"MODE": env}, user=env or None, image=env or None
            )
        except SpecError:
            continue  # refused values (NUL, ...) never reach a view
        sheet = definition_html(d)
        assert_inert(sheet, env)
        if isinstance(command, str) and command.strip():
            assert_inert(sheet, command)
        assert_inert(registry_html("/s<t>", "local", [d], 1), d.name)


@settings(FUZZ, max_examples=200)
@given(name=hostile_text, reason=hostile_text, attempt_reason=hostile_text, status=statuses)
def test_tables_show_hostile_text_as_text(
    name: str, reason: str, attempt_reason: str, status: JobStatus
) -> None:
    v = a_view(name, reason, attempt_reason, status=status)
    for frame in (jobs_frame([v]), attempts_frame([v])):
        page = _Page(frame.to_html())
        assert "script" not in page.tags and not any(a.startswith("on") for a in page.attrs)
        page = _Page(frame._repr_html_())
        assert "script" not in page.tags and not any(a.startswith("on") for a in page.attrs)


@settings(FUZZ, max_examples=150)
@given(reason=hostile_text, attempt_reason=hostile_text, status=statuses)
def test_the_svg_graph_shows_hostile_reasons_as_text(
    reason: str, attempt_reason: str, status: JobStatus
) -> None:
    graph = pytest.importorskip("kadam_nb.display.graph")
    views = [
        a_view("extract", reason, attempt_reason, status=status),
        dataclasses.replace(a_view("report", reason, "", status=JobStatus.PENDING)),
    ]
    svg = graph.to_svg(graph.jobs_graph(views))
    root = ET.fromstring(svg)  # well-formed XML, whatever the text
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        assert tag not in ("script", "foreignObject", "iframe"), tag
        assert not any(k.rsplit("}", 1)[-1].startswith("on") for k in element.attrib)
        assert not any(v.strip().lower().startswith("javascript:") for v in element.attrib.values())
    texts = " ".join(
        t for e in root.iter() for t in (e.text, e.get("{http://www.w3.org/1999/xlink}title")) if t
    )
    if "<script>" in reason:
        assert "<script>" in texts  # shown, as text


# ---------------------------------------------------------------------------------------------
# The dashboard


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from kadam_nb.notebook.config import Kadam
    from kadam_nb.notebook.dashboard import Dashboard

    monkeypatch = pytest.MonkeyPatch()
    from tests.support.comms import recording_comms

    recording_comms(monkeypatch)
    reg = Registry(state_dir=Path(tmp_path_factory.mktemp("dash")) / "s", backend="local")
    reg.register("x", command="echo hi", environment={"API_TOKEN": "tok-SECRET-1234"})
    run = reg.run()
    assert run.wait(timeout=60)
    dash = Dashboard(reg, run, Kadam())
    assert dash.wait_idle(10)
    yield dash
    dash.close()
    reg.close()
    monkeypatch.undo()


@settings(FUZZ, max_examples=500)
@given(
    lines=st.lists(hostile_text, min_size=1, max_size=5),
    stream=st.sampled_from(["stdout", "stderr"]),
    reason=hostile_text,
)
def test_dashboard_panes_and_table_show_hostile_text_as_text(
    dashboard: Any, lines: list[str], stream: str, reason: str
) -> None:
    from kadam_nb.notebook.dashboard import _cut, _Pane, clean_log_text

    job_id = next(iter(dashboard._views))
    pane = _Pane(job_id, "x", False, 200)
    pane.add(job_id, 1, stream, [*lines, "token tok-SECRET-1234 leaked"], "")
    markup = dashboard._pane_html(pane)
    page = assert_inert(
        markup, *(clean_log_text(_cut("", line))[:200] for line in lines if "tok-" not in line)
    )
    assert "tok-SECRET-1234" not in markup and "\x1b" not in markup and "\x00" not in markup
    assert "<script" not in markup
    assert page.tags.count("pre") == 1

    original = dashboard._views[job_id]
    dashboard._views[job_id] = dataclasses.replace(original, status_reason=reason)
    try:
        table = dashboard._table_html(time.time())
    finally:
        dashboard._views[job_id] = original
    assert_inert(table, reason)


def test_a_job_printing_hostile_lines_shows_them_as_text(reg: Registry, sent: list[Msg]) -> None:
    """End to end: NUL bytes, markup, ANSI, a 100,000-character line, from a real process."""
    from kadam_nb.notebook.config import Kadam
    from kadam_nb.notebook.dashboard import Dashboard

    reg.register(
        "hostile",
        command=(
            "printf 'a\\000b <script>alert(1)</script> & \"q\" '\"'\"'s\\n'; "
            "printf '\\033[1;31mbold red\\033[0m\\n' >&2; "
            "head -c 100000 /dev/zero | tr '\\0' x; echo"
        ),
    )
    run = reg.run()
    dash = Dashboard(reg, run, Kadam())
    assert run.wait(timeout=60) and dash.wait_idle(10)
    value = dash.panes["hostile"].value
    page = assert_inert(value, 'b <script>alert(1)</script> & "q" \'s', "bold red")
    assert "<script" not in value and "\x00" not in value and "\x1b" not in value
    assert "more characters" in page.text  # the long line is cut, and says so
    for m in sent:
        if m.msg_type == "comm_msg":
            assert "<script>" not in str(m.data)
    dash.close()

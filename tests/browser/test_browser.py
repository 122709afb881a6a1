"""The notebook surface in a real browser: JupyterLab 4 and Notebook 7 in headless chromium,
jobs in Docker. What a person sees: the dashboard after "Run All", log lines arriving while a
job runs, a page that stays usable under a log flood, the Cancel / Terminate buttons, and the
job-definition form filled in field by field.

Every check waits for a DOM condition (generous timeouts; the wait ends as soon as it holds).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.jupyter import (
    RUN_TIMEOUT,
    UIS,
    NotebookPage,
    dash_state,
    row_of,
    wait_dash,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

OpenNotebook = Callable[[str, str], NotebookPage]


# ---------------------------------------------------------------------------------------------
# 1. The quick start, and lines arriving live


@pytest.mark.parametrize("ui", UIS)
def test_quickstart_run_all(ui: str, open_notebook: OpenNotebook, shoot: Any) -> None:
    nb = open_notebook(ui, "01-quickstart.ipynb")
    nb.run_all()
    page = nb.page
    # The dashboard comes up (its graph drawn) while the run goes on. A picture of it mid-run:
    # wait until some job has succeeded and some has not, or the run is over (then no picture;
    # this is for the docs, not a check).
    wait_dash(page, "s.hasGraph && s.nodes.length === 3")
    state = wait_dash(
        page,
        "s.nodes.some(n => n.text.includes('SUCCEEDED')) && ("
        " s.nodes.some(n => !n.text.includes('SUCCEEDED')) || s.panes.join().includes('143 6'))",
    )
    if not all("SUCCEEDED" in n["text"] for n in state["nodes"]):
        shoot(page.locator(".kadam-dash").last, f"{ui}-quickstart-dashboard-live")
    # Graph, table and panes are separate widgets, each updated on its own: wait for all three.
    state = wait_dash(
        page,
        "s.nodes.length === 3 && s.nodes.every(n => n.text.includes('SUCCEEDED'))"
        " && ['extract', 'clean', 'report'].every("
        "      j => s.rows.some(r => r[0] === j && r[1] === 'SUCCEEDED'))"
        " && s.panes.join('\\n').includes('143 6')",
    )
    texts = " | ".join(n["text"] for n in state["nodes"])
    for job in ("extract", "clean", "report"):
        assert job in texts, texts
    assert "4/4 done" in texts  # the array as one node, with its progress
    assert "RUNNING" not in texts and "FAILED" not in texts, texts
    panes = "\n".join(state["panes"])
    assert "extract: wrote 1000 rows to raw.csv" in panes
    assert all(f"clean[{i}]: shard {i} has 250 rows" in panes for i in range(4)), panes
    assert "report: rows per remainder (value mod 7):" in panes
    for job in ("extract", "clean", "report"):
        assert row_of(state, job)[1] == "SUCCEEDED", state["rows"]
    nb.wait_all_executed()
    assert nb.errors() == []
    shoot(page.locator(".kadam-dash .kadam-graph svg").last, f"{ui}-quickstart-graph")
    shoot(page.locator(".kadam-dash").last, f"{ui}-quickstart-dashboard-done")


@pytest.mark.parametrize("ui", UIS)
def test_log_lines_arrive_while_the_job_runs(ui: str, open_notebook: OpenNotebook) -> None:
    nb = open_notebook(ui, "live.ipynb")
    nb.run_all()
    page = nb.page
    # `tick 1` shows while `tick 5` has not been printed yet (the job prints one a second).
    state = wait_dash(
        page,
        "s.panes.length === 1 && s.panes[0].includes('tick 1') && !s.panes[0].includes('tick 5')",
    )
    # (The table may lag a tick behind the pane: the job is not over, whatever it says yet.)
    assert row_of(state, "ticker")[1] not in ("SUCCEEDED", "FAILED"), state["rows"]
    state = wait_dash(
        page,
        "s.panes[0].includes('tick 5') && s.rows.length && s.rows[0][1] === 'SUCCEEDED'",
    )
    assert [f"tick {i}" in state["panes"][0] for i in range(1, 6)] == [True] * 5
    assert "Showing 5 lines" in state["foots"][0]


# ---------------------------------------------------------------------------------------------
# 2. A log flood: the page stays usable, nothing is dropped by the server's rate limit


@pytest.mark.parametrize("ui", UIS)
def test_log_flood_keeps_the_page_responsive(ui: str, open_notebook: OpenNotebook) -> None:
    nb = open_notebook(ui, "flood.ipynb")
    page = nb.page
    nb.run_all()
    wait_dash(page, "s.rows.length && s.rows[0][1] === 'RUNNING'")
    # While the job floods its log (200,000 lines in bursts, ~4 s): the page answers a script
    # round trip, and a click on a cell makes that cell the active one, each within 1 s.
    cells = page.locator(".jp-Notebook .jp-Cell")
    probes: list[tuple[float, float, bool]] = []
    target = 0
    while True:
        running = (dash_state(page) or {}).get("rows", [[None, ""]])[0][1] == "RUNNING"
        if not running and probes:
            break
        started = time.monotonic()
        page.evaluate("() => document.querySelectorAll('.kadam-log').length")
        round_trip = time.monotonic() - started
        target = 1 if target != 1 else cells.count() - 1  # alternate: 2nd cell / last cell
        prompt = cells.nth(target).locator(".jp-InputPrompt")  # selects it, no edit mode
        started = time.monotonic()
        prompt.click()
        page.wait_for_function(
            "(i) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
            ".classList.contains('jp-mod-active')",
            arg=target,
            timeout=10_000,
            polling="raf",
        )
        probes.append((round_trip, time.monotonic() - started, running))
        if len(probes) > 200:
            break
    during = [p for p in probes if p[2]]
    assert during, f"no probe landed while the job ran: {probes}"
    print(
        f"{len(probes)} probes ({len(during)} while the job ran): round trip max "
        f"{max(p[0] for p in probes):.3f} s, click to active cell max "
        f"{max(p[1] for p in probes):.3f} s"
    )
    slow = [p for p in probes if p[0] > 1.0 or p[1] > 1.0]
    assert not slow, f"the page took more than 1 s to answer: {slow} of {probes}"
    state = wait_dash(page, "s.rows.length && s.rows[0][1] === 'SUCCEEDED'")
    state = wait_dash(page, "s.panes[0].includes('200000')")
    tail = state["panes"][0].split()
    assert "200000" in tail and "199999" in tail
    assert "of 200,000 lines" in state["foots"][0]  # the footer counts every line
    nb.wait_all_executed()
    text = page.evaluate("() => document.body.textContent")
    assert "IOPub message rate exceeded" not in text
    assert "IOPub data rate exceeded" not in text


# ---------------------------------------------------------------------------------------------
# 3. The buttons


def _button(root: Any, label: str) -> Any:
    """The button whose text is ``label`` (its Font Awesome icon, drawn by CSS, is part of its
    accessible name but not of its text)."""
    return root.locator("button", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))


def _open_tab(dash: Any, job: str) -> Any:
    """Click the dashboard's tab of ``job``; its panel (buttons and log pane), once shown."""
    from playwright.sync_api import expect

    tab = dash.locator(".lm-TabBar-tab", has_text=job)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    panel = dash.locator(".widget-tab-contents > .widget-box:not(.lm-mod-hidden)")
    expect(panel).to_have_count(1)
    expect(panel.locator(".kadam-foot")).to_contain_text(f"%kadam logs {job}")
    return panel


@pytest.mark.parametrize("ui", UIS)
def test_cancel_and_terminate_buttons(ui: str, open_notebook: OpenNotebook, shoot: Any) -> None:
    """AWS Batch's rules: CancelJob only affects jobs that have not started (``second`` waits
    for ``first``, so it can be cancelled); a job that runs is stopped with TerminateJob (the
    dashboard disables a running job's Cancel button)."""
    from playwright.sync_api import expect

    nb = open_notebook(ui, "buttons.ipynb")
    page = nb.page
    nb.run_all()
    wait_dash(page, "s.panes.length === 2 && s.panes[0].includes('started')")
    dash = page.locator(".kadam-dash").last

    second = _open_tab(dash, "second")
    _button(second, "Cancel").click()
    state = wait_dash(
        page,
        "s.rows.some(r => r[0] === 'second' && r[1] === 'FAILED'"
        " && r[2].includes('Cancelled by user'))",
    )
    assert row_of(state, "first")[1] == "RUNNING", state["rows"]
    shoot(dash, f"{ui}-buttons-dashboard-live")

    first = _open_tab(dash, "first")
    expect(_button(first, "Cancel")).to_be_disabled()  # it runs: only Terminate can stop it
    _button(first, "Terminate").click()
    state = wait_dash(
        page,
        "s.rows.some(r => r[0] === 'first' && r[1] === 'FAILED'"
        " && r[2].includes('Terminated by user'))",
        timeout=RUN_TIMEOUT,
    )
    assert "Cancelled by user" in row_of(state, "second")[2]
    nb.wait_all_executed()


# ---------------------------------------------------------------------------------------------
# 4. The job-definition form (``%kadam form``)


def _field(root: Any, key: str, inner: str = "input") -> Any:
    """The <input>/<textarea>/<select> inside the widget with class ``kadam-field-<key>``
    (ipywidgets put the class on the widget's outer element)."""
    return root.locator(f".kadam-field-{key} {inner}").first


def _error(root: Any, key: str) -> Any:
    return root.locator(f".kadam-error-{key}").first


@pytest.mark.parametrize("ui", UIS)
def test_job_definition_form(
    ui: str, open_notebook: OpenNotebook, page: Any, shoot: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 2800})  # the whole form in one picture
    nb = open_notebook(ui, "form.ipynb")
    page = nb.page
    nb.run_all()
    form = page.locator(".kadam-form").last
    expect(form).to_be_visible(timeout=RUN_TIMEOUT)

    # Text inputs sync on every keystroke (continuous_update): fill() types the whole value
    # and fires the input event, as a person typing would.
    _field(form, "name").fill("from-form")
    _field(form, "image").fill("busybox:1.36")
    _field(form, "command", "textarea").fill("echo hello from the form; echo $GREETING")

    memory = _field(form, "memory")
    memory.fill("12q")
    expect(_error(form, "memory")).to_have_text(re.compile(r"\S"), timeout=RUN_TIMEOUT)
    expect(_button(form, "Create job definition")).to_be_disabled()
    memory.fill("64")
    expect(_error(form, "memory")).to_have_text("", timeout=RUN_TIMEOUT)

    add_variable = _button(form, "Add variable")
    add_variable.click()
    expect(form.locator(".kadam-env-name")).to_have_count(1, timeout=RUN_TIMEOUT)
    add_variable.click()
    expect(form.locator(".kadam-env-name")).to_have_count(2, timeout=RUN_TIMEOUT)
    for i, (key, value) in enumerate((("GREETING", "hi"), ("OTHER", "x"))):
        form.locator(".kadam-env-name input").nth(i).fill(key)
        form.locator(".kadam-env-value input").nth(i).fill(value)

    host = tmp_path / "data"
    host.mkdir()
    _button(form, "Add volume").click()
    expect(form.locator(".kadam-vol-host")).to_have_count(1, timeout=RUN_TIMEOUT)
    form.locator(".kadam-vol-host input").first.fill(str(host))
    form.locator(".kadam-vol-container input").first.fill("/data")
    form.locator(".kadam-vol-ro input[type=checkbox]").first.check()

    _field(form, "depends-on", "select").select_option(label="upstream")

    # Valid now: every error label is empty, and the buttons (disabled while a problem remains)
    # are enabled.
    for key in ("name", "image", "command", "memory", "depends-on"):
        expect(_error(form, key)).to_have_text("")
    problems = form.locator(".kadam-error-env, .kadam-error-vol").filter(has_text=re.compile(r"\S"))
    expect(problems).to_have_count(0)
    create = _button(form, "Create job definition")
    expect(create).to_be_enabled(timeout=RUN_TIMEOUT)
    shoot(form, f"{ui}-form")
    create.click()
    status = form.locator(".kadam-form-status").first
    expect(status).to_contain_text("revision 1", timeout=RUN_TIMEOUT)
    # What was registered, as a cell: every field filled in above made it.
    _button(form, "Show as code").click()
    expect(form.locator(".kadam-code-cell textarea")).to_have_value(
        re.compile(
            r"^%%kadam job from-form --image busybox:1\.36 --depends-on upstream --memory 64 "
            rf"--env GREETING=hi --env OTHER=x --volume {re.escape(str(host))}:/data:ro\n"
            r"echo hello from the form; echo \$GREETING"
        ),
        timeout=RUN_TIMEOUT,
    )

    _button(form, "Submit job").click()
    root = ".kadam-form .kadam-form-output"
    state = wait_dash(
        page,
        "s.rows.some(r => r[0] === 'from-form' && r[1] === 'SUCCEEDED')"
        " && s.panes.join('\\n').includes('hello from the form\\nhi')",
        root=root,
    )
    assert row_of(state, "upstream")[1] == "SUCCEEDED", state["rows"]
    panes = "\n".join(state["panes"])
    assert "hello from the form\nhi" in panes, panes

"""The live dashboard, in process: a real Registry running local processes, widgets without a
frontend, and the comm messages a browser would receive, recorded.

ipywidgets 8 creates each widget's comm through ``comm.create_comm``, which the ``comm`` package
documents as the hook to replace; without a kernel it makes a ``DummyComm`` whose messages go
nowhere. The ``sent`` fixture replaces it with a comm that records every message instead, so the
tests read what would reach the browser, from which thread and when.
"""

from __future__ import annotations

import html
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kadam_nb.core.states import JobStatus
from kadam_nb.core.views import LogLines
from kadam_nb.facade import Registry
from kadam_nb.notebook.config import Kadam
from kadam_nb.notebook.dashboard import PUMP_THREAD_NAME, Dashboard, clean_log_text
from tests.support.comms import Msg

S = JobStatus


@pytest.fixture
def dashboards() -> Iterator[list[Dashboard]]:
    made: list[Dashboard] = []
    yield made
    for d in made:
        d.close()


def updates(messages: list[Msg], widget: Any) -> list[dict[str, Any]]:
    """The state updates the browser received for ``widget``."""
    return [
        m.data["state"]
        for m in messages
        if m.msg_type == "comm_msg" and m.comm_id == widget.comm.comm_id and "state" in m.data
    ]


def pane_lines(value: str) -> list[str]:
    """The log lines of a pane as a browser shows them (tags removed, entities decoded)."""
    match = re.search(r"<pre>(.*)</pre>", value, re.S)
    assert match, value
    text = re.sub(r"<[^>]+>", "", match.group(1))
    return [html.unescape(line) for line in text.split("\n")]


def poll(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def graph_available() -> bool:
    try:
        import kadam_nb.display.graph  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def pump_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == PUMP_THREAD_NAME]


# ---------------------------------------------------------------------------------------------


def test_widgets_work_without_a_kernel(sent: list[Msg]) -> None:
    import ipywidgets as widgets

    h = widgets.HTML("a")
    h.value = "b"
    assert updates(sent, h) == [{"value": "b"}]


def own_threads() -> set[threading.Thread]:
    """Threads other than the local backend's workers (which it reuses, and which end after
    a while idle)."""
    return {t for t in threading.enumerate() if not t.name.startswith("kadam-local-")}


def test_a_run_of_three_jobs_ends_complete(reg: Registry, sent: list[Msg]) -> None:
    reg.register("extract", command="echo alpha 1; echo alpha 2")
    reg.register("clean", command="echo beta out; echo beta err >&2", depends_on=["extract"])
    reg.register("report", command="echo gamma", depends_on=["extract"])
    run = reg.run()
    before = own_threads()
    dash = Dashboard(reg, run, Kadam())
    built = time.monotonic()
    assert dash.mode == "live" and dash.pump_alive
    assert len(pump_threads()) >= 1 and pump_threads()[0].daemon
    assert run.wait(timeout=30)
    assert dash.wait_idle(10)
    assert dash.done and not dash.pump_alive
    assert own_threads() <= before  # the dashboard leaves no thread behind
    assert dash._observe not in reg._scheduler._observers  # unsubscribed

    assert (dash.progress.value, dash.progress.max) == (3, 3)
    assert dash.progress.description == "3/3" and dash.progress.bar_style == "success"
    assert dash.table.value.count(">SUCCEEDED<") == 3
    for name in ("extract", "clean", "report"):
        assert f"<td>{name}</td>" in dash.table.value
    assert pane_lines(dash.panes["extract"].value) == ["alpha 1", "alpha 2"]
    assert sorted(pane_lines(dash.panes["clean"].value)) == ["beta err", "beta out"]
    assert '<span class="kadam-stderr">beta err</span>' in dash.panes["clean"].value
    assert pane_lines(dash.panes["report"].value) == ["gamma"]
    assert "%kadam logs extract" in dash.panes["extract"].value
    assert "2 lines" in dash.panes["extract"].value
    if graph_available():
        assert "<svg" in dash.graph.value and dash.redraws >= 1
    else:
        assert "<li>" in dash.graph.value
    assert all(b.disabled for c in dash.jobs.values() for b in (c.cancel, c.terminate))
    assert dash.cancel_button.disabled and dash.terminate_button.disabled
    assert "finished" in dash.elapsed.value

    # what the browser received: the last value sent is the value shown, and every update
    # after the dashboard was returned came from the pump thread
    assert updates(sent, dash.panes["extract"])[-1]["value"] == dash.panes["extract"].value
    late = [m for m in sent if m.msg_type == "comm_msg" and m.at > built]
    assert late and {m.thread for m in late} == {PUMP_THREAD_NAME}
    assert dash.updates_sent >= len(late) > 0


def test_a_pane_follows_the_log_while_the_job_runs(reg: Registry, sent: list[Msg]) -> None:
    reg.register("ticker", command="for i in 1 2 3 4 5; do echo line $i; sleep 0.5; done")
    run = reg.run()
    dash = Dashboard(reg, run, Kadam())
    pane = dash.panes["ticker"]
    assert poll(lambda: "line 1" in pane.value, timeout=10)
    assert not reg.job("ticker").done, "line 1 must show while the job still runs"
    assert "RUNNING" in dash.table.value
    assert run.wait(timeout=30) and dash.wait_idle(10)
    assert pane_lines(pane.value) == [f"line {i}" for i in range(1, 6)]
    # a running job's duration and the run's clock were updated while it ran
    assert len(updates(sent, dash.elapsed)) >= 2


@pytest.mark.parametrize(
    ("command", "n"),
    [
        # all at once (about 0.1 s), once the dashboard is up: few events of 64 KiB each
        ("sleep 0.3; seq 200000", 200_000),
        # the same lines in 20 bursts over about 2 s: the pump has to tick many times
        (
            "for k in $(seq 0 19); do seq $((k*10000+1)) $((k*10000+10000)); sleep 0.1; done",
            200_000,
        ),
        # one line every few ms, each its own event: many more events than updates
        ("i=1; while [ $i -le 400 ]; do echo $i; i=$((i+1)); sleep 0.004; done", 400),
    ],
    ids=["at-once", "bursts", "trickle"],
)
def test_a_flood_of_lines_stays_cheap_and_rate_limited(
    reg: Registry, sent: list[Msg], command: str, n: int, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Kadam()
    events: list[int] = []
    unsubscribe = reg.subscribe(
        lambda e: events.append(len(e.lines)) if isinstance(e, LogLines) else None
    )
    reg.register("flood", command=command)
    run = reg.run()
    dash = Dashboard(reg, run, settings)
    assert dash.mode == "live"
    assert run.wait(timeout=60) and dash.wait_idle(20)
    unsubscribe()
    assert dash.finished_at is not None
    elapsed = dash.finished_at - dash.created_at

    on_disk = reg.job("flood").logs()
    assert on_disk.count("\n") == n
    pane = dash.panes["flood"]
    shown = pane_lines(pane.value)
    assert shown == [str(i) for i in range(n - settings.log_lines + 1, n + 1)]
    assert f"the last {settings.log_lines:,} of {n:,} lines" in pane.value
    state = dash._panes[reg.job("flood").id]
    assert state.lines.maxlen == settings.log_lines and state.total == n

    # at most updates_per_second ticks a second wrote anything; one write per widget per tick
    assert dash.ticks_with_writes <= dash.updates_per_second * elapsed + 2
    pane_updates = updates(sent, pane)
    assert len(pane_updates) <= dash.ticks_with_writes
    assert max(len(u["value"]) for u in pane_updates) < 20_000  # one bounded view per update
    if elapsed > 1:
        assert len(pane_updates) >= 3  # it did follow the log as it grew
    assert sum(events) == n
    if n == 400:  # coalesced: far fewer updates than events
        assert len(events) > 3 * len(pane_updates)
    with capsys.disabled():
        print(
            f"\n[dashboard flood, {command[:12]}...] {n:,} lines in {len(events):,} events: "
            f"run+dashboard {elapsed:.2f} s, {dash.ticks} ticks, {dash.ticks_with_writes} with "
            f"writes, {dash.updates_sent} trait writes, {len(pane_updates)} pane updates, "
            f"{dash.redraws} graph redraws, "
            f"{len([m for m in sent if m.msg_type == 'comm_msg'])} comm messages"
        )


def test_log_lines_and_reasons_are_escaped_and_ansi_stripped(
    reg: Registry, sent: list[Msg]
) -> None:
    reg.register(
        "x",
        command=(
            "printf '<script>alert(1)</script>\\n'; "
            "printf '\\033[31mred\\033[0m plain \\033]0;title\\007end\\n'; "
            "printf 'err <b>bold</b> & more\\n' >&2; "
            "printf 'token=%s\\n' \"$API_TOKEN\"; "
            "printf '10%%\\r50%%\\r100%%\\n'"
        ),
        environment={"API_TOKEN": "s3cr3t-value-42"},
    )
    reg.register("sleeper", command="sleep 30")
    run = reg.run()
    dash = Dashboard(reg, run, Kadam())
    assert poll(lambda: reg.job("sleeper").status == S.RUNNING)
    evil = "<img src=x onerror=alert(2)>"
    assert reg.terminate("sleeper", evil)
    assert run.wait(timeout=30) is False and dash.wait_idle(10)

    value = dash.panes["x"].value
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in value
    assert "<script" not in value and "<b>" not in value
    assert "\x1b" not in value and "\x07" not in value and "\r" not in value
    lines = pane_lines(value)
    assert "red plain end" in lines
    assert "err <b>bold</b> & more" in lines  # shown as text
    assert "100%" in lines
    assert "s3cr3t-value-42" not in value and "token=" + "••••••" in lines
    table = dash.table.value
    assert html.escape(evil) in table and "<img" not in table
    for m in sent:
        if m.msg_type == "comm_msg":
            text = str(m.data)
            assert "<script>" not in text and "<img" not in text and "s3cr3t" not in text


def test_clean_log_text() -> None:
    assert clean_log_text("\x1b[1;32mok\x1b[0m") == "ok"
    assert clean_log_text("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"
    assert clean_log_text("half\r") == "half"
    assert clean_log_text("tab\there\x00\x08") == "tab\there"


def test_a_long_progress_bar_line_shows_its_last_state() -> None:
    """tqdm-style output: one line of many ``\r`` redraws, longer than a pane shows whole."""
    from kadam_nb.notebook.dashboard import MAX_LINE_CHARS, _Pane

    redraws = "".join(f"\rtraining {p:3d}% |{'#' * (p // 5):<20}|" for p in range(101))
    assert len(redraws) > MAX_LINE_CHARS
    pane = _Pane("j", "train", is_array=True, maxlen=10)
    pane.add("j:0", 1, "stdout", [redraws, "x" * (MAX_LINE_CHARS + 5)], "[0] ")
    shown = [clean_log_text(text) for _, text in pane.lines]
    assert shown[0] == "[0] training 100% |" + "#" * 20 + "|"
    assert shown[1] == "[0] " + "x" * (MAX_LINE_CHARS - 4) + " … (9 more characters)"


def test_buttons_cancel_and_terminate(reg: Registry, sent: list[Msg]) -> None:
    reg.register("slow", command="echo started; sleep 30")
    reg.register("after", command="echo never", depends_on=["slow"])
    run = reg.run()
    dash = Dashboard(reg, run, Kadam())
    assert poll(lambda: "started" in dash.panes["slow"].value)
    assert reg.job("after").status == S.PENDING
    assert not dash.jobs["slow"].terminate.disabled and not dash.jobs["after"].cancel.disabled

    dash.jobs["slow"].cancel.click()  # a running job cannot be cancelled: said so, in red
    assert dash.wait_idle(5)
    assert "slow was not cancelled" in dash.status.value and "kadam-error" in dash.status.value

    dash.jobs["after"].cancel.click()
    assert reg.job("after").status == S.FAILED
    dash.jobs["slow"].terminate.click()
    assert run.wait(timeout=15) is False
    assert dash.wait_idle(10)
    slow, after = reg.job("slow"), reg.job("after")
    assert slow.status == S.FAILED and "Terminated by user" in slow.status_reason
    assert after.status_reason.startswith("Cancelled by user")
    table = dash.table.value
    assert html.escape(slow.status_reason) in table
    assert html.escape(after.status_reason) in table
    assert "Terminating slow" in dash.status.value
    assert dash.progress.bar_style == "danger"
    assert dash.cancel_button.disabled and dash.terminate_button.disabled
    assert all(b.disabled for c in dash.jobs.values() for b in (c.cancel, c.terminate))
    status_writers = {
        m.thread for m in sent if m.comm_id == dash.status.comm.comm_id and m.msg_type == "comm_msg"
    }
    assert status_writers == {PUMP_THREAD_NAME}


def test_run_buttons_and_errors_are_shown(reg: Registry, sent: list[Msg]) -> None:
    reg.register("a", command="sleep 30")
    reg.register("b", command="sleep 30")
    reg.register("c", command="true", depends_on=["a"])
    run = reg.run()
    dash = Dashboard(reg, run, Kadam())
    assert poll(lambda: all(reg.job(n).status == S.RUNNING for n in ("a", "b")))
    dash.cancel_button.click()  # only c has not started
    assert reg.job("c").status == S.FAILED and reg.job("a").status == S.RUNNING
    assert dash.wait_idle(5) and "Cancelled 1 job of this run" in dash.status.value
    dash.terminate_button.click()
    assert run.wait(timeout=15) is False and dash.wait_idle(10)
    assert all(j.status == S.FAILED for j in run.jobs)
    # an error in a callback after the run: shown in the status line, not swallowed
    reg.close()
    dash.jobs["a"].terminate.click()
    assert "Terminate a failed" in dash.status.value and "closed" in dash.status.value
    assert "kadam-error" in dash.status.value


def test_an_array_has_one_pane_and_counts_its_children(reg: Registry) -> None:
    reg.register("arr", command="echo child $AWS_BATCH_JOB_ARRAY_INDEX", array_size=3)
    reg.register("last", command="echo done", depends_on=["arr"])
    run = reg.run()
    dash = Dashboard(reg, run, Kadam())
    assert run.wait(timeout=30) and dash.wait_idle(10)
    assert (dash.progress.value, dash.progress.max) == (4, 4)  # 3 children + last, no parent
    assert sorted(pane_lines(dash.panes["arr"].value)) == [f"[{i}] child {i}" for i in range(3)]
    assert set(dash.panes) == {"arr", "last"}
    assert "<td>arr[2]</td>" in dash.table.value and "3 SUCCEEDED" in dash.table.value
    assert "%kadam logs arr[i]" in dash.panes["arr"].value
    parent = reg.job("arr").id
    assert f"reg.job(&quot;{parent}&quot;).children[i].logs()" in dash.panes["arr"].value


def test_a_finished_run_is_rendered_after_the_fact(reg: Registry, state_dir: Path) -> None:
    reg.register("one", command="seq 5; echo oops >&2; exit 2", attempts=2)
    reg.register("two", command="echo two", depends_on=["one"])
    run = reg.run()
    assert run.wait(timeout=30) is False
    settings = Kadam(log_lines=10)

    def check(dash: Dashboard) -> None:
        assert dash.mode == "static" and not dash.pump_alive and dash.done
        # the last 10 rows of both attempts, the separator included
        assert pane_lines(dash.panes["one"].value) == [
            *("4", "5", "oops", "--- attempt 2 ---", "1", "2", "3", "4", "5", "oops")
        ]
        assert "the last 9 of 12 lines" in dash.panes["one"].value
        assert '<span class="kadam-stderr">oops</span>' in dash.panes["one"].value
        assert pane_lines(dash.panes["two"].value) == ["no output"]
        assert "2/2" in dash.table.value  # attempt 2 of 2
        assert dash.progress.value == 2 and dash.progress.bar_style == "danger"
        assert dash.cancel_button.disabled

    before = own_threads()
    check(Dashboard(reg, run.id, settings))
    assert not own_threads() - before  # a finished run's dashboard starts none
    reg.close()
    # a new kernel on the same state directory: the run is history
    with Registry(state_dir=state_dir, backend="local", max_vcpus=2) as again:
        check(Dashboard(again, run.id, settings))


def test_another_kernels_run_is_followed(
    reg: Registry, state_dir: Path, dashboards: list[Dashboard]
) -> None:
    reg.register("ticker", command="for i in 1 2 3; do echo tick $i; sleep 0.4; done")
    run = reg.run()
    with Registry(state_dir=state_dir, backend="local", read_only=True) as other:
        dash = Dashboard(other, run.id, Kadam())
        dashboards.append(dash)
        assert dash.mode == "follow"
        assert dash.jobs["ticker"].terminate.disabled  # it cannot control another's jobs
        assert poll(lambda: "tick 1" in dash.panes["ticker"].value)
        assert run.wait(timeout=30)
        assert dash.wait_idle(10) and dash.done
        assert pane_lines(dash.panes["ticker"].value) == ["tick 1", "tick 2", "tick 3"]
        assert "SUCCEEDED" in dash.table.value


def test_without_graphviz_the_graph_is_a_list(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg.register("solo", command="true")
    reg.register("next", command="true", depends_on=["solo"])
    run = reg.run()
    assert run.wait(timeout=30)
    monkeypatch.setitem(sys.modules, "kadam_nb.display.graph", None)
    dash = Dashboard(reg, run, Kadam())
    assert "<li>" in dash.graph.value and "<b>next</b>" in dash.graph.value
    assert "after solo" in dash.graph.value and "graph drawing unavailable" in dash.graph.value
    assert dash.redraws == 0


def test_close_stops_the_pump_and_unsubscribes(reg: Registry) -> None:
    reg.register("long", command="sleep 30")
    run = reg.run()
    dash = Dashboard(reg, run, Kadam())
    assert dash.pump_alive
    dash.close()
    assert not dash.pump_alive
    assert dash._observe not in reg._scheduler._observers
    reg.terminate("long")
    run.wait(timeout=15)


def test_an_unknown_run_is_refused_and_leaves_no_observer(reg: Registry) -> None:
    from kadam_nb.errors import NotFound

    observers = list(reg._scheduler._observers)
    with pytest.raises(NotFound, match="no run 'nope'"):
        Dashboard(reg, "nope", Kadam())
    assert reg._scheduler._observers == observers
    assert not pump_threads()


def test_displays_as_its_root_widget(reg: Registry) -> None:
    reg.register("shown", command="true")
    run = reg.run()
    assert run.wait(timeout=30)
    dash = Dashboard(reg, run, Kadam())
    bundle = dash._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == dash.widget.model_id
    assert "Dashboard run" in repr(dash)

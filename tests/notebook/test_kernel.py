"""The notebooks and the magics in a real kernel (nbclient / jupyter_client), on Docker."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

from tests.support.notebooks import execute, outputs_of


@pytest.fixture
def on_docker(docker_engine: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KADAM_BACKEND", "docker")
    monkeypatch.delenv("KADAM_STATE_DIR", raising=False)


def widget_html(notebook: Any) -> list[str]:
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return [w["state"].get("value", "") for w in state.values() if w["model_name"] == "HTMLModel"]


def test_quickstart_notebook(on_docker: None, tmp_path: Path) -> None:
    notebook = execute("01-quickstart.ipynb", tmp_path)
    status = outputs_of(notebook, "%kadam status")
    for job in ("extract", "clean", "clean[0]", "clean[3]", "report"):
        assert re.search(rf"{re.escape(job)}\s+SUCCEEDED", status), status
    assert "FAILED" not in status
    report = outputs_of(notebook, "%kadam logs report")
    assert "report: rows per remainder (value mod 7):" in report and "143 6" in report
    assert outputs_of(notebook, "%kadam logs clean[2]") == "clean[2]: shard 2 has 250 rows\n"
    # The dashboard as saved in the notebook: the final graph, and the panes with the output.
    html = widget_html(notebook)
    graphs = [h for h in html if "<svg" in h]
    assert graphs, "no graph in the saved widget state"
    final = graphs[-1]
    assert final.count("SUCCEEDED") >= 3 and "RUNNING" not in final and "FAILED" not in final
    assert "4/4 done" in final  # the array as one node with its progress
    panes = "\n".join(h for h in html if "kadam-log" in h)
    assert "extract: wrote 1000 rows to raw.csv" in panes
    assert all(f"clean[{i}]: shard {i} has 250 rows" in panes for i in range(4))
    assert "143 6" in panes


def test_pipeline_prototype_notebook(on_docker: None, tmp_path: Path) -> None:
    notebook = execute("03-pipeline-prototype.ipynb", tmp_path)  # its own asserts must pass
    status = outputs_of(notebook, "%kadam status")
    assert status.count("cached: same as job") >= 3
    assert "FAILED" not in status


def test_log_flood_keeps_the_kernel_and_the_page_calm(on_docker: None, tmp_path: Path) -> None:
    """1,000,000 lines: all on disk, at most 20 widget messages a second, < 100 MB growth."""
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    messages = {"comm_msg": 0}
    printed: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        kind = msg["header"]["msg_type"]
        if kind == "comm_msg":
            messages["comm_msg"] += 1
        elif kind == "stream":
            printed.append(msg["content"]["text"])
        elif kind == "error":
            raise AssertionError(msg["content"]["evalue"])

    def run(code: str) -> None:
        client.execute_interactive(code, output_hook=hook, timeout=300)

    try:
        run("%load_ext kadam_nb")
        run("%%kadam job flood --memory 256\nseq 1000000")
        run(  # VmHWM is this process's own peak (ru_maxrss would count the parent's at fork)
            "def status_mb(field):\n"
            "    status = open('/proc/self/status').read()\n"
            "    return int(status.split(field + ':')[1].split()[0]) // 1024\n"
            "before = status_mb('VmRSS')"
        )
        sent_before, started = messages["comm_msg"], time.monotonic()
        run("%kadam run flood --wait")
        elapsed = time.monotonic() - started
        sent = messages["comm_msg"] - sent_before
        printed.clear()
        run(
            "import kadam_nb\n"
            "peak = status_mb('VmHWM')\n"
            "job = kadam_nb.registry().job('flood')\n"
            "lines = sum(1 for _ in open(job.attempts[0].log_path))\n"
            "print(job.status.value, lines, before, peak)"
        )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    status, lines, before, peak = "".join(printed).split()
    assert status == "SUCCEEDED"
    assert int(lines) == 1_000_000
    assert int(peak) - int(before) < 100, f"kernel grew from {before} MB to a peak of {peak} MB"
    assert sent / elapsed <= 20, f"{sent} widget messages in {elapsed:.1f} s"


def test_concepts_notebook(on_docker: None, tmp_path: Path) -> None:
    """Every section's assert passes on Docker, and the pictures are there."""
    notebook = execute("02-batch-concepts.ipynb", tmp_path)
    assert "started in order: ['urgent', 'low-1', 'low-2']" in outputs_of(
        notebook, 'reg.create_queue("urgent", priority=10, compute_environments=["one-cpu"])'
    )
    kinds = [
        kind
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if "data" in out
        for kind in out.data
    ]
    assert kinds.count("image/svg+xml") >= 3  # lifecycle pictures and the graph
    assert "image/png" in kinds  # the timeline

"""Every Python example in the README runs as written, and the quick start works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kadam_nb as kadam

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_the_two_quick_start_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make (\w+)", quick, flags=re.M)
    assert commands == ["demo", "test"]


def test_readme_python_examples_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KADAM_BACKEND", "local")
    monkeypatch.setattr(kadam, "_default", None)
    namespace: dict[str, object] = {}
    try:
        for block in blocks:  # one session, in order, as a reader would type them
            exec(compile(block, "README.md", "exec"), namespace)
    finally:
        reg = namespace.get("reg")
        if isinstance(reg, kadam.Registry):
            reg.close()
    assert (tmp_path / ".kadam" / "kadam.db").is_file()


def test_make_demo_runs_the_pipeline(docker_engine: object, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["make", "--no-print-directory", "demo", f"DEMO_ARGS=--state-dir {tmp_path / 'state'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "on the docker backend" in out  # the engine answers, so auto picks Docker
    assert re.search(r"extract\s+SUBMITTED", out)
    assert re.search(r"clean\[2\]\s+RUNNABLE → STARTING", out)
    assert "| clean[3]: shard 3 has 250 rows" in out
    assert re.search(r"report\s+\|\s+143 6", out)
    assert ": SUCCEEDED" in out
    table = out.rsplit("(work directory", 1)[1]
    assert table.count("SUCCEEDED") == 7  # extract, clean, clean[0..3], report

"""notebooks/04-beyond-one-machine.ipynb in a real kernel: one pipeline run here (Docker),
on AWS Batch (moto_server) and on Slurm (a one-node cluster), changing only the compute
environment. The notebook's own asserts compare the three runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.notebooks import execute, outputs_of
from tests.support.slurm_cluster import PARTITION


def test_the_same_pipeline_here_on_aws_batch_and_on_slurm(
    docker_engine: object,
    moto_batch: Any,
    slurm_cluster: object,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KADAM_BACKEND", "docker")
    monkeypatch.delenv("KADAM_STATE_DIR", raising=False)
    monkeypatch.setenv("KADAM_AWS_ENDPOINT", moto_batch.url)
    monkeypatch.setenv("KADAM_AWS_JOB_QUEUE", moto_batch.job_queue)
    monkeypatch.setenv("AWS_DEFAULT_REGION", moto_batch.region)
    monkeypatch.setenv("KADAM_SLURM_PARTITION", PARTITION)
    notebook = execute("04-beyond-one-machine.ipynb", tmp_path)
    table = outputs_of(notebook, "import pandas as pd")
    for line in ("extract", "count", "report"):
        row = next(r for r in table.splitlines() if r.startswith(line))
        assert row.split()[1:] == ["SUCCEEDED"] * 3, table
    reports = outputs_of(notebook, 'assert (table["status"] == "SUCCEEDED").all(), table')
    assert reports.count("report: 300 numbers counted by 3 children") == 3, reports

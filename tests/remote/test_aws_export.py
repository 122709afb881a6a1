"""``%kadam export aws DIR`` / :mod:`kadam_nb.core.aws_export`: the pipeline as AWS requests,
and the submit script they come with, run for real against moto_server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from kadam_nb.core.aws_export import SUBMIT_SCRIPT, export_files, pipeline_document, placeholder
from kadam_nb.core.spec import JobDefinition
from kadam_nb.notebook.grammar import parse_verb
from tests.support.moto_server import FAKE_CREDENTIALS, MotoServer


def pipeline() -> dict[str, JobDefinition]:
    make = JobDefinition.create
    return {
        "extract": make("extract", image="busybox:1.36", command="echo extracted", memory=64),
        "clean": make(
            "clean",
            image="busybox:1.36",
            command="echo cleaned",
            memory=64,
            depends_on=["extract"],
            array_size=2,
            retries=2,
        ),
        "report": make(
            "report",
            image="busybox:1.36",
            command="echo reported",
            memory=64,
            depends_on=["clean"],
            environment={"API_TOKEN": "hunter2"},
        ),
    }


def test_the_document_and_its_files() -> None:
    doc, warnings = pipeline_document(pipeline(), "report", job_queue="my-queue")
    assert [b["jobDefinitionName"] for b in doc["jobDefinitions"]] == ["extract", "clean", "report"]
    jobs = doc["submitJobs"]
    assert jobs[1] == {
        "jobName": "clean",
        "jobQueue": "my-queue",
        "arrayProperties": {"size": 2},
        "dependsOn": [{"jobId": placeholder("extract")}],
        "jobDefinition": "clean",
    }
    assert jobs[2]["dependsOn"] == [{"jobId": "${clean}"}]
    assert doc["jobDefinitions"][1]["retryStrategy"] == {"attempts": 2}
    # a secret-looking value is masked, with a warning saying where it belongs on AWS
    env = doc["jobDefinitions"][2]["containerProperties"]["environment"]
    assert env[0]["name"] == "API_TOKEN" and env[0]["value"] != "hunter2"
    assert any("API_TOKEN" in w and "secrets" in w for w in warnings)
    files = export_files(doc)
    assert sorted(files) == [
        "definitions/clean.json",
        "definitions/extract.json",
        "definitions/report.json",
        "jobs/01-extract.json",
        "jobs/02-clean.json",
        "jobs/03-report.json",
        "pipeline.json",
        "submit.py",
    ]
    assert json.loads(files["jobs/02-clean.json"]) == jobs[1]
    assert json.loads(files["pipeline.json"]) == doc
    assert files["submit.py"] == SUBMIT_SCRIPT
    compile(SUBMIT_SCRIPT, "submit.py", "exec")


def test_the_magic_takes_a_directory() -> None:
    verb, args = parse_verb("export aws out/aws --file x.json")
    assert (verb, args.target, args.path, args.file) == ("export", "aws", "out/aws", "x.json")
    verb, args = parse_verb("export aws")
    assert args.path is None


@pytest.mark.docker
def test_the_submit_script_submits_the_pipeline_to_moto(
    moto_batch: MotoServer, tmp_path: Path
) -> None:
    """Run the written submit.py as a user would: every job submitted in order with the real
    ids in dependsOn, and the pipeline runs to the end on the emulator."""
    doc, _ = pipeline_document(pipeline())
    for relative, text in export_files(doc).items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    env = {**os.environ, **FAKE_CREDENTIALS}
    out = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "submit.py"),
            "--queue",
            moto_batch.job_queue,
            "--region",
            moto_batch.region,
            "--endpoint-url",
            moto_batch.url,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    ids = dict(line.split() for line in out.stdout.splitlines())
    assert list(ids) == ["extract", "clean", "report"]

    batch = boto3.client("batch", endpoint_url=moto_batch.url, region_name=moto_batch.region)
    described = {d["jobName"]: d for d in batch.describe_jobs(jobs=list(ids.values()))["jobs"]}
    assert described["clean"]["dependsOn"] == [{"jobId": ids["extract"]}]
    assert described["report"]["dependsOn"] == [{"jobId": ids["clean"]}]
    assert described["clean"]["arrayProperties"]["size"] == 2
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # all three: moto settles an array parent (releasing its dependents) when described
        answer = batch.describe_jobs(jobs=list(ids.values()))["jobs"]
        status = next(d["status"] for d in answer if d["jobId"] == ids["report"])
        if status in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.3)
    assert status == "SUCCEEDED"

    dry = subprocess.run(
        [sys.executable, str(tmp_path / "submit.py"), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert dry.returncode == 0 and dry.stdout.count("SubmitJob ") == 3

"""A whole pipeline as AWS Batch requests, for people who submit it by other means.

:func:`pipeline_document` turns registered definitions into one document: a
``RegisterJobDefinition`` body per definition and a ``SubmitJob`` body per job, in submission
order (parents before children), each ``dependsOn`` naming its upstream job by the placeholder
``"${name}"`` (AWS job ids exist only once SubmitJob answers). :func:`export_files` lays that
document out as files: ``pipeline.json`` (the document), ``definitions/NAME.json`` and
``jobs/NN-NAME.json`` (each usable with ``aws batch register-job-definition --cli-input-json``
and ``aws batch submit-job --cli-input-json``), and ``submit.py``, a small boto3 script that
registers the definitions, submits the jobs in order with the placeholders replaced by the ids
AWS returned, and prints them.

Secret-looking environment values and parameters are masked as in every other view
(:func:`~kadam_nb.core.aws.masked_export`): give them to AWS through ``secrets`` instead.

Standard library only, no I/O (the caller writes the files).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .aws import export_warnings, masked_export, submit_job_to_aws
from .graph import plan_pipeline
from .spec import JobDefinition

__all__ = ["SUBMIT_SCRIPT", "export_files", "pipeline_document", "placeholder"]


def placeholder(name: str) -> str:
    """The ``jobId`` written in ``dependsOn`` for the job named ``name``: ``"${name}"``."""
    return "${" + name + "}"


def pipeline_document(
    definitions: Mapping[str, JobDefinition],
    targets: str | Sequence[str] | None = None,
    *,
    job_queue: str = "default",
    queues: Mapping[str, str] | None = None,
    secret_patterns: Iterable[str] = (),
) -> tuple[dict[str, Any], list[str]]:
    """``({"jobDefinitions": [...], "submitJobs": [...]}, warnings)`` for the pipeline of
    ``targets`` (every definition when None) and everything upstream, as ``Registry.run``
    would submit it. ``queues`` gives a job queue per definition name (default
    ``job_queue``). The warnings say what AWS would refuse or treat differently."""
    if isinstance(targets, str):
        targets = [targets]
    order = plan_pipeline({n: d.depends_on for n, d in definitions.items()}, targets)
    patterns = tuple(secret_patterns)
    queues = queues or {}
    bodies: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    warnings: list[str] = []
    for name in order:
        d = definitions[name]
        deps: list[Any] = []
        for upstream in d.depends_on:
            n_to_n = d.array_dependency == "N_TO_N" and definitions[upstream].array_size
            deps.append((placeholder(upstream), "N_TO_N") if n_to_n else placeholder(upstream))
        job = submit_job_to_aws(
            job_name=name,
            job_definition=name,
            job_queue=queues.get(name) or job_queue,
            depends_on=deps,
            array_size=d.array_size,
        )
        if d.array_dependency == "SEQUENTIAL":
            job.setdefault("dependsOn", []).append({"type": "SEQUENTIAL"})
        jobs.append(job)
        body, masked = masked_export(d, extra=patterns)
        bodies.append(body)
        # depends_on/array_size travel in SubmitJob here: no warning about them
        plain = d.replace(depends_on=(), array_size=None, array_dependency=None)
        warnings.extend(f"{name}: {w}" for w in export_warnings(plain) + masked)
    return {"jobDefinitions": bodies, "submitJobs": jobs}, warnings


def export_files(document: Mapping[str, Any]) -> dict[str, str]:
    """Relative path -> text of the exported directory (see the module's docstring)."""
    files = {"pipeline.json": _json(document)}
    for body in document["jobDefinitions"]:
        files[f"definitions/{body['jobDefinitionName']}.json"] = _json(body)
    for i, job in enumerate(document["submitJobs"], 1):
        files[f"jobs/{i:02d}-{job['jobName']}.json"] = _json(job)
    files["submit.py"] = SUBMIT_SCRIPT
    return files


def _json(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


SUBMIT_SCRIPT = '''\
#!/usr/bin/env python3
"""Submit this pipeline to AWS Batch (written by kadam_nb's `%kadam export aws DIR`).

Registers each definition of pipeline.json (RegisterJobDefinition), then submits the jobs in
order (SubmitJob), replacing each "${name}" in dependsOn by the jobId AWS returned for the job
named `name`, and prints `name jobId` per job. Needs boto3; credentials and region come from
boto3's usual chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION).

    python3 submit.py --queue my-queue [--region eu-west-1] [--endpoint-url URL] [--dry-run]
"""

import argparse
import json
import pathlib
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", help="job queue for every job (default: as exported)")
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", help="another endpoint (an emulator, a VPC endpoint)")
    parser.add_argument("--dry-run", action="store_true", help="print the requests only")
    args = parser.parse_args()
    doc = json.loads((pathlib.Path(__file__).parent / "pipeline.json").read_text())
    if args.dry_run:
        batch = None
    else:
        import boto3

        batch = boto3.client("batch", region_name=args.region, endpoint_url=args.endpoint_url)
    arns = {}
    for body in doc["jobDefinitions"]:
        name = body["jobDefinitionName"]
        if batch is None:
            print("RegisterJobDefinition", json.dumps(body))
            arns[name] = name
        else:
            arns[name] = batch.register_job_definition(**body)["jobDefinitionArn"]
    ids = {}
    for job in doc["submitJobs"]:
        job = dict(job)
        job["jobDefinition"] = arns.get(job["jobDefinition"], job["jobDefinition"])
        if args.queue:
            job["jobQueue"] = args.queue
        deps = []
        for dep in job.get("dependsOn", []):
            dep = dict(dep)
            if "jobId" in dep:
                ref = dep["jobId"]
                if ref.startswith("${") and ref.endswith("}"):
                    if ref[2:-1] not in ids:
                        sys.exit(f"{job['jobName']}: {ref} was not submitted before it")
                    dep["jobId"] = ids[ref[2:-1]]
            deps.append(dep)
        if deps:
            job["dependsOn"] = deps
        if batch is None:
            print("SubmitJob", json.dumps(job))
            ids[job["jobName"]] = "${" + job["jobName"] + "}"
        else:
            ids[job["jobName"]] = batch.submit_job(**job)["jobId"]
            print(job["jobName"], ids[job["jobName"]], flush=True)


if __name__ == "__main__":
    main()
'''
"""The ``submit.py`` written beside ``pipeline.json``."""

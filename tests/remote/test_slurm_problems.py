"""What the Slurm backend tells when squeue fails, without a cluster: Slurm's answers as its
commands print them, and the reports the backend makes of them (once per change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kadam_nb.backends.base import RemoteJob
from kadam_nb.backends.slurm import (
    SlurmBackend,
    _hint,
    _Job,
    _NoAnswer,
    _problem,
    _squeue_data,
    _Unit,
)
from kadam_nb.core.spec import JobDefinition

# What `squeue --json` of Slurm 22.05 prints, exiting 0, while slurmctld is down.
CONTROLLER_DOWN_22_05 = json.dumps(
    {
        "meta": {"Slurm": {"release": "22.05.8"}},
        "errors": [
            {
                "description": "Failed while looking for jobs",
                "error_number": -1,
                "error": "Unspecified error",
                "source": "slurm_load_jobs",
            }
        ],
        "jobs": [],
    }
)


def _said(returncode: int, stdout: str, stderr: str = "") -> str:
    with pytest.raises(_NoAnswer) as caught:
        _squeue_data(returncode, stdout, stderr)
    return _problem(caught.value, 5.0)


def test_an_empty_job_list_with_errors_is_a_failure_not_no_jobs() -> None:
    said = _said(0, CONTROLLER_DOWN_22_05)
    assert said.startswith(
        "squeue failed: slurm_load_jobs: Failed while looking for jobs (Unspecified error); "
        "check with `scontrol ping` that slurmctld runs"
    ), said
    assert said.endswith("(kadam keeps its jobs' last known state and asks again every 5 s)")


def test_a_failed_squeue_says_what_slurm_said_on_one_line() -> None:
    stderr = "slurm_load_jobs error:  Unable to contact slurm controller\n(connect failure)\n"
    said = _said(1, "", stderr)
    assert said.startswith(
        "squeue failed: slurm_load_jobs error: Unable to contact slurm controller (connect "
        "failure); check with `scontrol ping` that slurmctld runs, and that SLURM_CONF points"
    ), said
    assert "\n" not in said
    assert _said(1, "").startswith("squeue failed: exit code 1; check with `scontrol ping`")
    assert _said(0, "garbage\n").startswith("squeue --json printed no JSON kadam can read: garbage")


def test_an_answer_without_errors_is_the_data() -> None:
    assert _squeue_data(0, '{"errors": [], "jobs": [{"job_id": 3}]}', "") == {
        "errors": [],
        "jobs": [{"job_id": 3}],
    }


def test_sbatch_hints_are_parentheses() -> None:
    assert _hint("sbatch: error: invalid partition specified: nosuch") == (
        " (set the compute environment's partition to one `sinfo` lists)"
    )
    assert _hint("something new") == ""


class _Recorder:
    def __init__(self) -> None:
        self.told: list[tuple[str, str | None]] = []

    def service_problem(self, compute_environment: str, problem: str | None) -> None:
        self.told.append((compute_environment, problem))


def _unit(job_id: str, env: str, events: _Recorder, tmp: Path) -> _Unit:
    remote = RemoteJob(
        job_id=job_id,
        job_name=job_id,
        run_id="run-1",
        queue="q",
        compute_environment=env,
        definition=JobDefinition.create(job_id, command="true"),
        parameters={},
        depends_on=(),
        array_size=None,
        settings={},
        work_dir=str(tmp),
    )
    entry = _Job(remote=remote, events=events)  # type: ignore[arg-type]
    entry.units = [_Unit(job_id, entry, None)]
    return entry.units[0]


def test_each_environment_is_told_once_per_change_and_when_slurm_answers_again(
    tmp_path: Path,
) -> None:
    backend = SlurmBackend(str(tmp_path / "state"))
    backend.close()  # its thread stops; the reports are made by hand below
    events = _Recorder()
    a1, a2 = (_unit(f"a{i}", "hpc-a", events, tmp_path) for i in (1, 2))
    b = _unit("b", "hpc-b", events, tmp_path)
    backend._report_problem([a1, a2, b], "down")
    backend._report_problem([a1, a2, b], "down")  # the same again: not repeated
    assert events.told == [("hpc-a", "down"), ("hpc-b", "down")]
    backend._report_problem([a1], "still down, differently")
    assert events.told[2:] == [("hpc-a", "still down, differently")]
    backend._report_problem([a1, a2, b], None)
    backend._report_problem([a1, a2, b], None)  # nothing was wrong any more: nothing to tell
    assert sorted(events.told[3:]) == [("hpc-a", None), ("hpc-b", None)]

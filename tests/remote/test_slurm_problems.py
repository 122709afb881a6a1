"""What the Slurm backend tells when squeue fails, without a cluster: Slurm's answers as its
commands print them, and the reports the backend makes of them (once per change)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kadam_nb.backends.base import Observation, RemoteDependency, RemoteJob
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
from kadam_nb.core.states import Reasons

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


# ---------------------------------------------------------------------- sbatch and scancel kept

UNREACHABLE = "error: Unable to contact slurm controller (connect failure)\n"


class _Events(_Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.said: list[tuple[str, ...]] = []

    def handed_over(self, job_id: str, remote_id: str) -> None:
        self.said.append(("handed_over", job_id, remote_id))

    def hand_over_failed(self, job_id: str, reason: str) -> None:
        self.said.append(("hand_over_failed", job_id, reason))

    def observed(self, o: Observation) -> None:
        self.said.append(("observed", o.job_id, o.status, o.reason, str(o.attempt)))

    def log(self, *args: object) -> None:
        pass


class _FakeSlurm:
    """Slurm's commands as the backend runs them: ``down`` makes sbatch and scancel fail as
    when slurmctld is away; ``jobs`` is what squeue lists (squeue itself always answers)."""

    def __init__(self) -> None:
        self.down = False
        self.next_id = 100
        self.jobs: list[dict[str, object]] = []
        self.calls: list[list[str]] = []

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        if argv[0] == "squeue":
            return subprocess.CompletedProcess(argv, 0, json.dumps({"jobs": self.jobs}), "")
        if self.down:
            return subprocess.CompletedProcess(argv, 1, "", f"{argv[0]}: {UNREACHABLE}")
        if argv[0] == "sbatch":
            self.next_id += 1
            return subprocess.CompletedProcess(argv, 0, f"{self.next_id}\n", "")
        return subprocess.CompletedProcess(argv, 0, "", "")

    def made(self, command: str) -> list[list[str]]:
        return [c for c in self.calls if c[0] == command]


def _remote(job_id: str, tmp: Path, *deps: str, **fields: object) -> RemoteJob:
    return RemoteJob(
        job_id=job_id,
        job_name=job_id,
        run_id="run-1",
        queue="q",
        compute_environment="hpc",
        definition=JobDefinition.create(job_id, command="true", **fields),  # type: ignore[arg-type]
        parameters={},
        depends_on=tuple(RemoteDependency(d) for d in deps),
        array_size=None,
        settings={},
        work_dir=str(tmp / "work"),
    )


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[SlurmBackend, _FakeSlurm]:
    backend = SlurmBackend(str(tmp_path / "state"))
    backend.close()  # its thread stops; the test drives it
    slurm = _FakeSlurm()
    monkeypatch.setattr(backend, "_run", slurm.run)
    return backend, slurm


def test_hand_overs_while_sbatch_cannot_reach_slurm_are_kept_and_submitted_in_order(
    fake: tuple[SlurmBackend, _FakeSlurm], tmp_path: Path
) -> None:
    backend, slurm = fake
    events = _Events()
    slurm.down = True
    for job in (
        _remote("a", tmp_path),
        _remote("b", tmp_path, "a"),
        _remote("c", tmp_path, "b"),
        _remote("gone", tmp_path),
        _remote("after-gone", tmp_path, "gone"),
    ):
        backend._hand_over(job, events)  # type: ignore[arg-type]
    assert len(slurm.made("sbatch")) == 1  # the first failed; the others did not wait 9 s each
    assert events.said == []  # nothing failed
    assert len(events.told) == 1 and events.told[0][0] == "hpc", events.told
    said = events.told[0][1] or ""
    assert said.startswith("sbatch failed: sbatch: error: Unable to contact slurm controller")
    assert "scontrol ping" in said and "submits them in order once Slurm answers" in said
    backend._stop("gone", "cancel", "not needed")
    assert events.said == [("hand_over_failed", "gone", "Cancelled by user: not needed")]
    backend._poll()  # squeue answers, sbatch still not
    assert len(slurm.made("sbatch")) == 2 and events.said[1:] == []
    slurm.down = False
    backend._poll()
    sbatches = slurm.made("sbatch")[2:]
    assert [c[c.index("-J") + 1] for c in sbatches] == ["a", "b", "c"]
    assert "--dependency=afterok:101" in sbatches[1] and "--dependency=afterok:102" in sbatches[2]
    assert events.said[1:] == [
        ("handed_over", "a", "101"),
        ("handed_over", "b", "102"),
        ("handed_over", "c", "103"),
        ("hand_over_failed", "after-gone", Reasons.dependency_failed("gone", "gone")),
    ], events.said
    assert events.told[-1] == ("hpc", None)


def test_a_retry_while_sbatch_cannot_reach_slurm_is_kept(
    fake: tuple[SlurmBackend, _FakeSlurm], tmp_path: Path
) -> None:
    backend, slurm = fake
    events = _Events()
    backend._hand_over(_remote("flaky", tmp_path, retries=2), events)  # type: ignore[arg-type]
    assert events.said == [("handed_over", "flaky", "101")]
    slurm.jobs = [{"job_id": 101, "job_state": "FAILED", "exit_code": 256, "start_time": 1}]
    slurm.down = True
    backend._poll()  # attempt 1 failed; its retry cannot be submitted
    assert events.said[-1][:3] == ("observed", "flaky", "RUNNING")  # attempt 1's end
    assert not any(s[0] == "hand_over_failed" or s[2] == "FAILED" for s in events.said)
    assert events.told and (events.told[-1][1] or "").startswith("sbatch failed:")
    before = len(events.said)
    backend._poll()  # still away: attempt 1 is not judged again
    assert len(events.said) == before
    slurm.down = False
    backend._poll()
    assert events.said[-2:] == [
        ("observed", "flaky", "RUNNABLE", "", "2"),
        ("handed_over", "flaky", "102"),
    ]
    assert events.told[-1] == ("hpc", None)


def test_a_stop_that_cannot_reach_slurm_is_sent_again_and_says_what_slurm_did(
    fake: tuple[SlurmBackend, _FakeSlurm], tmp_path: Path
) -> None:
    backend, slurm = fake
    events = _Events()
    for name in ("stopped", "finished"):
        backend._hand_over(_remote(name, tmp_path), events)  # type: ignore[arg-type]
    slurm.jobs = [
        {"job_id": i, "job_state": "RUNNING", "start_time": 1, "exit_code": 0} for i in (101, 102)
    ]
    backend._poll()
    slurm.down = True
    backend._stop("stopped", "terminate", "enough")
    backend._stop("finished", "terminate", "enough")
    assert [c[1:] for c in slurm.made("scancel")] == [["101"], ["101", "102"]]
    slurm.jobs[1]["job_state"] = "COMPLETED"  # it ended by itself before the stop got through
    backend._poll()  # squeue answers, scancel still not
    assert ("observed", "finished", "SUCCEEDED", "", "1") in events.said
    backend._poll()
    assert slurm.made("scancel")[-1][1:] == ["101"]  # the finished one is not stopped again
    slurm.down = False
    backend._poll()
    assert slurm.made("scancel")[-1][1:] == ["101"]
    slurm.jobs[0].update(job_state="CANCELLED", exit_code=15)
    backend._poll()
    assert events.said[-1][:4] == ("observed", "stopped", "FAILED", "Terminated by user: enough")
    assert backend._scancels == {}

"""The Slurm backend's pure parts, without a cluster: the job script and Slurm's vocabulary."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kadam_nb.backends.base import RemoteDependency, RemoteJob
from kadam_nb.backends.slurm import _exit_from_status, _task_indexes, job_script, slurm_state
from kadam_nb.core.spec import JobDefinition

NASTY = "it's $(touch /tmp/kadam-pwned) `id` \"; exit 9; '"


def _job(tmp_path: Path, **fields: object) -> RemoteJob:
    definition = JobDefinition.create("nasty", **fields)  # type: ignore[arg-type]
    return RemoteJob(
        job_id="job-1",
        job_name="nasty",
        run_id="run-1",
        queue="q'1",
        compute_environment="hpc",
        definition=definition,
        parameters={"who": NASTY},
        depends_on=(RemoteDependency("job-0"),),
        array_size=None,
        settings={"partition": "debug"},
        work_dir=str(tmp_path / "work dir"),
    )


def test_no_user_value_escapes_its_quotes(tmp_path: Path) -> None:
    job = _job(
        tmp_path,
        command=["printf", "%s|%s|%s\\n", NASTY, "Ref::who", "$KADAM_WORK"],
        environment={"GREETING": NASTY},
    )
    script = job_script(job, 2, base=str(tmp_path / "b"), stop_grace=1, state_key="k")
    path = tmp_path / "s.sh"
    path.write_text(script)
    (tmp_path / "work dir").mkdir()
    env = {"PATH": os.environ["PATH"]}
    done = subprocess.run(
        ["/bin/sh", str(path)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{NASTY}|{NASTY}|$KADAM_WORK\n"
    assert not Path("/tmp/kadam-pwned").exists()
    assert (tmp_path / "b.exit").read_text() == "0\n"


def test_the_environment_of_an_attempt(tmp_path: Path) -> None:
    job = _job(tmp_path, command="env", environment={"GREETING": NASTY})
    script = job_script(job, 3, base=str(tmp_path / "b"), stop_grace=1, state_key="k")
    path = tmp_path / "s.sh"
    path.write_text(script)
    (tmp_path / "work dir").mkdir()
    env = {"PATH": os.environ["PATH"], "SLURM_JOB_ID": "7"}
    out = subprocess.run(["/bin/sh", str(path)], capture_output=True, text=True, env=env).stdout
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert seen["AWS_BATCH_JOB_ID"] == "job-1"
    assert seen["AWS_BATCH_JOB_ATTEMPT"] == "3"
    assert seen["AWS_BATCH_JQ_NAME"] == "q'1"
    assert seen["AWS_BATCH_CE_NAME"] == "hpc"
    assert seen["GREETING"] == NASTY
    assert seen["KADAM_WORK"] == str(tmp_path / "work dir")
    assert "AWS_BATCH_JOB_ARRAY_INDEX" not in seen


def test_the_timer_stops_the_command_and_leaves_a_marker(tmp_path: Path) -> None:
    job = _job(tmp_path, command="sleep 20", timeout=1)
    script = job_script(job, 1, base=str(tmp_path / "b"), stop_grace=1, state_key="k")
    path = tmp_path / "s.sh"
    path.write_text(script)
    (tmp_path / "work dir").mkdir()
    done = subprocess.run(["/bin/sh", str(path)], capture_output=True, timeout=15)
    assert done.returncode == 143
    assert (tmp_path / "b.timeout").exists()


def test_slurm_vocabulary() -> None:
    assert slurm_state("PENDING", "Dependency") == "PENDING"
    assert slurm_state("PENDING", "Resources") == "RUNNABLE"
    assert slurm_state("PENDING", "Priority") == "RUNNABLE"
    assert slurm_state("CONFIGURING", "None") == "STARTING"
    assert slurm_state("RUNNING", "None") == "RUNNING"
    assert slurm_state("COMPLETED", "None") == "ENDED"
    assert _exit_from_status(256) == 1
    assert _exit_from_status(9) == 137
    assert _exit_from_status(0) == 0
    assert _task_indexes("0-2,5%1") == {0, 1, 2, 5}
    assert _task_indexes("3") == {3}

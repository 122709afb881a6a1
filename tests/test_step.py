"""Step mode: the scheduler decides nothing until asked, and says what each step did."""

from __future__ import annotations

import time
from pathlib import Path

from kadam_nb.core.states import JobStatus
from kadam_nb.facade import Registry

S = JobStatus


def test_a_submitted_job_waits_for_a_step(tmp_path: Path) -> None:
    with Registry(state_dir=tmp_path, backend="local", max_vcpus=2, step=True) as reg:
        reg.register("extract", command="echo extracted")
        reg.register("clean", command="echo cleaned", depends_on=["extract"])
        run = reg.run()
        extract, clean = run.jobs
        time.sleep(0.3)
        assert (extract.status, clean.status) == (S.SUBMITTED, S.SUBMITTED)
        said = reg.step()
        assert said.startswith("extract moved SUBMITTED → RUNNABLE: No dependencies")
        assert reg.step().startswith("clean moved SUBMITTED → PENDING: Waiting for")
        assert "extract" in clean.status_reason
        said = reg.step()
        assert said.startswith("extract moved RUNNABLE → STARTING: Placed on compute environment")
        assert "1 of 2 vCPUs left" in said
        assert extract.wait(timeout=10)  # facts (start, exit) need no step
        time.sleep(0.3)
        assert clean.status == S.PENDING  # releasing it is a decision: it waits
        said = reg.step()
        assert said == (
            "clean moved PENDING → RUNNABLE: Dependencies succeeded (extract); waiting for "
            "capacity in queue default"
        )
        assert reg.step().startswith("clean moved RUNNABLE → STARTING")
        assert clean.wait(timeout=10)
        assert reg.step() == "Nothing to decide: every job has finished"


def test_turning_step_mode_off_lets_the_run_go_on(tmp_path: Path) -> None:
    with Registry(state_dir=tmp_path, backend="local", step=True) as reg:
        reg.register("a", command="true")
        reg.register("b", command="true", depends_on=["a"])
        run = reg.run()
        time.sleep(0.2)
        assert all(j.status == S.SUBMITTED for j in run.jobs)
        reg.stepping = False
        assert run.wait(timeout=10)


def test_a_cascade_is_one_step(tmp_path: Path) -> None:
    with Registry(state_dir=tmp_path, backend="local", step=True) as reg:
        reg.register("a", command="exit 1")
        reg.register("b", command="true", depends_on=["a"])
        reg.register("c", command="true", depends_on=["b"])
        run = reg.run()
        for _ in range(4):  # a: RUNNABLE, b: PENDING, c: PENDING, a: STARTING
            reg.step()
        assert run.jobs[0].wait(timeout=10) is False
        # a failed: the engine fails b and c by itself (a fact, not a decision)
        assert run.wait(timeout=10) is False
        assert "a (" in run.jobs[1].status_reason and "b (" in run.jobs[2].status_reason

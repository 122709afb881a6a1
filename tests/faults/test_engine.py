"""The Docker engine fails under kadam: restarted mid-run, gone at submit time.

These run on a private engine (tests/support/private_engine.py) that the test stops and
starts by PID; the shared engine is never touched.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kadam_nb.core.states import JobStatus
from kadam_nb.errors import BackendUnavailable
from kadam_nb.facade import Registry
from tests.support.private_engine import PrivateEngine

S = JobStatus


def _states(job: object) -> list[JobStatus]:
    return [t.dst for t in job.transitions()]  # type: ignore[attr-defined]


def _no_containers_left(engine: PrivateEngine, within: float = 10.0) -> list[str]:
    deadline = time.monotonic() + within
    while (left := engine.kadam_containers()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_engine_restarted_mid_run(
    private_engine: PrivateEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", private_engine.host)
    with Registry(
        state_dir=tmp_path / "state", backend="docker", max_vcpus=1, stop_grace=1.0
    ) as reg:
        reg.register("long", command="echo up; sleep 60; echo never", memory=64)
        reg.register("queued", command="echo queued ran", memory=64)
        long_job = reg.submit("long")
        queued = reg.submit("queued")  # waits RUNNABLE for the only vCPU
        assert reg._scheduler.wait_for(lambda: long_job.logs() == "up\n", timeout=30)
        assert queued.status == S.RUNNABLE
        private_engine.stop()  # the engine stops its containers as it shuts down
        private_engine.start()
        assert long_job.wait(timeout=60) is False
        assert long_job.status == S.FAILED
        reason = long_job.status_reason
        assert "Docker engine restarted" in reason and "submit it again" in reason, reason
        assert long_job.logs() == "up\n"  # every line written before the fault
        assert _states(long_job) == [S.SUBMITTED, S.RUNNABLE, S.STARTING, S.RUNNING, S.FAILED]
        # the queued job and a job submitted now run on the engine that came back
        assert queued.wait(timeout=60), queued.status_reason
        assert queued.logs() == "queued ran\n"
        reg.register("later", command="echo later ran", memory=64)
        later = reg.submit("later")
        assert later.wait(timeout=60), later.status_reason
        assert later.logs() == "later ran\n"
        assert reg._scheduler.alive and not reg._scheduler.errors
        assert list(reg.jobs()["status"]) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert _no_containers_left(private_engine) == []


def test_engine_gone_at_submit_time(
    private_engine: PrivateEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", private_engine.host)
    reg = Registry(state_dir=tmp_path / "state", backend="docker", stop_grace=1.0)
    try:
        reg.register("hello", command="echo hello", memory=64)
        private_engine.stop()
        try:
            job = reg.submit("hello")
            assert job.wait(timeout=30) is False
            reason = job.status_reason
            assert reason.startswith("CannotStartContainerError: the Docker engine does not answer")
            assert "start it again" in reason and "submit the job again" in reason
            assert _states(job) == [S.SUBMITTED, S.RUNNABLE, S.STARTING, S.FAILED]
            assert job.attempts[0].exit_code is None and job.attempts[0].handle is None
            # a new Registry asking for Docker now is refused, creating nothing
            fresh = tmp_path / "fresh"
            with pytest.raises(BackendUnavailable, match=r"no Docker engine answers.*dockerd"):
                Registry(state_dir=fresh, backend="docker")
            assert not fresh.exists()
        finally:
            private_engine.start()
        again = reg.submit("hello")  # the engine is back: the same Registry runs jobs again
        assert again.wait(timeout=60), again.status_reason
        assert again.logs() == "hello\n"
    finally:
        reg.close()
    assert _no_containers_left(private_engine) == []

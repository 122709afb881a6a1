"""Cancel and terminate at each of the five states before the end; a container killed by a
signal. (OOM, timeout, non-zero exit, missing image and missing command are in
tests/test_docker.py: ``test_out_of_memory`` and ``test_endings``.)"""

from __future__ import annotations

import subprocess

import pytest

from kadam_nb.core.states import JobStatus
from kadam_nb.facade import Registry
from kadam_nb.jobs import Job

S = JobStatus


def _states(job: Job) -> list[JobStatus]:
    return [t.dst for t in job.transitions()]


def _until(reg: Registry, job: Job, status: JobStatus) -> None:
    assert reg._scheduler.wait_for(lambda: job.status == status, timeout=30), job.status


def test_cancel_and_terminate_a_submitted_job(docker_reg: Registry) -> None:
    reg = docker_reg
    reg.stepping = True  # no decision is taken: submitted jobs stay SUBMITTED
    reg.register("idle", command="echo never", memory=64)
    a, b = reg.submit("idle"), reg.submit("idle")
    assert a.status == b.status == S.SUBMITTED
    assert reg.cancel(a, "not needed") is True
    assert reg.terminate(b, "wrong input") is True
    reg.stepping = False
    assert (a.status, a.status_reason) == (S.FAILED, "Cancelled by user: not needed")
    assert (b.status, b.status_reason) == (S.FAILED, "Terminated by user: wrong input")
    assert _states(a) == _states(b) == [S.SUBMITTED, S.FAILED]
    assert a.attempts == () and b.attempts == ()


def test_cancel_and_terminate_a_pending_job(docker_reg: Registry) -> None:
    reg = docker_reg
    reg.register("first", command="sleep 30", memory=64)
    reg.register("idle", command="echo never", memory=64)
    first = reg.submit("first")
    a, b = reg.submit("idle", depends_on=[first]), reg.submit("idle", depends_on=[first])
    _until(reg, b, S.PENDING)
    assert reg.cancel(a, "changed my mind") is True
    assert reg.terminate(b, "wrong input") is True
    assert a.status_reason == "Cancelled by user: changed my mind"
    assert b.status_reason == "Terminated by user: wrong input"
    assert _states(a) == _states(b) == [S.SUBMITTED, S.PENDING, S.FAILED]
    assert reg.terminate(first, "cleanup") is True
    assert first.wait(timeout=30) is False


def test_cancel_and_terminate_a_runnable_job(docker_reg: Registry) -> None:
    reg = docker_reg  # 2 vCPUs: the first job takes both, the others wait for capacity
    reg.register("big", command="sleep 30", memory=64, vcpus=2)
    reg.register("idle", command="echo never", memory=64)
    big = reg.submit("big")
    _until(reg, big, S.RUNNING)
    a, b = reg.submit("idle"), reg.submit("idle")
    _until(reg, b, S.RUNNABLE)
    assert reg.cancel(a, "not needed") is True
    assert reg.terminate(b, "wrong input") is True
    assert a.status_reason == "Cancelled by user: not needed"
    assert b.status_reason == "Terminated by user: wrong input"
    assert _states(a) == _states(b) == [S.SUBMITTED, S.RUNNABLE, S.FAILED]
    assert reg.terminate(big, "cleanup") is True
    assert big.wait(timeout=30) is False


@pytest.mark.parametrize("at", [S.STARTING, S.RUNNING])
def test_cancel_does_nothing_once_started_and_terminate_stops_it(
    docker_reg: Registry, at: JobStatus
) -> None:
    reg = docker_reg
    reg.register("long", command="echo up; sleep 60", memory=64)
    job = reg.submit("long")
    if at == S.RUNNING:
        assert reg._scheduler.wait_for(lambda: job.logs() == "up\n", timeout=30)
    else:  # caught as soon as the step that placed it is published, while Docker creates it
        _until(reg, job, S.STARTING)
    assert reg.cancel(job, "too late") is False  # AWS: CancelJob leaves it alone
    assert job.status in (S.STARTING, S.RUNNING)
    assert reg.terminate(job, "wrong parameters") is True
    assert job.wait(timeout=30) is False
    assert job.status_reason == "Terminated by user: wrong parameters"
    assert at in _states(job) and _states(job)[-1] == S.FAILED
    assert len(job.attempts) == 1  # terminated attempts are not retried
    if job.attempts[0].exit_code is not None:  # it got to run: SIGTERM, then SIGKILL
        assert job.attempts[0].exit_code in (137, 143)


SIGNALS = [
    # name, command, how the test ends it (None: the job itself), exit code, reason
    ("killed-from-outside", "echo up; sleep 60", "KILL", 137, "Killed by signal SIGKILL"),
    (  # a program that crashes: the shell running it reports 128 + 11
        "crashed",
        "echo up; sh -c 'kill -SEGV $$'; exit $?",
        None,
        139,
        "Killed by signal SIGSEGV",
    ),
]


@pytest.mark.parametrize(
    ("name", "command", "send", "code", "words"), SIGNALS, ids=[s[0] for s in SIGNALS]
)
def test_exit_by_signal(
    docker_reg: Registry, name: str, command: str, send: str | None, code: int, words: str
) -> None:
    reg = docker_reg
    reg.register(name, command=command, memory=64)
    job = reg.submit(name)
    if send is not None:
        assert reg._scheduler.wait_for(lambda: job.logs() == "up\n", timeout=30)
        handle = job.attempts[0].handle
        assert handle
        subprocess.run(
            ["docker", "kill", "--signal", send, handle], check=True, capture_output=True
        )
    assert job.wait(timeout=30) is False
    assert job.exit_code == code
    assert words in job.status_reason, job.status_reason
    assert job.logs() == ("up\n" if send else "up\nSegmentation fault\n")  # (the shell's word)
    assert _states(job) == [S.SUBMITTED, S.RUNNABLE, S.STARTING, S.RUNNING, S.FAILED]

"""Kernels fail under kadam: killed while containers are STARTING, two opening one directory.

A "kernel" here is a real Python process that opens a Registry, as a notebook's kernel does.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kadam_nb.backends.docker import state_dir_key
from kadam_nb.core.states import JobStatus
from kadam_nb.facade import Registry
from kadam_nb.store import Store
from tests.support.docker_engine import kadam_containers

S = JobStatus


def _containers(key: str, status: str) -> dict[str, str]:
    """Container id -> its kadam.job-id, for this state directory's containers in ``status``."""
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label=kadam.state-dir={key}",
            "--filter",
            f"status={status}",
            "--format",
            '{{.ID}} {{.Label "kadam.job-id"}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def _stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped (SIGSTOP)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def test_kernel_killed_while_containers_are_starting(
    docker_engine: object, state_dir: Path
) -> None:
    # The kernel freezes itself (SIGSTOP) at its first call to start a container, i.e. with that
    # container created and not started, as a kernel killed at that instant would leave it;
    # then it is killed. (Its other attempts may be anywhere from created to running.)
    key = state_dir_key(str(state_dir.resolve()))
    script = f"""
import os, signal
from docker.api.container import ContainerApiMixin
_start = ContainerApiMixin.start
def start(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGSTOP)  # the kernel stops here, for good
    return _start(self, *args, **kwargs)
ContainerApiMixin.start = start
import kadam_nb as kadam
reg = kadam.Registry(state_dir={str(state_dir)!r}, backend="docker", max_vcpus=8)
reg.register("fan", memory=64, array_size=8, retries=2,
             command="echo hi from $AWS_BATCH_JOB_ARRAY_INDEX; sleep 1")
reg.run()
print("SUBMITTED", flush=True)
import time
time.sleep(120)
"""
    kernel = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _stopped(kernel.pid):
            assert kernel.poll() is None, "the kernel exited before starting a container"
            assert time.monotonic() < deadline, "the kernel never started a container"
            time.sleep(0.01)
        created = _containers(key, "created")
    finally:
        kernel.kill()
        kernel.wait()
    assert created, "no container is left created-not-started"
    with Registry(state_dir=state_dir, backend="docker") as reg:
        run = reg.latest_run()
        assert run is not None
        assert run.wait(timeout=90), reg.jobs()[["job", "status", "status_reason"]]
        children = {v.id: v for v in reg.views(run) if v.parent_id}
        assert len(children) == 8
        # A child whose attempt was STARTING when the kernel died (its container created, or
        # not even that) failed that attempt with a reason that says so, then ran again; the
        # others (none, or those started before) were followed again where they were.
        orphaned = [v for v in children.values() if len(v.attempts) == 2]
        assert orphaned, f"no attempt was left STARTING: {created}"
        assert all(len(v.attempts) <= 2 for v in children.values())
        for view in orphaned:
            first = view.attempts[0]
            assert first.reason and "CannotStartContainerError: the kernel that was starting" in (
                first.reason
            ), first
            assert first.exit_code is None and first.started_at is None
            states = [t.dst for t in reg.job(view.id).transitions()]
            assert states == [
                S.SUBMITTED,
                S.RUNNABLE,
                S.STARTING,
                S.RUNNABLE,
                S.STARTING,
                S.RUNNING,
                S.SUCCEEDED,
            ]
        for view in children.values():
            if len(view.attempts) == 1:  # followed again: every transition kept, none repeated
                assert [t.dst for t in reg.job(view.id).transitions()] == [
                    S.SUBMITTED,
                    S.RUNNABLE,
                    S.STARTING,
                    S.RUNNING,
                    S.SUCCEEDED,
                ]
        for view in children.values():  # every child ran once to the end, its log whole
            last = view.attempts[-1].number
            assert reg.job(view.id).logs(last) == f"hi from {view.array_index}\n"
            assert all(a.exit_code == 0 for a in view.attempts if a.started_at), view.attempts
    assert kadam_containers({key}) == []


_KERNEL = """
import json, os, sys, time
import kadam_nb as kadam
from kadam_nb.errors import StateDirBusy
state_dir, go = sys.argv[1], sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.005)
reg = kadam.Registry(state_dir=state_dir, backend="docker", max_vcpus=2)
if not reg.read_only:
    print("OWNER", os.getpid(), flush=True)
    reg.register("chatty", memory=64, array_size=6,
                 command="for i in $(seq 1 300); do echo line $i; done; sleep 0.5")
    print("DONE", reg.run().wait(timeout=120), flush=True)
else:
    print("READER", os.getpid(), flush=True)
    try:
        reg.register("mine", command="true")
        print("NOT REFUSED", flush=True)
    except StateDirBusy as exc:
        print("REFUSED", json.dumps(str(exc)), flush=True)
    reads, deadline = 0, time.monotonic() + 120
    while time.monotonic() < deadline:  # read while the owner writes
        views = reg.views()
        reads += 1
        if len(views) == 7 and all(v.status.done for v in views):
            break
        time.sleep(0.02)
    logs = [reg.job(f"chatty[{i}]").logs().count("line ") for i in range(6)]
    statuses = [v.status.value for v in views]
    print("READ", reads, json.dumps(statuses, separators=(",", ":")),
          json.dumps(logs, separators=(",", ":")), flush=True)
reg.close()
"""


def test_two_kernels_open_one_state_directory(
    docker_engine: object, state_dir: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    kernels = [
        subprocess.Popen(
            [sys.executable, "-c", _KERNEL, str(state_dir), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(1.0)  # both are waiting at the line: open at the same moment
    go.touch()
    outputs = [k.communicate(timeout=150) for k in kernels]
    assert all(k.returncode == 0 for k in kernels), outputs
    said = {out.split()[0]: out.splitlines() for out, _ in outputs}
    assert set(said) == {"OWNER", "READER"}, outputs
    owner_pid = said["OWNER"][0].split()[1]
    assert said["OWNER"][1] == "DONE True"
    refused = said["READER"][1]
    assert refused.startswith("REFUSED"), refused
    message = json.loads(refused.split(" ", 1)[1])
    assert "in use by another Registry" in message and f"(pid {owner_pid})" in message
    _, reads, statuses, counts = said["READER"][2].split(" ", 3)
    assert int(reads) > 1  # it read while the owner was writing
    assert json.loads(statuses) == ["SUCCEEDED"] * 7
    assert json.loads(counts) == [300] * 6
    db = sqlite3.connect(state_dir / "kadam.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        names = {n for (n,) in db.execute("SELECT name FROM definitions")}
        assert names == {"chatty"}  # the reader registered nothing
    finally:
        db.close()
    with Registry(state_dir=state_dir, backend="docker") as reg:  # both gone: a third owns it
        assert not reg.read_only
        assert list(reg.jobs()["status"]) == ["SUCCEEDED"] * 7
    assert kadam_containers({state_dir_key(str(state_dir.resolve()))}) == []


def _open_store(state_dir: str, start: Any, errors: Any) -> None:
    start.wait()
    try:
        Store(state_dir).close()
    except Exception as exc:  # reported to the test, which names it
        errors.put(repr(exc))


def test_processes_opening_a_new_state_directory_together_all_get_it(tmp_path: Path) -> None:
    """Two kernels creating one state directory at the same moment both open it.

    SQLite refuses one of two connections switching a new file to WAL at once with "database
    is locked" without waiting; the Store tries again instead of failing the kernel.
    """
    forked = multiprocessing.get_context("fork")
    errors = forked.Queue()
    for round_ in range(25):
        state_dir = str(tmp_path / f"state{round_}")
        start = forked.Barrier(8)
        openers = [
            forked.Process(target=_open_store, args=(state_dir, start, errors)) for _ in range(8)
        ]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=60)
        assert [o.exitcode for o in openers] == [0] * 8
        assert errors.empty(), f"round {round_}: {errors.get()}"
        db = sqlite3.connect(Path(state_dir) / "kadam.db")
        try:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            db.close()

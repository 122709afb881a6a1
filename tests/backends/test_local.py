"""The local backend against real processes (no mocks)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kadam_nb.backends import local as local_module
from kadam_nb.backends.base import STDERR, STDOUT, AttemptKey, AttemptSpec
from kadam_nb.backends.local import LocalBackend, exit_reason
from kadam_nb.core.spec import JobDefinition

DEFINITION = JobDefinition.create("t", command="true")  # the local backend never reads it


class Recorder:
    """AttemptEvents that records every report, with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, float, tuple[Any, ...]]] = []
        self.done = threading.Event()

    def _add(self, kind: str, *args: Any) -> None:
        with self.lock:
            self.calls.append((kind, time.monotonic(), args))

    def progress(self, key: AttemptKey, message: str) -> None:
        self._add("progress", key, message)

    def started(self, key: AttemptKey, handle: str) -> None:
        self._add("started", key, handle)

    def failed_to_start(self, key: AttemptKey, reason: str) -> None:
        self._add("failed_to_start", key, reason)
        self.done.set()

    def log(self, key: AttemptKey, stream: str, lines: list[str], at_ns: int) -> None:
        self._add("log", key, stream, list(lines), at_ns)

    def exited(self, key: AttemptKey, exit_code: int | None, reason: str | None) -> None:
        self._add("exited", key, exit_code, reason)
        self.done.set()

    # -- reading what was recorded --

    def wait(self, timeout: float = 10.0) -> None:
        assert self.done.wait(timeout), f"no end reported within {timeout} s: {self.kinds()}"

    def kinds(self) -> list[str]:
        with self.lock:
            return [kind for kind, _, _ in self.calls]

    def of(self, kind: str) -> list[tuple[float, tuple[Any, ...]]]:
        with self.lock:
            return [(t, args) for k, t, args in self.calls if k == kind]

    def lines(self, stream: str) -> list[str]:
        return [line for _, args in self.of("log") if args[1] == stream for line in args[2]]

    def exit(self) -> tuple[int | None, str | None]:
        ((_, args),) = self.of("exited")
        return args[1], args[2]

    def pid(self) -> int:
        ((_, args),) = self.of("started")
        return int(args[1])

    def wait_for_line(self, stream: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines(stream)
            if lines:
                return lines[0]
            time.sleep(0.01)
        raise AssertionError(f"no {stream} line within {timeout} s")


@pytest.fixture
def backend() -> Iterator[LocalBackend]:
    b = LocalBackend(stop_grace=5.0)
    yield b
    b.close()
    assert b.running() == []


_counter = iter(range(1, 1_000_000))


def make_spec(tmp_path: Path, command: tuple[str, ...] | list[str], **env: str) -> AttemptSpec:
    return AttemptSpec(
        job_id=f"job{next(_counter)}",
        job_name="t",
        attempt=1,
        run_id="run1",
        command=tuple(command),
        environment=env,
        work_dir=str(tmp_path / "work"),
        definition=DEFINITION,
    )


def sh(script: str) -> tuple[str, ...]:
    return ("/bin/sh", "-c", script)


def run(backend: LocalBackend, tmp_path: Path, command: Any, **env: str) -> Recorder:
    rec = Recorder()
    backend.start(make_spec(tmp_path, command, **env), rec)
    rec.wait()
    return rec


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_dead(pid: int, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


# -- output ---------------------------------------------------------------------------------------


def test_stdout_and_stderr_are_kept_apart_and_in_order(
    backend: LocalBackend, tmp_path: Path
) -> None:
    rec = run(backend, tmp_path, sh("for i in 1 2 3; do echo out$i; echo err$i >&2; done"))
    assert rec.lines(STDOUT) == ["out1", "out2", "out3"]
    assert rec.lines(STDERR) == ["err1", "err2", "err3"]
    kinds = rec.kinds()
    assert kinds[0] == "started" and kinds[-1] == "exited"
    assert set(kinds[1:-1]) == {"log"}
    assert rec.exit() == (0, None)
    assert rec.pid() > 0


def test_environment_and_working_directory(backend: LocalBackend, tmp_path: Path) -> None:
    rec = run(
        backend,
        tmp_path,
        sh('echo "$GREETING"; echo "$KADAM_WORK"; pwd; echo "${HOME:+home is inherited}"'),
        GREETING="hello world",
    )
    work = str(tmp_path / "work")
    assert rec.lines(STDOUT) == ["hello world", work, work, "home is inherited"]
    assert os.path.isdir(work)


def test_argv_is_not_a_shell_string(backend: LocalBackend, tmp_path: Path) -> None:
    rec = run(backend, tmp_path, ["echo", "$HOME", "a  b", "*"])
    assert rec.lines(STDOUT) == ["$HOME a  b *"]


@pytest.mark.parametrize("code", [0, 3])
def test_exit_codes(backend: LocalBackend, tmp_path: Path, code: int) -> None:
    assert run(backend, tmp_path, sh(f"exit {code}")).exit() == (code, None)


def test_last_line_without_newline(backend: LocalBackend, tmp_path: Path) -> None:
    rec = run(backend, tmp_path, sh("printf 'one\\ntwo'; printf 'e1\\ne2' >&2"))
    assert rec.lines(STDOUT) == ["one", "two"]
    assert rec.lines(STDERR) == ["e1", "e2"]


def test_large_output_arrives_whole_and_in_order(backend: LocalBackend, tmp_path: Path) -> None:
    rec = run(backend, tmp_path, ["seq", "200000"])
    assert rec.lines(STDOUT) == [str(i) for i in range(1, 200001)]
    assert rec.exit() == (0, None)
    assert len(rec.of("log")) > 1  # reported chunk by chunk


def test_logs_arrive_while_the_process_runs(backend: LocalBackend, tmp_path: Path) -> None:
    rec = run(backend, tmp_path, sh("echo a; sleep 2; echo b"))
    logs = rec.of("log")
    assert [args[2] for _, args in logs] == [["a"], ["b"]]
    (t_exit, _), *_ = rec.of("exited")
    assert logs[0][0] < t_exit
    assert logs[1][0] - logs[0][0] > 1.0
    assert logs[0][1][3] < logs[1][1][3]  # at_ns


# -- failures to start and exit reasons -----------------------------------------------------------


def test_command_not_found(backend: LocalBackend, tmp_path: Path) -> None:
    rec = run(backend, tmp_path, ["kadam-no-such-command", "x"])
    ((_, (_, reason)),) = rec.of("failed_to_start")
    assert reason.startswith("CannotStartProcessError: ")
    assert "'kadam-no-such-command' not found" in reason
    assert "PATH=" in reason
    assert rec.kinds() == ["failed_to_start"]


def test_not_executable(backend: LocalBackend, tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    rec = run(backend, tmp_path, [str(script)])
    ((_, (_, reason)),) = rec.of("failed_to_start")
    assert reason.startswith("CannotStartProcessError: permission denied")


def test_missing_interpreter(backend: LocalBackend, tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/kadam/no/such/interpreter\necho hi\n")
    script.chmod(0o755)
    rec = run(backend, tmp_path, [str(script)])
    ((_, (_, reason)),) = rec.of("failed_to_start")
    assert "interpreter" in reason


def test_empty_command(backend: LocalBackend, tmp_path: Path) -> None:
    rec = run(backend, tmp_path, ())
    ((_, (_, reason)),) = rec.of("failed_to_start")
    assert reason.startswith("CannotStartProcessError: the definition has no command")


def test_script_exit_127_names_the_problem(backend: LocalBackend, tmp_path: Path) -> None:
    rec = run(backend, tmp_path, sh("kadam-no-such-command"))
    code, reason = rec.exit()
    assert code == 127
    assert reason is not None and reason.startswith("Command not found")
    assert any("kadam-no-such-command" in line for line in rec.lines(STDERR))


def test_exit_reason_mapping() -> None:
    assert exit_reason(("/bin/sh", "-c", "x"), 126)[1] is not None
    assert exit_reason(("bash", "-c", "x"), 127)[0] == 127
    assert exit_reason(("python", "x.py"), 127) == (127, None)  # not a shell: no guessing
    assert exit_reason(("x",), -9) == (137, "Killed by signal SIGKILL")


def test_killed_by_signal(backend: LocalBackend, tmp_path: Path) -> None:
    rec = run(backend, tmp_path, sh("kill -KILL $$"))
    assert rec.exit() == (137, "Killed by signal SIGKILL")


# -- stopping -------------------------------------------------------------------------------------


def test_stop_sends_sigterm(backend: LocalBackend, tmp_path: Path) -> None:
    rec = Recorder()
    spec = make_spec(tmp_path, ["sleep", "60"])
    backend.start(spec, rec)
    assert backend.running() == [spec.key]
    time.sleep(0.2)
    t0 = time.monotonic()
    backend.stop(spec.key, 5.0)
    rec.wait(5)
    assert time.monotonic() - t0 < 1.0
    assert rec.exit() == (143, "Killed by signal SIGTERM")


def test_stop_escalates_to_sigkill_after_the_grace(backend: LocalBackend, tmp_path: Path) -> None:
    rec = Recorder()
    spec = make_spec(tmp_path, sh("trap '' TERM; echo ready; sleep 60"))
    backend.start(spec, rec)
    assert rec.wait_for_line(STDOUT) == "ready"
    t0 = time.monotonic()
    backend.stop(spec.key, 1.0)
    rec.wait(5)
    elapsed = time.monotonic() - t0
    assert 0.9 < elapsed < 2.0
    assert rec.exit() == (137, "Killed by signal SIGKILL")


def test_stop_kills_the_whole_process_group(backend: LocalBackend, tmp_path: Path) -> None:
    rec = Recorder()
    spec = make_spec(tmp_path, sh("sleep 60 & echo $!; wait"))
    backend.start(spec, rec)
    child = int(rec.wait_for_line(STDOUT))
    assert alive(child)
    backend.stop(spec.key, 5.0)
    rec.wait(5)
    assert rec.exit()[0] == 143
    assert wait_dead(child)


def test_stop_before_the_process_exists_is_applied(tmp_path: Path) -> None:
    backend = LocalBackend()
    rec = Recorder()
    spec = make_spec(tmp_path, ["sleep", "60"])
    backend.start(spec, rec)
    backend.stop(spec.key, 0)  # most likely before Popen returned
    rec.wait(5)
    assert rec.kinds()[0] == "started"
    assert rec.exit() == (137, "Killed by signal SIGKILL")
    backend.close()


def test_stop_of_unknown_or_finished_attempts_is_ignored(
    backend: LocalBackend, tmp_path: Path
) -> None:
    backend.stop(("nobody", 1), 0)
    rec = run(backend, tmp_path, ["true"])
    backend.stop(make_spec(tmp_path, ["true"]).key, 0)
    key = rec.of("exited")[0][1][0]
    backend.stop(key, 0)
    assert rec.exit() == (0, None)


def test_close_stops_running_attempts(tmp_path: Path) -> None:
    backend = LocalBackend(stop_grace=30.0)
    recs = [Recorder() for _ in range(3)]
    for rec in recs:
        backend.start(make_spec(tmp_path, sh("trap '' TERM; sleep 60")), rec)
    for rec in recs:
        deadline = time.monotonic() + 5
        while "started" not in rec.kinds() and time.monotonic() < deadline:
            time.sleep(0.01)
    t0 = time.monotonic()
    backend.close()
    assert time.monotonic() - t0 < 2.0
    assert backend.running() == []
    for rec in recs:
        assert rec.done.is_set()
        assert rec.exit() == (137, "Killed by signal SIGKILL")
        assert wait_dead(rec.pid())
    late = Recorder()
    backend.start(make_spec(tmp_path, ["true"]), late)
    ((_, (_, reason)),) = late.of("failed_to_start")
    assert "closed" in reason


def test_same_key_twice_is_refused(backend: LocalBackend, tmp_path: Path) -> None:
    spec = make_spec(tmp_path, ["sleep", "60"])
    backend.start(spec, Recorder())
    with pytest.raises(ValueError):
        backend.start(spec, Recorder())
    backend.stop(spec.key, 0)


# -- processes that outlive their pipes, or pipes that outlive their process ----------------------


def test_process_that_closes_its_pipes_is_still_waited_for(
    backend: LocalBackend, tmp_path: Path
) -> None:
    rec = Recorder()
    t0 = time.monotonic()
    backend.start(make_spec(tmp_path, sh("echo bye; exec >&- 2>&-; sleep 1; exit 4")), rec)
    rec.wait(5)
    assert time.monotonic() - t0 > 0.9
    assert rec.lines(STDOUT) == ["bye"]
    assert rec.exit() == (4, None)


def test_leftover_background_processes_die_with_the_main_process(
    backend: LocalBackend, tmp_path: Path
) -> None:
    rec = Recorder()
    t0 = time.monotonic()
    backend.start(make_spec(tmp_path, sh("sleep 60 & echo $!")), rec)
    rec.wait(5)
    assert time.monotonic() - t0 < 1.0
    assert rec.exit() == (0, None)
    assert wait_dead(int(rec.lines(STDOUT)[0]))


def test_escaped_grandchild_holding_the_pipes_does_not_hang_us(tmp_path: Path) -> None:
    backend = LocalBackend(drain_after_exit=0.5)
    rec = Recorder()
    escape = (
        "import subprocess, sys\n"
        "p = subprocess.Popen(['sleep', '30'], start_new_session=True)\n"
        "print(p.pid, flush=True)\n"
    )
    t0 = time.monotonic()
    backend.start(make_spec(tmp_path, [sys.executable, "-c", escape]), rec)
    rec.wait(5)
    elapsed = time.monotonic() - t0
    grandchild = int(rec.lines(STDOUT)[0])
    try:
        assert 0.4 < elapsed < 3.0
        assert rec.exit() == (0, None)
    finally:
        os.kill(grandchild, signal.SIGKILL)  # it left our process group on purpose
    backend.close()


def test_thread_is_named_after_the_attempt(backend: LocalBackend, tmp_path: Path) -> None:
    rec = Recorder()
    spec = make_spec(tmp_path, ["sleep", "60"])
    backend.start(spec, rec)
    names = [t.name for t in threading.enumerate()]
    assert f"kadam-local-{spec.job_id}-1" in names
    backend.stop(spec.key, 0)
    rec.wait(5)


def test_threads_are_reused_and_end_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_module, "IDLE_THREAD_SECONDS", 0.3)
    backend = LocalBackend(stop_grace=1.0)
    workers: list[threading.Thread] = []

    class Where(Recorder):
        def started(self, key: AttemptKey, handle: str) -> None:
            workers.append(threading.current_thread())
            super().started(key, handle)

    for _ in range(3):  # one after another: one worker thread runs them all
        rec = Where()
        backend.start(make_spec(tmp_path, ["true"]), rec)
        rec.wait(5)
        assert rec.exit() == (0, None)
        deadline = time.monotonic() + 5
        while backend.running() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(workers) == 3 and len(set(workers)) == 1
    workers[0].join(5)  # idle for IDLE_THREAD_SECONDS: it ends
    assert not workers[0].is_alive()
    backend.close()

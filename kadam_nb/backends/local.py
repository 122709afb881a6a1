"""The local backend: every attempt is a process on this machine, beside the kernel.

What it honours
    ``command`` (run as an argv, never through a shell string: a script arrives as
    ``("/bin/sh", "-c", script)``), ``environment`` (on top of the kernel's own environment,
    which the process inherits, unlike a container), the working directory (``work_dir``, created
    if missing, is the process's cwd and ``$KADAM_WORK``, as an absolute path), stdout and stderr
    as two log streams, the exit code (Docker's convention: killed by signal N gives 128+N), and
    timeouts and terminations (SIGTERM to the attempt's process group, then SIGKILL after the
    grace period).

What it ignores
    ``image`` (the command runs with the host's programs, so a job that works here may still
    miss a tool in its image); vCPUs, memory and GPUs are used by the scheduler to decide what
    fits, but nothing limits what the process really uses (no cgroups); volumes and mount
    points (there is no ``/kadam/work``: use ``$KADAM_WORK``), user, privileged, read-only root
    filesystem, shared memory size, ulimits and other container-only settings.

How an attempt runs
    One daemon thread per running attempt (named ``kadam-local-<job>-<attempt>`` while it runs
    it; threads are reused, so a run of many short jobs does not pay for a new thread each, and
    an idle one ends after :data:`IDLE_THREAD_SECONDS`) starts the process in a new session (so
    it leads its own process group), reports ``started`` with its pid, then reads both pipes
    with ``selectors`` in 64 KiB chunks, reporting complete lines per chunk, and watches the
    process itself through a pidfd (Linux >= 5.3; elsewhere it polls every 0.1 s). A worker
    keeps its selector and wake descriptor from one attempt to the next.

    When the main process exits, what is left of its process group is killed (SIGKILL), as a
    container's processes die with its main process. A grandchild that left the group
    (``setsid``, a daemon) but still holds the pipes open is read for at most
    :data:`DRAIN_AFTER_EXIT` more seconds; then kadam closes its ends of the pipes and reports
    ``exited`` (the escaped process is not killed and gets SIGPIPE if it writes again).
    A process that closes its pipes but keeps running is still waited for.

Host processes cannot be re-adopted by another kernel, so :meth:`LocalBackend.close` stops
every running attempt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from ..core.logs import STDERR, STDOUT, LineSplitter
from ..core.policy import shell_exit_reason
from .base import AttemptEvents, AttemptKey, AttemptSpec

__all__ = ["DRAIN_AFTER_EXIT", "READ_SIZE", "LocalBackend", "exit_reason"]

_log = logging.getLogger(__name__)

READ_SIZE = 65536
"""Bytes asked for per ``os.read`` of a pipe."""

DRAIN_AFTER_EXIT = 1.5
"""Seconds the pipes are still read after the main process exited, if something holds them."""

IDLE_THREAD_SECONDS = 10.0
"""Seconds a thread that finished an attempt waits for the next one before it ends."""

_POLL_INTERVAL = 0.1  # seconds between checks of the process, only where pidfds do not exist
_WAKE = "wake"
_eventfd = getattr(os, "eventfd", None)  # Linux, Python >= 3.10
_EVENTFD_FLAGS = getattr(os, "EFD_NONBLOCK", 0) | getattr(os, "EFD_CLOEXEC", 0)
_WAKE_BYTES = (1).to_bytes(8, "little") if _eventfd is not None else b"x"
_EXIT = "exit"
_PREFIX = "CannotStartProcessError: "


def _killpg(pgid: int, sig: signal.Signals) -> None:
    """Signal a process group; a group that no longer exists is not an error."""
    # PermissionError: macOS says so for a group of zombies.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _pidfd_open(pid: int) -> int | None:
    """A file descriptor that becomes readable when ``pid`` exits, or None where unsupported."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:
        return None
    return fd


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the process has exited, without reaping it (so its pgid stays ours) if possible."""
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True  # reaped by someone else
    return proc.poll() is not None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _child_environment(extra: Mapping[str, str], work_dir: str) -> dict[Any, Any]:
    """The kernel's environment as it is now, plus ``extra`` and ``KADAM_WORK``.

    CPython keeps the environment encoded (``os.environ._data``, bytes to bytes); copying that
    spares encoding ~100 variables again for every process. Elsewhere, a copy of os.environ.
    """
    encoded = getattr(os.environ, "_data", None)
    if not isinstance(encoded, dict):
        env: dict[Any, Any] = dict(os.environ)
        env.update(extra)
        env["KADAM_WORK"] = work_dir
        return env
    env = dict(encoded)
    encode = os.fsencode
    for name, value in extra.items():
        env[encode(name)] = encode(value)
    env[b"KADAM_WORK"] = encode(work_dir)
    return env


def exit_reason(command: tuple[str, ...], returncode: int) -> tuple[int, str | None]:
    """Docker's exit code (128+N for a death by signal N) and the reason a person can act on."""
    if returncode < 0:
        return 128 - returncode, f"Killed by signal {_signal_name(-returncode)}"
    return returncode, shell_exit_reason(command, returncode)


def _cannot_start_reason(exc: Exception, argv0: str, env: dict[str, str], cwd: str) -> str:
    """A sentence a person can act on, for a Popen that failed."""
    if isinstance(exc, FileNotFoundError):
        if "/" in argv0:
            path = os.path.join(cwd, argv0)
            where = "" if os.path.isabs(argv0) else f" (relative to the working directory {cwd})"
            if os.path.exists(path):
                return (
                    f"{_PREFIX}{argv0!r} exists but cannot be run: the interpreter named on "
                    "its '#!' line was not found"
                )
            return f"{_PREFIX}command {argv0!r} not found: no such file{where}"
        search = os.pathsep.join(os.get_exec_path(env))
        found = shutil.which(argv0, path=search)
        if found:
            return (
                f"{_PREFIX}command {argv0!r} ({found}) cannot be run: the interpreter named on "
                "its '#!' line was not found"
            )
        return f"{_PREFIX}command {argv0!r} not found (looked in PATH={search})"
    if isinstance(exc, PermissionError):
        return (
            f"{_PREFIX}permission denied running {argv0!r}: it must be a file the kernel's user "
            "may execute (chmod +x), or run it through its interpreter"
        )
    if isinstance(exc, OSError):
        return f"{_PREFIX}cannot run {argv0!r}: {exc.strerror or exc}"
    return f"{_PREFIX}invalid command or environment: {exc}"


class _Worker:
    """What a worker thread keeps from one attempt to the next: its selector, with the wake
    descriptor (an eventfd where Linux has it, else a pipe) registered once. Making them anew for
    every attempt cost an epoll instance, an eventfd and their registrations per job."""

    def __init__(self) -> None:
        if _eventfd is not None:
            self.wake_r = self.wake_w = _eventfd(0, _EVENTFD_FLAGS)
        else:
            self.wake_r, self.wake_w = os.pipe()
            os.set_blocking(self.wake_r, False)
            os.set_blocking(self.wake_w, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.wake_r, selectors.EVENT_READ, _WAKE)

    def clear(self) -> None:
        """Forget the last attempt: its descriptors, and a wake it left unread."""
        for key in list(self.selector.get_map().values()):
            if key.data != _WAKE:
                self.selector.unregister(key.fd)
        with contextlib.suppress(BlockingIOError):
            os.read(self.wake_r, 4096 if _eventfd is None else 8)

    def close(self) -> None:
        self.selector.close()
        for fd in {self.wake_r, self.wake_w}:  # one fd when it is an eventfd
            os.close(fd)


def _devnull() -> int:
    """One descriptor of /dev/null for every process's stdin (Popen would open one each time)."""
    global _DEVNULL
    with _DEVNULL_LOCK:
        if _DEVNULL < 0:
            _DEVNULL = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        return _DEVNULL


_DEVNULL = -1
_DEVNULL_LOCK = threading.Lock()


class _Attempt:
    """One running attempt: its process, its thread, and the stop requests aimed at it.

    ``lock`` guards ``proc``, ``finished``, ``pending_grace``, ``kill_at`` and the wake pipe, so
    that a signal is only ever sent while the main process is unreaped (its pid, and so its
    process group id, cannot have been reused) and the wake pipe is only written while open.
    """

    def __init__(
        self,
        spec: AttemptSpec,
        events: AttemptEvents,
        on_done: Callable[[_Attempt], None],
        drain_after_exit: float,
    ) -> None:
        self.spec = spec
        self.events = events
        self.key: AttemptKey = spec.key
        self.on_done = on_done
        self.drain_after_exit = drain_after_exit
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.finished = False  # the main process has exited: signal nothing more
        self.pending_grace: float | None = None  # a stop asked for before the process existed
        self.kill_at: float | None = None  # time.monotonic() at which to SIGKILL the group
        self.reported = False  # failed_to_start or exited was reported
        self.wake_w = -1  # its worker's wake descriptor, while it runs (see run)
        self.done = threading.Event()  # run() returned
        self.name = f"kadam-local-{spec.job_id}-{spec.attempt}"

    # -- called from any thread ---------------------------------------------------------------

    def request_stop(self, grace: float) -> None:
        with self.lock:
            if self.finished:
                return
            if self.proc is None:
                if self.pending_grace is None or grace < self.pending_grace:
                    self.pending_grace = grace
                return
            self._signal_locked(grace)

    def _signal_locked(self, grace: float) -> None:
        assert self.proc is not None
        if grace <= 0:
            _killpg(self.proc.pid, signal.SIGKILL)
            self.kill_at = None
            return
        _killpg(self.proc.pid, signal.SIGTERM)
        at = time.monotonic() + grace
        if self.kill_at is None or at < self.kill_at:
            self.kill_at = at
            # Wake the thread so that it recomputes its select timeout (full: already woken).
            if self.wake_w >= 0:
                with contextlib.suppress(BlockingIOError):
                    os.write(self.wake_w, _WAKE_BYTES)

    def close_fds(self) -> None:
        """Signal nothing more, and stop writing to the worker's wake descriptor."""
        with self.lock:
            self.finished = True
            self.wake_w = -1

    # -- the attempt's own thread -------------------------------------------------------------

    def run(self, worker: _Worker) -> None:
        """Run the attempt to its end, on the calling (worker) thread."""
        proc: subprocess.Popen[bytes] | None = None
        threading.current_thread().name = self.name
        try:
            with self.lock:
                self.wake_w = worker.wake_w
            proc = self._spawn()
            if proc is None:
                return
            self.events.started(self.key, str(proc.pid))
            code, reason = self._follow(proc, worker)
            self.reported = True
            self.events.exited(self.key, code, reason)
        except Exception as exc:
            _log.exception("kadam local backend: attempt %s failed inside kadam", self.key)
            self._recover(proc, exc)
        finally:
            self.close_fds()
            self.on_done(self)
            self.done.set()

    def _fail(self, reason: str) -> None:
        with self.lock:
            self.finished = True
        self.reported = True
        self.events.failed_to_start(self.key, reason)

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        spec = self.spec
        if not spec.command:
            self._fail(
                f"{_PREFIX}the definition has no command; local processes need one "
                "(an image's default command only exists in containers)"
            )
            return None
        work_dir = os.path.abspath(spec.work_dir)
        env = _child_environment(spec.environment, work_dir)
        try:
            if not os.path.isdir(work_dir):  # the run made it: one stat in the usual case
                os.makedirs(work_dir, exist_ok=True)
        except OSError as exc:
            self._fail(
                f"{_PREFIX}cannot create the working directory {work_dir}: {exc.strerror or exc}"
            )
            return None
        argv = list(spec.command)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=work_dir,
                env=env,
                stdin=_devnull(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
                bufsize=0,
            )
        except (OSError, ValueError, TypeError) as exc:
            self._fail(_cannot_start_reason(exc, argv[0], env, work_dir))
            return None
        with self.lock:
            self.proc = proc
            if self.pending_grace is not None:
                self._signal_locked(self.pending_grace)
        return proc

    def _follow(self, proc: subprocess.Popen[bytes], worker: _Worker) -> tuple[int, str | None]:
        """Report the process's output until it ends; its exit code and reason."""
        assert proc.stdout is not None and proc.stderr is not None
        key, events = self.key, self.events
        pipes: dict[str, IO[bytes]] = {STDOUT: proc.stdout, STDERR: proc.stderr}
        splitters = {STDOUT: LineSplitter(), STDERR: LineSplitter()}
        pidfd = _pidfd_open(proc.pid)
        drain_until: float | None = None  # set once the main process has exited
        sel = worker.selector
        try:
            for stream, pipe in pipes.items():
                sel.register(pipe.fileno(), selectors.EVENT_READ, stream)
            if pidfd is not None:
                sel.register(pidfd, selectors.EVENT_READ, _EXIT)
            while True:
                now = time.monotonic()
                if drain_until is not None and (not pipes or now >= drain_until):
                    break
                exit_seen = False
                for skey, _ in sel.select(self._timeout(now, drain_until, pidfd is None)):
                    what = skey.data
                    if what == _WAKE:
                        with contextlib.suppress(BlockingIOError):
                            os.read(worker.wake_r, 4096 if _eventfd is None else 8)
                    elif what == _EXIT:
                        sel.unregister(skey.fd)
                        exit_seen = True
                    else:
                        chunk = os.read(skey.fd, READ_SIZE)
                        if chunk:
                            lines = splitters[what].feed(chunk)
                        else:  # EOF: every writer closed this pipe
                            sel.unregister(skey.fd)
                            pipes.pop(what).close()
                            lines = splitters[what].flush()
                        if lines:
                            events.log(key, what, lines, time.time_ns())
                if drain_until is None:
                    if exit_seen or (pidfd is None and _has_exited(proc)):
                        self._main_exited(proc)
                        drain_until = time.monotonic() + self.drain_after_exit
                    else:
                        self._kill_if_due(proc)
            # Something outside the process group still holds a pipe: stop reading it.
            for stream, pipe in pipes.items():
                sel.unregister(pipe.fileno())
                pipe.close()
                lines = splitters[stream].flush()
                if lines:
                    events.log(key, stream, lines, time.time_ns())
            pipes.clear()
        finally:
            worker.clear()
            if pidfd is not None:
                os.close(pidfd)
            for pipe in pipes.values():
                pipe.close()
        return exit_reason(self.spec.command, proc.wait())

    def _timeout(self, now: float, drain_until: float | None, polling: bool) -> float | None:
        if drain_until is not None:
            return max(0.0, drain_until - now)
        timeout = _POLL_INTERVAL if polling else None
        with self.lock:
            kill_at = self.kill_at
        if kill_at is not None:
            left = max(0.0, kill_at - now)
            timeout = left if timeout is None else min(timeout, left)
        return timeout

    def _kill_if_due(self, proc: subprocess.Popen[bytes]) -> None:
        with self.lock:
            if self.kill_at is not None and time.monotonic() >= self.kill_at and not self.finished:
                _killpg(proc.pid, signal.SIGKILL)
                self.kill_at = None

    def _main_exited(self, proc: subprocess.Popen[bytes]) -> None:
        """The main process is a zombie, not yet reaped: kill what is left of its group."""
        with self.lock:
            if not self.finished:
                self.finished = True
                self.kill_at = None
                _killpg(proc.pid, signal.SIGKILL)

    def _recover(self, proc: subprocess.Popen[bytes] | None, exc: Exception) -> None:
        """After a bug in kadam (or in an event handler): end the process, report the end."""
        code: int | None = None
        if proc is not None:
            self._main_exited(proc)  # kills the group if the main process still runs
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                code, _ = exit_reason(self.spec.command, proc.wait(timeout=5))
        if self.reported:
            return
        self.reported = True
        reason = f"InternalError: kadam's local backend failed: {exc!r} (see the kernel's log)"
        try:
            if proc is None:
                self.events.failed_to_start(self.key, _PREFIX + reason)
            else:
                self.events.exited(self.key, code, reason)
        except Exception:
            _log.exception("kadam local backend: cannot report the end of attempt %s", self.key)


class LocalBackend:
    """Runs each attempt as a process on this machine (see the module's docstring).

    ``stop_grace`` is the grace period :meth:`stop` uses when none is given. Thread-safe:
    :meth:`start`, :meth:`stop` and :meth:`close` may be called from any thread.
    """

    name = "local"

    def __init__(
        self, stop_grace: float = 10.0, *, drain_after_exit: float = DRAIN_AFTER_EXIT
    ) -> None:
        self.stop_grace = stop_grace
        self.drain_after_exit = drain_after_exit
        self._lock = threading.Lock()
        self._running: dict[AttemptKey, _Attempt] = {}
        self._closed = False
        # Reused worker threads: attempts handed to idle ones go through this queue (always put
        # under the lock, together with taking one from the idle count).
        self._handoff: queue.SimpleQueue[_Attempt | None] = queue.SimpleQueue()
        self._idle = 0

    def __repr__(self) -> str:
        return f"LocalBackend(stop_grace={self.stop_grace!r}, running={len(self.running())})"

    def running(self) -> list[AttemptKey]:
        """The attempts whose thread has not finished yet."""
        with self._lock:
            return list(self._running)

    def start(self, spec: AttemptSpec, events: AttemptEvents) -> None:
        """Start the attempt on its own thread and return at once.

        Raises ValueError if an attempt with the same key is still running (a scheduler bug);
        every other problem is reported through ``events``.
        """
        key = spec.key
        attempt: _Attempt | None = None
        with self._lock:
            if key in self._running:
                raise ValueError(f"attempt {key} is already running on the local backend")
            if not self._closed:
                attempt = _Attempt(spec, events, self._forget, self.drain_after_exit)
                self._running[key] = attempt
                if self._idle:  # a worker waits: hand it over (no thread to start)
                    self._idle -= 1
                    self._handoff.put(attempt)
                    return
        if attempt is None:
            events.failed_to_start(key, f"{_PREFIX}the local backend has been closed")
            return
        try:
            threading.Thread(
                target=self._work, args=(attempt,), name=attempt.name, daemon=True
            ).start()
        except RuntimeError as exc:  # "can't start new thread"
            self._forget(attempt)
            attempt.close_fds()
            events.failed_to_start(key, f"{_PREFIX}cannot start a thread to run it: {exc}")

    def _work(self, attempt: _Attempt) -> None:
        """A worker thread: run attempts until none comes for IDLE_THREAD_SECONDS."""
        try:
            worker = _Worker()
        except OSError as exc:  # out of descriptors
            self._forget(attempt)
            attempt.close_fds()
            attempt.events.failed_to_start(attempt.key, f"{_PREFIX}cannot follow it: {exc}")
            attempt.done.set()
            return
        try:
            self._serve(attempt, worker)
        finally:
            worker.close()

    def _serve(self, attempt: _Attempt | None, worker: _Worker) -> None:
        while attempt is not None:
            attempt.run(worker)
            threading.current_thread().name = "kadam-local-idle"
            with self._lock:
                if self._closed:
                    return
                self._idle += 1
            try:
                attempt = self._handoff.get(timeout=IDLE_THREAD_SECONDS)
            except queue.Empty:
                with self._lock:
                    try:  # handed one just as the wait ended (the idle count was taken)
                        attempt = self._handoff.get_nowait()
                    except queue.Empty:
                        self._idle -= 1
                        return

    def stop(self, key: AttemptKey, grace: float | None = None) -> None:
        """SIGTERM the attempt's process group, then SIGKILL it if the main process still runs
        after ``grace`` seconds (``stop_grace`` if None; 0 or less sends SIGKILL at once).
        Unknown and finished attempts are ignored."""
        with self._lock:
            attempt = self._running.get(key)
        if attempt is not None:
            attempt.request_stop(self.stop_grace if grace is None else grace)

    def close(self, timeout: float = 3.0) -> None:
        """Kill every running attempt (grace 0) and wait up to ``timeout`` seconds for their
        threads to report ``exited``. Later calls to :meth:`start` report failed_to_start."""
        with self._lock:
            self._closed = True
            attempts = list(self._running.values())
            for _ in range(self._idle):  # idle workers end
                self._handoff.put(None)
            self._idle = 0
        for attempt in attempts:
            attempt.request_stop(0)
        deadline = time.monotonic() + timeout
        for attempt in attempts:
            attempt.done.wait(max(0.0, deadline - time.monotonic()))

    def _forget(self, attempt: _Attempt) -> None:
        with self._lock:
            if self._running.get(attempt.key) is attempt:
                del self._running[attempt.key]

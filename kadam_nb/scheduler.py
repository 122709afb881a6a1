"""The scheduler: one thread that owns all job state.

Everything that changes a job goes through this thread's inbox: users' commands (submit,
cancel, terminate) arrive as calls, backends' reports (started, log lines, exited) arrive as
events. The loop takes whatever is waiting, applies it to the :class:`BatchEngine`, lets the
engine take its decisions, then, in this order:

1. writes the changed records and the transitions to the store, in one transaction;
2. publishes new :class:`JobView` snapshots and tells observers (state changes and log lines
   in the order they happened);
3. asks the backends to start and stop attempts.

So nothing is shown before it is stored, and no container is started before its attempt is
recorded (a new kernel can then find it). Log lines are written to their attempt's file as
they arrive, before observers hear of them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .backends.base import (
    AttemptKey,
    AttemptSpec,
    Backend,
    Observation,
    RemoteDependency,
    RemoteJob,
)
from .core.engine import (
    Action,
    BatchEngine,
    Effects,
    FollowAttempt,
    HandOver,
    RemoteCall,
    StartAttempt,
    StopAttempt,
)
from .core.jobs import AttemptRecord, JobRecord
from .core.logs import STDERR, STDOUT, format_log_lines
from .core.policy import attempt_environment, substitute_parameters
from .core.spec import JobDefinition
from .core.states import JobStatus
from .core.views import JobView, LogLines, Progress, ServiceProblem, StateChanged
from .store import LogFiles, Store

__all__ = ["Event", "Scheduler"]

log = logging.getLogger("kadam_nb")

Event = StateChanged | LogLines | Progress | ServiceProblem
Observer = Callable[[Event], None]


@dataclass
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Any]


@dataclass
class _Report:
    kind: str  # "progress" | "started" | "failed" | "log" | "exited" | services: "handed" |
    # "refused" | "observed" | "service" (key: compute environment, 0)
    key: AttemptKey
    args: tuple[Any, ...]


_STOP = object()
MAX_BATCH = 1000
"""Inbox items one scheduler step takes at most."""
LINGER = 0.002
"""Seconds a step made only of informative reports waits for more (see ``_linger``)."""


def _informative(item: Any) -> bool:
    return isinstance(item, _Report) and item.kind in ("started", "log", "progress", "handed")


MAX_LOG_BACKLOG = 50_000
"""Log lines that may wait in the inbox before backends are made to wait (a few MB)."""


class Scheduler:
    """Runs the engine on its own thread; implements the backends' ``AttemptEvents``."""

    def __init__(
        self,
        engine: BatchEngine,
        store: Store,
        backends: Mapping[str, Backend],
        *,
        stop_grace: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.store = store
        self.backends = dict(backends)
        self.stop_grace = stop_grace
        self.clock = clock
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._views: dict[str, JobView] = {}
        self._changed = threading.Condition()
        self._observers: list[Observer] = []
        self._logs = LogFiles()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.stepping = False  # step mode: decisions only when step() asks
        self._log_backlog = 0  # log lines reported and not yet stored
        self._backlog_changed = threading.Condition()
        self.errors: list[str] = []
        self._work_dirs: dict[str, str] = {}  # run id -> its work directory
        # (name, revision) -> that registered revision, or None (set by the Registry)
        self.registered_definition: Callable[[str, int | None], JobDefinition | None] | None = None
        self._log_failures: dict[AttemptKey, str] = {}  # attempts stopped: log not writable

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kadam-scheduler", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop. Running attempts are left to the backends' ``close``."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._inbox.put(_STOP)
            self._thread.join(timeout)
        for backend in self.backends.values():
            try:
                backend.close()
            except Exception:  # pragma: no cover - a backend bug must not block closing
                log.exception("closing backend %s failed", getattr(backend, "name", backend))
        self._logs.close_all()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ commands

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = 60.0) -> Any:
        """Run ``fn(*args)`` on the scheduler thread; return once its effects are stored."""
        if self._closed:
            from .errors import KadamError

            raise KadamError("this Registry is closed; create a new one")
        future: Future[Any] = Future()
        self._inbox.put(_Call(fn, args, future))
        return future.result(timeout)

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(event)`` for every state change and log batch, on the scheduler
        thread: it must be quick and must not block (hand work to your own thread)."""
        self._observers.append(observer)

        def unsubscribe() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return unsubscribe

    def view(self, job_id: str) -> JobView | None:
        return self._views.get(job_id)

    def views(self) -> list[JobView]:
        return list(self._views.values())

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def seed_views(self, views: list[JobView]) -> None:
        for v in views:
            self._views[v.id] = v

    # ------------------------------------------------------------------ AttemptEvents

    def progress(self, key: AttemptKey, message: str) -> None:
        self._inbox.put(_Report("progress", key, (message,)))

    def started(self, key: AttemptKey, handle: str) -> None:
        self._inbox.put(_Report("started", key, (handle,)))

    def failed_to_start(self, key: AttemptKey, reason: str) -> None:
        self._inbox.put(_Report("failed", key, (reason,)))

    def log(self, key: AttemptKey, stream: str, lines: list[str], at_ns: int) -> None:
        # Back-pressure: a job that prints faster than lines are stored waits here (its pipe
        # then fills and the job itself waits), so memory stays bounded and nothing is lost.
        with self._backlog_changed:
            while (
                self._log_backlog > MAX_LOG_BACKLOG
                and not self._closed
                and threading.current_thread() is not self._thread
            ):
                self._backlog_changed.wait(0.5)
            self._log_backlog += len(lines)
        self._inbox.put(_Report("log", key, (stream, lines, at_ns)))

    def exited(self, key: AttemptKey, exit_code: int | None, reason: str | None) -> None:
        self._inbox.put(_Report("exited", key, (exit_code, reason)))

    # ------------------------------------------------------------------ RemoteEvents

    def handed_over(self, job_id: str, remote_id: str) -> None:
        self._inbox.put(_Report("handed", (job_id, 0), (remote_id,)))

    def hand_over_failed(self, job_id: str, reason: str) -> None:
        self._inbox.put(_Report("refused", (job_id, 0), (reason,)))

    def observed(self, observation: Observation) -> None:
        self._inbox.put(_Report("observed", (observation.job_id, 0), (observation,)))

    def service_problem(self, compute_environment: str, problem: str | None) -> None:
        self._inbox.put(_Report("service", (compute_environment, 0), (problem,)))

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        while True:
            deadline = self.engine.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - self.clock())
            try:
                first = self._inbox.get(timeout=timeout)
            except queue.Empty:
                first = None
            batch = [] if first is None else [first]
            self._drain(batch)
            if batch and all(_informative(item) for item in batch):
                self._linger(batch)
            stop = any(item is _STOP for item in batch)
            try:
                self._step([item for item in batch if item is not _STOP])
            except Exception as exc:  # keep the thread alive: a bug must not stop every job
                log.exception("kadam scheduler step failed")
                self.errors.append(repr(exc))
            if stop:
                return

    def _drain(self, batch: list[Any]) -> None:
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                return

    def _linger(self, batch: list[Any]) -> None:
        """Wait a little for more reports when the batch only informs (started, log lines,
        progress): none of them frees capacity or lets a job run, so nothing waits on them, and
        the exit that usually follows a short job's start then shares its transaction."""
        deadline = time.monotonic() + LINGER
        while len(batch) < MAX_BATCH:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                item = self._inbox.get(timeout=left)
            except queue.Empty:
                return
            batch.append(item)
            if not _informative(item):  # a decision may follow: take it now
                self._drain(batch)
                return

    def _step(self, batch: list[Any]) -> None:
        outgoing: list[Event] = []
        effects: list[Effects] = []
        fresh: dict[str, JobView | JobRecord] = {}  # changed jobs: their snapshots, to publish
        calls: list[tuple[_Call, Any, BaseException | None]] = []
        now = self.clock()
        for item in batch:
            if isinstance(item, _Call):
                try:
                    calls.append((item, item.fn(*item.args), None))
                except BaseException as exc:  # returned to the caller
                    calls.append((item, None, exc))
            elif isinstance(item, _Report):
                self._apply_report(item, now, outgoing)
            self._collect(effects, outgoing, fresh)
        self.engine.expire(now)
        if not self.stepping:
            self.engine.decide(now)
        self._collect(effects, outgoing, fresh)
        try:
            self.store.write(
                [j for e in effects for j in e.jobs],
                [a for e in effects for a in e.attempts],
                [t for e in effects for t in e.transitions],
            )
        except Exception as exc:  # the callers must hear of it rather than wait forever
            for call, _, _ in calls:
                call.future.set_exception(exc)
            raise
        views = self._views
        for job_id, view in fresh.items():
            views[job_id] = view if isinstance(view, JobView) else JobView.of(view)
        self._notify(outgoing)
        with self._changed:  # waiters wake after observers have seen every change
            self._changed.notify_all()
        for call, result, error in calls:
            if error is None:
                call.future.set_result(result)
            else:
                call.future.set_exception(error)
        for e in effects:
            for step in e.actions:
                self._do(step)

    def _collect(
        self, effects: list[Effects], outgoing: list[Event], fresh: dict[str, JobView | JobRecord]
    ) -> None:
        e = self.engine.take_effects()
        if not e:
            return
        effects.append(e)
        for action in e.actions:  # decide where its log goes before the attempt is stored
            if isinstance(action, (StartAttempt, FollowAttempt)):
                attempt = action.attempt
                job = action.job
                attempt.log_path = self.store.log_file(job.run_id, job.id, attempt.number)
            if isinstance(action, FollowAttempt):  # its lines may come in this same step
                self._open_log(action.attempt)
        if not self._observers:
            # Nobody hears of the changes: one snapshot per job, of its state at the step's end
            # (a job often changes two or three times in a step: started, exited, placed).
            for job in e.jobs:
                fresh[job.id] = job
            return
        # One snapshot per changed job, shared by its StateChanged events and the published view
        # (a job changed again later in the step appears in a later Effects, with a newer one).
        views = {job.id: JobView.of(job) for job in e.jobs}
        fresh.update(views)
        jobs = self.engine.jobs
        for t in e.transitions:
            view = views.get(t.job_id) or JobView.of(jobs[t.job_id])
            outgoing.append(StateChanged(view, t.src, t.dst, t.reason, t.at))

    def _apply_report(self, report: _Report, now: float, outgoing: list[Event]) -> None:
        key = report.key
        if report.kind == "service":
            env = self.engine.environments.get(key[0])
            reason = report.args[0] or ""
            if env is not None and env.status_reason != reason:
                env.status_reason = reason
                outgoing.append(ServiceProblem(env.name, report.args[0], now))
            return
        job = self.engine.jobs.get(key[0])
        if job is None:
            return
        if report.kind == "log":
            stream, lines, at_ns = report.args
            with self._backlog_changed:
                self._log_backlog -= len(lines)
                self._backlog_changed.notify_all()
            try:
                self._logs.write(key, format_log_lines(stream, lines, at_ns))
            except OSError as exc:  # disk full, folder gone: stop rather than lose lines
                self._log_write_failed(job, key, exc)
            outgoing.append(LogLines(key[0], job.display_name, key[1], stream, lines, at_ns))
        elif report.kind == "started":
            self.engine.attempt_started(key, report.args[0], now)
        elif report.kind == "failed":
            self._logs.close(key)
            self._log_failures.pop(key, None)
            self.engine.attempt_failed_to_start(key, report.args[0], now)
        elif report.kind == "exited":
            self._logs.close(key)
            code, reason = report.args
            failure = self._log_failures.pop(key, None)
            if failure is not None:  # its log is incomplete: it may not count as a success
                code, reason = (None if code == 0 else code), failure
            self.engine.attempt_exited(key, code, reason, now)
        elif report.kind == "progress":
            outgoing.append(Progress(key[0], job.display_name, key[1], report.args[0]))
        elif report.kind == "observed":
            seen: Observation = report.args[0]
            try:
                status = JobStatus(seen.status)
            except ValueError:
                log.error("backend reported unknown status %r for %s", seen.status, key[0])
                return
            if status.done:  # the attempt's log is complete: its file can close
                self._close_attempt_logs(job)
            self.engine.observe(
                key[0],
                status,
                seen.reason,
                now,
                attempt=seen.attempt,
                handle=seen.handle,
                exit_code=seen.exit_code,
                attempt_reason=seen.attempt_reason,
            )
        elif report.kind == "handed":
            self.engine.handed_over(key[0], report.args[0])
        elif report.kind == "refused":
            self.engine.hand_over_failed(key[0], report.args[0], now)

    def _log_write_failed(self, job: JobRecord, key: AttemptKey, exc: OSError) -> None:
        """An attempt's log line could not be stored: stop the attempt (its lines would be lost)
        and let its exit carry a reason that says why."""
        if key in self._log_failures:
            return
        attempt = job.attempts[key[1] - 1]
        self._log_failures[key] = (
            f"LogStorageError: kadam could not write this attempt's log ({exc.strerror}: "
            f"{attempt.log_path}), so it stopped the attempt; the lines written before are kept. "
            "Free space (or fix permissions) where the state directory is, then submit the job "
            "again"
        )
        log.error("cannot write the log of %s: %s; stopping it", job.display_name, exc)
        self._logs.close(key)
        backend = self.backends.get(attempt.backend)
        if backend is not None:
            backend.stop(key, 0.0)

    def _notify(self, events: list[Event]) -> None:
        for event in events:
            for observer in list(self._observers):
                try:
                    observer(event)
                except Exception:
                    log.exception("a kadam observer raised; it stays subscribed")

    def _open_log(self, attempt: AttemptRecord) -> None:
        assert attempt.log_path is not None
        try:
            self._logs.open(attempt.key, attempt.log_path)
        except OSError:
            log.exception("cannot create the log file %s", attempt.log_path)
            self.errors.append(f"cannot create the log file {attempt.log_path}")

    def _close_attempt_logs(self, job: JobRecord) -> None:
        for attempt in job.attempts:
            self._logs.close(attempt.key)

    def _do(self, action: Action) -> None:
        if isinstance(action, FollowAttempt):
            return
        if isinstance(action, (HandOver, RemoteCall)):
            self._do_remote(action)
            return
        if isinstance(action, StopAttempt):
            job = self.engine.jobs[action.job_id]
            backend = self.backends.get(job.attempts[action.attempt - 1].backend)
            if backend is not None:
                backend.stop((action.job_id, action.attempt), self.stop_grace)
            return
        job, attempt = action.job, action.attempt
        key = attempt.key
        backend = self.backends.get(attempt.backend)
        if backend is None:
            self.failed_to_start(
                key, f"CannotStartContainerError: no backend named {attempt.backend}"
            )
            return
        assert attempt.log_path is not None
        try:
            self._logs.open(key, attempt.log_path)
        except OSError as exc:  # never start what could not keep its log
            reason = (
                f"CannotStartContainerError: its log file cannot be created ({exc.strerror}: "
                f"{attempt.log_path}); free space or fix permissions in the state directory"
            )
            self.failed_to_start(key, reason)
            return
        try:
            backend.start(self.attempt_spec(job, attempt), self)
        except Exception as exc:  # a backend must report, not raise; turn it into a report
            log.exception("backend %s raised on start", attempt.backend)
            self.failed_to_start(key, f"CannotStartContainerError: {exc}")

    def _do_remote(self, action: HandOver | RemoteCall) -> None:
        env = action.environment
        backend: Any = self.backends.get(env.backend)
        if isinstance(action, RemoteCall):
            if backend is not None:
                try:
                    getattr(backend, action.verb)(action.job_id, action.reason)
                except Exception:
                    log.exception("%s of %s on %s failed", action.verb, action.job_id, env.name)
            return
        job = action.job
        if backend is None:
            self.hand_over_failed(job.id, f"no backend named {env.backend} for {env.name}")
            return
        try:
            backend.hand_over(self.remote_job(job, action.depends_on), self)
        except Exception as exc:  # a backend must report, not raise; turn it into a report
            log.exception("backend %s raised on hand_over", env.backend)
            self.hand_over_failed(job.id, f"{env.backend} refused the job: {exc}")

    def remote_job(self, job: JobRecord, depends_on: tuple[Any, ...] | None = None) -> RemoteJob:
        """What a service backend needs to submit (or follow again) ``job``."""
        env = self.engine.environments[self.engine.queues[job.queue].compute_environments[0]]
        deps = job.depends_on if depends_on is None else depends_on
        jobs = self.engine.jobs
        return RemoteJob(
            job_id=job.id,
            job_name=job.name,
            run_id=job.run_id,
            queue=job.queue,
            compute_environment=env.name,
            definition=job.definition,
            parameters=job.parameters,
            depends_on=tuple(
                RemoteDependency(
                    d.job_id, jobs[d.job_id].remote_id if d.job_id in jobs else None, d.type
                )
                for d in deps
            ),
            array_size=job.array_size,
            settings=env.settings,
            work_dir=self._work_dir(job.run_id),
            remote_id=job.remote_id,
            attempts_seen=len(job.attempts),
            lines_seen=self._stored_lines(job.attempts[-1]) if job.attempts else {},
            base_definition=self._base_definition(job),
        )

    def _base_definition(self, job: JobRecord) -> JobDefinition | None:
        lookup = self.registered_definition
        d = job.definition
        if lookup is None or job.parent_id is not None:
            return None
        base = lookup(d.name, d.revision)
        return base if base is not None and base != d else None

    def _stored_lines(self, attempt: AttemptRecord) -> dict[str, int]:
        stored = {STDOUT: 0, STDERR: 0}
        if attempt.log_path:
            for line in self.store.read_log(attempt.log_path):
                stored[line.stream] += 1
        return stored

    def follow_logs(self, job: JobRecord) -> None:
        """Keep storing the lines of a job's unfinished attempts (a service's job followed
        again by a new session)."""
        for attempt in job.attempts:
            if not attempt.done:
                path = attempt.log_path or self.store.log_file(job.run_id, job.id, attempt.number)
                attempt.log_path = path
                self._open_log(attempt)

    def _work_dir(self, run_id: str) -> str:
        work = self._work_dirs.get(run_id)
        if work is None:
            work = self._work_dirs[run_id] = str(self.store.run_work_dir(run_id))
        return work

    def attempt_spec(self, job: JobRecord, attempt: AttemptRecord) -> AttemptSpec:
        """Everything a backend needs for this attempt: ``Ref::`` filled, environment injected."""
        definition = job.definition
        return AttemptSpec(
            job_id=job.id,
            job_name=job.display_name,
            attempt=attempt.number,
            run_id=job.run_id,
            command=substitute_parameters(
                definition.command, {**definition.parameters, **job.parameters}
            ),
            environment=attempt_environment(
                job, attempt.number, job.queue, attempt.compute_environment
            ),
            work_dir=self._work_dir(job.run_id),
            definition=definition,
            image=definition.image,
            vcpus=definition.vcpus,
            memory=definition.memory,
            gpus=definition.gpus,
            labels={"kadam.job-id": job.id, "kadam.attempt": str(attempt.number)},
        )

    def adopt(self, job: JobRecord, attempt: AttemptRecord) -> None:
        """Follow again an attempt an earlier session started (before the loop starts)."""
        backend = self.backends[attempt.backend]
        path = Path(attempt.log_path or self.store.log_path(job.run_id, job.id, attempt.number))
        attempt.log_path = str(path)
        stored = {STDOUT: 0, STDERR: 0}
        for line in self.store.read_log(path):
            stored[line.stream] += 1
        self._logs.open(attempt.key, path)
        backend.adopt(  # type: ignore[attr-defined]
            self.attempt_spec(job, attempt), self, stored, starting=job.status == JobStatus.STARTING
        )

"""The batch engine: AWS Batch's job lifecycle as a pure state machine.

Design
------
The engine holds every live job and makes every state change, but does no I/O and keeps no
clock: callers pass ``now``. It is driven by two kinds of input:

* **facts** from backends and users — an attempt started, exited, could not start; a user
  cancelled or terminated a job; time passed (``expire``). Facts are applied at once.
* **decisions** the engine takes itself, one at a time, in :meth:`decide`: evaluate a submitted
  job's dependencies (→ PENDING / RUNNABLE / FAILED), release a PENDING job whose dependencies
  finished, place a RUNNABLE job on a compute environment with room (→ STARTING). Taking them
  one at a time is what lets a class step through a run.

Everything the outside world must do or record comes back from :meth:`take_effects`: the
transitions (to store and show), the attempts to start and stop (for the backends), and the
records that changed (to write). The scheduler thread is the only caller, so nothing here locks.

Dependencies are counted, not polled: each job knows which jobs wait for it, and a job is looked
at again only when one of its dependencies finishes. RUNNABLE jobs wait in one heap per shape
(queue, vCPUs, memory, GPUs), so placing a job costs O(shapes), not O(jobs waiting).

Jobs of a queue whose compute environment is a service (AWS Batch, Slurm) are handed over and
followed instead: those rules are in :mod:`kadam_nb.core.services`; the effects (what to store
and do) are in :mod:`kadam_nb.core.effects`.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable

from ..errors import DependencyError, NotFound, StateError
from .effects import (
    Action,
    Effects,
    FollowAttempt,
    HandOver,
    RemoteCall,
    StartAttempt,
    StopAttempt,
)
from .graph import child_dependencies
from .jobs import AttemptRecord, ComputeEnvironment, Dependency, JobQueue, JobRecord, Transition
from .policy import describe_need, exit_sentence, fits, retry_decision
from .services import ServiceJobs
from .states import DONE_STATES, JobStatus, Reasons, check_transition

__all__ = [
    "Action",
    "BatchEngine",
    "Effects",
    "FollowAttempt",
    "HandOver",
    "RemoteCall",
    "StartAttempt",
    "StopAttempt",
]

S = JobStatus
_Shape = tuple[str, float, int, int]


class BatchEngine(ServiceJobs):
    """AWS Batch's scheduling rules over in-memory job records."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobRecord] = {}
        self.environments: dict[str, ComputeEnvironment] = {}
        self.queues: dict[str, JobQueue] = {}
        self._external: dict[str, tuple[JobStatus, str]] = {}
        self._dependents: dict[str, set[str]] = {}
        self._to_evaluate: deque[str] = deque()
        self._runnable: dict[_Shape, list[tuple[int, str]]] = {}
        self._deadlines: list[tuple[float, str, int]] = []
        self._seq = itertools.count()
        self._effects = Effects()
        self._explain = False  # decide_one is running: note each change as a sentence
        self._dirty_jobs: dict[str, JobRecord] = {}
        self._dirty_attempts: dict[tuple[str, int], AttemptRecord] = {}
        self._active = 0  # attempts STARTING or RUNNING
        self._children_done: dict[str, int] = {}  # parent id -> its first children known done
        self._handed: set[str] = set()  # jobs handed to a service (array: the parent)

    # ------------------------------------------------------------------ setup

    def add_environment(self, env: ComputeEnvironment) -> None:
        self.environments[env.name] = env

    def add_queue(self, queue: JobQueue) -> None:
        missing = [n for n in queue.compute_environments if n not in self.environments]
        if missing:
            raise NotFound(f"queue {queue.name}: no compute environment named {', '.join(missing)}")
        self.queues[queue.name] = queue

    def continue_sequence_after(self, last: int) -> None:
        """Number new jobs after ``last`` (the store's highest), so order survives restarts."""
        self._seq = itertools.count(last + 1)

    def note_external(self, job_id: str, status: JobStatus, name: str) -> None:
        """Make a finished job from an earlier session known, so new jobs can depend on it."""
        if job_id not in self.jobs:
            self._external[job_id] = (status, name)

    # ------------------------------------------------------------------ queries

    @property
    def busy(self) -> bool:
        """True while any job is not finished (or a decision is waiting to be taken)."""
        return bool(self._to_evaluate) or any(not j.status.done for j in self.jobs.values())

    @property
    def active_attempts(self) -> int:
        return self._active

    def next_deadline(self) -> float | None:
        while self._deadlines:
            deadline, job_id, number = self._deadlines[0]
            attempt = self.jobs[job_id].attempts[number - 1]
            if attempt.done or attempt.stop_cause:
                heapq.heappop(self._deadlines)
                continue
            return deadline
        return None

    def status_of(self, job_id: str) -> JobStatus | None:
        job = self.jobs.get(job_id)
        if job is not None:
            return job.status
        ext = self._external.get(job_id)
        return ext[0] if ext else None

    def _name_of(self, job_id: str) -> str:
        job = self.jobs.get(job_id)
        if job is not None:
            return job.display_name
        return self._external.get(job_id, (None, job_id))[1]

    # ------------------------------------------------------------------ facts: submission

    def submit(self, job: JobRecord, now: float) -> list[JobRecord]:
        """Accept a job (and, for an array, create its children). Returns the new records."""
        if job.id in self.jobs:
            raise StateError(f"job id {job.id} already exists")
        if job.queue not in self.queues:
            raise NotFound(f"no job queue named {job.queue}; known: {', '.join(self.queues)}")
        for dep in job.depends_on:
            self._check_dependency(job, dep)
        job.seq = next(self._seq)
        job.status = S.SUBMITTED
        created = [job]
        self._record(job, None, S.SUBMITTED, "Submitted", now)
        self._to_evaluate.append(job.id)
        if job.is_parent:
            assert job.array_size is not None
            plain = [d.job_id for d in job.depends_on if d.type is None]
            n_to_n = [d.job_id for d in job.depends_on if d.type == "N_TO_N"]
            sequential = any(d.type == "SEQUENTIAL" for d in job.depends_on)
            for index in range(job.array_size):
                child = JobRecord(
                    id=f"{job.id}:{index}",
                    name=job.name,
                    definition=job.definition,
                    run_id=job.run_id,
                    queue=job.queue,
                    seq=next(self._seq),
                    created_at=now,
                    depends_on=tuple(
                        Dependency(d)
                        for d in child_dependencies(job.id, index, plain, n_to_n, sequential)
                    ),
                    parameters=job.parameters,
                    parent_id=job.id,
                    array_index=index,
                    array_size=job.array_size,
                    fingerprint=job.fingerprint,
                    cached_from=f"{job.cached_from}:{index}" if job.cached_from else None,
                )
                job.children.append(child.id)
                self._record(child, None, S.SUBMITTED, "Submitted as array child", now)
                self._to_evaluate.append(child.id)
                created.append(child)
        return created

    def _check_dependency(self, job: JobRecord, dep: Dependency) -> None:
        if dep.type == "SEQUENTIAL":
            if not job.is_parent:
                raise DependencyError(f"{job.name}: SEQUENTIAL needs an array job (array_size)")
            return
        upstream = self.jobs.get(dep.job_id)
        if upstream is None and dep.job_id not in self._external:
            raise NotFound(f"{job.name} depends on job {dep.job_id}, which kadam does not know")
        if dep.type == "N_TO_N":
            size = upstream.array_size if upstream is not None else None
            if not job.is_parent or upstream is None or not upstream.is_parent:
                raise DependencyError(
                    f"{job.name}: N_TO_N dependency on {self._name_of(dep.job_id)} needs both "
                    "jobs to be array jobs of the same size"
                )
            if size != job.array_size:
                raise DependencyError(
                    f"{job.name} (array of {job.array_size}) has an N_TO_N dependency on "
                    f"{upstream.name} (array of {size}); N_TO_N needs the same size"
                )
        elif dep.type is not None:
            raise DependencyError(f"{job.name}: dependency type must be N_TO_N or SEQUENTIAL")

    def restore(self, job: JobRecord) -> None:
        """Take back a job from the store (a new session on the same state directory).

        Indexes are rebuilt; STARTING/RUNNING attempts keep holding their capacity until the
        caller reports what became of them (re-adopted, exited or lost).
        """
        self.jobs[job.id] = job
        job.seq = next(self._seq) if job.seq < 0 else job.seq
        if self.remote_environment(job) is not None:
            if job.remote_id is not None:
                self._handed.add(job.id)
            elif job.parent_id is None:  # never reached the service: hand it over now
                self._to_evaluate.append(job.id)
            return
        if job.status in (S.SUBMITTED, S.PENDING):
            self._to_evaluate.append(job.id)
        elif job.status == S.RUNNABLE:
            self._push_runnable(job)
        elif job.status in (S.STARTING, S.RUNNING):
            attempt = job.attempts[-1]
            env = self.environments.get(attempt.compute_environment)
            if env is not None:
                self._allocate(env, job)
            self._active += 1
            if job.status == S.RUNNING and job.definition.timeout and attempt.started_at:
                deadline = attempt.started_at + job.definition.timeout
                heapq.heappush(self._deadlines, (deadline, job.id, attempt.number))

    # ------------------------------------------------------------------ facts: users

    def cancel(self, job_id: str, reason: str, now: float) -> bool:
        """AWS CancelJob: SUBMITTED, PENDING and RUNNABLE jobs fail with the reason; jobs that
        reached STARTING or RUNNING are not affected (terminate them). True if it had effect."""
        job = self._job(job_id)
        if job.is_parent:
            self._call_service(job, "cancel", reason)
            hits = [self._cancel_one(self.jobs[child], reason, now) for child in job.children]
            return any(hits)
        self._call_service(job, "cancel", reason)
        return self._cancel_one(job, reason, now)

    def _cancel_one(self, job: JobRecord, reason: str, now: float) -> bool:
        if job.status in (S.SUBMITTED, S.PENDING, S.RUNNABLE):
            self._finish(job, S.FAILED, Reasons.cancelled(reason), now)
            return True
        return False

    def terminate(self, job_id: str, reason: str, now: float) -> bool:
        """AWS TerminateJob: jobs not yet STARTING are cancelled; STARTING and RUNNING attempts
        are stopped and the job FAILS without retry. True if it had effect."""
        job = self._job(job_id)
        if job.is_parent:
            self._call_service(job, "terminate", reason)
            hits = [self._terminate_one(self.jobs[c], reason, now) for c in job.children]
            return any(hits)
        self._call_service(job, "terminate", reason)
        return self._terminate_one(job, reason, now)

    def _terminate_one(self, job: JobRecord, reason: str, now: float) -> bool:
        if job.status in (S.SUBMITTED, S.PENDING, S.RUNNABLE):
            self._finish(job, S.FAILED, Reasons.terminated(reason), now)
            return True
        if job.status in (S.STARTING, S.RUNNING):
            attempt = job.attempts[-1]
            if attempt.stop_cause is None:
                attempt.stop_cause = "terminate"
                attempt.stop_message = reason
                self._touch_attempt(attempt)
                if self.remote_environment(job) is None:  # the service stops its own (RemoteCall)
                    self._effects.actions.append(StopAttempt(job.id, attempt.number, "terminate"))
            return True
        return False

    # ------------------------------------------------------------------ facts: backends

    def attempt_started(self, key: tuple[str, int], handle: str, now: float) -> None:
        job, attempt = self._attempt(key)
        if attempt.done or job.status != S.STARTING:
            return
        attempt.started_at = now
        attempt.handle = handle
        self._touch_attempt(attempt)
        where = f"pid {handle}" if attempt.backend == "local" else f"{attempt.backend} {handle}"
        self._set(job, S.RUNNING, f"Attempt {attempt.number} running ({where})", now)
        if job.definition.timeout:
            deadline = now + job.definition.timeout
            heapq.heappush(self._deadlines, (deadline, job.id, attempt.number))
        if attempt.stop_cause:  # terminated while it was starting: stop it now that it runs
            self._effects.actions.append(StopAttempt(job.id, attempt.number, attempt.stop_cause))

    def attempt_failed_to_start(self, key: tuple[str, int], reason: str, now: float) -> None:
        job, attempt = self._attempt(key)
        if attempt.done:
            return
        attempt.stopped_at = now
        attempt.reason = reason
        attempt.status_reason = reason
        self._end_attempt(job, attempt)
        if attempt.stop_cause == "terminate":
            self._finish(job, S.FAILED, Reasons.terminated(attempt.stop_message or ""), now)
            return
        retry, why = retry_decision(
            job.definition.retry_strategy, attempt.number, None, reason, reason, None
        )
        self._after_failed_attempt(job, attempt, retry, f"{reason} ({why})", now)

    def attempt_exited(
        self, key: tuple[str, int], exit_code: int | None, reason: str | None, now: float
    ) -> None:
        job, attempt = self._attempt(key)
        if attempt.done:
            return
        if job.status == S.STARTING:  # a backend that never said "started"
            attempt.started_at = now
            self._set(job, S.RUNNING, f"Attempt {attempt.number} running", now)
        attempt.stopped_at = now
        attempt.exit_code = exit_code
        attempt.reason = reason
        self._end_attempt(job, attempt)
        definition = job.definition
        if attempt.stop_cause == "timeout":
            attempt.status_reason = Reasons.TIMEOUT
            self._finish(job, S.FAILED, Reasons.timeout(definition.timeout or 0), now)
            return
        if attempt.stop_cause == "terminate":
            attempt.status_reason = Reasons.terminated(attempt.stop_message or "")
            self._finish(job, S.FAILED, attempt.status_reason, now)
            return
        attempt.status_reason = Reasons.ESSENTIAL_EXITED
        if exit_code == 0:
            self._finish(job, S.SUCCEEDED, "Exited with code 0", now)
            return
        retry, why = retry_decision(
            definition.retry_strategy,
            attempt.number,
            exit_code,
            reason,
            attempt.status_reason,
            None,
        )
        self._after_failed_attempt(
            job, attempt, retry, f"{exit_sentence(job, attempt)} ({why})", now
        )

    def _after_failed_attempt(
        self, job: JobRecord, attempt: AttemptRecord, retry: bool, sentence: str, now: float
    ) -> None:
        self._touch_attempt(attempt)
        if retry:
            total = job.definition.retry_strategy.attempts
            self._set(
                job,
                S.RUNNABLE,
                f"Attempt {attempt.number} of {total} failed: {sentence}; "
                f"waiting to run attempt {attempt.number + 1}",
                now,
            )
            self._push_runnable(job)
        else:
            self._finish(job, S.FAILED, sentence, now)

    def expire(self, now: float) -> None:
        """Stop attempts whose timeout has passed (AWS: from the attempt's start)."""
        while self._deadlines and self._deadlines[0][0] <= now:
            _, job_id, number = heapq.heappop(self._deadlines)
            job = self.jobs[job_id]
            attempt = job.attempts[number - 1]
            if attempt.done or attempt.stop_cause:
                continue
            attempt.stop_cause = "timeout"
            attempt.stop_message = f"timeout of {job.definition.timeout} s"
            self._touch_attempt(attempt)
            self._effects.actions.append(StopAttempt(job_id, number, "timeout"))

    # ------------------------------------------------------------------ decisions

    def decide(self, now: float, limit: int | None = None) -> int:
        """Take scheduling decisions until none is left (or ``limit``). Returns how many."""
        taken = 0
        while limit is None or taken < limit:
            if self._to_evaluate:
                if self._evaluate(self._jobs_get(self._to_evaluate.popleft()), now):
                    taken += 1
                continue
            if not self._place_one(now):
                break
            taken += 1
        return taken

    def decide_one(self, now: float) -> str | None:
        """Take exactly one decision (step mode) and say in one sentence what it did and why;
        None when there is nothing to decide."""
        mark = len(self._effects.decisions)
        self._explain = True
        try:
            if not self.decide(now, limit=1):
                return None
        finally:
            self._explain = False
        said = self._effects.decisions[mark:]
        if not said:
            return None
        more = len(said) - 1
        tail = f" (and {more} more change{'s' if more != 1 else ''} it caused)" if more else ""
        return said[0] + tail

    def pending_decisions(self) -> int:
        """How many jobs wait for an evaluation (RUNNABLE ones wait for capacity instead)."""
        return len(self._to_evaluate)

    def _jobs_get(self, job_id: str) -> JobRecord:
        return self.jobs[job_id]

    def _evaluate(self, job: JobRecord, now: float) -> bool:
        """Look at a SUBMITTED or PENDING job's dependencies. True if its state changed."""
        if job.status not in (S.SUBMITTED, S.PENDING):
            return False
        if job.cached_from and job.status == S.SUBMITTED:
            self._finish(job, S.SUCCEEDED, Reasons.cached(job.cached_from), now)
            return True
        env = self.remote_environment(job)
        if env is not None:
            return self._evaluate_remote(job, env, now)
        if job.is_parent:
            if job.status == S.SUBMITTED:
                self._set(job, S.PENDING, f"Array job of {job.array_size} children", now)
                self._maybe_finish_parent(job, now)
                return True
            return False
        unfinished: list[str] = []
        for dep in job.depends_on:
            status = self.status_of(dep.job_id)
            if status == S.FAILED:
                self._fail_for_dependency(job, dep.job_id, now)
                return True
            if status != S.SUCCEEDED:
                unfinished.append(dep.job_id)
        if unfinished:
            return self._wait_for(job, unfinished, now)
        if job.depends_on:
            names = [self._name_of(d.job_id) for d in job.depends_on if d.job_id]
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            reason = f"Dependencies succeeded ({shown})"
        else:
            reason = "No dependencies"
        self._set(job, S.RUNNABLE, f"{reason}; waiting for capacity in queue {job.queue}", now)
        self._push_runnable(job)
        return True

    def _fail_for_dependency(self, job: JobRecord, dep_id: str, now: float) -> None:
        self._finish(job, S.FAILED, Reasons.dependency_failed(self._name_of(dep_id), dep_id), now)

    def _wait_for(self, job: JobRecord, unfinished: list[str], now: float) -> bool:
        """Look at ``job`` again when one of ``unfinished`` ends; a SUBMITTED job becomes
        PENDING, naming them. True if its state changed."""
        for dep_id in unfinished:
            self._dependents.setdefault(dep_id, set()).add(job.id)
        if job.status != S.SUBMITTED:
            return False
        names = [self._name_of(d) for d in unfinished]
        self._set(job, S.PENDING, Reasons.waiting_for(names), now)
        return True

    def _push_runnable(self, job: JobRecord) -> None:
        d = job.definition
        shape = (job.queue, d.vcpus, d.memory, d.gpus)
        heapq.heappush(self._runnable.setdefault(shape, []), (job.seq, job.id))

    def _place_one(self, now: float) -> bool:
        heads: list[tuple[int, int, _Shape]] = []
        for shape, heap in self._runnable.items():
            while heap and self.jobs[heap[0][1]].status != S.RUNNABLE:
                heapq.heappop(heap)
            if heap:
                heads.append((-self.queues[shape[0]].priority, heap[0][0], shape))
        heads.sort()
        for _, _, shape in heads:
            queue_name, vcpus, memory, gpus = shape
            for env_name in self.queues[queue_name].compute_environments:
                env = self.environments[env_name]
                if fits(env, vcpus, memory, gpus):
                    _, job_id = heapq.heappop(self._runnable[shape])
                    self._start(self.jobs[job_id], env, now)
                    return True
        return False

    def _new_attempt(self, job: JobRecord, env: ComputeEnvironment, now: float) -> AttemptRecord:
        """The job's next attempt, on ``env``, recorded."""
        attempt = AttemptRecord(
            job_id=job.id,
            number=len(job.attempts) + 1,
            compute_environment=env.name,
            backend=env.backend,
            created_at=now,
        )
        job.attempts.append(attempt)
        self._touch_attempt(attempt)
        return attempt

    def _start(self, job: JobRecord, env: ComputeEnvironment, now: float) -> None:
        attempt = self._new_attempt(job, env, now)
        self._allocate(env, job)
        self._active += 1
        d = job.definition
        free = f"{env.free_vcpus:g} of {env.max_vcpus:g} vCPUs left"
        self._set(
            job,
            S.STARTING,
            f"Placed on compute environment {env.name} ({describe_need(d.vcpus, d.memory, d.gpus)}"
            f"; {free}); starting attempt {attempt.number}",
            now,
        )
        self._effects.actions.append(StartAttempt(job, attempt))

    def _allocate(self, env: ComputeEnvironment, job: JobRecord) -> None:
        d = job.definition
        env.used_vcpus += d.vcpus
        env.used_memory += d.memory
        env.used_gpus += d.gpus

    def _end_attempt(self, job: JobRecord, attempt: AttemptRecord) -> None:
        env = self.environments.get(attempt.compute_environment)
        if env is not None:
            d = job.definition
            env.used_vcpus = max(0.0, env.used_vcpus - d.vcpus)
            env.used_memory = max(0, env.used_memory - d.memory)
            env.used_gpus = max(0, env.used_gpus - d.gpus)
        self._active -= 1
        self._touch_attempt(attempt)

    # ------------------------------------------------------------------ state changes

    def _set(self, job: JobRecord, dst: JobStatus, reason: str, now: float) -> None:
        check_transition(job.display_name, job.status, dst)
        src = job.status
        if dst == S.STARTING and job.started_at is None:
            job.started_at = now
            parent = self.jobs.get(job.parent_id) if job.parent_id else None
            if parent is not None and parent.started_at is None:
                parent.started_at = now  # an array runs from its first child's start
                self._dirty_jobs[parent.id] = parent
        self._record(job, src, dst, reason, now)

    def _record(
        self, job: JobRecord, src: JobStatus | None, dst: JobStatus, reason: str, now: float
    ) -> None:
        if src is None:
            self.jobs[job.id] = job
        job.status = dst
        job.status_reason = reason
        self._dirty_jobs[job.id] = job
        transition = Transition(job.id, now, src, dst, reason)
        self._effects.transitions.append(transition)
        if self._explain:  # only decide_one reads them: no sentence per change otherwise
            arrow = f"{src} → {dst}" if src else f"{dst}"
            self._effects.decisions.append(f"{job.display_name} moved {arrow}: {reason}")

    def _finish(self, job: JobRecord, dst: JobStatus, reason: str, now: float) -> None:
        """Move a job to SUCCEEDED or FAILED and let everything that waited on it know."""
        work = deque([(job, dst, reason)])
        while work:
            current, status, why = work.popleft()
            if current.status in DONE_STATES:
                continue
            self._set(current, status, why, now)
            current.stopped_at = now
            parent = self.jobs.get(current.parent_id) if current.parent_id else None
            if parent is not None and not parent.status.done:
                outcome = self._parent_outcome(parent)
                if outcome is not None:
                    work.append((parent, *outcome))
            for waiting_id in sorted(self._dependents.pop(current.id, ())):
                waiting = self.jobs[waiting_id]
                if waiting.status.done:
                    continue
                if status == S.FAILED:
                    failed = Reasons.dependency_failed(current.display_name, current.id)
                    work.append((waiting, S.FAILED, failed))
                else:
                    self._to_evaluate.append(waiting_id)

    def _parent_outcome(self, parent: JobRecord) -> tuple[JobStatus, str] | None:
        # Children end for good and mostly in order: resume the scan where the last one stopped
        # (one pass over the children in all, rather than one per child that ends).
        children, jobs = parent.children, self.jobs
        done = self._children_done.get(parent.id, 0)
        while done < len(children) and jobs[children[done]].status.done:
            done += 1
        self._children_done[parent.id] = done
        if done < len(children):
            return None
        del self._children_done[parent.id]
        statuses = [jobs[c].status for c in children]
        failed = [c for c, s in zip(parent.children, statuses, strict=True) if s == S.FAILED]
        if parent.cached_from and not failed:
            return S.SUCCEEDED, Reasons.cached(parent.cached_from)
        if not failed:
            return S.SUCCEEDED, f"All {len(statuses)} children succeeded"
        indexes = ", ".join(c.rsplit(":", 1)[1] for c in failed[:10])
        more = "…" if len(failed) > 10 else ""
        return S.FAILED, f"{len(failed)} of {len(statuses)} children failed (index {indexes}{more})"

    def _maybe_finish_parent(self, parent: JobRecord, now: float) -> None:
        outcome = self._parent_outcome(parent)
        if outcome is not None:
            self._finish(parent, *outcome, now)

    # ------------------------------------------------------------------ effects

    def _touch_attempt(self, attempt: AttemptRecord) -> None:
        self._dirty_attempts[attempt.key] = attempt
        self._dirty_jobs[attempt.job_id] = self.jobs[attempt.job_id]

    def take_effects(self) -> Effects:
        """Everything that changed since the last call; the engine forgets it."""
        effects = self._effects
        effects.jobs = list(self._dirty_jobs.values())
        effects.attempts = list(self._dirty_attempts.values())
        self._effects = Effects()
        self._dirty_jobs = {}
        self._dirty_attempts = {}
        return effects

    def _job(self, job_id: str) -> JobRecord:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFound(f"no live job with id {job_id}") from None

    def _attempt(self, key: tuple[str, int]) -> tuple[JobRecord, AttemptRecord]:
        job = self._job(key[0])
        if not 1 <= key[1] <= len(job.attempts):
            raise NotFound(f"job {job.display_name} has no attempt {key[1]}")
        return job, job.attempts[key[1] - 1]


def ids(records: Iterable[JobRecord]) -> list[str]:
    return [r.id for r in records]

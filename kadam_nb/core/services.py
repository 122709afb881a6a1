"""Jobs handed to a service that schedules them itself (AWS Batch, Slurm): the engine's side.

A job of a queue whose compute environment is ``remote`` is handed over whole (``HandOver``)
once each dependency has succeeded or went to the same service before it; from then on the
engine only follows what the backend observes: states (filled in along AWS's edges when the
service passed several between two polls), attempts (a higher number: the service retried)
and the end. Cancel and terminate become ``RemoteCall``s.

:class:`ServiceJobs` is a part of :class:`~kadam_nb.core.engine.BatchEngine` (a mixin), kept
here so that each concept fits in one file; it uses the engine's records and state changes.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .effects import Effects, FollowAttempt, HandOver, RemoteCall
from .jobs import AttemptRecord, ComputeEnvironment, Dependency, JobQueue, JobRecord
from .policy import exit_sentence
from .states import DONE_STATES, JobStatus, Reasons, forward_path, is_ahead

__all__ = ["ServiceJobs"]

S = JobStatus


class ServiceJobs:
    """The engine's rules for jobs a service schedules (mixed into BatchEngine)."""

    if TYPE_CHECKING:  # provided by BatchEngine
        jobs: dict[str, JobRecord]
        environments: dict[str, ComputeEnvironment]
        queues: dict[str, JobQueue]
        _handed: set[str]
        _effects: Effects
        _dependents: dict[str, set[str]]
        _to_evaluate: deque[str]
        _dirty_jobs: dict[str, JobRecord]

        def status_of(self, job_id: str) -> JobStatus | None: ...
        def _name_of(self, job_id: str) -> str: ...
        def _set(self, job: JobRecord, dst: JobStatus, reason: str, now: float) -> None: ...
        def _finish(self, job: JobRecord, dst: JobStatus, reason: str, now: float) -> None: ...
        def _touch_attempt(self, attempt: AttemptRecord) -> None: ...
        def _fail_for_dependency(self, job: JobRecord, dep_id: str, now: float) -> None: ...
        def _wait_for(self, job: JobRecord, unfinished: list[str], now: float) -> bool: ...
        def _new_attempt(
            self, job: JobRecord, env: ComputeEnvironment, now: float
        ) -> AttemptRecord: ...

    def handed_over(self, job_id: str, remote_id: str) -> None:
        """The service accepted the job under ``remote_id`` (kept, so a new session can follow
        it again)."""
        job = self.jobs.get(job_id)
        if job is not None:
            job.remote_id = remote_id
            self._dirty_jobs[job.id] = job

    def hand_over_failed(self, job_id: str, reason: str, now: float) -> None:
        """The service refused the job: it fails (an array with all its children)."""
        job = self.jobs.get(job_id)
        if job is None or job.status.done:
            return
        self._finish(job, S.FAILED, reason, now)
        for child in job.children:
            self._finish(self.jobs[child], S.FAILED, reason, now)

    def observe(
        self,
        job_id: str,
        status: JobStatus,
        reason: str,
        now: float,
        *,
        attempt: int | None = None,
        handle: str | None = None,
        exit_code: int | None = None,
        attempt_reason: str | None = None,
    ) -> None:
        """Follow what a service reports of a job it schedules: record the states it passed
        through (filling in those it passed between two polls), its attempts and its end.
        Reports that would move a job backwards, or of a finished job, are ignored; array
        parents follow their children as everywhere else."""
        job = self.jobs.get(job_id)
        env = self.remote_environment(job) if job is not None else None
        if job is None or env is None or job.status.done or job.is_parent:
            return
        known = job.attempts[attempt - 1] if attempt and attempt <= len(job.attempts) else None
        if known is not None and not known.done and (exit_code is not None or attempt_reason):
            known.exit_code = exit_code if exit_code is not None else known.exit_code
            known.reason = attempt_reason or known.reason  # how it ended, before the next one
            self._touch_attempt(known)
        if attempt is not None and job.attempts and attempt > len(job.attempts):
            self._service_retried(job, env, now)
        if not is_ahead(status, job.status):
            return
        via: JobStatus | None = None
        if status == S.SUCCEEDED or (status == S.FAILED and exit_code is not None):
            via = S.RUNNING
        elif status == S.FAILED and attempt is not None:
            via = S.STARTING
        path = forward_path(job.status, status, via)
        for i, state in enumerate(path):
            last = i == len(path) - 1
            if state == S.STARTING:
                self._remote_attempt(job, env, attempt, now)
            current = job.current_attempt
            if state == S.RUNNING and current is not None:
                current.started_at = current.started_at or now
                current.handle = handle or current.handle
                self._touch_attempt(current)
            said = reason if last and reason else ""
            if state in DONE_STATES:
                self._remote_end(job, state, said, exit_code, attempt_reason, now)
                return
            if state != job.status:
                self._set(job, state, said or self._remote_sentence(job, env, state, last), now)

    def _remote_attempt(
        self, job: JobRecord, env: ComputeEnvironment, number: int | None, now: float
    ) -> None:
        number = number or len(job.attempts) + 1
        while len(job.attempts) < number:
            attempt = self._new_attempt(job, env, now)
            self._effects.actions.append(FollowAttempt(job, attempt))

    def _service_retried(self, job: JobRecord, env: ComputeEnvironment, now: float) -> None:
        """A higher attempt number: the service ended the last attempt and tries again."""
        previous = job.attempts[-1]
        if not previous.done:
            previous.stopped_at = now
            previous.status_reason = previous.status_reason or Reasons.ESSENTIAL_EXITED
            self._touch_attempt(previous)
        if job.status in (S.STARTING, S.RUNNING):
            total = job.definition.retry_strategy.attempts
            self._set(
                job,
                S.RUNNABLE,
                f"Attempt {previous.number} of {total} failed: "
                f"{exit_sentence(job, previous)}; {env.name} runs attempt {previous.number + 1}",
                now,
            )

    def _remote_end(
        self,
        job: JobRecord,
        status: JobStatus,
        reason: str,
        exit_code: int | None,
        attempt_reason: str | None,
        now: float,
    ) -> None:
        attempt = job.current_attempt
        if attempt is not None and not attempt.done:
            attempt.stopped_at = now
            attempt.exit_code = exit_code if exit_code is not None else attempt.exit_code
            attempt.reason = attempt_reason or attempt.reason
            attempt.status_reason = reason or attempt.status_reason or Reasons.ESSENTIAL_EXITED
            self._touch_attempt(attempt)
        if attempt is not None and attempt.stop_cause == "terminate":
            reason = Reasons.terminated(attempt.stop_message or "")
        if not reason:
            if status == S.SUCCEEDED:
                reason = "Exited with code 0"
            elif attempt is not None:
                reason = exit_sentence(job, attempt)
            else:
                reason = "Failed on the service (it gave no reason)"
        self._finish(job, status, reason, now)

    @staticmethod
    def _remote_sentence(
        job: JobRecord, env: ComputeEnvironment, state: JobStatus, last: bool
    ) -> str:
        if not last:
            return f"{state} on {env.name} (passed between two polls of {env.backend})"
        number = len(job.attempts)
        handle = job.attempts[-1].handle if job.attempts else None
        return {
            S.PENDING: f"Waiting on {env.name} ({env.backend}) for dependencies",
            S.RUNNABLE: f"Waiting on {env.name} ({env.backend}) for capacity",
            S.STARTING: f"Attempt {number} starting on {env.name} ({env.backend})",
            S.RUNNING: f"Attempt {number} running on {env.name} ({env.backend} {handle})",
        }.get(state, str(state))

    def remote_environment(self, job: JobRecord) -> ComputeEnvironment | None:
        """The service a job's queue hands jobs to, or None for jobs kadam runs itself."""
        queue = self.queues.get(job.queue)
        if queue is None or not queue.compute_environments:
            return None
        env = self.environments.get(queue.compute_environments[0])
        return env if env is not None and env.remote else None

    def handed_over_to_service(self, job: JobRecord) -> bool:
        """True if a service schedules this job (it, or its array parent, was handed over)."""
        return job.id in self._handed or (
            job.parent_id is not None and job.parent_id in self._handed
        )

    def _evaluate_remote(self, job: JobRecord, env: ComputeEnvironment, now: float) -> bool:
        """Hand a job to its service once each dependency has succeeded or was handed to the
        same service before it (the service then orders them). Array children go with their
        parent."""
        if job.parent_id is not None or job.id in self._handed:
            return False
        handed: list[Dependency] = []
        unfinished: list[str] = []
        for dep in job.depends_on:
            if dep.type == "SEQUENTIAL":
                handed.append(dep)
                continue
            status = self.status_of(dep.job_id)
            if status == S.FAILED:
                self._fail_for_dependency(job, dep.job_id, now)
                for child in job.children:
                    self._finish(self.jobs[child], S.FAILED, job.status_reason, now)
                return True
            if status == S.SUCCEEDED:
                continue
            upstream = self.jobs.get(dep.job_id)
            if upstream is not None and dep.job_id in self._handed:
                upstream_env = self.remote_environment(upstream)
                if upstream_env is not None and upstream_env.backend == env.backend:
                    handed.append(dep)
                    continue
            unfinished.append(dep.job_id)
        if unfinished:
            return self._wait_for(job, unfinished, now)
        self._handed.add(job.id)
        self._effects.actions.append(HandOver(job, env, tuple(handed)))
        for waiting in self._dependents.get(job.id, ()):  # they may go to the service now
            self._to_evaluate.append(waiting)
        if job.is_parent and job.status == S.SUBMITTED:
            self._set(job, S.PENDING, f"Array job of {job.array_size} children, on {env.name}", now)
        else:
            self._effects.decisions.append(
                f"{job.display_name} handed to {env.name} ({env.backend}), which schedules it"
            )
        return True

    def _call_service(self, job: JobRecord, verb: str, reason: str) -> None:
        """Tell the service about a cancel or terminate of a job it was handed (an array child
        on its own; the parent once for all its children)."""
        env = self.remote_environment(job)
        if env is None or job.status.done:
            return
        handed = job.id in self._handed or (
            job.parent_id is not None and job.parent_id in self._handed
        )
        if not handed:
            return
        if verb == "cancel" and job.status not in (S.SUBMITTED, S.PENDING, S.RUNNABLE):
            return
        self._effects.actions.append(RemoteCall(job.id, env, verb, reason))

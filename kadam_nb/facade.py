"""The Registry: the one object a user talks to.

It keeps job definitions (with revisions), queues and compute environments, submits jobs and
whole pipelines, and answers questions about jobs, live or historical. Job state itself is owned
by the :class:`~kadam_nb.scheduler.Scheduler` thread; the Registry asks it to act and reads the
snapshots it publishes. History lives in the state directory's :class:`~kadam_nb.store.Store`.

Only one Registry at a time runs the scheduler of a state directory (it holds
``scheduler.lock``); another one opened on the same directory, in this process or another
kernel, can read the history but refuses to change anything.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import shutil
import time
import uuid
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .backends import make_backend, resolve_backend_name
from .backends.services import SERVICE_SETTINGS, check_service_settings, make_service_backend
from .core.engine import BatchEngine
from .core.graph import plan_pipeline
from .core.isolation import isolation_risks
from .core.jobs import ComputeEnvironment, Dependency, JobQueue, JobRecord
from .core.policy import fingerprint, never_fits
from .core.spec import FrozenMap, JobDefinition, parse_memory
from .core.states import JobStatus
from .core.views import JobView
from .errors import (
    CapacityError,
    DependencyError,
    FieldError,
    KadamError,
    KadamWarning,
    NotFound,
    SpecError,
    StateDirBusy,
)
from .jobs import Job, Run
from .scheduler import Event, Scheduler
from .store import Store

__all__ = ["DEFAULT_ENVIRONMENT", "DEFAULT_IMAGE", "DEFAULT_QUEUE", "Registry"]

DEFAULT_QUEUE = "default"
DEFAULT_ENVIRONMENT = "default"
DEFAULT_IMAGE = "busybox:1.36"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_CHILD_REF = re.compile(r"^(?P<name>.+)\[(?P<index>\d+)\]$")
_open_registries: weakref.WeakSet[Registry] = weakref.WeakSet()

DependencyLike = Any  # Job | str (job id) | Dependency | (Job | str, "N_TO_N" | "SEQUENTIAL")


def machine_capacity() -> tuple[int, int]:
    """This machine's CPUs and memory (MiB): the default compute environment's size."""
    cpus = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError):  # pragma: no cover - non-Linux
        memory = 4096
    return cpus, int(memory)


class Registry:
    """Job definitions, queues, compute environments and jobs, backed by a state directory.

    ``backend`` is "auto", "docker" or "local": what runs the default compute environment's
    jobs. ``max_vcpus``/``max_memory`` size the default compute environment (the machine's CPUs
    and memory by default). ``stop_grace`` is the seconds between SIGTERM and SIGKILL when a job
    times out or is terminated. ``keep_failed_containers`` keeps the containers of failed
    attempts for debugging (the container id is the attempt's ``handle``). ``step=True`` starts
    in step mode (see :meth:`step`).
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str] = ".kadam",
        backend: str = "auto",
        *,
        max_vcpus: float | None = None,
        max_memory: int | str | None = None,
        stop_grace: float = 10.0,
        default_image: str = DEFAULT_IMAGE,
        keep_failed_containers: bool = False,
        read_only: bool = False,
        step: bool = False,
    ) -> None:
        self.state_dir = Path(state_dir).expanduser().resolve()
        self.backend = resolve_backend_name(backend)
        self.default_image = default_image
        self.stop_grace = stop_grace
        self.keep_failed_containers = keep_failed_containers
        self.store = Store(self.state_dir)
        self._lock_fd = None if read_only else _acquire_lock(self.state_dir / "scheduler.lock")
        self.read_only = self._lock_fd is None
        self._closed = False
        self._definitions: dict[str, JobDefinition] = {}
        for d in self.store.definitions(active_only=True):
            self._definitions[d.name] = d
        self.engine = BatchEngine()
        self.engine.continue_sequence_after(self.store.max_seq())
        cpus, memory = machine_capacity()
        default_env = ComputeEnvironment(
            DEFAULT_ENVIRONMENT,
            max_vcpus=float(max_vcpus if max_vcpus is not None else cpus),
            max_memory=parse_memory(max_memory, "max_memory") if max_memory is not None else memory,
            backend=self.backend,
        )
        self.engine.add_environment(default_env)
        for doc in self.store.resources("compute_environment"):
            if doc["name"] != DEFAULT_ENVIRONMENT:
                doc["settings"] = FrozenMap(doc.get("settings") or {})
                self.engine.add_environment(ComputeEnvironment(**doc))
        self.engine.add_queue(JobQueue(DEFAULT_QUEUE, 1, (DEFAULT_ENVIRONMENT,)))
        for doc in self.store.resources("queue"):
            if doc["name"] != DEFAULT_QUEUE:
                self.engine.add_queue(
                    JobQueue(doc["name"], doc["priority"], tuple(doc["compute_environments"]))
                )
        backends = {
            name: self._make_backend(name)
            for name in {env.backend for env in self.engine.environments.values()}
        }
        self._scheduler = Scheduler(self.engine, self.store, backends, stop_grace=stop_grace)
        self._scheduler.stepping = step
        self._scheduler.registered_definition = self._registered_revision
        if not self.read_only:
            self._restore_unfinished()
            self._scheduler.start()
        _open_registries.add(self)

    def _make_backend(self, name: str) -> Any:
        if name in SERVICE_SETTINGS:
            return make_service_backend(name, str(self.state_dir), self.stop_grace)
        return make_backend(
            name,
            stop_grace=self.stop_grace,
            state_dir=str(self.state_dir),
            keep_failed=self.keep_failed_containers,
        )

    # ------------------------------------------------------------------ definitions

    def register(self, definition: str | JobDefinition, /, **fields: Any) -> JobDefinition:
        """Register a job definition; registering a name again makes revision n+1.

        Either ``register("extract", image=..., command=..., ...)`` with
        :meth:`JobDefinition.create`'s keywords, or ``register(JobDefinition.from_aws(doc))``.
        Registering exactly the latest revision's content again returns that revision unchanged
        (re-running a notebook cell does not pile up revisions; AWS would add one).
        """
        self._writable()
        if isinstance(definition, JobDefinition):
            d = definition.replace(**fields) if fields else definition
        elif isinstance(definition, str):
            _check_keywords(fields)
            d = JobDefinition.create(definition, **fields)
        else:
            raise SpecError(FieldError("name", "give a definition name (str) or a JobDefinition"))
        if d.image is None:
            d = d.replace(image=self.default_image)
        for risk in isolation_risks(d):  # allowed, since asked for; said every time
            warnings.warn(
                f"{d.name}: {risk.field}: {risk.message} (the definition asks for it)",
                KadamWarning,
                stacklevel=2,
            )
        latest = self._definitions.get(d.name)
        if latest is not None and latest.content_key() == d.content_key():
            return latest
        d = d.replace(revision=self.store.last_revision(d.name) + 1)
        self.store.save_definition(d, time.time())
        self._definitions[d.name] = d
        return d

    def definition(self, name: str, revision: int | None = None) -> JobDefinition:
        """The latest revision of ``name`` (or the given revision, also of removed ones)."""
        if revision is None:
            if name in self._definitions:
                return self._definitions[name]
            raise NotFound(self._unknown_definition(name))
        for d in self.store.definitions(active_only=False):
            if d.name == name and d.revision == revision:
                return d
        raise NotFound(f"job definition {name} has no revision {revision}")

    def _registered_revision(self, name: str, revision: int | None) -> JobDefinition | None:
        """That revision as registered, or None (for a submit's overrides; any thread)."""
        latest = self._definitions.get(name)
        if latest is not None and latest.revision == revision:
            return latest
        try:
            return self.definition(name, revision) if revision is not None else None
        except NotFound:
            return None

    def definitions(self) -> list[JobDefinition]:
        """The latest revision of every registered definition, in registration order."""
        return list(self._definitions.values())

    def revisions(self, name: str) -> list[JobDefinition]:
        """Every revision ever registered under ``name``, oldest first."""
        return [d for d in self.store.definitions(active_only=False) if d.name == name]

    def remove(self, name: str) -> None:
        """Forget a definition (AWS: deregister). Its jobs and revisions stay in the history."""
        self._writable()
        if name not in self._definitions:
            raise NotFound(self._unknown_definition(name))
        self.store.deactivate_definitions(name)
        del self._definitions[name]

    def _unknown_definition(self, name: str) -> str:
        known = ", ".join(self._definitions) or "none registered yet"
        return f"no job definition named {name!r}; registered: {known}"

    # ------------------------------------------------------------------ queues, environments

    def create_compute_environment(
        self,
        name: str,
        *,
        max_vcpus: float | None = None,
        max_memory: int | str | None = None,
        backend: str | None = None,
        max_gpus: int = 0,
        **settings: str,
    ) -> ComputeEnvironment:
        """Create (or change) a compute environment: the capacity its jobs share.

        ``backend`` "docker" or "local" runs jobs here, within ``max_vcpus`` and ``max_memory``.
        "aws-batch" (settings ``job_queue``, optional ``region``, ``endpoint_url``) and "slurm"
        (optional ``partition``, ``account``) hand jobs to that service, which schedules them
        on its own capacity; a queue of such an environment sends its jobs there.
        """
        self._writable()
        service = backend in SERVICE_SETTINGS
        errors = []
        if not isinstance(name, str) or not _NAME.match(name):
            errors.append(FieldError("name", "1-128 letters, digits, - or _"))
        if service:
            errors.extend(check_service_settings(str(backend), settings))
            max_vcpus = 0 if max_vcpus is None else max_vcpus
            max_memory = 0 if max_memory is None else max_memory
        else:
            errors.extend(check_service_settings(backend or self.backend, settings))
            for field_name, value in (("max_vcpus", max_vcpus), ("max_memory", max_memory)):
                if value is None:
                    errors.append(FieldError(field_name, "required for a docker or local one"))
            valid = not isinstance(max_vcpus, bool) and isinstance(max_vcpus, (int, float))
            if max_vcpus is not None and (not valid or max_vcpus <= 0):
                errors.append(FieldError("max_vcpus", "must be a number > 0"))
        if isinstance(max_gpus, bool) or not isinstance(max_gpus, int) or max_gpus < 0:
            errors.append(FieldError("max_gpus", "must be a whole number >= 0"))
        memory = 0
        try:
            memory = parse_memory(max_memory, "max_memory") if max_memory else 0
        except SpecError as exc:
            errors.extend(exc.errors)
        if not errors:
            chosen = (
                str(backend)
                if service
                else (resolve_backend_name(backend) if backend is not None else self.backend)
            )
        if errors:
            raise SpecError(errors, context=f"compute environment {name}")
        given = FrozenMap(
            {
                k: str(v).lower() if isinstance(v, bool) else v
                for k, v in settings.items()
                if v is not None
            }
        )
        env = ComputeEnvironment(
            name, float(max_vcpus or 0), memory, chosen, max_gpus, remote=service, settings=given
        )

        def apply() -> ComputeEnvironment:
            current = self.engine.environments.get(name)
            if current is None:
                self.engine.add_environment(env)
                return env
            if current.remote != env.remote or (env.remote and current.backend != env.backend):
                raise SpecError(
                    FieldError(
                        "backend",
                        f"{name} runs on {current.backend}; a compute environment keeps its "
                        "kind of backend (create another one for the other kind)",
                    )
                )
            current.max_vcpus, current.max_memory = env.max_vcpus, env.max_memory
            current.max_gpus, current.backend = env.max_gpus, env.backend
            current.settings = env.settings
            return current

        if chosen not in self._scheduler.backends:
            self._scheduler.backends[chosen] = self._make_backend(chosen)
        result: ComputeEnvironment = self._scheduler.call(apply)
        doc = {
            "name": name,
            "max_vcpus": env.max_vcpus,
            "max_memory": env.max_memory,
            "backend": chosen,
            "max_gpus": max_gpus,
            "remote": service,
            "settings": dict(given),
        }
        self.store.save_resource("compute_environment", name, doc)
        return result

    def create_queue(
        self,
        name: str,
        *,
        priority: int = 1,
        compute_environments: Sequence[str] | None = None,
    ) -> JobQueue:
        """Create (or change) a job queue; higher priority queues are scheduled first."""
        self._writable()
        envs = tuple(compute_environments or (DEFAULT_ENVIRONMENT,))
        errors = []
        if not isinstance(name, str) or not _NAME.match(name):
            errors.append(FieldError("name", "1-128 letters, digits, - or _"))
        if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
            errors.append(FieldError("priority", "must be a whole number >= 0"))
        for env_name in envs:
            if env_name not in self.engine.environments:
                known = ", ".join(self.engine.environments)
                errors.append(
                    FieldError(
                        "compute_environments", f"no environment {env_name!r}; known: {known}"
                    )
                )
        services = [e for e in envs if self.engine.environments.get(e, _NO_ENV).remote]
        if services and len(envs) > 1:
            errors.append(
                FieldError(
                    "compute_environments",
                    f"{services[0]} is a service (it schedules jobs itself), so it must be the "
                    f"queue's only compute environment; got {', '.join(envs)}",
                )
            )
        if errors:
            raise SpecError(errors, context=f"queue {name}")
        queue = JobQueue(name, priority, envs)
        self._scheduler.call(self.engine.add_queue, queue)
        doc = {"name": name, "priority": priority, "compute_environments": list(envs)}
        self.store.save_resource("queue", name, doc)
        return queue

    @property
    def queues(self) -> dict[str, JobQueue]:
        return dict(self.engine.queues)

    @property
    def compute_environments(self) -> dict[str, ComputeEnvironment]:
        return dict(self.engine.environments)

    # ------------------------------------------------------------------ submitting

    def submit(
        self,
        definition: str | JobDefinition,
        *,
        depends_on: Iterable[DependencyLike] = (),
        array_size: int | None = None,
        parameters: Mapping[str, str] | None = None,
        queue: str | None = None,
        **overrides: Any,
    ) -> Job:
        """Submit one job of a definition (AWS SubmitJob).

        ``depends_on`` takes jobs, job ids, or ``(job, "N_TO_N")`` pairs (and ``"SEQUENTIAL"``
        for an array that runs its children one after another). ``overrides`` replace the
        definition's fields for this job only (command, environment, vcpus, memory, timeout,
        retries, ...). The job joins the run (and work directory) of its first dependency, or
        starts a run of its own.
        """
        self._writable()
        base = self._resolve_definition(definition)
        d = base.replace(**overrides) if overrides else base
        if array_size is not None:
            d = d.replace(array_size=array_size)
        deps = [self._dependency(x) for x in depends_on]
        if d.array_dependency == "SEQUENTIAL" and not any(x.type == "SEQUENTIAL" for x in deps):
            deps.append(Dependency("", "SEQUENTIAL"))
        if len([x for x in deps if x.type != "SEQUENTIAL"]) > 20:
            raise SpecError(FieldError("depends_on", "at most 20 dependencies (AWS Batch's limit)"))
        queue_name = queue or DEFAULT_QUEUE
        self._check_fits(d, queue_name)
        params = FrozenMap(dict(parameters or {}))
        run_id = None
        for dep in deps:
            if dep.job_id:
                run_id = self._view(dep.job_id).run_id
                break
        now = time.time()
        if run_id is None:
            run_id = _new_id()
            self.store.create_run(run_id, now, [d.name])
        record = JobRecord(
            id=_new_id(),
            name=d.name,
            definition=d,
            run_id=run_id,
            queue=queue_name,
            seq=-1,
            created_at=now,
            depends_on=tuple(deps),
            parameters=params,
            array_size=d.array_size,
        )
        self._submit_records([record])
        return Job(self, record.id)

    def run(
        self,
        targets: str | Sequence[str] | None = None,
        *,
        cache: bool = False,
        queue: str | None = None,
    ) -> Run:
        """Submit a pipeline: the targets (all definitions when None) and everything upstream of
        them through the definitions' ``depends_on``, as one run sharing a work directory.

        ``queue`` (default: the default queue) decides where every job of the run goes: the
        same definitions run here, on AWS Batch or on Slurm by naming a queue whose compute
        environment is of that kind.

        With ``cache=True``, a job whose fingerprint (definition content, resolved command,
        image, upstream fingerprints) matches an earlier job that SUCCEEDED is marked SUCCEEDED
        without running, and the new run's work directory starts with that run's files.
        (Skip-if-unchanged is kadam's, not AWS Batch's.)
        """
        self._writable()
        if isinstance(targets, str):
            targets = [targets]
        plan = plan_pipeline({name: d.depends_on for name, d in self._definitions.items()}, targets)
        queue_name = queue or DEFAULT_QUEUE
        for name in plan:
            self._check_fits(self._definitions[name], queue_name)
        now = time.time()
        run_id = _new_id()
        records: list[JobRecord] = []
        by_name: dict[str, JobRecord] = {}
        for name in plan:
            d = self._definitions[name]
            deps: list[Dependency] = []
            for upstream_name in d.depends_on:
                upstream = by_name[upstream_name]
                kind = None
                if d.array_dependency == "N_TO_N" and upstream.array_size is not None:
                    if d.array_size != upstream.array_size:
                        raise DependencyError(
                            f"{name} (array of {d.array_size}) has an N_TO_N dependency on "
                            f"{upstream_name} (array of {upstream.array_size}); N_TO_N needs "
                            "arrays of the same size"
                        )
                    kind = "N_TO_N"
                deps.append(Dependency(upstream.id, kind))
            if d.array_dependency == "SEQUENTIAL":
                deps.append(Dependency("", "SEQUENTIAL"))
            fp = fingerprint(
                d, {}, d.array_size, [by_name[u].fingerprint or "" for u in d.depends_on]
            )
            record = JobRecord(
                id=_new_id(),
                name=name,
                definition=d,
                run_id=run_id,
                queue=queue_name,
                seq=-1,
                created_at=now,
                depends_on=tuple(deps),
                array_size=d.array_size,
                fingerprint=fp,
                cached_from=self.store.succeeded_with_fingerprint(fp) if cache else None,
            )
            records.append(record)
            by_name[name] = record
        work_dir = self.store.create_run(run_id, now, list(plan))
        for source_run in dict.fromkeys(
            self._view(r.cached_from).run_id for r in records if r.cached_from
        ):
            shutil.copytree(self.store.run_work_dir(source_run), work_dir, dirs_exist_ok=True)
        self._submit_records(records)
        return Run(self, run_id, [Job(self, r.id) for r in records], work_dir)

    def export_aws(
        self,
        path: str | os.PathLike[str] | None = None,
        targets: str | Sequence[str] | None = None,
        *,
        job_queue: str = "default",
    ) -> dict[str, Any]:
        """The pipeline of ``targets`` (all definitions when None) as AWS Batch requests:
        ``{"jobDefinitions": [RegisterJobDefinition...], "submitJobs": [SubmitJob...]}``, for
        people who submit by other means. With ``path``, also written there as one JSON file
        per request and a ``submit.py`` that submits them with the real job ids (as
        ``%kadam export aws DIR``). Secret-looking values are masked; warnings say what AWS
        would refuse or treat differently."""
        from .core.aws_export import export_files, pipeline_document

        doc, said = pipeline_document(dict(self._definitions), targets, job_queue=job_queue)
        for sentence in said:
            warnings.warn(sentence, KadamWarning, stacklevel=2)
        if path is not None:
            for relative, text in export_files(doc).items():
                target = Path(path) / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        return doc

    def _submit_records(self, records: list[JobRecord]) -> None:
        def submit_all() -> None:
            for record in records:
                for dep in record.depends_on:
                    self._note_external(dep.job_id)
            # validate every record before accepting any: nothing half-submitted
            for record in records:
                if record.queue not in self.engine.queues:
                    raise NotFound(
                        f"no job queue named {record.queue}; known: {', '.join(self.engine.queues)}"
                    )
            for record in records:
                self.engine.submit(record, time.time())

        self._scheduler.call(submit_all)

    def _note_external(self, job_id: str) -> None:
        if not job_id or job_id in self.engine.jobs:
            return
        found = self.store.job_status(job_id)
        if found is not None:
            self.engine.note_external(job_id, found[0], found[1])

    def _dependency(self, item: DependencyLike) -> Dependency:
        kind = None
        if isinstance(item, Dependency):
            return item
        if isinstance(item, tuple) and len(item) == 2:
            item, kind = item
            if kind not in ("N_TO_N", "SEQUENTIAL"):
                raise SpecError(
                    FieldError("depends_on", f"type {kind!r}: use N_TO_N or SEQUENTIAL")
                )
        if isinstance(item, (Job, Run)):
            ids = [item.id] if isinstance(item, Job) else [j.id for j in item.jobs]
            if len(ids) != 1:
                raise SpecError(FieldError("depends_on", "give the run's jobs, not the run"))
            return Dependency(ids[0], kind)
        if isinstance(item, str):
            return Dependency(self.job(item).id, kind)
        raise SpecError(FieldError("depends_on", f"{item!r} is not a job, job id or (job, type)"))

    def _resolve_definition(self, definition: str | JobDefinition) -> JobDefinition:
        if isinstance(definition, JobDefinition):
            if definition.revision is None or definition.name not in self._definitions:
                return self.register(definition)
            return definition
        return self.definition(definition)

    def _check_fits(self, definition: JobDefinition, queue_name: str) -> None:
        queue = self.engine.queues.get(queue_name)
        if queue is None:
            known = ", ".join(self.engine.queues)
            raise NotFound(f"no job queue named {queue_name!r}; known: {known}")
        if any(self.engine.environments[e].remote for e in queue.compute_environments):
            return  # the service judges its own capacity
        why = never_fits(definition, queue, self.engine.environments)
        if why:
            raise CapacityError(FieldError("vcpus/memory/gpus", why))

    # ------------------------------------------------------------------ controlling jobs

    def cancel(self, ref: str | Job, reason: str = "") -> bool:
        """AWS CancelJob: fails a job that has not started (SUBMITTED, PENDING, RUNNABLE).
        Returns False, changing nothing, for a job already STARTING, RUNNING or finished —
        use :meth:`terminate` to stop a running job."""
        self._writable()
        job_id = self.job(ref).id if not isinstance(ref, Job) else ref.id
        if job_id not in self.engine.jobs:
            return False
        return bool(self._scheduler.call(lambda: self.engine.cancel(job_id, reason, time.time())))

    def terminate(self, ref: str | Job, reason: str = "") -> bool:
        """AWS TerminateJob: cancels a job that has not started, stops a STARTING or RUNNING
        one (SIGTERM, then SIGKILL after the grace period); the job FAILS and is not retried.
        Returns False for a finished job."""
        self._writable()
        job_id = self.job(ref).id if not isinstance(ref, Job) else ref.id
        if job_id not in self.engine.jobs:
            return False
        return bool(
            self._scheduler.call(lambda: self.engine.terminate(job_id, reason, time.time()))
        )

    # ------------------------------------------------------------------ step mode

    @property
    def stepping(self) -> bool:
        """Step mode: the scheduler takes no decision until :meth:`step` asks for one."""
        return self._scheduler.stepping

    @stepping.setter
    def stepping(self, on: bool) -> None:
        def apply() -> None:
            self._scheduler.stepping = bool(on)

        self._scheduler.call(apply)  # turning it off lets the next loop decide everything

    def step(self) -> str:
        """Take one scheduling decision and say what it did and why, in one sentence (step mode
        is for walking a class through a run; outside it, decisions happen by themselves)."""
        self._writable()

        def one() -> str:
            said = self.engine.decide_one(time.time())
            if said is not None:
                return said
            running = self.engine.active_attempts
            if running:
                return (
                    f"Nothing to decide now: {running} attempt{'s' if running != 1 else ''} "
                    "running; the next decision comes when one of them ends"
                )
            if self.engine.busy:
                return "Nothing to decide now: the jobs left wait for capacity"
            return "Nothing to decide: every job has finished"

        return str(self._scheduler.call(one))

    # ------------------------------------------------------------------ reading jobs

    def job(self, ref: str | Job) -> Job:
        """A job by id, by definition name (its latest job), or ``name[i]`` (array child i)."""
        if isinstance(ref, Job):
            return ref
        if not isinstance(ref, str) or not ref:
            raise NotFound(f"{ref!r} is not a job reference; use a job id, a name or name[i]")
        if self._scheduler.view(ref) is not None or self.store.job_status(ref) is not None:
            return Job(self, ref)
        match = _CHILD_REF.match(ref)
        name, index = (match["name"], int(match["index"])) if match else (ref, None)
        parent = self.store.latest_job_id(name)
        if parent is None:
            raise NotFound(f"no job named or with id {ref!r}")
        if index is None:
            return Job(self, parent)
        view = self._view(parent)
        if not view.is_parent or index >= len(view.children):
            size = view.array_size or 0
            raise NotFound(f"{name} is {'an array of ' + str(size) if size else 'not an array'}")
        return Job(self, view.children[index])

    def _view(self, job_id: str) -> JobView:
        view = self._scheduler.view(job_id)
        if view is not None:
            return view
        found = self.store.job_views(ids=[job_id])
        if not found:
            raise NotFound(f"no job with id {job_id}")
        return found[0]

    def jobs(self, run: str | Run | None = None) -> Any:
        """Every job (array children included) as a pandas DataFrame, oldest first."""
        from .display.tables import jobs_frame

        return jobs_frame(self.views(run))

    def attempts(self, run: str | Run | None = None) -> Any:
        """Every attempt as a pandas DataFrame."""
        from .display.tables import attempts_frame

        return attempts_frame(self.views(run))

    def views(self, run: str | Run | None = None) -> list[JobView]:
        """Current snapshots of a run's jobs (every job when None), array children included,
        oldest first: live ones from the scheduler, the others from the store."""
        run_id = run.id if isinstance(run, Run) else run
        views = self.store.job_views(run_id=run_id)
        return [self._scheduler.view(v.id) or v for v in views]

    def graph(self, run: str | Run | None = None) -> Any:
        """The dependency graph as a ``graphviz.Digraph``: the jobs of ``run`` (coloured by
        state, arrays as one node with their progress), or, without a run, the registered
        definitions (coloured by the state of each one's latest job)."""
        from .display.graph import definitions_graph, jobs_graph

        if run is not None:
            return jobs_graph(self.views(run))
        latest: dict[str, JobView] = {}
        for name in self._definitions:
            job_id = self.store.latest_job_id(name)
            if job_id is not None:
                latest[name] = self._view(job_id)
        return definitions_graph(self.definitions(), latest)

    def lifecycle(self, job: str | Job | None = None) -> Any:
        """AWS Batch's job state machine as a picture, each edge labelled with its cause; with
        a job, the path it took is highlighted with the time spent in each state."""
        from .display.lifecycle import lifecycle_graph

        if job is None:
            return lifecycle_graph()
        handle = self.job(job)
        title = f"{handle.name}: {handle.status.value}"
        return lifecycle_graph(handle.transitions(), title=title)

    def timeline(self, run: str | Run | None = None) -> Any:
        """A Gantt picture of a run (the latest by default): one row per job, bars for PENDING
        (waiting for dependencies), RUNNABLE (waiting for capacity), STARTING and RUNNING,
        attempts ticked, failures crossed, and a line for now while the run is live."""
        from .core.timeline import state_intervals
        from .display.timeline import timeline_figure

        chosen = run if run is not None else self.latest_run()
        if chosen is None:
            raise NotFound("no run yet: run() starts one")
        views = [v for v in self.views(chosen) if not v.is_parent]
        transitions = self.store.transitions_for([v.id for v in views])
        rows = [(v.display_name, state_intervals(v.id, transitions.get(v.id, []))) for v in views]
        return timeline_figure(rows, live=any(not v.status.done for v in views))

    def get_run(self, run_id: str) -> Run:
        """A handle on a run recorded in the state directory (of this kernel or an earlier one)."""
        top = self.store.job_views(run_id=run_id, include_children=False)
        return Run(self, run_id, [Job(self, v.id) for v in top], self.store.run_work_dir(run_id))

    def latest_run(self) -> Run | None:
        """The most recent run recorded in the state directory, or None."""
        runs = self.store.runs()
        return self.get_run(runs[-1][0]) if runs else None

    def _repr_html_(self) -> str:
        from .display.html import registry_html

        return registry_html(
            str(self.state_dir),
            "read-only" if self.read_only else self.backend,
            self.definitions(),
            len([j for j in self.engine.jobs.values() if not j.status.done]),
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every job this Registry runs has finished. True if none is left."""
        return self._scheduler.wait_for(lambda: not self.engine.busy, timeout)

    def _wait_ids(self, ids: list[str], timeout: float | None) -> bool:
        first = 0  # jobs end for good, mostly in order: resume where the last look stopped

        def done() -> bool:
            nonlocal first
            while first < len(ids) and self._view(ids[first]).status.done:
                first += 1
            return first == len(ids)

        if self.read_only:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not done():
                if deadline is not None and time.monotonic() > deadline:
                    return False
                time.sleep(0.2)
            return True
        return self._scheduler.wait_for(done, timeout)

    def subscribe(self, observer: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``observer(event)`` for every StateChanged, LogLines, Progress and ServiceProblem
        event, on the scheduler thread (keep it quick). Returns a function that unsubscribes."""
        return self._scheduler.subscribe(observer)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop the scheduler (local processes still running are stopped) and release the
        state directory."""
        if self._closed:
            return
        self._closed = True
        self._scheduler.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.store.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else self.backend
        return (
            f"<Registry {self.state_dir} ({mode}): {len(self._definitions)} definitions, "
            f"{len(self.engine.jobs)} live jobs>"
        )

    def _writable(self) -> None:
        if self._closed:
            raise KadamError("this Registry is closed; create a new one")
        if self.read_only:
            owner = ""
            with contextlib.suppress(OSError):
                owner = (self.state_dir / "scheduler.lock").read_text().strip()
            raise StateDirBusy(
                f"state directory {self.state_dir} is in use by another Registry"
                f"{' (pid ' + owner + ')' if owner else ''}; this one can only read its "
                "history. Close the other one (or its kernel), or use another state_dir"
            )

    # ------------------------------------------------------------------ re-opening

    def _follow_handed_over(self, records: list[JobRecord]) -> None:
        """Give each service backend back the jobs an earlier session handed to it."""
        by_backend: dict[str, list[Any]] = {}
        for record in records:
            if self.engine.handed_over_to_service(record):
                self._scheduler.follow_logs(record)
            if record.remote_id is None:
                continue
            env = self.engine.remote_environment(record)
            if env is not None:
                by_backend.setdefault(env.backend, []).append(self._scheduler.remote_job(record))
        for name, jobs in by_backend.items():
            backend: Any = self._scheduler.backends.get(name)
            if backend is not None:
                backend.adopt(jobs, self._scheduler)

    def _restore_unfinished(self) -> None:
        """Take over what an earlier session left unfinished in this state directory."""
        records = self.store.unfinished_jobs()
        if not records:
            return
        known = {r.id for r in records}
        for record in records:
            self.engine.restore(record)
        for record in records:
            for dep in record.depends_on:
                if dep.job_id and dep.job_id not in known:
                    self._note_external(dep.job_id)
        self._scheduler.seed_views([JobView.of(r) for r in records])
        self._follow_handed_over(records)
        for record in records:
            if record.status not in (JobStatus.STARTING, JobStatus.RUNNING):
                continue
            if self.engine.handed_over_to_service(record):
                continue
            attempt = record.attempts[-1]
            backend = self._scheduler.backends.get(attempt.backend)
            if backend is not None and hasattr(backend, "adopt"):
                self._scheduler.adopt(record, attempt)
                continue
            _kill_orphan(attempt.handle, record.id)
            reason = (
                "Host process lost: the kernel that started it exited, and local processes "
                "cannot be re-adopted"
            )
            if record.status == JobStatus.STARTING:
                self._scheduler.failed_to_start(attempt.key, reason)
            else:
                self._scheduler.exited(attempt.key, None, reason)


_NO_ENV = ComputeEnvironment("", 0.0, 0, "")


def _check_keywords(fields: Mapping[str, Any]) -> None:
    """Refuse unknown keywords with a SpecError naming them (not Python's TypeError)."""
    import difflib
    import inspect

    known = [p for p in inspect.signature(JobDefinition.create).parameters if p != "name"]
    errors = []
    for key in fields:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
            errors.append(FieldError(key, f"not a job definition field{hint}"))
    if errors:
        raise SpecError(errors)


def _new_id() -> str:
    return str(uuid.uuid4())


def _acquire_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _kill_orphan(handle: str | None, job_id: str) -> None:
    """Kill a host process an earlier kernel left running, if it is still that job's."""
    if not handle or not handle.isdigit():
        return
    pid = int(handle)
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return
    if f"AWS_BATCH_JOB_ID={job_id}".encode() not in environ.split(b"\0"):
        return
    with contextlib.suppress(OSError):
        os.killpg(pid, 9)


@atexit.register
def _close_open_registries() -> None:
    for registry in list(_open_registries):
        with contextlib.suppress(Exception):
            registry.close()

"""The Slurm backend: jobs handed whole to a Slurm cluster (the only module that runs ``sbatch``,
``squeue``, ``scontrol`` and ``scancel``; no pyslurm, which does not build against every Slurm).

Slurm schedules; kadam records what it sees. Each kadam job (an array: its parent, once) becomes
one ``sbatch --parsable`` of a job script kadam writes under ``<state_dir>/slurm/<run_id>/``,
with ``-J`` the job's name, ``-p`` the partition, ``-A`` the account, ``-c`` the vCPUs rounded
up, ``--mem`` the memory (MiB), ``--gres=gpu:N`` for GPUs, ``--array=0-(N-1)`` (``%1`` for
SEQUENTIAL), ``--dependency=afterok:`` (``aftercorr:`` for N_TO_N) on the Slurm jobs of its
dependencies, ``--chdir`` the run's work directory and one ``.out`` and ``.err`` file per
attempt (and array index). Slurm reads those files' paths as written, so the state directory
must be on a filesystem the job's node shares with the kernel (trivially true for a cluster on
this machine).

The job script (every value in it passes through :func:`shlex.quote`) exports the
``AWS_BATCH_*`` variables (``AWS_BATCH_JOB_ARRAY_INDEX`` from ``SLURM_ARRAY_TASK_ID``), the
definition's environment and ``KADAM_WORK``, then runs the command: for an image, ``docker run
--init`` (the script removes the container once Docker said whether its memory limit killed
it) with the work directory at ``/kadam/work``, the limits and the container settings; without
one, the command itself (as the local backend does). It traps TERM and INT (scancel, a Slurm
time limit) and stops the container or the process (TERM, then KILL after the grace), because
a container is not a process of the Slurm job and would keep running.
Timeouts are the script's own timer (Slurm's ``--time`` counts whole minutes and is checked
about every 30 s; it is set only as a backstop); a timed-out attempt leaves a ``.timeout``
marker beside its logs, which is how the backend tells a timeout from other failures.

One daemon thread (``kadam-slurm``) does everything, in order: the submissions (in the order
:meth:`SlurmBackend.hand_over` was called, so parents have Slurm ids before their children),
cancels and terminations (after the submissions asked for before them), and about every 0.5 s
a poll: ``squeue --json`` (Slurm keeps finished jobs there for ``MinJobAge``) and ``scontrol
show job -o`` for a job that left it, then the growth of each running attempt's output files,
reported as complete lines after the RUNNING observation and before the final one.
When squeue fails (slurmctld down or unreachable, most often) the poll asks Slurm nothing more:
the jobs keep their last known state (the running attempts' files are still read, as they are
local), each compute environment whose jobs are followed gets ``service_problem`` once, saying
what failed and what to check, and the backend asks again every :data:`RETRY_INTERVAL` seconds
until squeue answers, which clears the problem (``service_problem(..., None)``).
What could not reach the controller is kept and done when it answers: a scancel that failed
("Unable to contact slurm controller", a timeout) is sent again at each poll until it gets
through (a job that ended by itself meanwhile is reported as it ended, not as stopped), and an
sbatch that could not reach it (a hand-over, or a retry) is kept, with the ones made after it,
and submitted in that order once squeue answers (the compute environment's problem says so
meanwhile). sbatch refusing a job for a reason of its own, or not answering (it may have
taken the job), still fails it.

Retries are kadam's: when an attempt fails, :func:`~kadam_nb.core.policy.retry_decision`
applies the definition's retry strategy; a retry is a new ``sbatch`` (attempt n+1, no
dependencies since they succeeded, ``--array=i`` for an array child), and the Slurm jobs that
waited on the old one get ``scontrol update Dependency=`` the new one. Because a job that can be
retried must not take its dependents with it when one attempt fails, ``--kill-on-invalid-dep``
is only given when every dependency runs once; otherwise the backend itself cancels the
dependents of a job that failed for good (reported FAILED, naming the failed job).

The Slurm commands inherit the kernel's environment (``SLURM_CONF`` and the rest), so point
them at a cluster the usual way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import queue
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.logs import STDERR, STDOUT, LineSplitter
from ..core.policy import retry_decision, shell_exit_reason, substitute_parameters
from ..core.states import Reasons
from .base import Observation, RemoteEvents, RemoteJob

__all__ = [
    "CONTAINER_WORK_DIR",
    "POLL_INTERVAL",
    "RETRY_INTERVAL",
    "SlurmBackend",
    "job_script",
    "slurm_state",
]

log = logging.getLogger("kadam_nb")

CONTAINER_WORK_DIR = "/kadam/work"
POLL_INTERVAL = 0.5
"""Seconds between two polls of Slurm while jobs are followed."""
RETRY_INTERVAL = 5.0
"""Seconds between a failed squeue and the next try (a controller that is down is not asked
twice a second; a failed squeue itself often takes seconds, retrying its connection)."""

_READ_SIZE = 65536
_WAIT_GRACE = (
    '  while kill -0 "$child" 2>/dev/null && [ "$i" -lt "$grace" ]; do sleep 1; i=$((i + 1)); done'
)
_COMMAND_TIMEOUT = 30.0
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_DEP_FAILED = re.compile(r"(?:afterok|aftercorr|afterany|after):(\d+)(?:_(\d+))?\((failed|\w+)\)")

# Slurm job states and what AWS calls them while the job has not ended.
_WAITING = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
_STARTING = {"CONFIGURING", "POWER_UP_NODE"}
_RUNNING = {"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}
_ENDED_OK = {"COMPLETED"}


def slurm_state(state: str, reason: str) -> str:
    """The AWS Batch state of a Slurm job state that has not ended (PENDING on a dependency is
    PENDING; any other wait is RUNNABLE)."""
    if state in _WAITING:
        return "PENDING" if reason.startswith("Dependency") else "RUNNABLE"
    if state in _STARTING:
        return "STARTING"
    if state in _RUNNING:
        return "RUNNING"
    return "ENDED"


def _state_dir_key(state_dir: str) -> str:
    """The ``kadam.state-dir`` container label (the same short hash the Docker backend uses)."""
    return hashlib.sha256(os.path.abspath(state_dir).encode()).hexdigest()[:16]


def _q(value: str) -> str:
    return shlex.quote(value)


# --------------------------------------------------------------------------- the job script


def job_script(
    job: RemoteJob,
    attempt: int,
    *,
    base: str,
    stop_grace: float,
    state_key: str,
) -> str:
    """The ``/bin/sh`` script one Slurm job (every task of an array) runs for ``attempt``.

    ``base`` is the path prefix of the attempt's files; an array task adds ``_<index>`` to it.
    Every user value is quoted; the only unquoted expansions are Slurm's own variables.
    """
    d = job.definition
    command = substitute_parameters(d.command, {**d.parameters, **job.parameters})
    is_array = job.array_size is not None
    lines = [
        "#!/bin/sh",
        f"# written by kadam for job {_q(job.job_id)} attempt {attempt}; runs on Slurm",
    ]
    if is_array:
        lines += [
            f'export AWS_BATCH_JOB_ID={_q(job.job_id)}":$SLURM_ARRAY_TASK_ID"',
            'export AWS_BATCH_JOB_ARRAY_INDEX="$SLURM_ARRAY_TASK_ID"',
            f"export AWS_BATCH_JOB_ARRAY_SIZE={job.array_size}",
            f'base={_q(base)}"_$SLURM_ARRAY_TASK_ID"',
        ]
    else:
        lines += [f"export AWS_BATCH_JOB_ID={_q(job.job_id)}", f"base={_q(base)}"]
    lines += [
        f"export AWS_BATCH_JOB_ATTEMPT={attempt}",
        f"export AWS_BATCH_JQ_NAME={_q(job.queue)}",
        f"export AWS_BATCH_CE_NAME={_q(job.compute_environment)}",
    ]
    names = ["AWS_BATCH_JOB_ID", "AWS_BATCH_JOB_ATTEMPT", "AWS_BATCH_JQ_NAME", "AWS_BATCH_CE_NAME"]
    if is_array:
        names += ["AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE"]
    for key, value in d.environment.items():  # names are checked by the spec: [A-Za-z_]\w*
        lines.append(f"export {key}={_q(value)}")
        names.append(key)
    grace = max(0, math.ceil(stop_grace))
    lines += [f"grace={grace}", "dog="]
    if d.image:
        lines.append(f"export KADAM_WORK={CONTAINER_WORK_DIR}")
        names.append("KADAM_WORK")
        lines += _docker_lines(job, attempt, command, names, state_key)
    else:
        lines.append(f"export KADAM_WORK={_q(job.work_dir)}")
        argv = " ".join(_q(a) for a in command)
        lines += [
            # Its own process group (setsid), so that stopping it stops what it started too.
            "stop() {",
            '  kill -TERM "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null',
            "  i=0",
            '  while kill -0 "-$child" 2>/dev/null && [ "$i" -lt "$grace" ]; do',
            "    sleep 1; i=$((i + 1))",
            "  done",
            '  kill -KILL "-$child" 2>/dev/null || kill -KILL "$child" 2>/dev/null',
            "}",
            f"if command -v setsid >/dev/null 2>&1; then setsid {argv} & else {argv} & fi",
            "child=$!",
        ]
    lines.append(
        'trap \'trap "" TERM INT; [ -n "$dog" ] && kill -TERM "$dog" 2>/dev/null; stop; exit 143\' '
        "TERM INT"
    )
    if d.timeout:
        lines += [
            # The watchdog: a subshell that marks the timeout and stops the script with TERM.
            "(",
            "  trap 'kill \"$nap\" 2>/dev/null; exit 0' TERM",
            f"  sleep {int(d.timeout)} & nap=$!",
            '  wait "$nap" || exit 0',
            '  : > "$base.timeout"',
            f"  kill -TERM {'$$'}",
            ") &",
            "dog=$!",
        ]
    lines += [
        'wait "$child"',
        "rc=$?",
    ]
    if d.image:
        # Not --rm: the container is kept until Docker says whether the memory limit killed it
        # (an .oom marker for kadam; Docker may record OOMKilled just after exit 137).
        lines += [
            'if [ "$rc" = 137 ]; then',
            "  i=0",
            '  while [ "$i" -lt 5 ]; do',
            "    oom=$(docker inspect --format '{{.State.OOMKilled}}' \"$KADAM_CONTAINER\" \\",
            "      2>/dev/null)",
            '    if [ "$oom" = true ]; then : > "$base.oom"; break; fi',
            "    sleep 0.2; i=$((i + 1))",
            "  done",
            "fi",
            'docker rm -f "$KADAM_CONTAINER" >/dev/null 2>&1',
        ]
    if d.timeout:
        lines.append('kill -TERM "$dog" 2>/dev/null')
    lines += [
        'printf "%s\\n" "$rc" > "$base.exit"',
        'exit "$rc"',
        "",
    ]
    return "\n".join(lines)


def _docker_lines(
    job: RemoteJob, attempt: int, command: tuple[str, ...], names: list[str], state_key: str
) -> list[str]:
    """The ``docker run`` of an image job, in the background, and how to stop its container."""
    d = job.definition
    assert d.image is not None
    prefix = _SAFE.sub("-", f"kadam-{job.run_id}-{job.job_id}")[:80]
    argv = [
        "docker",
        "run",
        "--init",
        "--label",
        f"kadam.job-id={job.job_id}",
        "--label",
        f"kadam.attempt={attempt}",
        "--label",
        f"kadam.run-id={job.run_id}",
        "--label",
        f"kadam.state-dir={state_key}",
        "--label",
        "kadam.backend=slurm",
        "-v",
        f"{job.work_dir}:{CONTAINER_WORK_DIR}",
        "--cpus",
        f"{d.vcpus:g}",
        "--memory",
        f"{d.memory}m",
        "--memory-swap",
        f"{d.memory}m",
    ]
    for name in names:
        argv += ["-e", name]  # the value comes from the script's environment
    volumes = {v.name: v for v in d.volumes}
    for point in d.mount_points:
        volume = volumes[point.source_volume]
        ro = ":ro" if point.read_only else ""
        if volume.host_path:
            argv += ["-v", f"{volume.host_path}:{point.container_path}{ro}"]
        else:
            argv += ["-v", f"{point.container_path}"]
    if d.user:
        argv += ["--user", d.user]
    if d.privileged:
        argv.append("--privileged")
    if d.readonly_root_filesystem:
        argv.append("--read-only")
    if d.shared_memory_size:
        argv += ["--shm-size", f"{d.shared_memory_size}m"]
    for u in d.ulimits:
        argv += ["--ulimit", f"{u.name}={u.soft}:{u.hard}"]
    if d.gpus:
        argv += ["--gpus", str(d.gpus)]
    quoted = " ".join(_q(a) for a in argv)
    image_and_command = " ".join(_q(a) for a in (d.image, *command))
    return [
        f'export KADAM_CONTAINER={_q(prefix)}"-$SLURM_JOB_ID"',
        "stop() {",
        '  docker kill --signal TERM "$KADAM_CONTAINER" >/dev/null 2>&1',
        "  i=0",
        _WAIT_GRACE,
        '  docker kill "$KADAM_CONTAINER" >/dev/null 2>&1',
        '  wait "$child" 2>/dev/null',
        '  docker rm -f "$KADAM_CONTAINER" >/dev/null 2>&1',
        "}",
        f'{quoted} --label kadam.slurm-job="$SLURM_JOB_ID" '
        f'--name "$KADAM_CONTAINER" {image_and_command} < /dev/null &',
        "child=$!",
    ]


# --------------------------------------------------------------------------- bookkeeping


@dataclass
class _Stream:
    path: str
    name: str
    offset: int = 0
    splitter: LineSplitter = field(default_factory=LineSplitter)


@dataclass
class _Unit:
    """One kadam job that runs: a single job, or one child of an array."""

    id: str
    job: _Job
    index: int | None
    attempt: int = 1
    handle: str = ""  # the Slurm id of this attempt: "12" or "12_3"
    array_job: str = ""  # the Slurm job the attempt belongs to ("12" for "12_3")
    status: str = ""  # the last state observed
    running: bool = False  # RUNNING was reported for this attempt
    done: bool = False
    stop: tuple[str, str] | None = None  # ("cancel" | "terminate", reason)
    stop_sent: bool = False  # scancel reached Slurm (else it is owed, or not needed yet)
    resubmit: bool = False  # its next attempt waits for the controller to answer sbatch
    streams: list[_Stream] = field(default_factory=list)
    skip: dict[str, int] = field(default_factory=dict)  # lines already stored, per stream

    @property
    def display(self) -> str:
        name = self.job.remote.job_name
        return name if self.index is None else f"{name}[{self.index}]"


@dataclass
class _Job:
    remote: RemoteJob
    events: RemoteEvents
    slurm_id: str = ""  # the first submission (an array's array id)
    units: list[_Unit] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)  # kadam ids of jobs waiting on it
    done: bool = False

    @property
    def sequential(self) -> bool:
        return any(d.type == "SEQUENTIAL" for d in self.remote.depends_on)

    def dependency_ids(self) -> list[str]:
        """What a dependent must wait for: the array (or job) id while nothing was
        resubmitted, else every unit's own Slurm id."""
        if all(u.array_job == self.slurm_id for u in self.units):
            return [self.slurm_id]
        return [u.handle for u in self.units]


class _Refused(Exception):
    """sbatch said no; the message says what to fix."""


class _Unreachable(_Refused):
    """sbatch could not reach the controller: the submission waits for it to answer."""


@dataclass(eq=False)
class _Submission:
    """An sbatch kept until the controller answers: a job's first submission (``unit`` None),
    or the next attempt of ``unit`` (the ended one's exit code and reason kept for its end)."""

    job: _Job
    unit: _Unit | None = None
    exit_code: int | None = None
    attempt_reason: str | None = None
    said: str = ""  # what the last sbatch said ("" when kept without trying)


class _NoAnswer(Exception):
    """squeue failed; the message names it and says what Slurm said, ``fix`` what to check
    when the message alone does not tell."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.fix = fix


# --------------------------------------------------------------------------- the backend


class SlurmBackend:
    """Hands jobs to Slurm and follows them (see the module's docstring)."""

    name = "slurm"
    remote = True

    def __init__(
        self,
        state_dir: str,
        *,
        stop_grace: float = 10.0,
        poll_interval: float = POLL_INTERVAL,
        retry_interval: float = RETRY_INTERVAL,
    ) -> None:
        self.state_dir = os.path.abspath(state_dir)
        self.stop_grace = stop_grace
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval
        self._state_key = _state_dir_key(self.state_dir)
        self._inbox: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]]] = queue.Queue()
        self._jobs: dict[str, _Job] = {}
        self._units: dict[str, _Unit] = {}
        self._by_slurm: dict[str, str] = {}  # Slurm job id (any attempt) -> kadam job id
        # (compute environment, whom it was told) -> the problem told, while squeue fails
        self._problems: dict[tuple[str, RemoteEvents], str] = {}
        self._waiting: list[_Submission] = []  # sbatches kept while the controller is away
        self._scancels: dict[str, list[_Unit]] = {}  # Slurm id -> units it stops; owed
        self._dropped: dict[str, str] = {}  # kadam job id -> name, of jobs never submitted
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kadam-slurm", daemon=True)
        self._thread.start()

    # -- the contract (any thread; returns at once) --------------------------------------------

    def hand_over(self, job: RemoteJob, events: RemoteEvents) -> None:
        self._inbox.put((self._hand_over, (job, events)))

    def cancel(self, job_id: str, reason: str) -> None:
        self._inbox.put((self._stop, (job_id, "cancel", reason)))

    def terminate(self, job_id: str, reason: str) -> None:
        self._inbox.put((self._stop, (job_id, "terminate", reason)))

    def adopt(self, jobs: list[RemoteJob], events: RemoteEvents) -> None:
        self._inbox.put((self._adopt, (list(jobs), events)))

    def close(self) -> None:
        """Stop following; the Slurm jobs keep running (a later session adopts them)."""
        kept = [s.job.remote.job_name for s in list(self._waiting)]
        if kept:
            log.warning(
                "slurm backend closed while Slurm could not be reached: %s never reached Slurm "
                "(a new session on this state directory hands them over again; check first "
                "with `scontrol ping` that slurmctld answers)",
                ", ".join(kept),
            )
        self._closed.set()
        self._inbox.put((lambda: None, ()))
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    # -- the thread ----------------------------------------------------------------------------

    def _loop(self) -> None:
        last_poll = 0.0
        while not self._closed.is_set():
            # While squeue fails, wait longer, counted from the end of the failed try.
            interval = self.retry_interval if self._problems else self.poll_interval
            following = bool(self._problems or self._waiting or self._scancels) or any(
                not u.done for u in self._units.values()
            )
            wait = max(0.0, last_poll + interval - time.monotonic()) if following else 5
            try:
                fn, args = self._inbox.get(timeout=wait)
            except queue.Empty:
                pass
            else:
                self._guarded(fn, *args)
                # Take what else is waiting, but poll at least every interval.
                while time.monotonic() - last_poll < interval or not following:
                    try:
                        fn, args = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if self._closed.is_set():
                        return
                    self._guarded(fn, *args)
            if self._closed.is_set():
                return
            if time.monotonic() - last_poll >= interval:
                last_poll = time.monotonic()
                self._guarded(self._poll)
                if self._problems:
                    last_poll = time.monotonic()

    @staticmethod
    def _guarded(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # the thread must survive anything one job does
            log.exception("slurm backend: %s failed", getattr(fn, "__name__", fn))

    # -- commands ------------------------------------------------------------------------------

    @staticmethod
    def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )

    def _sbatch(self, argv: list[str]) -> str:
        try:
            done = self._run(["sbatch", "--parsable", *argv])
        except FileNotFoundError as exc:
            raise _Refused(f"sbatch not found: {_FIX_CLIENT}") from exc
        except subprocess.TimeoutExpired as exc:
            raise _Refused(f"sbatch did not answer within {_COMMAND_TIMEOUT:g} s") from exc
        if done.returncode != 0:
            said = " ".join(done.stderr.split()) or f"exit code {done.returncode}"
            if _unreachable(said):
                raise _Unreachable(f"sbatch failed: {said}")
            raise _Refused(f"sbatch refused the job: {said}{_hint(said)}")
        return done.stdout.strip().split(";")[0]

    # -- submitting ----------------------------------------------------------------------------

    def _run_dir(self, run_id: str) -> Path:
        path = Path(self.state_dir, "slurm", _SAFE.sub("_", run_id))
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _base(self, job: RemoteJob, attempt: int) -> str:
        return str(self._run_dir(job.run_id) / f"{_SAFE.sub('_', job.job_id)}.{attempt}")

    def _unit_base(self, unit: _Unit) -> str:
        base = str(self._run_dir(unit.job.remote.run_id) / _SAFE.sub("_", unit.job.remote.job_id))
        index = "" if unit.index is None else f"_{unit.index}"
        return f"{base}{index}.{unit.attempt}"

    def _write_script(self, job: RemoteJob, attempt: int) -> str:
        base = self._base(job, attempt)
        script = job_script(
            job, attempt, base=base, stop_grace=self.stop_grace, state_key=self._state_key
        )
        path = f"{base}.sh"
        with open(path, "w", encoding="utf-8") as f:
            f.write(script)
        os.chmod(path, 0o755)
        return path

    def _sbatch_args(self, job: RemoteJob, attempt: int, array: str | None) -> list[str]:
        d = job.definition
        settings = job.settings
        pattern_base = self._base(job, attempt).replace("%", "%%")
        if array is not None:
            pattern_base = pattern_base.rsplit(".", 1)[0] + f"_%a.{attempt}"
        args = ["-J", job.job_name, "--chdir", job.work_dir, "--no-requeue"]
        args += ["-o", f"{pattern_base}.out", "-e", f"{pattern_base}.err"]
        if settings.get("partition"):
            args += ["-p", settings["partition"]]
        if settings.get("account"):
            args += ["-A", settings["account"]]
        args += ["-c", str(max(1, math.ceil(d.vcpus))), f"--mem={d.memory}"]
        if d.gpus:
            args.append(f"--gres=gpu:{d.gpus}")
        if d.timeout:  # a backstop only: the script's own timer stops the attempt
            args.append(f"--time={math.ceil((d.timeout + self.stop_grace) / 60) + 1}")
        if array is not None:
            args.append(f"--array={array}")
        return args

    def _hand_over(self, job: RemoteJob, events: RemoteEvents) -> None:
        entry = _Job(remote=job, events=events)
        size = job.array_size
        entry.units = (
            [_Unit(job.job_id, entry, None)]
            if size is None
            else [_Unit(f"{job.job_id}:{i}", entry, i) for i in range(size)]
        )
        try:
            Path(job.work_dir).mkdir(parents=True, exist_ok=True)
            problem = self._check(job)
            if problem:
                raise _Refused(problem)
        except (_Refused, OSError) as exc:
            self._drop(entry, str(exc))
            return
        submission = _Submission(entry)
        if self._waiting or self._problems:
            self._keep(submission)  # the controller is away: keep the order of hand-overs
        elif not self._submit(submission):
            self._keep(submission)

    def _submit(self, sub: _Submission) -> bool:
        """sbatch a kept or new submission; False when the controller could not be reached
        (``sub.said`` says how), True when it was submitted or failed for good (reported)."""
        if sub.unit is not None:
            return self._resubmit(sub)
        entry = sub.job
        job = entry.remote
        dropped = next((d for d in job.depends_on if d.job_id in self._dropped), None)
        if dropped is not None:  # never submitted (refused, or stopped while kept)
            name = self._dropped[dropped.job_id]
            self._drop(entry, Reasons.dependency_failed(name, dropped.job_id))
            return True
        try:
            dependency, kill = self._dependency(job)
            if isinstance(dependency, _Unit):  # a dependency already failed for good
                failed = dependency
                self._drop(entry, Reasons.dependency_failed(failed.display, failed.id))
                return True
            array = None
            if job.array_size is not None:
                array = f"0-{job.array_size - 1}" + ("%1" if entry.sequential else "")
            args = self._sbatch_args(job, 1, array)
            if dependency:
                args.append(f"--dependency={dependency}")
                if kill:
                    args.append("--kill-on-invalid-dep=yes")
            slurm_id = self._sbatch([*args, self._write_script(job, 1)])
        except _Unreachable as exc:
            sub.said = str(exc)
            return False
        except (_Refused, OSError) as exc:
            self._drop(entry, str(exc))
            return True
        entry.slurm_id = slurm_id
        for unit in entry.units:
            self._set_attempt(unit, 1, slurm_id)
        self._register(entry)
        entry.events.handed_over(job.job_id, slurm_id)
        stopped = [u for u in entry.units if u.stop is not None]  # while it was kept
        if stopped:
            self._owe_scancel([u.handle for u in stopped], stopped)
        return True

    def _drop(self, entry: _Job, reason: str) -> None:
        """The job never reaches Slurm: it fails with ``reason``; jobs kept after it that
        depend on it fail naming it."""
        self._dropped[entry.remote.job_id] = entry.remote.job_name
        entry.events.hand_over_failed(entry.remote.job_id, reason)

    def _keep(self, sub: _Submission) -> None:
        """Keep a submission until the controller answers, and say so for its compute
        environment (unless it already knows that squeue fails)."""
        self._waiting.append(sub)
        key = (sub.job.remote.compute_environment, sub.job.events)
        if sub.said:
            self._report_problem(sub.job.units[:1], _submit_problem(sub.said))
        elif key not in self._problems and self._problems:
            self._report_problem(sub.job.units[:1], next(iter(self._problems.values())))

    def _flush(self) -> None:
        """Submit the kept submissions, in order, while the controller answers."""
        while self._waiting:
            sub = self._waiting[0]
            if not self._submit(sub):
                return
            if self._waiting and self._waiting[0] is sub:
                self._waiting.pop(0)

    def _report_kept(self) -> None:
        """Once squeue answers: the problem stays only for the compute environments whose
        submissions are still kept (sbatch alone failing), and is cleared for the others."""
        kept: dict[tuple[str, RemoteEvents], str] = {}
        for sub in self._waiting:
            key = (sub.job.remote.compute_environment, sub.job.events)
            kept[key] = _submit_problem(self._waiting[0].said or "sbatch failed")
        for key in list(self._problems):
            if key not in kept:
                del self._problems[key]
                key[1].service_problem(key[0], None)
        for key, problem in kept.items():
            if self._problems.get(key) != problem:
                self._problems[key] = problem
                key[1].service_problem(key[0], problem)

    def _register(self, entry: _Job) -> None:
        self._jobs[entry.remote.job_id] = entry
        self._by_slurm[entry.slurm_id] = entry.remote.job_id
        for unit in entry.units:
            self._units[unit.id] = unit
        for dep in entry.remote.depends_on:
            parent = self._jobs.get(dep.job_id)
            if parent is not None and dep.type != "SEQUENTIAL":
                parent.dependents.append(entry.remote.job_id)

    @staticmethod
    def _check(job: RemoteJob) -> str | None:
        d = job.definition
        if not d.image and not d.command:
            return (
                f"{job.job_name} has no image and no command: Slurm runs a command (or an image "
                "with docker); give the definition one"
            )
        return None

    def _dependency(self, job: RemoteJob) -> tuple[str | _Unit, bool]:
        """``--dependency`` for a job and whether Slurm may kill it when a dependency fails;
        instead of the string, the unit that already failed for good, if one did."""
        ok: list[str] = []
        corr: list[str] = []
        kill = True
        for dep in job.depends_on:
            if dep.type == "SEQUENTIAL":
                continue
            parent = self._jobs.get(dep.job_id)
            if parent is not None:
                failed = [u for u in parent.units if u.done and u.status == "FAILED"]
                if failed and dep.type != "N_TO_N":
                    return failed[0], False
                if parent.done and not failed:
                    continue  # succeeded: nothing to wait for (Slurm may have forgotten it)
                ids = parent.dependency_ids()
                kill = kill and parent.remote.definition.retry_strategy.attempts == 1
            elif dep.remote_id:
                ids = [dep.remote_id]
                kill = False
            else:
                raise _Refused(
                    f"depends on job {dep.job_id}, which was not handed to this Slurm backend "
                    "(hand dependencies over first)"
                )
            target = corr if dep.type == "N_TO_N" and len(ids) == 1 else ok
            target.extend(ids)
        parts = []
        if ok:
            parts.append("afterok:" + ":".join(ok))
        if corr:
            parts.append("aftercorr:" + ":".join(corr))
        return ",".join(parts), kill and bool(parts)

    def _set_attempt(self, unit: _Unit, attempt: int, slurm_job: str) -> None:
        unit.attempt = attempt
        unit.array_job = slurm_job
        unit.handle = slurm_job if unit.index is None else f"{slurm_job}_{unit.index}"
        unit.status = ""
        unit.running = False
        base = self._unit_base(unit)
        unit.streams = [_Stream(f"{base}.out", STDOUT), _Stream(f"{base}.err", STDERR)]
        self._by_slurm[slurm_job] = unit.job.remote.job_id

    # -- cancel and terminate ------------------------------------------------------------------

    def _stop(self, job_id: str, verb: str, reason: str) -> None:
        said = Reasons.cancelled(reason) if verb == "cancel" else Reasons.terminated(reason)
        for sub in self._waiting:
            if sub.unit is None and sub.job.remote.job_id == job_id:  # never reached Slurm
                self._waiting.remove(sub)
                self._drop(sub.job, said)  # (its problem is cleared at the next poll)
                return
        entry = self._jobs.get(job_id)
        units = entry.units if entry is not None else []
        if entry is None:
            unit = self._units.get(job_id) or next(
                (u for s in self._waiting if s.unit is None for u in s.job.units if u.id == job_id),
                None,
            )
            units = [unit] if unit is not None else []
        targets = []
        stopped = []
        for unit in units:
            if unit.done:
                continue
            unit.stop = unit.stop or (verb, reason)
            if unit.resubmit:  # its next attempt was kept: nothing of it runs on Slurm
                self._drop_retry(unit)
            elif unit.handle:  # (no handle: its array is kept; scancel follows its sbatch)
                targets.append(unit.handle)
                stopped.append(unit)
        if not targets:
            return
        if entry is not None and all(u.array_job == entry.slurm_id for u in units):
            targets = [entry.slurm_id]  # the whole array at once, pending tasks included
        self._owe_scancel(list(dict.fromkeys(targets)), stopped)

    def _drop_retry(self, unit: _Unit) -> None:
        """A stop of a unit whose next attempt was kept: that attempt never runs."""
        sub = next(s for s in self._waiting if s.unit is unit)
        self._waiting.remove(sub)
        unit.resubmit = False
        assert unit.stop is not None
        verb, said = unit.stop
        reason = Reasons.cancelled(said) if verb == "cancel" else Reasons.terminated(said)
        self._finish(
            unit,
            "FAILED",
            reason,
            attempt=unit.attempt,
            exit_code=sub.exit_code,
            attempt_reason=sub.attempt_reason,
        )

    def _owe_scancel(self, handles: list[str], units: list[_Unit]) -> None:
        """scancel ``handles`` now, or at the next poll Slurm answers, until it reaches Slurm.
        ``units`` are what it stops (not needed any more once they ended by themselves); none
        for jobs that must go whatever happens (the dependents of a job that failed)."""
        for handle in handles:
            self._scancels.setdefault(handle, [])
            self._scancels[handle] += units
        if not self._problems:  # while the controller is known away, wait for its answer
            self._send_scancels()

    def _send_scancels(self) -> None:
        """Send the scancels owed; those that could not reach Slurm stay owed."""
        for handle, units in list(self._scancels.items()):
            if units and all(u.done for u in units):
                del self._scancels[handle]  # it ended by itself meanwhile
        handles = list(self._scancels)
        if not handles:
            return
        failure = self._scancel(handles)
        if failure is not None:
            log.warning(
                "slurm backend: %s; the stop of Slurm job(s) %s is sent again when Slurm "
                "answers (%s)",
                failure,
                ", ".join(handles),
                _FIX_CONTROLLER,
            )
            return
        for handle in handles:
            for unit in self._scancels.pop(handle, []):
                unit.stop_sent = True

    def _scancel(self, handles: list[str]) -> str | None:
        """scancel; what failed when it could not reach Slurm (to try again), else None."""
        try:
            done = self._run(["scancel", *handles])
        except subprocess.TimeoutExpired:
            return f"scancel did not answer within {_COMMAND_TIMEOUT:g} s"
        except OSError as exc:
            log.error("slurm backend: scancel could not run (%s): %s", exc, _FIX_CLIENT)
            return None  # it never will: do not keep the stops owed
        said = " ".join(done.stderr.split())
        if done.returncode != 0 and (_unreachable(said) or "timed out" in said.lower()):
            return f"scancel failed: {said}"
        if done.returncode != 0:  # e.g. a job Slurm already forgot: nothing left to stop
            log.warning("slurm backend: scancel %s: %s", " ".join(handles), said)
        return None

    # -- following -----------------------------------------------------------------------------

    def _poll(self) -> None:
        units = [u for u in self._units.values() if not u.done and not u.resubmit]
        if not units and not self._problems and not self._waiting and not self._scancels:
            return
        try:
            records = self._squeue()
        except _NoAnswer as exc:
            # Asking scontrol about each job would only wait on the same controller again.
            kept = [s.job.units[0] for s in self._waiting]
            self._report_problem(units + kept, _problem(exc, self.retry_interval))
            for unit in units:
                if unit.running:
                    self._tail(unit)  # the attempt's files are local: its lines still come
            return
        # Slurm answers: what waited for it goes first (stops, then submissions in order).
        self._send_scancels()
        self._flush()
        self._report_kept()
        for unit in units:
            if unit.done:  # ended by a cascade earlier in this loop
                continue
            record = records.get(unit.handle) or records.get(f"{unit.array_job}_*", {})
            pending = record.get("_pending_array") if record else None
            if pending and unit.index not in pending:
                record = {}
            if not record:
                record = self._scontrol(unit.handle)
            self._follow(unit, record)

    def _report_problem(self, units: list[_Unit], problem: str | None) -> None:
        """Tell each compute environment whose ``units`` are followed that squeue fails
        (``problem``; once, and again only when it changes), or with None, each one told so
        before that Slurm answers again."""
        if problem is None:
            for env, events in list(self._problems):
                events.service_problem(env, None)
            self._problems.clear()
            return
        for key in dict.fromkeys((u.job.remote.compute_environment, u.job.events) for u in units):
            if self._problems.get(key) != problem:
                self._problems[key] = problem
                key[1].service_problem(key[0], problem)

    def _squeue_json(self) -> dict[str, Any]:
        """What ``squeue --json`` printed; :class:`_NoAnswer` saying why when it failed."""
        try:
            done = self._run(["squeue", "--json"])
        except FileNotFoundError as exc:
            raise _NoAnswer("squeue not found", _FIX_CLIENT) from exc
        except subprocess.TimeoutExpired as exc:
            raise _NoAnswer(f"squeue did not answer within {_COMMAND_TIMEOUT:g} s") from exc
        except OSError as exc:
            raise _NoAnswer(f"squeue could not run: {exc}") from exc
        return _squeue_data(done.returncode, done.stdout, done.stderr)

    def _squeue(self) -> dict[str, dict[str, Any]]:
        """Slurm's jobs by id ("12", or "12_3" for a started array task; "12_*" for the tasks
        of array 12 still pending, with their indexes under ``_pending_array``);
        :class:`_NoAnswer` when squeue failed."""
        data = self._squeue_json()
        out: dict[str, dict[str, Any]] = {}
        for rec in data.get("jobs", []):
            state = rec.get("job_state", "")
            reason = rec.get("state_reason", "")
            raw = rec.get("exit_code")
            item = {
                "state": state,
                "reason": reason,
                "exit": _exit_from_status(raw) if isinstance(raw, int) else None,
                "dependency": rec.get("dependency", ""),
                "started": bool(rec.get("start_time")),
            }
            job_id = str(rec.get("job_id"))
            array_id = str(rec.get("array_job_id") or "0")
            task = rec.get("array_task_id")
            if array_id != "0" and task is None:
                item["_pending_array"] = _task_indexes(rec.get("array_task_string", ""))
                out[f"{array_id}_*"] = item
            elif array_id != "0":
                out[f"{array_id}_{task}"] = item
            else:
                out[job_id] = item
        return out

    def _scontrol(self, handle: str) -> dict[str, Any]:
        """A job that left squeue, from ``scontrol show job -o`` ({} if Slurm forgot it)."""
        try:
            done = self._run(["scontrol", "show", "job", "-o", handle])
        except (subprocess.TimeoutExpired, OSError):
            return {}
        if "Invalid job id" in done.stderr:
            return {"state": "UNKNOWN", "reason": " ".join(done.stderr.split())}
        if done.returncode != 0 or "JobState=" not in done.stdout:
            return {}  # the controller did not answer: ask again at the next poll
        fields = dict(token.split("=", 1) for token in done.stdout.split() if "=" in token)
        code, _, sig = fields.get("ExitCode", "0:0").partition(":")
        exit_code = 128 + int(sig) if sig.isdigit() and int(sig) else int(code or 0)
        return {
            "state": fields.get("JobState", ""),
            "reason": fields.get("Reason", ""),
            "exit": exit_code,
            "dependency": fields.get("Dependency", ""),
            "started": fields.get("StartTime", "Unknown") not in ("Unknown", "None"),
        }

    def _observe(self, unit: _Unit, status: str, reason: str = "", **kw: Any) -> None:
        unit.job.events.observed(Observation(unit.id, status, reason, **kw))

    def _follow(self, unit: _Unit, record: Mapping[str, Any]) -> None:
        if not record:
            return  # squeue did not answer this time
        state = str(record.get("state", ""))
        reason = str(record.get("reason", ""))
        kind = slurm_state(state, reason)
        if kind == "PENDING" and reason == "DependencyNeverSatisfied":
            failed = self._failed_dependency(str(record.get("dependency", "")))
            if failed is not None and failed.done:
                self._cascade_one(unit, failed)
                return
        if kind in ("PENDING", "RUNNABLE", "STARTING"):
            if unit.status != kind:
                unit.status = kind
                self._observe(unit, kind, attempt=unit.attempt, handle=unit.handle)
            return
        if kind == "RUNNING":
            self._mark_running(unit)
            self._tail(unit)
            return
        self._ended(unit, state, reason, record)

    def _mark_running(self, unit: _Unit) -> None:
        if not unit.running:
            unit.running = True
            unit.status = "RUNNING"
            self._observe(unit, "RUNNING", attempt=unit.attempt, handle=unit.handle)

    def _tail(self, unit: _Unit, final: bool = False) -> None:
        """Report the complete lines the attempt's files gained (all of them when final)."""
        key = (unit.id, unit.attempt)
        for stream in unit.streams:
            lines: list[str] = []
            try:
                with open(stream.path, "rb") as f:
                    f.seek(stream.offset)
                    while chunk := f.read(_READ_SIZE):
                        stream.offset += len(chunk)
                        lines.extend(stream.splitter.feed(chunk))
            except FileNotFoundError:
                pass
            if final:
                lines.extend(stream.splitter.flush())
            skip = unit.skip.get(stream.name, 0)
            if skip and lines:
                dropped = min(skip, len(lines))
                unit.skip[stream.name] = skip - dropped
                lines = lines[dropped:]
            if lines:
                unit.job.events.log(key, stream.name, lines, time.time_ns())

    def _ended(self, unit: _Unit, state: str, reason: str, record: Mapping[str, Any]) -> None:
        base = self._unit_base(unit)
        ran = unit.running or bool(record.get("started")) or os.path.exists(base + ".out")
        exit_code = _read_exit(base + ".exit")
        if exit_code is None:
            exit_code = record.get("exit") if ran else None
        timed_out = os.path.exists(base + ".timeout")
        if ran:
            self._mark_running(unit)
            self._tail(unit, final=True)
        attempt = unit.attempt if ran else None
        d = unit.job.remote.definition
        if state in _ENDED_OK and not timed_out:
            self._finish(unit, "SUCCEEDED", "", attempt=attempt, exit_code=0)
            return
        stop_cause: str | None = None
        attempt_reason: str | None = None
        status_reason = ""
        # A stop that never reached Slurm (its scancel is still owed) did not end the attempt:
        # the job ended by itself, and says how (but is not retried: it was asked to stop).
        if unit.stop is not None and (unit.stop_sent or state == "CANCELLED"):
            verb, said = unit.stop
            stop_cause = "terminate"
            status_reason = (
                Reasons.cancelled(said) if verb == "cancel" else Reasons.terminated(said)
            )
        elif timed_out:
            stop_cause = "timeout"
            status_reason = Reasons.timeout(d.timeout or 0)
        elif state == "CANCELLED" and reason.startswith("Dependency"):
            failed = self._failed_dependency(str(record.get("dependency", "")))
            name = failed.display if failed else "a dependency"
            ident = failed.id if failed else str(record.get("dependency", ""))
            self._finish(unit, "FAILED", Reasons.dependency_failed(name, ident))
            return
        elif state == "CANCELLED":
            stop_cause = "terminate"
            status_reason = (
                f"Cancelled on Slurm (scancel of job {unit.handle} outside kadam, or by an "
                "administrator); submit the job again to run it"
            )
        elif state == "OUT_OF_MEMORY" or (exit_code == 137 and os.path.exists(base + ".oom")):
            attempt_reason = Reasons.OOM  # Slurm's own limit, or the container's
        elif state == "TIMEOUT":
            attempt_reason = (
                f"Slurm's time limit for job {unit.handle} was reached (the partition's "
                "MaxTime or DefaultTime); ask for a partition with a longer limit"
            )
        elif state == "NODE_FAIL":
            attempt_reason = f"Slurm node failure while job {unit.handle} ran (NODE_FAIL)"
        elif state == "UNKNOWN":
            attempt_reason = (
                f"Slurm no longer knows job {unit.handle} ({reason or 'it ended long ago'}) and "
                "it left no exit code"
            )
        elif state != "FAILED":
            attempt_reason = f"Slurm ended job {unit.handle}: {state} ({reason})"
        if attempt_reason is None and exit_code == 125 and d.image:
            attempt_reason = (
                "CannotStartContainerError: docker run failed on the Slurm node (exit 125): the "
                "image is missing there or its Docker engine refused the container (see the log)"
            )
        if attempt_reason is None and exit_code is not None and exit_code != 0:
            command = substitute_parameters(d.command, d.parameters)
            attempt_reason = shell_exit_reason(command, exit_code)
        if state in _ENDED_OK and exit_code is None:
            exit_code = 0
        retry, _why = retry_decision(
            d.retry_strategy,
            unit.attempt,
            exit_code,
            attempt_reason,
            status_reason or None,
            stop_cause or ("terminate" if unit.stop is not None else None),
        )
        if retry and ran:
            self._retry(unit, exit_code, attempt_reason)
            return
        self._finish(
            unit,
            "FAILED",
            status_reason,
            attempt=attempt,
            exit_code=exit_code,
            attempt_reason=attempt_reason,
        )

    def _finish(self, unit: _Unit, status: str, reason: str, **kw: Any) -> None:
        unit.done = True
        unit.status = status
        self._observe(unit, status, reason, **kw)
        entry = unit.job
        if all(u.done for u in entry.units):
            entry.done = True
        if status == "FAILED":
            self._cascade(unit)

    def _retry(self, unit: _Unit, exit_code: int | None, attempt_reason: str | None) -> None:
        """Submit attempt n+1 (kept while the controller is away) once attempt n is recorded."""
        self._observe(
            unit,
            "RUNNING",
            attempt=unit.attempt,
            handle=unit.handle,
            exit_code=exit_code,
            attempt_reason=attempt_reason,
        )
        unit.resubmit = True
        sub = _Submission(unit.job, unit, exit_code, attempt_reason)
        if self._waiting or not self._submit(sub):
            self._keep(sub)

    def _resubmit(self, sub: _Submission) -> bool:
        """sbatch the next attempt of ``sub.unit`` and point the dependents' Slurm jobs at it
        (as :meth:`_submit`: False when the controller could not be reached)."""
        unit = sub.unit
        assert unit is not None
        entry = unit.job
        job = entry.remote
        attempt = unit.attempt + 1
        array = None if unit.index is None else str(unit.index)
        try:
            args = self._sbatch_args(job, attempt, array)
            slurm_id = self._sbatch([*args, self._write_script(job, attempt)])
        except _Unreachable as exc:
            sub.said = str(exc)
            return False
        except (_Refused, OSError) as exc:
            unit.resubmit = False
            self._finish(
                unit,
                "FAILED",
                f"Attempt {attempt} could not be submitted: {exc}",
                attempt=unit.attempt,
                exit_code=sub.exit_code,
                attempt_reason=sub.attempt_reason,
            )
            return True
        unit.resubmit = False
        self._set_attempt(unit, attempt, slurm_id)
        unit.status = "RUNNABLE"
        self._observe(unit, "RUNNABLE", attempt=attempt, handle=unit.handle)
        if unit.index is None:
            entry.events.handed_over(job.job_id, slurm_id)  # what a later session follows
        for dep_id in entry.dependents:
            dependent = self._jobs.get(dep_id)
            if dependent is None or dependent.done:
                continue
            spec, _kill = self._dependency(dependent.remote)
            if isinstance(spec, str):
                self._run(
                    ["scontrol", "update", f"JobId={dependent.slurm_id}", f"Dependency={spec}"]
                )
        return True

    def _failed_dependency(self, dependency: str) -> _Unit | None:
        """The unit whose failure made ``dependency`` (Slurm's string) unsatisfiable."""
        for match in _DEP_FAILED.finditer(dependency):
            if match.group(3) != "failed":
                continue
            job_id = self._by_slurm.get(match.group(1))
            entry = self._jobs.get(job_id or "")
            if entry is None:
                continue
            index = match.group(2)
            for unit in entry.units:
                if unit.status == "FAILED" and (index is None or str(unit.index) == index):
                    return unit
        return None

    def _cascade(self, failed: _Unit) -> None:
        """A unit failed for good: the Slurm jobs waiting on it will never run; cancel them and
        report them FAILED, naming it (as AWS does; their own dependents follow)."""
        entry = failed.job
        victims: list[_Unit] = []
        if entry.sequential and failed.index is not None:
            victims += [u for u in entry.units if u.index is not None and u.index > failed.index]
        for dep_id in entry.dependents:
            dependent = self._jobs.get(dep_id)
            if dependent is None:
                continue
            types = {d.type for d in dependent.remote.depends_on if d.job_id == entry.remote.job_id}
            if types == {"N_TO_N"} and failed.index is not None:
                victims += [u for u in dependent.units if u.index == failed.index]
            else:
                victims += dependent.units
        for victim in victims:
            self._cascade_one(victim, failed)

    def _cascade_one(self, victim: _Unit, failed: _Unit) -> None:
        if victim.done:
            return
        if victim.status not in ("RUNNING", "STARTING"):
            if victim.resubmit:  # its next attempt was kept: it never runs
                self._waiting = [s for s in self._waiting if s.unit is not victim]
                victim.resubmit = False
            elif victim.handle:
                self._owe_scancel([victim.handle], [])
            self._finish(victim, "FAILED", Reasons.dependency_failed(failed.display, failed.id))

    # -- adopt ---------------------------------------------------------------------------------

    def _adopt(self, jobs: Iterable[RemoteJob], events: RemoteEvents) -> None:
        """Follow again jobs an earlier session handed over.

        Each job is followed from its ``remote_id`` (the last Slurm job reported through
        ``handed_over``); the attempt number is read from the job script's name. Attempts kadam
        already has (``attempts_seen``) are read again from the end of their output files, so
        lines written while no session followed stay only in those files; when the scheduler
        gives per-stream line counts (``lines_seen``), exactly the stored lines are skipped.
        """
        try:
            records = self._squeue_commands()
        except _NoAnswer:
            records = {}  # the polls report the problem and keep asking
        for job in jobs:
            if not job.remote_id:
                continue
            entry = _Job(remote=job, events=events, slurm_id=job.remote_id)
            size = job.array_size
            entry.units = (
                [_Unit(job.job_id, entry, None)]
                if size is None
                else [_Unit(f"{job.job_id}:{i}", entry, i) for i in range(size)]
            )
            attempt = records.get(job.remote_id, max(1, job.attempts_seen))
            for unit in entry.units:
                self._set_attempt(unit, attempt, job.remote_id)
                seen: Mapping[str, int] | None = getattr(job, "lines_seen", None)
                if seen is not None:
                    unit.skip = dict(seen)
                elif unit.attempt <= job.attempts_seen:
                    for stream in unit.streams:
                        with contextlib.suppress(OSError):
                            stream.offset = os.path.getsize(stream.path)
                    unit.running = True  # its RUNNING was recorded before
            self._register(entry)

    def _squeue_commands(self) -> dict[str, int]:
        """Slurm job id -> attempt number, from the names of kadam's job scripts."""
        data = self._squeue_json()
        out = {}
        for rec in data.get("jobs", []):
            match = re.search(r"\.(\d+)\.sh$", str(rec.get("command", "")))
            if match:
                out[str(rec.get("array_job_id") or rec.get("job_id"))] = int(match.group(1))
                out[str(rec.get("job_id"))] = int(match.group(1))
        return out


# --------------------------------------------------------------------------- helpers


def _exit_from_status(status: int) -> int:
    """Docker's exit code from a wait status as squeue reports it (signal N gives 128+N)."""
    if status & 0x7F:
        return 128 + (status & 0x7F)
    return (status >> 8) & 0xFF


def _read_exit(path: str) -> int | None:
    """The exit code the job script recorded, if it got that far."""
    try:
        with open(path, encoding="utf-8") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _task_indexes(spec: str) -> set[int]:
    """``0-2,5%1`` → {0, 1, 2, 5}."""
    out: set[int] = set()
    for part in spec.split("%")[0].split(","):
        lo, _, hi = part.partition("-")
        if lo.isdigit():
            out.update(range(int(lo), int(hi.split(":")[0]) + 1 if hi else int(lo) + 1))
    return out


_FIX_CONTROLLER = (
    "check with `scontrol ping` that slurmctld runs, and that SLURM_CONF points at its slurm.conf"
)
_FIX_CLIENT = (
    "install Slurm's client commands (Debian: apt-get install slurm-client) and make them reach "
    "the cluster (SLURM_CONF)"
)


def _squeue_data(returncode: int, stdout: str, stderr: str) -> dict[str, Any]:
    """``squeue --json``'s answer; :class:`_NoAnswer` naming squeue and what Slurm said when
    it failed. Slurm 22.05 exits 0 when it cannot reach the controller, with an empty job
    list and an ``errors`` entry: that is a failure too, not "no jobs"."""
    if returncode != 0:
        said = " ".join(stderr.split()) or f"exit code {returncode}"
        raise _NoAnswer(f"squeue failed: {said}")
    try:
        data = json.loads(stdout)
    except ValueError:
        said = " ".join((stderr or stdout).split())[:200] or "nothing"
        raise _NoAnswer(f"squeue --json printed no JSON kadam can read: {said}") from None
    if not isinstance(data, dict):
        raise _NoAnswer("squeue --json printed no JSON kadam can read: not an object")
    errors = [e for e in data.get("errors") or [] if isinstance(e, dict)]
    if errors:
        said = "; ".join(_slurm_error(e) for e in errors)
        stderr = " ".join(stderr.split())
        raise _NoAnswer(f"squeue failed: {said}" + (f" ({stderr})" if stderr else ""))
    return data


def _unreachable(said: str) -> bool:
    """Whether a Slurm command failed because it could not reach the controller (what it
    asked for may be asked again), rather than because Slurm said no."""
    lowered = said.lower()
    return any(
        text in lowered
        for text in ("unable to contact slurm controller", "connect failure", "connection refused")
    )


def _submit_problem(said: str) -> str:
    """The compute environment's status reason while sbatch cannot reach the controller."""
    fix = _fix(said) or _FIX_CONTROLLER
    return (
        f"{said}; {fix} (kadam keeps the jobs it hands over and the retries it submits meanwhile, "
        "and submits them in order once Slurm answers)"
    )


def _problem(exc: _NoAnswer, retry_interval: float) -> str:
    """The compute environment's status reason while squeue fails: what failed, what to check,
    and what kadam does meanwhile."""
    said = str(exc)
    fix = exc.fix or _fix(said) or _FIX_CONTROLLER
    return (
        f"{said}; {fix} (kadam keeps its jobs' last known state and asks again every "
        f"{retry_interval:g} s)"
    )


def _slurm_error(error: Mapping[str, Any]) -> str:
    """One entry of Slurm's JSON ``errors``: "slurm_load_jobs: Failed while looking for jobs
    (Unspecified error)"."""
    text = str(error.get("description") or error.get("error") or "an error")
    if error.get("source"):
        text = f"{error['source']}: {text}"
    if error.get("error") and error.get("description"):
        text += f" ({error['error']})"
    return text


def _fix(said: str) -> str:
    """What to fix, for the Slurm errors people meet first ("" when kadam cannot tell)."""
    lowered = said.lower()
    if "invalid partition" in lowered:
        return "set the compute environment's partition to one `sinfo` lists"
    if "invalid account" in lowered:
        return "set the compute environment's account to one you may use, or none"
    if "memory specification" in lowered or "node configuration" in lowered:
        return "lower the definition's vCPUs or memory, or use a partition with larger nodes"
    if "invalid generic resource" in lowered:
        return "this cluster has no GPUs configured as gres; set gpus to 0"
    if "unable to contact" in lowered or "connection refused" in lowered:
        return _FIX_CONTROLLER
    if "did not answer" in lowered or "timed out" in lowered:
        return "slurmctld is stopped or overloaded; `scontrol ping` tells"
    if "munge" in lowered or "authentication" in lowered:
        return "check that munged runs here with the cluster's key"
    return ""


def _hint(said: str) -> str:
    """What to fix, for the sbatch errors people meet first, as a parenthesis."""
    fix = _fix(said)
    return f" ({fix})" if fix else ""

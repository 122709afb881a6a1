"""The Docker backend: each attempt is one container (the only module that imports ``docker``).

What a container gets from its attempt: the image; the command (a script runs under
``/bin/sh -c``, a list as argv, an empty command keeps the image's own); the definition's
environment plus the injected ``AWS_BATCH_*`` variables and ``KADAM_WORK=/kadam/work``; the
run's work directory bind-mounted at ``/kadam/work``; the user; ``nano_cpus`` from vCPUs;
``mem_limit`` and ``memswap_limit`` from memory (no swap beyond it); ``shm_size``; ulimits; a
read-only root filesystem; privileged mode only when the definition asks; GPUs as device
requests; the definition's volumes and mount points (host paths, read-only flags; a volume
without a host path is an anonymous Docker volume removed with the container). The image's
working directory and entrypoint are kept, as on AWS Batch.

Every container carries the labels ``kadam.job-id``, ``kadam.attempt``, ``kadam.run-id`` and
``kadam.state-dir`` (a hash of the state directory), so that kadam finds its own containers and
touches nothing else.

Logs: the attempt attaches to the container's live stream before starting it (as
``docker run`` does), so the first line is not missed and nothing is read twice, and parses
Docker's multiplexed frames itself from 64 KiB reads (stdout and stderr kept apart). After a
kernel restart, :meth:`DockerBackend.adopt` finds a container by its labels and follows its log
again from the start, skipping the lines already stored (counted per stream).

When the engine stops or restarts under a running attempt (its attach stream ends and the
engine stops answering), the attempt waits up to ``reconnect_wait`` seconds for the engine to
answer again: a container still running is followed again (as after a kernel restart); one the
engine stopped ends the attempt FAILED with a reason saying the engine restarted, and is
removed. An engine that does not come back ends the attempt with a reason saying so, and its
container is removed once the engine answers again. Containers carry the attempt's
``stop_grace`` as their stop timeout, so an engine shutting down stops them as kadam would.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import struct
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
from docker import errors as docker_errors
from docker import types as docker_types

from ..core.logs import STDERR, STDOUT, LineSplitter
from ..core.policy import shell_exit_reason
from ..core.states import Reasons
from ..errors import BackendUnavailable
from .base import AttemptEvents, AttemptKey, AttemptSpec

__all__ = ["CONTAINER_WORK_DIR", "DockerBackend", "FrameDecoder", "connect", "state_dir_key"]

log = logging.getLogger("kadam_nb")

CONTAINER_WORK_DIR = "/kadam/work"
LABEL_JOB = "kadam.job-id"
LABEL_ATTEMPT = "kadam.attempt"
LABEL_RUN = "kadam.run-id"
LABEL_STATE = "kadam.state-dir"
_HOW_TO_START = (
    "start a Docker engine (Debian/Ubuntu as root: `apt-get install -y docker.io` then "
    "`dockerd > /var/log/dockerd.log 2>&1 &`, or `systemctl start docker`), or use "
    "backend='local' to run jobs as host processes"
)


def engine_down_reason(exc: BaseException) -> str:
    """Why an attempt could not start: the engine does not answer, and what to do."""
    return (
        f"CannotStartContainerError: the Docker engine does not answer ({_short(exc)}); "
        "start it again (`dockerd` or `systemctl start docker`), then submit the job again"
    )


ENGINE_RESTARTED = (
    "DockerEngineRestarted: the Docker engine restarted while this attempt ran and stopped "
    "its container (kadam removed the container once the engine answered again). Nothing in "
    "the job itself failed: submit it again, or give the definition retries so that kadam "
    "retries by itself; an engine with live-restore keeps containers running across restarts"
)


def engine_lost_reason(seconds: float) -> str:
    return (
        "DockerEngineUnreachable: the Docker engine stopped answering while this attempt ran "
        f"and did not come back within {seconds:g} s, so the attempt's outcome is unknown "
        "(kadam removes its container once the engine answers again). Start the engine again "
        "(`dockerd` or `systemctl start docker`), then submit the job again"
    )


def _engine_gone(exc: BaseException) -> bool:
    """A connection-level failure (the engine stopped, restarted, or its socket went away), as
    opposed to an answer from the engine (``APIError``)."""
    return isinstance(exc, OSError) and not isinstance(exc, docker_errors.DockerException)


def signal_reason(code: int) -> str | None:
    """Docker's 128+N exit code as the signal that ended the container, in words."""
    if not 128 < code < 128 + 65:
        return None
    try:
        name = signal.Signals(code - 128).name
    except ValueError:
        name = f"signal {code - 128}"
    return f"Killed by signal {name} (exit code {code} = 128 + {code - 128})"


def state_dir_key(state_dir: str) -> str:
    """The ``kadam.state-dir`` label value: a short hash of the state directory's path."""
    return hashlib.sha256(os.path.abspath(state_dir).encode()).hexdigest()[:16]


def connect(timeout: float = 5.0) -> Any:
    """A Docker client that answered a ping, or BackendUnavailable saying how to get one."""
    try:
        client = docker.from_env(timeout=max(timeout, 60.0))
        client.api.timeout = timeout
        client.ping()
        client.api.timeout = 60.0
        return client
    except Exception as exc:
        raise BackendUnavailable(
            f"no Docker engine answers ({_short(exc)}); {_HOW_TO_START}"
        ) from None


def _short(exc: BaseException) -> str:
    if isinstance(exc, docker_errors.APIError):
        return str(exc.explanation or exc)
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "…"


class FrameDecoder:
    """Splits Docker's multiplexed stream (8-byte header: stream, 0, 0, 0, big-endian size)
    into (stream, payload) pieces, whatever the read boundaries."""

    _HEADER = struct.Struct(">BxxxL")

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        buffer = self._buffer
        buffer += data
        out: list[tuple[str, bytes]] = []
        offset = 0
        end = len(buffer)
        while end - offset >= 8:
            kind, size = self._HEADER.unpack_from(buffer, offset)
            if end - offset - 8 < size:
                break
            start = offset + 8
            out.append((STDERR if kind == 2 else STDOUT, bytes(buffer[start : start + size])))
            offset = start + size
        del buffer[:offset]
        return _merge(out)


def _merge(frames: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Join consecutive frames of the same stream (fewer, larger pieces to split into lines)."""
    merged: list[tuple[str, bytes]] = []
    for stream, payload in frames:
        if merged and merged[-1][0] == stream:
            merged[-1] = (stream, merged[-1][1] + payload)
        else:
            merged.append((stream, payload))
    return merged


class _Streams:
    """Line splitting for both streams, reporting each batch of complete lines."""

    def __init__(self, key: AttemptKey, events: AttemptEvents, skip: Mapping[str, int]) -> None:
        self.key = key
        self.events = events
        self.splitters = {STDOUT: LineSplitter(), STDERR: LineSplitter()}
        self.skip = dict(skip)
        self.reported = {STDOUT: 0, STDERR: 0}  # complete lines seen (skipped ones too)

    def feed(self, stream: str, data: bytes) -> None:
        self._report(stream, self.splitters[stream].feed(data))

    def flush(self) -> None:
        for stream, splitter in self.splitters.items():
            self._report(stream, splitter.flush())

    def _report(self, stream: str, lines: list[str]) -> None:
        self.reported[stream] += len(lines)
        skip = self.skip.get(stream, 0)
        if skip:  # lines a previous kernel already stored
            dropped = min(skip, len(lines))
            self.skip[stream] = skip - dropped
            lines = lines[dropped:]
        if lines:
            self.events.log(self.key, stream, lines, time.time_ns())


class DockerBackend:
    """Runs attempts as containers on a Docker engine. Thread-safe."""

    name = "docker"

    def __init__(
        self,
        *,
        stop_grace: float = 10.0,
        state_dir: str = "",
        keep_failed: bool = False,
        client: Any = None,
        max_workers: int = 64,
        reconnect_wait: float = 30.0,
    ) -> None:
        self.client = client if client is not None else connect()
        self.stop_grace = stop_grace
        self.state_key = state_dir_key(state_dir) if state_dir else ""
        self.keep_failed = keep_failed
        self.reconnect_wait = reconnect_wait
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kadam-docker")
        self._lock = threading.Lock()
        self._containers: dict[AttemptKey, str] = {}
        self._stops: dict[AttemptKey, float] = {}
        self._closed = False
        self._orphans: set[str] = set()  # containers to remove once the engine answers again
        self._janitor: threading.Thread | None = None

    # ------------------------------------------------------------------ Backend protocol

    def start(self, spec: AttemptSpec, events: AttemptEvents) -> None:
        self._submit(self._run, spec, events)

    def adopt(
        self,
        spec: AttemptSpec,
        events: AttemptEvents,
        stored: Mapping[str, int],
        starting: bool = False,
    ) -> None:
        """Follow again an attempt a previous kernel started; ``stored`` counts the lines per
        stream already in its log file (they are not reported twice). ``starting``: the
        attempt was recorded STARTING (its container may never have been created)."""
        self._submit(self._adopt, spec, events, stored, starting)

    def stop(self, key: AttemptKey, grace: float | None = None) -> None:
        grace = self.stop_grace if grace is None else grace
        with self._lock:
            self._stops[key] = grace
            container = self._containers.get(key)
        if container is not None:
            threading.Thread(
                target=self._stop_container,
                args=(container, grace),
                daemon=True,
                name=f"kadam-docker-stop-{key[0][:8]}",
            ).start()

    def close(self) -> None:
        """Stop following containers. They keep running: a new kernel can re-adopt them."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def running(self) -> list[AttemptKey]:
        with self._lock:
            return list(self._containers)

    # ------------------------------------------------------------------ one attempt

    def _submit(self, fn: Callable[..., None], spec: AttemptSpec, *args: Any) -> None:
        events: AttemptEvents = args[0]
        if self._closed:
            events.failed_to_start(spec.key, "CannotStartContainerError: the backend is closed")
            return
        self._pool.submit(self._guarded, fn, spec, *args)

    def _guarded(self, fn: Callable[..., None], spec: AttemptSpec, *args: Any) -> None:
        events: AttemptEvents = args[0]
        try:
            fn(spec, *args)
        except Exception as exc:  # never leave a job STARTING or RUNNING forever
            log.exception("docker attempt %s failed inside kadam", spec.key)
            with self._lock:
                started = spec.key in self._containers
                self._containers.pop(spec.key, None)
            if started:
                reason = (
                    engine_lost_reason(0)
                    if _engine_gone(exc)
                    else f"Docker engine error: {_short(exc)}"
                )
                events.exited(spec.key, None, reason)
            elif _engine_gone(exc):
                events.failed_to_start(spec.key, engine_down_reason(exc))
            else:
                events.failed_to_start(spec.key, f"CannotStartContainerError: {_short(exc)}")

    def _run(self, spec: AttemptSpec, events: AttemptEvents) -> None:
        key = spec.key
        api = self.client.api
        if not self._ensure_image(spec, events):
            return
        try:
            container = api.create_container(**self._container_args(spec))["Id"]
        except docker_errors.APIError as exc:
            events.failed_to_start(key, f"CannotCreateContainerError: {_short(exc)}")
            return
        # Attach before start, live stream only (as `docker run` does): the stream is connected
        # when the attach answers, so no line is missed. Asking for a replay too ("logs": 1)
        # races with the live stream and can deliver the first lines twice.
        try:
            socket = api.attach_socket(container, params={"stdout": 1, "stderr": 1, "stream": 1})
        except OSError as exc:  # the engine went away between create and attach
            if not _engine_gone(exc):
                raise
            self._remove(container)
            events.failed_to_start(key, engine_down_reason(exc))
            return
        try:
            api.start(container)
        except docker_errors.APIError as exc:  # (an OSError too: this clause comes first)
            with contextlib.suppress(Exception):
                socket.close()
            self._remove(container)
            hint = (
                " (the command is not in the image: check the command, or use an image that has it)"
                if "not found" in str(exc)
                else ""
            )
            events.failed_to_start(key, f"CannotStartContainerError: {_short(exc)}{hint}")
            return
        except OSError as exc:  # the engine went away before the start
            with contextlib.suppress(Exception):
                socket.close()
            self._remove(container)
            events.failed_to_start(key, engine_down_reason(exc))
            return
        with self._lock:
            self._containers[key] = container
            pending_stop = self._stops.get(key)
        events.started(key, container[:12])
        if pending_stop is not None:  # terminated while it was being created
            self.stop(key, pending_stop)
        streams = _Streams(key, events, {})
        try:
            self._read_frames(socket, streams)
            self._finish(spec, events, container)
        except OSError as exc:
            if not _engine_gone(exc):
                raise
            self._engine_lost(spec, events, container, streams)

    def _read_frames(self, socket: Any, streams: _Streams) -> None:
        decoder = FrameDecoder()
        buffer = bytearray(65536)
        view = memoryview(buffer)
        read = getattr(socket, "readinto", None)
        try:
            while True:
                if read is not None:
                    n = read(buffer)
                    data = bytes(view[:n]) if n else b""
                else:  # pragma: no cover - a transport without readinto
                    data = socket.recv(65536)
                if not data:
                    break
                for stream, payload in decoder.feed(data):
                    streams.feed(stream, payload)
        finally:
            with contextlib.suppress(Exception):
                socket.close()
        streams.flush()

    def _finish(self, spec: AttemptSpec, events: AttemptEvents, container: str) -> None:
        api = self.client.api
        result = api.wait(container)
        code = int(result.get("StatusCode", -1))
        # Only a kill (137) can be the OOM killer's: other exits need no inspect round trip.
        state = api.inspect_container(container).get("State", {}) if code == 137 else {}
        deadline = time.monotonic() + 1.0
        while code == 137 and not state.get("OOMKilled") and time.monotonic() < deadline:
            # the engine may record the OOM kill just after the exit: look again briefly
            time.sleep(0.1)
            state = api.inspect_container(container).get("State", {})
        reason: str | None = None
        if state.get("OOMKilled"):
            reason = Reasons.OOM
        elif code:
            reason = shell_exit_reason(spec.command, code) or signal_reason(code)
        with self._lock:
            self._containers.pop(spec.key, None)
            self._stops.pop(spec.key, None)
        if not (self.keep_failed and code != 0):
            self._remove(container)
        events.exited(spec.key, code, reason)

    # ------------------------------------------------------------------ re-adoption

    def find(self, job_id: str, attempt: int) -> dict[str, Any] | None:
        filters = {"label": [f"{LABEL_JOB}={job_id}", f"{LABEL_ATTEMPT}={attempt}"]}
        if self.state_key:
            filters["label"].append(f"{LABEL_STATE}={self.state_key}")
        found = self.client.api.containers(all=True, filters=filters)
        return found[0] if found else None

    def _adopt(
        self,
        spec: AttemptSpec,
        events: AttemptEvents,
        stored: Mapping[str, int],
        starting: bool = False,
    ) -> None:
        key = spec.key
        api = self.client.api
        found = self.find(spec.job_id, spec.attempt)
        if found is None and starting:
            events.failed_to_start(
                key,
                "CannotStartContainerError: the kernel that was starting this attempt exited "
                "before its container was created",
            )
            return
        if found is None:
            events.exited(
                key,
                None,
                "Container disappeared: kadam found no container for this attempt after the "
                "kernel restarted (it was removed outside kadam, or the engine lost it)",
            )
            return
        container = found["Id"]
        state = api.inspect_container(container).get("State", {})
        status = state.get("Status")
        if status == "created":  # the old kernel died between create and start
            self._remove(container)
            events.failed_to_start(
                key,
                "CannotStartContainerError: the kernel that was starting this container exited "
                "before it started",
            )
            return
        with self._lock:
            self._containers[key] = container
            pending_stop = self._stops.get(key)
        events.started(key, container[:12])
        if pending_stop is not None:  # terminated while it was being looked for
            self.stop(key, pending_stop)
        streams = _Streams(key, events, stored)
        try:
            self._follow_logs(container, streams, status in ("running", "paused", "restarting"))
            self._finish(spec, events, container)
        except OSError as exc:
            if not _engine_gone(exc):
                raise
            self._engine_lost(spec, events, container, streams)

    def _follow_logs(self, container: str, streams: _Streams, follow: bool) -> None:
        """Every line of the container from the start through the logs endpoint (an attach
        would replay only what no client read yet), one stream per request; the lines
        ``streams`` is told to skip (already stored) are not reported again."""
        api = self.client.api
        failures: list[BaseException] = []

        def read(stream: str) -> None:
            chunks = api.logs(
                container,
                stdout=stream == STDOUT,
                stderr=stream == STDERR,
                stream=follow,
                follow=follow,
            )
            for chunk in chunks if follow else [chunks]:
                streams.feed(stream, chunk)

        def read_stderr() -> None:
            try:
                read(STDERR)
            except Exception as exc:
                failures.append(exc)

        helper = threading.Thread(target=read_stderr, daemon=True)
        helper.start()
        read(STDOUT)
        helper.join()
        if failures:
            raise failures[0]
        streams.flush()

    # ------------------------------------------------------------------ the engine went away

    def _engine_lost(
        self, spec: AttemptSpec, events: AttemptEvents, container: str, lost: _Streams
    ) -> None:
        """The engine stopped answering while the attempt ran: wait for it to come back, then
        follow the container again if it still runs, or end the attempt saying what happened."""
        key = spec.key
        log.warning("docker engine lost while attempt %s ran; waiting for it", key)
        deadline = time.monotonic() + self.reconnect_wait
        while True:
            state = self._inspect_when_back(container, deadline)
            if state is None:  # not back in time
                lost.flush()
                with self._lock:
                    self._containers.pop(key, None)
                    self._stops.pop(key, None)
                    self._orphans.add(container)
                self._start_janitor()
                events.exited(key, None, engine_lost_reason(self.reconnect_wait))
                return
            if state.get("Status") not in ("running", "paused", "restarting"):
                break
            # still running (an engine with live-restore): follow it again, skipping what was read
            streams = _Streams(key, events, lost.reported)
            try:
                self._follow_logs(container, streams, follow=True)
                self._finish(spec, events, container)
                return
            except OSError as exc:
                if not _engine_gone(exc):
                    raise
                lost = streams
        lost.flush()
        with self._lock:
            self._containers.pop(key, None)
            self._stops.pop(key, None)
        if state and not self.keep_failed:
            self._remove(container)
        code = state.get("ExitCode") if state else None
        events.exited(key, code, ENGINE_RESTARTED)

    def _inspect_when_back(self, container: str, deadline: float) -> dict[str, Any] | None:
        """The container's state once the engine answers again ({} if the engine lost it), or
        None if it does not answer by ``deadline``. Inspecting is the probe: a ping can still
        reach an engine that is shutting down, through a connection already open."""
        while not self._closed:
            try:
                state: dict[str, Any] = self.client.api.inspect_container(container)["State"]
                return state
            except docker_errors.NotFound:
                return {}
            except OSError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.25)
        return None

    def _wait_for_engine(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self._closed:
            try:
                self.client.api.ping()
                return True
            except Exception:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.25)
        return False

    def _start_janitor(self) -> None:
        with self._lock:
            if self._janitor is not None and self._janitor.is_alive():
                return
            self._janitor = threading.Thread(
                target=self._remove_orphans, daemon=True, name="kadam-docker-janitor"
            )
            self._janitor.start()

    def _remove_orphans(self) -> None:
        """Remove the containers of attempts that ended while the engine was away, as soon as
        it answers again (until the backend is closed)."""
        while not self._closed:
            with self._lock:
                pending = list(self._orphans)
            if not pending:
                return
            if self._wait_for_engine(5.0):
                for container in pending:
                    with self._lock:
                        self._orphans.discard(container)
                    if not self.keep_failed:
                        self._remove(container)  # put back if the engine is still away
            time.sleep(0.5)

    # ------------------------------------------------------------------ helpers

    def _ensure_image(self, spec: AttemptSpec, events: AttemptEvents) -> bool:
        image = spec.image or ""
        api = self.client.api
        try:
            api.inspect_image(image)
            return True
        except docker_errors.ImageNotFound:
            pass
        except docker_errors.APIError as exc:
            events.failed_to_start(spec.key, f"CannotPullContainerError: {_short(exc)}")
            return False
        events.progress(spec.key, f"pulling image {image}")
        repository, tag = _split_image(image)
        last = 0.0
        try:
            for item in api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in item:
                    raise docker_errors.APIError(item["error"])
                now = time.monotonic()
                if now - last > 0.5:
                    last = now
                    text = " ".join(str(item.get(k, "")) for k in ("id", "status", "progress"))
                    events.progress(spec.key, f"pull {image}: {text.strip()}")
            api.inspect_image(image)
        except Exception as exc:
            events.failed_to_start(
                spec.key,
                f"CannotPullContainerError: {_short(exc)} (check the image name, or build or "
                "pull the image on this machine first)",
            )
            return False
        events.progress(spec.key, f"pulled image {image}")
        return True

    def _container_args(self, spec: AttemptSpec) -> dict[str, Any]:
        d = spec.definition
        api = self.client.api
        binds: dict[str, dict[str, str]] = {
            spec.work_dir: {"bind": CONTAINER_WORK_DIR, "mode": "rw"}
        }
        mounts: list[Any] = []
        volumes = {v.name: v for v in d.volumes}
        for point in d.mount_points:
            volume = volumes[point.source_volume]
            if volume.host_path:
                mode = "ro" if point.read_only else "rw"
                binds[volume.host_path] = {"bind": point.container_path, "mode": mode}
            else:
                mounts.append(
                    docker_types.Mount(
                        point.container_path, None, type="volume", read_only=point.read_only
                    )
                )
        host_config = api.create_host_config(
            binds=binds,
            mounts=mounts or None,
            nano_cpus=int(spec.vcpus * 1e9),
            mem_limit=f"{spec.memory}m",
            memswap_limit=f"{spec.memory}m",
            shm_size=f"{d.shared_memory_size}m" if d.shared_memory_size else None,
            ulimits=[docker_types.Ulimit(name=u.name, soft=u.soft, hard=u.hard) for u in d.ulimits]
            or None,
            read_only=d.readonly_root_filesystem,
            privileged=d.privileged,
            device_requests=[docker_types.DeviceRequest(count=spec.gpus, capabilities=[["gpu"]])]
            if spec.gpus
            else None,
        )
        labels = {
            LABEL_JOB: spec.job_id,
            LABEL_ATTEMPT: str(spec.attempt),
            LABEL_RUN: spec.run_id,
            LABEL_STATE: self.state_key,
        }
        environment = dict(spec.environment)
        environment["KADAM_WORK"] = CONTAINER_WORK_DIR
        return {
            "image": spec.image,
            "command": list(spec.command) or None,
            "environment": environment,
            "user": d.user or None,
            "labels": labels,
            "host_config": host_config,
            "name": None,
            # an engine shutting down stops the container as kadam would: SIGTERM, then SIGKILL
            # after stop_grace
            "stop_timeout": max(0, round(self.stop_grace)),
        }

    def _stop_container(self, container: str, grace: float) -> None:
        with contextlib.suppress(docker_errors.NotFound, docker_errors.APIError, OSError):
            self.client.api.stop(container, timeout=max(0, round(grace)))

    def _remove(self, container: str) -> None:
        try:
            self.client.api.remove_container(container, v=True, force=True)
        except (docker_errors.NotFound, docker_errors.APIError):
            pass
        except OSError:  # the engine is away: remove it once it answers again
            with self._lock:
                self._orphans.add(container)
            self._start_janitor()

    def remove_all(self) -> int:
        """Remove every container of this state directory (running ones too). Returns how many."""
        filters = (
            {"label": [f"{LABEL_STATE}={self.state_key}"]}
            if self.state_key
            else {"label": [LABEL_JOB]}
        )
        found = self.client.api.containers(all=True, filters=filters)
        for item in found:
            self._remove(item["Id"])
        return len(found)


def _split_image(image: str) -> tuple[str, str | None]:
    """``repo[:tag][@digest]`` → (repository, tag or digest)."""
    if "@" in image:
        repository, digest = image.split("@", 1)
        return repository, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = image.rsplit(":", 1)
        return repository, tag
    return image, "latest"

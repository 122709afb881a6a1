"""A ``moto_server`` on 127.0.0.1 emulating AWS Batch for the test session.

moto runs each Batch job as a real container on the local Docker engine (the one ``docker``
finds, ``/var/run/docker.sock`` here) when its image is there, with the network mode
``MOTO_DOCKER_NETWORK_MODE`` (``none`` here: the shared engine has no ``docker0`` bridge, and the
jobs need no network). What it lacks, measured with moto 5.2: retries (one attempt whatever
``retryStrategy`` says), ``AWS_BATCH_JOB_ARRAY_INDEX`` (children get only ``AWS_BATCH_JOB_ID``),
exit codes in ``DescribeJobs``, resource limits, status reasons for failures it decides itself
(a failed dependency, a timeout), logs before the container exits, ``SEQUENTIAL`` array
dependencies, and an array parent that ends FAILED (it stays SUBMITTED when a child fails).

The server is started from the venv, on a free port, with fake credentials in its own
environment; :func:`fake_credentials` gives the tests the same (and points boto3 away from any
real ``~/.aws`` files). It is stopped by its PID; containers moto left behind (it leaves one
when a container cannot start) are removed by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
QUEUE = "kadam-queue"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass
class MotoServer:
    url: str
    pid: int
    log_path: str
    region: str = REGION
    job_queue: str = QUEUE
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def settings(self) -> dict[str, str]:
        """The compute environment settings of the ``aws-batch`` backend for this server."""
        return {"job_queue": self.job_queue, "region": self.region, "endpoint_url": self.url}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def fake_credentials() -> Iterator[None]:
    """boto3's chain finds only fake keys while inside (and no real profile or file)."""
    keys = [*FAKE_CREDENTIALS, "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.pop("AWS_PROFILE", None)
    nowhere = os.path.join(tempfile.gettempdir(), "kadam-test-no-aws-config")
    os.environ.update(
        FAKE_CREDENTIALS, AWS_CONFIG_FILE=nowhere, AWS_SHARED_CREDENTIALS_FILE=nowhere
    )
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_moto_server(timeout: float = 30.0, port: int | None = None) -> MotoServer:
    """``moto_server -H 127.0.0.1 -p <port>`` from this Python's environment, answering (on a
    free port unless ``port`` is given: a test restarting a server it stopped gives its port)."""
    exe = Path(sys.executable).with_name("moto_server")
    if not exe.exists():
        raise RuntimeError(f"{exe} is missing: pip install 'moto[server,batch]' boto3")
    port = port or _free_port()
    log_path = os.path.join(tempfile.gettempdir(), f"kadam-test-moto-{os.getpid()}-{port}.log")
    env = {**os.environ, **FAKE_CREDENTIALS, "MOTO_DOCKER_NETWORK_MODE": "none"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    server = MotoServer(url=f"http://127.0.0.1:{port}", pid=proc.pid, log_path=log_path, proc=proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}; see {log_path}")
        if _answers(server.url):
            return server
        time.sleep(0.1)
    stop_moto_server(server)
    raise RuntimeError(f"moto_server did not answer within {timeout} s; see {log_path}")


def create_batch_queue(server: MotoServer) -> str:
    """The IAM role moto checks, an UNMANAGED compute environment and the job queue."""
    import boto3

    with fake_credentials():
        iam = boto3.client("iam", endpoint_url=server.url, region_name=server.region)
        batch = boto3.client("batch", endpoint_url=server.url, region_name=server.region)
        role = iam.create_role(RoleName="kadam-batch-service", AssumeRolePolicyDocument="{}")
        ce = batch.create_compute_environment(
            computeEnvironmentName="kadam-ce",
            type="UNMANAGED",
            state="ENABLED",
            serviceRole=role["Role"]["Arn"],
        )
        batch.create_job_queue(
            jobQueueName=server.job_queue,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}
            ],
        )
    return server.job_queue


def job_container_names(server: MotoServer) -> list[str]:
    """The container names moto gives the jobs of its queue (``<job name>-<job id>``)."""
    import boto3

    names: list[str] = []
    with fake_credentials():
        batch = boto3.client("batch", endpoint_url=server.url, region_name=server.region)
        # moto lists every job of the queue, array children included, when no status is given
        for s in batch.list_jobs(jobQueue=server.job_queue)["jobSummaryList"]:
            names.append(f"{s['jobName']}-{s['jobId'].replace(':', '-')}")
    return names


def remove_job_containers(names: list[str]) -> list[str]:
    """Remove the containers of those names that exist; returns the names removed."""
    if not names:
        return []
    out = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True
    ).stdout.split()
    left = sorted(set(names) & set(out))
    if left:
        subprocess.run(["docker", "rm", "-f", *left], capture_output=True)
    return left


def stop_moto_server(server: MotoServer) -> None:
    """Stop the server this session started, by its PID (SIGTERM, then SIGKILL)."""
    try:
        os.kill(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.proc is not None and server.proc.poll() is not None:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGKILL)
    if server.proc is not None:
        server.proc.wait(timeout=5)


class EventRecorder:
    """A :class:`~kadam_nb.backends.base.RemoteEvents` that records every report, in order,
    as ``(kind, ...)`` tuples, and waits for conditions on them."""

    def __init__(self) -> None:
        import threading

        self.events: list[tuple[Any, ...]] = []
        self._cond = threading.Condition()

    def _add(self, *event: Any) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def handed_over(self, job_id: str, remote_id: str) -> None:
        self._add("handed_over", job_id, remote_id)

    def hand_over_failed(self, job_id: str, reason: str) -> None:
        self._add("hand_over_failed", job_id, reason)

    def observed(self, observation: Any) -> None:
        self._add("observed", observation)

    def log(self, key: tuple[str, int], stream: str, lines: list[str], at_ns: int) -> None:
        self._add("log", key, stream, list(lines), at_ns)

    def service_problem(self, compute_environment: str, problem: str | None) -> None:
        self._add("service_problem", compute_environment, problem)

    # -- reading

    def observations(self, job_id: str) -> list[Any]:
        with self._cond:
            return [e[1] for e in self.events if e[0] == "observed" and e[1].job_id == job_id]

    def statuses(self, job_id: str) -> list[str]:
        return [o.status for o in self.observations(job_id)]

    def lines(self, job_id: str, attempt: int = 1) -> list[str]:
        with self._cond:
            return [
                x for e in self.events if e[0] == "log" and e[1] == (job_id, attempt) for x in e[3]
            ]

    def final(self, job_id: str) -> Any:
        done = [o for o in self.observations(job_id) if o.status in ("SUCCEEDED", "FAILED")]
        return done[-1] if done else None

    def problems(self) -> list[tuple[str, str | None]]:
        """(compute environment, problem or None) reports, in order."""
        with self._cond:
            return [(e[1], e[2]) for e in self.events if e[0] == "service_problem"]

    def failure(self, job_id: str) -> str | None:
        with self._cond:
            found = [e[2] for e in self.events if e[0] == "hand_over_failed" and e[1] == job_id]
        return found[-1] if found else None

    def wait(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    def wait_final(self, *job_ids: str, timeout: float = 30.0) -> bool:
        return self.wait(lambda: all(self._final_unlocked(j) for j in job_ids), timeout)

    def _final_unlocked(self, job_id: str) -> bool:
        return any(
            e[0] == "observed" and e[1].job_id == job_id and e[1].status in ("SUCCEEDED", "FAILED")
            for e in self.events
        ) or any(e[0] == "hand_over_failed" and e[1] == job_id for e in self.events)

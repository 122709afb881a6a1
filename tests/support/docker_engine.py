"""A Docker engine and the busybox test image for the test session.

If an engine already answers it is used as it is (and never stopped). Otherwise, as root, this
starts ``dockerd`` itself, remembers its PID, and stops exactly that process at the end. No
registry is reachable on the test machines, so the ``busybox:1.36`` image is built locally
from Debian's static busybox when it is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TEST_IMAGE = "busybox:1.36"


@dataclass
class Engine:
    started_pid: int | None  # set only when this session started dockerd
    log_path: str | None = None


def _answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"cannot install {', '.join(packages)} (not root or no apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, capture_output=True
    )


def start_engine() -> Engine:
    """An engine that answers: the one already running, or one this session starts."""
    if _answers():
        return Engine(started_pid=None)
    if not shutil.which("dockerd"):
        _apt_install("docker.io")
    if os.geteuid() != 0:
        raise RuntimeError("no Docker engine answers and only root can start dockerd here")
    log_path = os.path.join(tempfile.gettempdir(), f"kadam-test-dockerd-{os.getpid()}.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dockerd exited with {proc.returncode}; see {log_path}")
        if _answers():
            return Engine(started_pid=proc.pid, log_path=log_path)
        time.sleep(0.5)
    stop_engine(Engine(proc.pid, log_path))
    raise RuntimeError(f"dockerd did not answer within 60 s; see {log_path}")


def stop_engine(engine: Engine) -> None:
    """Stop dockerd if (and only if) this session started it, by its PID."""
    if engine.started_pid is None:
        return
    try:
        os.kill(engine.started_pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(engine.started_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(engine.started_pid, signal.SIGKILL)


def ensure_test_image(name: str = TEST_IMAGE) -> None:
    """Build ``name`` from the host's static busybox unless the engine already has it."""
    if subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0:
        return
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        _apt_install("busybox-static")
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(busybox, Path(folder) / "busybox")
        (Path(folder) / "Dockerfile").write_text(
            "FROM scratch\n"
            "COPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            "ENV PATH=/bin\n"
        )
        subprocess.run(
            ["docker", "build", "-q", "-t", name, folder], check=True, capture_output=True
        )


def kadam_containers(state_keys: set[str] | None = None) -> list[str]:
    """Ids of containers with kadam's labels (only those of the given state directories)."""
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            "label=kadam.job-id",
            "--format",
            '{{.ID}} {{.Label "kadam.state-dir"}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = []
    for line in out.splitlines():
        cid, _, key = line.partition(" ")
        if state_keys is None or key in state_keys:
            found.append(cid)
    return found

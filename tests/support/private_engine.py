"""A private Docker engine that a test may stop and start, beside the shared one.

The shared engine (``/var/run/docker.sock``) serves every test and other people's work, so it
is never stopped. A test that needs an engine to restart gets this one instead: its own socket,
data root, exec root (and so its own containerd), pid file and containerd namespace, its own
bridge (created here, on an unused 10.213.N.0/24) and no iptables rules, so it touches
nothing of the shared engine's network. Never ``--bridge=none``: a dockerd started with it
deletes the interface ``docker0`` at start-up, the shared engine's bridge, and every container
on the shared engine's default network then fails to start. The engine is started and stopped
by its PID only: this module never signals a process it did not start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.docker_engine import TEST_IMAGE

__all__ = ["PrivateEngine", "private_engine"]


@dataclass
class PrivateEngine:
    """One private ``dockerd``: :meth:`start`, :meth:`stop` (by PID) and :meth:`docker`."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kadam-dockerd-")))
    pid: int | None = None
    bridge: str = field(default_factory=lambda: f"kdm{os.getpid() % 10**7}br")
    _bridge_made: bool = False

    @property
    def host(self) -> str:
        """The value of ``DOCKER_HOST`` that reaches this engine."""
        return f"unix://{self.root / 'docker.sock'}"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    def start(self, timeout: float = 60.0) -> None:
        """Start dockerd (again, on the same data root) and wait until it answers."""
        if os.geteuid() != 0 or not shutil.which("dockerd"):
            raise RuntimeError("a private Docker engine needs root and dockerd")
        self._make_bridge()
        argv = [
            "dockerd",
            "-H",
            self.host,
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "docker.pid"),
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--containerd-namespace",
            "kadam-private",
            "--containerd-plugins-namespace",
            "kadam-private-plugins",
            "--shutdown-timeout",
            "2",
        ]
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = proc.pid
        self._proc: subprocess.Popen[bytes] = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"private dockerd exited with {proc.returncode}; see {self.log_path}"
                )
            if self.answers():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"private dockerd did not answer within {timeout} s; see {self.log_path}"
        )

    def _make_bridge(self) -> None:
        """This engine's own bridge, on a /24 no route uses yet (deleted by :meth:`remove`)."""
        if self._bridge_made:
            return
        routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
        subnet = next(
            n
            for n in range(10, 250)
            if f"10.213.{n}." not in routes and f"10.213.{n}.0" not in routes
        )
        for argv in (
            ["ip", "link", "add", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", f"10.213.{subnet}.1/24", "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ):
            subprocess.run(argv, check=True, capture_output=True)
            self._bridge_made = True

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the dockerd this object started (SIGTERM, then SIGKILL), by its PID."""
        pid, self.pid = self.pid, None
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self._proc.wait(10)

    def answers(self) -> bool:
        try:
            return self.docker("info", check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def docker(
        self, *args: str, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``docker`` client against this engine."""
        return subprocess.run(
            ["docker", "-H", self.host, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def build_test_image(self, name: str = TEST_IMAGE) -> None:
        """``busybox:1.36`` from the host's static busybox, as tests/support/docker_engine.py."""
        if self.docker("image", "inspect", name, check=False).returncode == 0:
            return
        with tempfile.TemporaryDirectory() as folder:
            shutil.copy("/bin/busybox", Path(folder) / "busybox")
            (Path(folder) / "Dockerfile").write_text(
                "FROM scratch\n"
                "COPY busybox /bin/busybox\n"
                'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
                "ENV PATH=/bin\n"
            )
            self.docker("build", "-q", "-t", name, folder)

    def kadam_containers(self) -> list[str]:
        """Ids of the containers with kadam's labels on this engine."""
        out = self.docker("ps", "-a", "-q", "--filter", "label=kadam.job-id").stdout
        return out.split()

    def remove(self) -> None:
        """Stop the engine and delete its folder (the data root holds only test images)."""
        self.stop()
        subprocess.run(["umount", "-R", str(self.root / "exec")], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        if self._bridge_made:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            self._bridge_made = False


@pytest.fixture(scope="module")
def private_engine(docker_engine: object) -> Iterator[PrivateEngine]:
    """A private engine for the module's tests, with the test image; removed at the end.

    It needs the shared engine's fixture (which installs Docker when missing); like it, it
    fails instead of skipping when ``KADAM_REQUIRE_DOCKER=1``."""
    engine = PrivateEngine()
    try:
        engine.start()
        engine.build_test_image()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        engine.remove()
        message = f"NO PRIVATE DOCKER ENGINE: engine-restart tests cannot run here: {exc}"
        if os.environ.get("KADAM_REQUIRE_DOCKER") == "1":
            pytest.fail(message + " (KADAM_REQUIRE_DOCKER=1 makes this a failure)")
        pytest.skip(message)
    yield engine
    if engine.pid is None:  # a test left it stopped: start it to look for leftovers
        engine.start()
    leftovers = engine.kadam_containers()
    engine.remove()
    assert not leftovers, f"tests left kadam containers on the private engine: {leftovers}"

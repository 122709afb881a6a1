"""A one-node Slurm cluster on 127.0.0.1 for the test session, torn down by PID afterwards.

Everything lives in one temporary folder: a MUNGE key and socket of its own (``munged
--socket``), a ``slurm.conf`` whose ``AuthInfo=socket=...`` points daemons and commands at that
socket, ``slurmctld`` and ``slurmd`` on free ports of 127.0.0.1, and their state, spool, pid and
log files. Nothing of the machine's own Slurm or MUNGE setup is used or touched. Commands reach
the cluster through :attr:`SlurmCluster.env` (``SLURM_CONF``), which the tests put into the
process environment while the cluster runs.

Missing packages are installed with ``apt-get`` when running as root (as in
``scripts/system-deps.sh``). Each daemon runs in the foreground in its own session, so that
:meth:`SlurmCluster.stop` stops exactly the processes this module started;
:meth:`SlurmCluster.controller_stopped` stops slurmctld alone for a while and starts it again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PACKAGES", "PARTITION", "SlurmCluster"]

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
PARTITION = "debug"
_NODE = "localhost"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _install_if_missing() -> None:
    missing = [cmd for cmd in ("slurmctld", "slurmd", "sbatch", "munged") if not shutil.which(cmd)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            f"Slurm is not installed ({', '.join(missing)} missing) and only root with apt-get "
            f"can install it: apt-get install -y --no-install-recommends {' '.join(PACKAGES)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)


@dataclass
class SlurmCluster:
    """munged + slurmctld + slurmd for one node; :meth:`start`, then :meth:`stop` by PID."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kadam-slurm-")))
    cpus: int = 2
    pids: dict[str, int] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.root / "munge" / "munge.socket"

    @property
    def env(self) -> dict[str, str]:
        """What a Slurm command needs in its environment to reach this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60.0) -> None:
        """Install what is missing, write the config, start the three daemons, wait for sinfo."""
        _install_if_missing()
        if os.geteuid() != 0:
            raise RuntimeError("the test Slurm cluster runs its daemons as root")
        try:
            self._start_munge()
            self._write_conf()
            self._spawn_controller()
            self._spawn("slurmd", ["slurmd", "-D", "-N", _NODE, "-f", str(self.conf)])
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _spawn_controller(self) -> None:
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])

    @contextlib.contextmanager
    def controller_stopped(self, timeout: float = 60.0) -> Iterator[None]:
        """slurmctld stopped for the block (SIGTERM by PID: it saves its state and exits), then
        started again from that state and waited for, so the jobs it knew and the rest of the
        session's tests carry on. slurmd and munged keep running: jobs on the node go on."""
        self._stop_one("slurmctld")
        try:
            yield
        finally:
            self._spawn_controller()
            self._wait_ready(timeout)

    def _start_munge(self) -> None:
        mdir = self.root / "munge"
        mdir.mkdir(mode=0o700)
        key = mdir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",  # the temporary folder's parents are not what munged insists on
                f"--socket={self.munge_socket}",
                f"--key-file={key}",
                f"--pid-file={mdir / 'munged.pid'}",
                f"--log-file={mdir / 'munged.log'}",
                f"--seed-file={mdir / 'munged.seed'}",
            ],
        )
        deadline = time.monotonic() + 10
        while not self.munge_socket.exists():
            self._check_alive("munged")
            if time.monotonic() > deadline:
                raise RuntimeError("munged did not create its socket within 10 s")
            time.sleep(0.05)

    def _write_conf(self) -> None:
        for sub in ("state", "spool", "log"):
            (self.root / sub).mkdir()
        r = self.root
        lines = [
            "ClusterName=kadamtest",
            f"SlurmctldHost={_NODE}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "CommunicationParameters=NoInAddrAny,NoCtldInAddrAny",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'slurmd.pid'}",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "DefMemPerCPU=512",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "ReturnToService=2",
            "SchedulerParameters=sched_interval=1",
            "MinJobAge=300",
            "KillWait=15",
            f"NodeName={_NODE} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory=16000 State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={_NODE} Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.out", "wb")  # noqa: SIM115 - the child keeps it
        try:
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "SLURM_CONF": str(self.conf)},
            )
        finally:
            log.close()
        self._procs[name] = proc
        self.pids[name] = proc.pid

    def _check_alive(self, name: str) -> None:
        proc = self._procs[name]
        if proc.poll() is not None:
            out = (self.root / f"{name}.out").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}: {out}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        env = {**os.environ, **self.env}
        last = ""
        while time.monotonic() < deadline:
            for name in self._procs:
                self._check_alive(name)
            done = subprocess.run(
                ["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True
            )
            last = (done.stdout + done.stderr).strip()
            if (
                done.returncode == 0
                and last.split()
                and last.split()[0].rstrip("*")
                in (
                    "idle",
                    "mixed",
                    "allocated",
                )
            ):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the Slurm node did not become idle within {timeout:g} s: {last}")

    def logs(self) -> str:
        """The daemons' logs, for a failing test's message."""
        parts = []
        for path in sorted(self.root.glob("**/*.log")) + sorted(self.root.glob("*.out")):
            text = path.read_text(errors="replace")[-3000:]
            parts.append(f"--- {path.name}\n{text}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop the daemons this cluster started (by PID; slurmd first), then remove the folder."""
        for name in ("slurmd", "slurmctld", "munged"):
            self._stop_one(name)
        self.pids.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def _stop_one(self, name: str) -> None:
        """SIGTERM the daemon this cluster started as ``name`` (SIGKILL after 10 s), by PID."""
        proc = self._procs.pop(name, None)
        self.pids.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

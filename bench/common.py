"""Timing helpers shared by the benchmarks: alternating repetitions, medians, result rows."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    bench: str  # "B2"
    case: str  # "fan-out 200 (array of 199 + join), capacity 2"
    floor: float | None  # median seconds
    kadam: float | None  # median seconds
    target: str  # "≤ 2×"
    limit: float | None = None  # the largest ratio (or excess, see `kind`) the run accepts
    kind: str = "ratio"  # "ratio": kadam/floor; "excess": kadam - floor (seconds); "abs": kadam
    reps: int = 0
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def value(self) -> float | None:
        if self.kadam is None:
            return None
        if self.kind == "abs":
            return self.kadam
        if self.floor is None:
            return None
        if self.kind == "excess":
            return self.kadam - self.floor
        return self.kadam / self.floor if self.floor > 0 else None

    @property
    def ok(self) -> bool | None:
        if self.limit is None or self.value is None:
            return None
        return self.value <= self.limit

    def shown(self) -> str:
        v = self.value
        if v is None:
            return "–"
        if self.kind == "excess":
            return f"+{v * 1000:.0f} ms"
        if self.kind == "abs":
            return f"{v * 1000:.0f} ms"
        return f"{v:.2f}×"


def alternate(
    floor: Callable[[], float], kadam: Callable[[], float], reps: int
) -> tuple[float, float, list[float], list[float]]:
    """Run both ``reps`` times, alternating which goes first; the medians and all samples.
    Each callable returns the seconds it measured (so set-up stays outside the timing)."""
    fs: list[float] = []
    ks: list[float] = []
    for i in range(reps):
        if i % 2 == 0:
            fs.append(floor())
            ks.append(kadam())
        else:
            ks.append(kadam())
            fs.append(floor())
    return statistics.median(fs), statistics.median(ks), fs, ks


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def machine() -> dict[str, str]:
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    try:
        docker = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        docker = ""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": sys.version.split()[0],
        "os": platform.platform(),
        "docker": docker or "not available",
    }


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_hwm() -> None:
    """Reset the process's peak RSS (Linux: writing 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def time_dag(
    backend: str,
    shape: Callable[[Any, int], str],
    n: int,
    timeout: float,
    **registry: Any,
) -> float:
    """Seconds from ``run()`` to the end of the DAG ``shape(registry, n)`` registers (it returns
    the target's name), on a fresh state directory; the DAG must succeed."""
    import tempfile

    from kadam_nb.facade import Registry

    with tempfile.TemporaryDirectory() as d:
        reg = Registry(d, backend, **registry)
        try:
            target = shape(reg, n)
            t = time.perf_counter()
            ok = reg.run([target]).wait(timeout=timeout)
            dt = time.perf_counter() - t
            assert ok, f"the benchmark DAG on {backend} did not succeed"
            return dt
        finally:
            reg.close()

"""B1 (Docker DAGs), B3 Docker (1,000,000 log lines), B4 (first line)."""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from kadam_nb.core.views import LogLines
from kadam_nb.facade import Registry

from .common import Row, alternate, time_dag
from .local import LINES, kadam_seq

IMAGE = "busybox:1.36"
LABEL = {"kadam-bench": "1"}


def client() -> Any:
    import docker

    return docker.from_env(timeout=120)


def available() -> str | None:
    """None if Docker answers and the image exists; else why not."""
    try:
        c = client()
        c.ping()
        c.images.get(IMAGE)
    except Exception as exc:  # any failure means: skip, say why
        return f"{type(exc).__name__}: {exc}"
    return None


def _host_config(api: Any, work: str) -> Any:
    # The same limits and work-directory bind kadam gives a 1-vCPU, 2048 MiB job.
    return api.create_host_config(
        binds={work: {"bind": "/work", "mode": "rw"}},
        nano_cpus=int(1e9),
        mem_limit="2048m",
        memswap_limit="2048m",
    )


def sdk_job(api: Any, work: str, command: list[str]) -> None:
    cid = api.create_container(IMAGE, command, host_config=_host_config(api, work), labels=LABEL)[
        "Id"
    ]
    try:
        api.start(cid)
        api.wait(cid)
    finally:
        api.remove_container(cid, force=True)


def floor_fan(n: int, workers: int) -> float:
    api = client().api
    with tempfile.TemporaryDirectory() as work:
        t = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: sdk_job(api, work, ["true"]), range(n)))
        return time.perf_counter() - t


def floor_chain(n: int) -> float:
    api = client().api
    with tempfile.TemporaryDirectory() as work:
        t = time.perf_counter()
        for _ in range(n):
            sdk_job(api, work, ["true"])
        return time.perf_counter() - t


def kadam_docker(shape: str, n: int, capacity: int) -> Callable[[], float]:
    def fan(reg: Registry, n: int) -> str:
        reg.register("leaf", image=IMAGE, command=["true"], array_size=n - 1)
        reg.register("join", image=IMAGE, command=["true"], depends_on=["leaf"])
        return "join"

    def chain(reg: Registry, n: int) -> str:
        for i in range(n):
            deps = [f"c{i - 1}"] if i else []
            reg.register(f"c{i}", image=IMAGE, command=["true"], depends_on=deps)
        return f"c{n - 1}"

    def run() -> float:
        return time_dag(
            "docker",
            fan if shape == "fan" else chain,
            n,
            1200,
            max_vcpus=capacity,
            default_image=IMAGE,
        )

    return run


def b1(quick: bool, reps: int) -> list[Row]:
    rows = []
    n = 20 if quick else 100
    limit = 3.3 if quick else 1.10
    for cap in (2, 4):
        f, k, _, _ = alternate(partial(floor_fan, n, cap), kadam_docker("fan", n, cap), reps)
        rows.append(
            Row(
                "B1",
                f"fan-out {n} (array of {n - 1} + join), capacity {cap}",
                f,
                k,
                "≤ 1.10×",
                limit,
                reps=reps,
            )
        )
    if not quick:  # a chain runs one container at a time whatever the capacity
        chain_reps = 2
        f, k, _, _ = alternate(lambda: floor_chain(n), kadam_docker("chain", n, 2), chain_reps)
        rows.append(Row("B1", f"chain {n}, capacity 2", f, k, "≤ 1.10×", limit, reps=chain_reps))
    return rows


# -- B3 Docker -------------------------------------------------------------------------------


def floor_docker_logs(lines: int) -> float:
    """Start the container with the SDK and copy ``docker logs -f`` into a file until it ends."""
    api = client().api
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        cid = api.create_container(
            IMAGE, ["seq", str(lines)], host_config=_host_config(api, d), labels=LABEL
        )["Id"]
        try:
            api.start(cid)
            with open(Path(d) / "out.log", "wb") as out:
                subprocess.run(["docker", "logs", "-f", cid], stdout=out, check=True)
            dt = time.perf_counter() - t
            with open(Path(d) / "out.log", "rb") as f:
                count = f.read().count(b"\n")
            assert count == lines, f"docker logs gave {count} lines"
        finally:
            api.remove_container(cid, force=True)
        return dt


def b3_docker(quick: bool, reps: int) -> list[Row]:
    counts: list[int] = []

    def kadam() -> float:
        dt, _, count = kadam_seq("docker", LINES, IMAGE)
        counts.append(count)
        return dt

    f, k, _, _ = alternate(lambda: floor_docker_logs(LINES), kadam, reps)
    wrong = [c for c in counts if c != LINES]
    note = f"WRONG LINE COUNT in the log file: {counts} (expected {LINES:,})" if wrong else ""
    return [
        Row(
            "B3",
            "Docker `seq 1000000`, until every line is in the log file "
            "(floor: `docker logs -f > file`)",
            f,
            k,
            "≤ 1.0×",
            -1.0 if wrong else (3.0 if quick else 1.0),
            reps=reps,
            note=note,
        )
    ]


# -- B4 --------------------------------------------------------------------------------------


def floor_first_line() -> tuple[float, float]:
    """Seconds from start() (and from create) to the first byte of ``echo hi``, attached first."""
    api = client().api
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        cid = api.create_container(
            IMAGE, ["echo", "hi"], host_config=_host_config(api, d), labels=LABEL
        )["Id"]
        try:
            sock = api.attach_socket(cid, params={"stdout": 1, "stderr": 1, "stream": 1, "logs": 1})
            t1 = time.perf_counter()
            api.start(cid)
            raw = getattr(sock, "_sock", sock)
            data = raw.recv(4096)
            t2 = time.perf_counter()
            assert data, "no output"
            sock.close()
            api.wait(cid)
        finally:
            api.remove_container(cid, force=True)
        return t2 - t1, t2 - t0


def kadam_first_line(backend: str) -> float:
    with tempfile.TemporaryDirectory() as d:
        reg = Registry(d, backend, max_vcpus=2, default_image=IMAGE)
        try:
            reg.register("hi", image=IMAGE, command=["echo", "hi"])
            got = threading.Event()
            at: list[float] = []

            def observer(event: object) -> None:
                if isinstance(event, LogLines) and not at:
                    at.append(time.perf_counter())
                    got.set()

            reg.subscribe(observer)
            t = time.perf_counter()
            run = reg.run(["hi"])
            assert got.wait(60), "no log line"
            dt = at[0] - t
            run.wait(timeout=60)
            return dt
        finally:
            reg.close()


def b4(quick: bool, reps: int) -> list[Row]:
    from_create: list[float] = []

    def floor() -> float:
        s, c = floor_first_line()
        from_create.append(c)
        return s

    f, k, _, _ = alternate(floor, lambda: kadam_first_line("docker"), reps)
    from_create.sort()
    local = sorted(kadam_first_line("local") for _ in range(3))[1]
    return [
        Row(
            "B4",
            "Docker `echo hi`: run() to the first LogLines event "
            "(floor: SDK start() to the first byte, attached before start)",
            f,
            k,
            "≤ floor + 100 ms",
            0.3 if quick else 0.1,
            kind="excess",
            reps=reps,
            extra={
                "floor from create": f"{from_create[len(from_create) // 2] * 1000:.0f} ms",
                "local backend, run() to first line": f"{local * 1000:.0f} ms",
            },
        )
    ]


def cleanup() -> None:
    """Remove any container a failed floor left behind (kadam's remove their own)."""
    try:
        api = client().api
        for c in api.containers(all=True, filters={"label": "kadam-bench=1"}):
            api.remove_container(c["Id"], force=True)
    except Exception:
        pass

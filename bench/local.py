"""B2 (local DAGs), B3 local (1,000,000 log lines), B5 (scale of the model)."""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from kadam_nb.core.graph import plan_pipeline
from kadam_nb.core.spec import JobDefinition
from kadam_nb.facade import Registry

from .common import Row, alternate, hwm_mb, open_fds, reset_hwm, rss_mb, time_dag, timed

CAPACITY = 2


def floor_pool(n: int, workers: int = CAPACITY) -> float:
    """The floor: ``n`` runs of ``true`` through a thread pool (no order needed for a fan-out;
    a chain is ``n`` runs one after another)."""

    def one(_: int) -> None:
        subprocess.run(["true"], check=True)

    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - t


def floor_chain(n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        subprocess.run(["true"], check=True)
    return time.perf_counter() - t


# -- the DAG shapes, as registered definitions; each returns the target to run ---------------


def fan_out_array(reg: Registry, n: int) -> str:
    """n processes: an array of n-1 children and one join depending on the array (one
    dependency: AWS's way to wait for many jobs, within its limit of 20 per job)."""
    reg.register("leaf", command=["true"], array_size=n - 1)
    reg.register("join", command=["true"], depends_on=["leaf"])
    return "join"


def fan_out_tree(reg: Registry, n: int) -> str:
    """n processes, every one its own job: leaves joined 20 at a time, then a final join."""
    leaves = n - 1
    while leaves + -(-leaves // 20) + 1 > n:
        leaves -= 1
    names = [f"leaf{i}" for i in range(leaves)]
    for name in names:
        reg.register(name, command=["true"])
    groups = [names[i : i + 20] for i in range(0, leaves, 20)]
    joins = []
    for g, members in enumerate(groups):
        reg.register(f"sub{g}", command=["true"], depends_on=members)
        joins.append(f"sub{g}")
    assert len(joins) <= 20
    reg.register("join", command=["true"], depends_on=joins)
    return "join"


def tree_size(n: int) -> int:
    leaves = n - 1
    while leaves + -(-leaves // 20) + 1 > n:
        leaves -= 1
    return leaves + -(-leaves // 20) + 1


def chain(reg: Registry, n: int) -> str:
    for i in range(n):
        reg.register(f"c{i}", command=["true"], depends_on=[f"c{i - 1}"] if i else [])
    return f"c{n - 1}"


def kadam_dag(
    shape: Callable[[Registry, int], str], n: int, **registry: object
) -> Callable[[], float]:
    def run() -> float:
        return time_dag("local", shape, n, 600, max_vcpus=CAPACITY, **registry)

    return run


def b2(quick: bool, reps: int) -> list[Row]:
    limit = 6.0 if quick else None  # 3× the target: only a large regression fails quick mode
    rows = []
    cases: list[tuple[str, Callable[[Registry, int], str], int, Callable[[], float]]] = []
    sizes = [200] if quick else [200, 1000]
    for n in sizes:
        cases.append(
            (f"fan-out {n} (array of {n - 1} + join)", fan_out_array, n, partial(floor_pool, n))
        )
    if not quick:
        m = tree_size(200)
        cases.append(
            (f"fan-out {m} (separate jobs, joins of 20)", fan_out_tree, m, lambda: floor_pool(m))
        )
    cn = 100 if quick else 200
    cases.append((f"chain {cn}", chain, cn, lambda: floor_chain(cn)))
    for case, shape, n, floor in cases:
        f, k, _, _ = alternate(floor, kadam_dag(shape, n), reps)
        rows.append(
            Row("B2", f"{case}, capacity {CAPACITY}", f, k, "≤ 2×", limit or 2.0, reps=reps)
        )
    return rows


# -- B3 local --------------------------------------------------------------------------------

LINES = 1_000_000


def floor_pipe(lines: int) -> float:
    """Read the process's pipe line by line and write every line to a file."""
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        with open(Path(d) / "out.log", "wb") as out:
            proc = subprocess.Popen(["seq", str(lines)], stdout=subprocess.PIPE)
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
            proc.wait()
        return time.perf_counter() - t


def kadam_seq(backend: str, lines: int, image: str | None = None) -> tuple[float, float, int]:
    """Seconds from run() to every line stored, kernel memory growth (MB), lines in the file."""
    with tempfile.TemporaryDirectory() as d:
        reg = Registry(d, backend, max_vcpus=CAPACITY)
        try:
            kwargs: dict[str, str] = {"image": image} if image else {}
            reg.register("seq", command=["seq", str(lines)], **kwargs)
            before = rss_mb()
            reset_hwm()
            t = time.perf_counter()
            run = reg.run(["seq"])
            assert run.wait(timeout=600)
            dt = time.perf_counter() - t
            growth = hwm_mb() - before
            path = run.jobs[0].view.attempts[-1].log_path
            with open(path or "", "rb") as f:
                count = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            return dt, growth, count
        finally:
            reg.close()


def b3_local(quick: bool, reps: int) -> list[Row]:
    growths: list[float] = []
    counts: list[int] = []

    def kadam() -> float:
        dt, growth, count = kadam_seq("local", LINES)
        growths.append(growth)
        counts.append(count)
        return dt

    f, k, _, _ = alternate(lambda: floor_pipe(LINES), kadam, reps)
    assert all(c == LINES for c in counts), f"lines lost: {counts}"
    return [
        Row(
            "B3",
            "local `seq 1000000`, until every line is in the log file",
            f,
            k,
            "≤ 3×",
            9.0 if quick else 3.0,
            reps=reps,
            extra={"kernel memory growth (peak RSS)": f"{max(growths):.0f} MB"},
        )
    ]


# -- B5 --------------------------------------------------------------------------------------


def validate_and_plan(n: int) -> float:
    def go() -> None:
        defs = [
            JobDefinition.create(
                f"d{i}", command=["true"], depends_on=[f"d{i - 1}"] if i % 10 else []
            )
            for i in range(n)
        ]
        plan = plan_pipeline({d.name: d.depends_on for d in defs})
        assert len(plan) == n

    return timed(go)


class Peaks:
    """Samples the thread count and open file descriptors every few milliseconds."""

    def __init__(self) -> None:
        self.threads = threading.active_count()
        self.fds = open_fds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-peaks", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.threads = max(self.threads, threading.active_count() - 1)
            self.fds = max(self.fds, open_fds())

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def b5(quick: bool, reps: int) -> list[Row]:
    rows = []
    n = 10_000
    samples = sorted(validate_and_plan(n) for _ in range(max(reps, 3)))
    rows.append(
        Row(
            "B5",
            f"{n:,} definitions created (validated) and planned",
            None,
            samples[len(samples) // 2],
            "≤ 100 ms",
            0.3 if quick else 0.1,  # quick: 3× the target
            kind="abs",
            reps=len(samples),
        )
    )
    size = 1_000 if quick else 10_000
    with tempfile.TemporaryDirectory() as d:
        reg = Registry(d, "local", max_vcpus=CAPACITY)
        try:
            reg.register("arr", command=["true"], array_size=size)
            base_threads, base_fds = threading.active_count(), open_fds()
            with Peaks() as peaks:
                t = time.perf_counter()
                run = reg.run(["arr"])
                ok = run.wait(timeout=1200)
                dt = time.perf_counter() - t
            assert ok
        finally:
            reg.close()
    f = floor_pool(size)
    rows.append(
        Row(
            "B5",
            f"array of {size:,} children of `true`, capacity {CAPACITY}",
            f,
            dt,
            "bounded threads and files",
            None,
            reps=1,
            extra={
                "peak threads": f"{peaks.threads} (before: {base_threads})",
                "peak open fds": f"{peaks.fds} (before: {base_fds})",
            },
        )
    )
    return rows

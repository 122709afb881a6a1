"""B6: SVG of job DAGs of 100 and 1,000 nodes vs `dot` alone on the same DOT source."""

from __future__ import annotations

import random
import statistics
import subprocess
import tempfile
import time

from kadam_nb.core.views import JobView
from kadam_nb.display.graph import MAX_NODES, jobs_graph, to_svg
from kadam_nb.facade import Registry

from .common import Row


def views_of_dag(n: int) -> list[JobView]:
    """The job views of a run of ``n`` jobs, each depending on up to 2 earlier ones."""
    rnd = random.Random(n)
    with tempfile.TemporaryDirectory() as d:
        reg = Registry(d, "local", max_vcpus=2, step=True)  # step mode: nothing runs
        try:
            for i in range(n):
                deps = sorted({f"n{rnd.randrange(i)}" for _ in range(2)}) if i else []
                reg.register(f"n{i}", command=["true"], depends_on=deps)
            run = reg.run()
            return [j.view for j in run.jobs]
        finally:
            reg.close()


def b6(quick: bool, reps: int) -> list[Row]:
    rows = []
    for n in [100] if quick else [100, 1000]:
        views = views_of_dag(n)
        source = jobs_graph(views).source
        ks, fs = [], []
        for i in range(reps):
            for which in ("k", "f") if i % 2 == 0 else ("f", "k"):
                t = time.perf_counter()
                if which == "k":
                    to_svg(jobs_graph(views))
                    ks.append(time.perf_counter() - t)
                else:
                    subprocess.run(
                        ["dot", "-Tsvg"], input=source.encode(), capture_output=True, check=True
                    )
                    fs.append(time.perf_counter() - t)
        collapsed = n > MAX_NODES
        rows.append(
            Row(
                "B6",
                f"SVG of a DAG of {n} jobs" + (" (collapsed: over 500 nodes)" if collapsed else ""),
                statistics.median(fs),
                statistics.median(ks),
                "≤ 1.2×",
                3.6 if quick else 1.2,
                reps=reps,
                extra={"DOT source": f"{len(source):,} characters"},
            )
        )
    return rows

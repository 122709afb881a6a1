"""kadam's benchmark suite: each benchmark against its floor (and peers), alternating.

    python -m bench.run            full suite (under 15 minutes); writes docs/benchmarks.md
    python -m bench.run --quick    quick mode (under 2 minutes); loose limits, writes nothing

Exit status 1 when a limit is exceeded (full mode: the targets; quick mode: about 3× the
targets, so that only a large regression fails `make test`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import dockerbench, graph, local, peers
from .common import Row, machine

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def table(rows: list[Row]) -> str:
    out = [
        "| | case | floor (median) | kadam (median) | kadam vs floor | target | reps | met |",
        "|---|---|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "–"}[
            r.ok if r.kind != "abs" or r.limit else None
        ]
        floor = f"{r.floor:.3f} s" if r.floor is not None else "–"
        kadam = f"{r.kadam:.3f} s" if r.kadam is not None else "–"
        out.append(
            f"| {r.bench} | {r.case} | {floor} | {kadam} | {r.shown()} | {r.target} | {r.reps} "
            f"| {met} |"
        )
    extras = [(r, k, v) for r in rows for k, v in r.extra.items()]
    notes = [r for r in rows if r.note]
    if extras or notes:
        out.append("")
        for r, k, v in extras:
            out.append(f"- {r.bench} {r.case}: {k}: {v}")
        for r in notes:
            out.append(f"- {r.bench} {r.case}: {r.note}")
    return "\n".join(out)


def run_peers(b2_rows: list[Row]) -> str:
    problem = peers.install()
    if problem:
        return f"Peers not measured: {problem}"
    v = peers.versions()
    lines = [
        f"Peers (installed by the benchmark into `bench/.peers`: "
        f"{', '.join(f'{k} {x}' for k, x in sorted(v.items()))}; one run each, whole command "
        "timed, including its start-up; Snakemake `--cores 2`, Luigi local scheduler with 2 "
        "workers; each job runs `true` and touches its output file, which both need):",
        "",
        "| case | floor | kadam | Snakemake | Luigi | Snakemake / kadam | Luigi / kadam |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in b2_rows:
        if r.case.startswith("fan-out") and "array" in r.case:
            shape, n = "fan", int(r.case.split()[1])
        elif r.case.startswith("chain"):
            shape, n = "chain", int(r.case.split()[1].rstrip(","))
        else:
            continue
        got: dict[str, str] = {}
        ratio: dict[str, str] = {}
        for name, fn in (("snakemake", peers.snakemake), ("luigi", peers.luigi)):
            try:
                t = fn(shape, n)
                got[name] = f"{t:.2f} s ({t / (r.floor or 1):.0f}× floor)"
                ratio[name] = f"{t / (r.kadam or 1):.1f}×"
            except Exception as exc:  # say so rather than fail
                got[name] = f"failed: {type(exc).__name__}"
                ratio[name] = "–"
        lines.append(
            f"| {r.case} | {r.floor:.3f} s | {r.kadam:.3f} s | {got['snakemake']} | "
            f"{got['luigi']} | {ratio['snakemake']} | {ratio['luigi']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="quick mode: loose limits, no file")
    parser.add_argument("--only", default="", help="comma-separated: B1,B2,B3,B4,B5,B6")
    parser.add_argument("--no-peers", action="store_true", help="skip Snakemake and Luigi")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    quick = args.quick
    reps = 3 if quick else 5
    only = {x.strip().upper() for x in args.only.split(",") if x.strip()}
    started = time.monotonic()
    docker_problem = dockerbench.available()
    rows: list[Row] = []
    problems: list[str] = []
    peers_text = ""

    def section(name: str, fn: Callable[[], list[Row]], needs_docker: bool = False) -> list[Row]:
        if only and name[:2] not in only:
            return []
        if needs_docker and docker_problem:
            problems.append(f"{name} skipped: no Docker engine or image ({docker_problem})")
            print(problems[-1], flush=True)
            return []
        t = time.monotonic()
        try:
            got = fn()
        except Exception as exc:  # report and go on with the others
            traceback.print_exc()
            problems.append(f"{name} failed: {type(exc).__name__}: {exc}")
            return []
        finally:
            if needs_docker:
                dockerbench.cleanup()
        for r in got:
            ok = {True: "ok", False: "OVER LIMIT", None: ""}[r.ok]
            print(
                f"{r.bench} {r.case}: floor {r.floor or 0:.3f} s, kadam {r.kadam or 0:.3f} s, "
                f"{r.shown()} (target {r.target}, limit {r.limit}) {ok}",
                flush=True,
            )
        print(f"  [{name}: {time.monotonic() - t:.0f} s]", flush=True)
        rows.extend(got)
        return got

    b2_rows = section("B2 local DAG", lambda: local.b2(quick, reps))
    if b2_rows and not quick and not args.no_peers:
        peers_text = run_peers(b2_rows)
        print(peers_text, flush=True)
    section("B1 Docker DAG", lambda: dockerbench.b1(quick, 2 if quick else 3), needs_docker=True)
    section("B3 logs, local", lambda: local.b3_local(quick, 3))
    if not quick:
        section("B3 logs, Docker", lambda: dockerbench.b3_docker(quick, 3), needs_docker=True)
    section("B4 first line", lambda: dockerbench.b4(quick, reps), needs_docker=True)
    section("B5 scale", lambda: local.b5(quick, 3))
    section("B6 graph", lambda: graph.b6(quick, reps))
    elapsed = time.monotonic() - started
    over = [r for r in rows if r.ok is False]
    print(
        f"\n{len(rows)} measurements in {elapsed:.0f} s; {len(over)} over their limit; "
        f"{len(problems)} problems",
        flush=True,
    )
    for p in problems:
        print("  " + p)
    if not quick and not args.no_write:
        write_doc(rows, peers_text, problems, elapsed, argv)
    if quick:  # quick mode fails only on a large regression or a benchmark that broke
        return 1 if over or any("failed" in p for p in problems) else 0
    return 1 if over else 0


def write_doc(
    rows: list[Row], peers_text: str, problems: list[str], elapsed: float, argv: list[str] | None
) -> None:
    m = machine()
    extra = " ".join(sys.argv[1:] if argv is None else argv)
    if os.environ.get("MAKELEVEL"):  # run by make
        command = "make bench" + (f" BENCH_ARGS='{extra}'" if extra else "")
    else:
        command = "python -m bench.run" + (f" {extra}" if extra else "")
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            START,
            f"Measured {when} with `{command}`, {elapsed / 60:.1f} minutes in all.",
            "",
            f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} memory, Python {m['python']}, "
            f"Docker {m['docker']}, {m['os']}.",
            "",
            table(rows),
            "",
            peers_text,
            "",
            *(["Problems:", *[f"- {p}" for p in problems], ""] if problems else []),
            END,
        ]
    )
    doc = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        _, tail = rest.split(END, 1)
        doc = head + text + tail
    else:
        doc = doc + "\n" + text + "\n"
    DOC.write_text(doc)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    sys.exit(main())

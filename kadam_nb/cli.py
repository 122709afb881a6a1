"""The ``kadam`` command: run the demo, and read a state directory's history."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import KadamError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kadam", description="AWS Batch-style job pipelines from notebooks."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demo pipeline, printing it as it happens")
    demo.add_argument("--backend", default="auto", choices=["auto", "docker", "local"])
    demo.add_argument("--state-dir", default=".kadam")
    status = sub.add_parser("status", help="the jobs recorded in a state directory")
    status.add_argument("--state-dir", default=".kadam")
    status.add_argument("--all", action="store_true", help="every run, not only the last")
    logs = sub.add_parser("logs", help="one job's log (name, name[i] or job id)")
    logs.add_argument("job")
    logs.add_argument("--state-dir", default=".kadam")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args.backend, args.state_dir)
        if args.command == "status":
            return _status(args.state_dir, args.all)
        if args.command == "logs":
            return _logs(args.state_dir, args.job)
    except KadamError as exc:
        print(f"kadam: {exc}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse requires a command


def _table(registry: object, run: object = None) -> str:
    frame = registry.jobs(run)  # type: ignore[attr-defined]
    if frame.empty:
        return "(no jobs)"
    shown = frame[["job", "status", "attempts", "exit_code", "duration", "status_reason"]].copy()
    shown["duration"] = shown["duration"].dt.total_seconds().round(2)
    shown = shown.rename(columns={"duration": "seconds"})
    return str(shown.to_string(index=False, max_colwidth=70))


def _demo(backend: str, state_dir: str) -> int:
    from .console import ConsolePrinter
    from .demo import register_demo
    from .facade import Registry

    with Registry(state_dir=state_dir, backend=backend) as registry:
        names = register_demo(registry)
        total = sum(registry.definition(n).array_size or 1 for n in names)
        print(f"kadam demo: {' → '.join(names)} on the {registry.backend} backend")
        print(f"state directory: {registry.state_dir}\n")
        registry.subscribe(ConsolePrinter(total=total))
        run = registry.run(names)
        ok = run.wait()
        print(f"\nrun {run.id}: {'SUCCEEDED' if ok else 'FAILED'}  (work directory {run.work_dir})")
        print(_table(registry, run))
        return 0 if ok else 1


def _status(state_dir: str, everything: bool) -> int:
    from .facade import Registry

    with Registry(state_dir=state_dir, backend="local", read_only=True) as registry:
        runs = registry.store.runs()
        run = None if everything or not runs else runs[-1][0]
        print(_table(registry, run))
    return 0


def _logs(state_dir: str, ref: str) -> int:
    from .facade import Registry

    with Registry(state_dir=state_dir, backend="local", read_only=True) as registry:
        sys.stdout.write(registry.job(ref).logs())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

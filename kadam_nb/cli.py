"""The ``kadam`` command: run a notebook's jobs headless, and read a state directory's history.

``kadam run NOTEBOOK [TARGET ...]`` takes the definitions from the notebook's ``%%kadam job``
and ``%%kadam definition`` cells (without running its other cells), runs them, prints state
changes and log lines prefixed by job name as they happen, and exits 0 only if every job
SUCCEEDED. Like a kernel, it works in the notebook's folder, so the state directory defaults to
``.kadam`` beside the notebook.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import KadamError

__all__ = ["main", "notebook_definitions"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kadam", description="AWS Batch-style job pipelines from notebooks."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the jobs a notebook defines, printing them live")
    run.add_argument("notebook", help="an .ipynb file with %%%%kadam job cells")
    run.add_argument("targets", nargs="*", help="definitions to run (and what they depend on)")
    run.add_argument("--backend", default=None, choices=["auto", "docker", "local"])
    run.add_argument("--state-dir", default=None, help="default: .kadam beside the notebook")
    run.add_argument("--cache", action="store_true", help="reuse unchanged jobs' results")
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
        if args.command == "run":
            return _run(args)
        if args.command == "status":
            return _status(args.state_dir, args.all)
        if args.command == "logs":
            return _logs(args.state_dir, args.job)
    except KadamError as exc:
        print(f"kadam: {exc}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse requires a command


def notebook_definitions(path: Path) -> list[tuple[str, Any]]:
    """The ``%%kadam`` cells of a notebook, in order: ("job", JobCell) or ("definition", doc)."""
    from .notebook.grammar import parse_definition_cell, read_job_cell, split_magic_cell

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KadamError(f"cannot read notebook {path}: {exc}") from None
    found: list[tuple[str, Any]] = []
    for cell in document.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        split = split_magic_cell("".join(source) if isinstance(source, list) else source)
        if split is None:
            continue
        line, body = split
        verb = line.split(None, 1)[0] if line.split() else ""
        if verb == "job":
            found.append(("job", read_job_cell(line, body)))
        elif verb == "definition":
            found.append(("definition", parse_definition_cell(body)))
    return found


def _table(registry: Any, run: Any = None) -> str:
    frame = registry.jobs(run)
    if frame.empty:
        return "(no jobs)"
    shown = frame[["job", "status", "attempts", "exit_code", "duration", "status_reason"]].copy()
    shown["duration"] = shown["duration"].dt.total_seconds().round(2)
    shown = shown.rename(columns={"duration": "seconds"})
    return str(shown.to_string(index=False, max_colwidth=70))


def _run(args: argparse.Namespace) -> int:
    from .console import ConsolePrinter
    from .core.secrets import secret_values
    from .core.spec import JobDefinition
    from .facade import Registry

    notebook = Path(args.notebook).resolve()
    if not notebook.is_file():
        raise KadamError(f"no notebook at {args.notebook}")
    os.chdir(notebook.parent)  # like a kernel: relative paths are the notebook's
    cells = notebook_definitions(notebook)
    if not cells:
        raise KadamError(f"{notebook.name} has no %%kadam job or %%kadam definition cells")
    backend = args.backend or os.environ.get("KADAM_BACKEND", "auto")
    state_dir = args.state_dir or os.environ.get("KADAM_STATE_DIR", ".kadam")
    with Registry(state_dir=state_dir, backend=backend) as registry:
        names: list[str] = []
        cache = args.cache
        for kind, cell in cells:
            if kind == "job":
                definition = registry.register(cell.name, **cell.fields)
            else:
                definition = registry.register(JobDefinition.from_aws(cell))
            names.append(definition.name)
        names = list(dict.fromkeys(names))
        targets = args.targets or names
        print(f"kadam: {notebook.name}: {', '.join(names)} on the {registry.backend} backend")
        print(f"state directory: {registry.state_dir}\n")
        hidden = {
            value
            for d in registry.definitions()
            for value in secret_values({**d.environment, **d.parameters})
        }
        printer = ConsolePrinter(secrets=sorted(hidden, key=len, reverse=True))
        registry.subscribe(printer)
        run = registry.run(targets, cache=cache)
        printer.total = sum(max(1, len(j.view.children)) for j in run.jobs)
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

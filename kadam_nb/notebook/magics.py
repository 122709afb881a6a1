"""The ``%kadam`` / ``%%kadam`` magic: a thin layer of IPython over the Registry.

The grammar lives in :mod:`kadam_nb.notebook.grammar` (pure, shared with the headless runner);
here each verb calls the :class:`~kadam_nb.facade.Registry` and shows the answer. Every
:class:`~kadam_nb.errors.KadamError` becomes IPython's ``UsageError`` (one message, no
traceback, never ``SystemExit``); other exceptions are bugs and propagate.

The Registry is the kernel's default one (:func:`kadam_nb.registry`), created on first use
with the :class:`~kadam_nb.notebook.config.Kadam` settings (``%config Kadam.backend = "local"``
before the first use changes it).

Pictures come from :mod:`kadam_nb.display.graph` and the live view from
:mod:`kadam_nb.notebook.dashboard`; both are imported lazily and, when missing (or when
Graphviz's ``dot`` is), the magic falls back to text and to the plain :class:`~kadam_nb.jobs.Run`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

import kadam_nb

from ..core.aws import export_warnings, masked_export, submit_job_to_aws
from ..core.graph import plan_pipeline
from ..core.secrets import MASK, mask_definition, mask_text, secret_values
from ..core.spec import JobDefinition
from ..errors import KadamError, NotFound, SpecError
from ..jobs import Job, Run
from .config import Kadam
from .grammar import (
    GRAMMAR,
    GrammarError,
    JobCell,
    cell_gaps,
    describe_spec_error,
    parse_definition_cell,
    parse_verb,
    read_job_cell,
    to_job_cell,
)

if TYPE_CHECKING:
    import argparse

    from ..facade import Registry

__all__ = ["KadamMagics", "dependency_placeholder"]


def dependency_placeholder(name: str) -> str:
    """The ``jobId`` written in ``%kadam export aws``'s SubmitJob ``dependsOn`` for the job
    named ``name``: ``"${name}"``, to be replaced by the id SubmitJob returned for it."""
    return "${" + name + "}"


def _pause(seconds: float) -> None:
    """Sleep between polls of a followed log (a seam for tests)."""
    time.sleep(seconds)


@magics_class
class KadamMagics(Magics):
    """``%kadam`` (line verbs) and ``%%kadam`` (job and definition cells)."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.settings = Kadam(parent=shell)
        if shell is not None:
            # so that %config Kadam.NAME = VALUE reaches these settings (one Kadam at a time)
            others = [c for c in shell.configurables if not isinstance(c, Kadam)]
            shell.configurables[:] = [*others, self.settings]
        self.cells: dict[str, JobCell] = {}
        """The last ``%%kadam job`` cell of each definition (for its --queue and --cache)."""
        self.last_run: Run | None = None
        """The run this kernel started last (``%kadam run``)."""

    # ------------------------------------------------------------------ entry point

    @no_var_expand
    @line_cell_magic
    def kadam(self, line: str, cell: str | None = None) -> Any:
        try:
            if cell is None:
                verb, args = parse_verb(line)
                handler: Callable[[argparse.Namespace], Any] = getattr(self, f"_verb_{verb}")
                return handler(args)
            return self._cell(line, cell)
        except KadamError as exc:
            raise UsageError(str(exc)) from None

    kadam.__doc__ = GRAMMAR

    def registry(self) -> Registry:
        """The kernel's Registry, created on first use with these settings."""
        s = self.settings
        return kadam_nb.registry(
            state_dir=s.state_dir,
            backend=s.backend,
            default_image=s.default_image,
            stop_grace=s.stop_grace,
        )

    # ------------------------------------------------------------------ cells

    def _cell(self, line: str, body: str) -> None:
        verb = line.split(None, 1)[0] if line.strip() else ""
        if verb == "job":
            cell = read_job_cell(line, body)
            reg = self.registry()
            before = _latest(reg, cell.name)
            try:
                d = reg.register(cell.name, **cell.fields)
            except SpecError as exc:
                raise GrammarError(describe_spec_error(exc)) from None
            self.cells[d.name] = cell
            self._registered(reg, d, before, cell)
            return
        if verb == "definition":
            if line.split() != ["definition"]:
                raise GrammarError("%%kadam definition takes no options: the body says it all")
            doc = parse_definition_cell(body)
            reg = self.registry()
            d = JobDefinition.from_aws(doc)
            before = _latest(reg, d.name)
            d = reg.register(d)
            self.cells.pop(d.name, None)
            self._registered(reg, d, before, None)
            return
        raise GrammarError(
            "%%kadam takes a cell body only as %%kadam job NAME [options] (the body is the "
            "script) or %%kadam definition (the body is JSON); "
            + (f"for {verb}, use the line form %kadam {line.strip()}" if verb else "give one")
        )

    def _registered(
        self, reg: Registry, d: JobDefinition, before: JobDefinition | None, cell: JobCell | None
    ) -> None:
        if before is None:
            change = "new definition"
        elif before.revision == d.revision:
            change = "unchanged"
        else:
            change = "new revision"
        print(_summary(d, change, cell))  # (Registry.register warned of isolation risks)
        self._show_graph(lambda g: g.definitions_graph(reg.definitions()), quiet=True)

    def _show_graph(self, make: Callable[[Any], Any], quiet: bool) -> None:
        """Display ``make(kadam_nb.display.graph)`` as SVG. Without that module, or without
        Graphviz's ``dot``: nothing when ``quiet`` (a job cell's summary is enough), else a
        note (no module) or the KadamError saying how to install Graphviz."""
        try:
            from ..display import graph
        except ModuleNotFoundError as exc:
            if exc.name != "kadam_nb.display.graph":
                raise
            if not quiet:
                print("(no graph: kadam_nb.display.graph is not available)")
            return
        try:
            svg = graph.to_svg(make(graph))
        except (KadamError, OSError, subprocess.CalledProcessError):
            if quiet:
                return
            raise
        from IPython.display import SVG, display

        display(SVG(data=svg))

    # ------------------------------------------------------------------ running

    def _verb_run(self, args: argparse.Namespace) -> Any:
        reg = self.registry()
        names: list[str] | None = list(args.names) or None
        cache = args.cache or self._cells_ask_cache(reg, names)
        run = reg.run(names, cache=cache, queue=args.queue)
        self.last_run = run
        dashboard = self._dashboard_for(reg, run)
        if not args.wait:
            return dashboard
        # --wait: show the dashboard now, so it is live while the cell waits, and let its last
        # update reach the page before the cell ends.
        from IPython.display import display

        if dashboard is not run:
            display(dashboard)
        try:
            run.wait()
            wait_idle = getattr(dashboard, "wait_idle", None)
            if wait_idle is not None:
                wait_idle(10.0)
        except KeyboardInterrupt:
            print("(stopped waiting; the run goes on: %kadam status, %kadam dashboard)")
        return run  # its repr is the one-line outcome under the dashboard

    def _cells_ask_cache(self, reg: Registry, names: list[str] | None) -> bool:
        """Whether the job cells ask for a cached run: every job of the plan has ``--cache``
        (Registry.run caches per run, so a job without it must not be skipped)."""
        plan = plan_pipeline({d.name: d.depends_on for d in reg.definitions()}, names)
        marked = [n for n in plan if n in self.cells and self.cells[n].cache]
        queued = {n: self.cells[n].queue for n in plan if n in self.cells and self.cells[n].queue}
        for name, queue in queued.items():
            print(
                f"note: {name} has --queue {queue}; a run goes to one queue, named by "
                "%kadam run --queue (a cell's --queue is its jobQueue in %kadam export aws)"
            )
        if marked and len(marked) < len(plan):
            unmarked = ", ".join(n for n in plan if n not in marked)
            print(
                f"note: --cache is set on {', '.join(marked)} but not on {unmarked}, so this "
                "run skips nothing (a run is cached as a whole); use %kadam run --cache to "
                "skip every unchanged job"
            )
        return bool(plan) and len(marked) == len(plan)

    def _dashboard_for(self, reg: Registry, run: Run) -> Any:
        try:
            from .dashboard import Dashboard
        except ModuleNotFoundError as exc:
            if exc.name != "kadam_nb.notebook.dashboard":
                raise
            return run
        return Dashboard(reg, run, self.settings)

    def _verb_dashboard(self, args: argparse.Namespace) -> Any:
        reg = self.registry()
        run = self._run_or_latest(reg, args.run)
        if run is None:
            raise NotFound("no run yet: %kadam run starts one")
        return self._dashboard_for(reg, run)

    def _run_or_latest(self, reg: Registry, ref: str | None) -> Run | None:
        """The run ``ref`` names (id or unique prefix), else this kernel's last run, else the
        state directory's latest, else None."""
        if ref is None and self.last_run is not None:
            return self.last_run
        runs = [r[0] for r in reg.store.runs()]
        if ref is None:
            return reg.get_run(runs[-1]) if runs else None
        matches = [r for r in runs if r == ref] or [r for r in runs if r.startswith(ref)]
        if len(matches) != 1:
            why = "matches several runs" if matches else "names no run"
            raise NotFound(f"{ref!r} {why}; runs: {', '.join(runs[-5:]) or 'none yet'}")
        if self.last_run is not None and self.last_run.id == matches[0]:
            return self.last_run
        return reg.get_run(matches[0])

    # ------------------------------------------------------------------ looking

    def _verb_graph(self, args: argparse.Namespace) -> None:
        reg = self.registry()
        run = self._run_or_latest(reg, args.run) if args.run else self.last_run
        if run is not None:
            views = reg.views(run.id)
            self._show_graph(lambda g: g.jobs_graph(views), quiet=False)
        else:
            latest = {}
            for d in reg.definitions():
                job_id = reg.store.latest_job_id(d.name)
                if job_id is not None:
                    latest[d.name] = Job(reg, job_id).view
            self._show_graph(lambda g: g.definitions_graph(reg.definitions(), latest), quiet=False)

    def _verb_states(self, args: argparse.Namespace) -> Any:
        reg = self.registry()
        return reg.lifecycle(args.job) if args.job else reg.lifecycle()

    def _verb_timeline(self, args: argparse.Namespace) -> Any:
        reg = self.registry()
        run = self._run_or_latest(reg, args.run)
        if run is None:
            raise NotFound("no run yet: %kadam run starts one")
        return reg.timeline(run)

    def _verb_step(self, args: argparse.Namespace) -> None:
        reg = self.registry()
        if args.mode == "on":
            reg.stepping = True
            print("step mode on: the scheduler waits; %kadam step takes one decision")
        elif args.mode == "off":
            reg.stepping = False
            print("step mode off: the scheduler decides by itself again")
        else:
            if not reg.stepping:
                print("(step mode is off: decisions happen by themselves; %kadam step on)")
                return
            print(reg.step())

    def _verb_status(self, args: argparse.Namespace) -> Any:
        reg = self.registry()
        for name, env in reg.compute_environments.items():
            if env.status_reason:  # a service kadam cannot reach: its jobs' states may be old
                print(f"⚠ {name} does not answer: {env.status_reason}")
        if args.all:
            if args.run:
                raise GrammarError("%kadam status: give RUN or --all, not both")
            return reg.jobs(None)
        run = self._run_or_latest(reg, args.run)
        return reg.jobs(run.id if run is not None else None)

    def _verb_logs(self, args: argparse.Namespace) -> None:
        reg = self.registry()
        job = reg.job(args.job)
        seen: dict[tuple[str, int], int] = {}
        done = job.done
        hide = self._secrets_of(reg, job)
        lines = _render(_log_parts(job, args.attempt, hide), seen, always_header=False)
        if args.tail is not None:
            lines = lines[-args.tail :] if args.tail else []
        _emit(lines)
        if done:
            if not seen:
                print(f"({job.name} {job.status.value}: no log{_reason(job)})")
            return
        name = job.name
        print(f"(following {name}: {job.status.value}; interrupt the kernel to stop)", flush=True)
        try:
            while True:
                done = job.done
                _emit(_render(_log_parts(job, args.attempt, hide), seen, always_header=True))
                if done:
                    break
                _pause(0.2)
        except KeyboardInterrupt:
            print(f"(stopped following {name}; it is {job.status.value})")
            return
        code = f", exit {job.exit_code}" if job.exit_code is not None else ""
        print(f"({name} {job.status.value}{code}{_reason(job)})")

    def _secrets_of(self, reg: Registry, job: Job) -> list[str]:
        """The secret values (environment, parameters) of ``job``'s definition revision, to be
        masked in its log lines as the dashboard masks them."""
        view = job.view
        try:
            d = reg.definition(view.definition_name, view.revision)
        except NotFound:
            return []
        patterns = self.settings.secret_patterns
        found = secret_values(d.environment, patterns) + secret_values(d.parameters, patterns)
        return sorted(set(found), key=lambda v: (-len(v), v))

    # ------------------------------------------------------------------ controlling

    def _verb_cancel(self, args: argparse.Namespace) -> None:
        reg = self.registry()
        job = reg.job(args.job)
        before = job.status
        if reg.cancel(job, args.reason):
            print(f"cancelled {job.name} (it was {before.value}): it FAILS{_reason(job)}")
        elif before.value in ("STARTING", "RUNNING"):
            print(
                f"{job.name} is {before.value}: cancel only affects jobs that have not started; "
                f"use %kadam terminate {args.job}"
            )
        elif job.done:
            print(f"{job.name} already {job.status.value}: nothing to cancel")
        else:
            print(f"{job.name} ({job.status.value}) is not run by this kernel: not cancelled")

    def _verb_terminate(self, args: argparse.Namespace) -> None:
        reg = self.registry()
        job = reg.job(args.job)
        before = job.status
        if reg.terminate(job, args.reason):
            if before.value in ("STARTING", "RUNNING"):
                print(
                    f"terminating {job.name} (it was {before.value}): SIGTERM now, SIGKILL after "
                    f"{reg.stop_grace:g} s; it FAILS and is not retried"
                )
            else:
                print(f"{job.name} had not started ({before.value}): cancelled, it FAILS")
        elif job.done:
            print(f"{job.name} already {job.status.value}: nothing to terminate")
        else:
            print(f"{job.name} ({job.status.value}) is not run by this kernel: not terminated")

    # ------------------------------------------------------------------ definitions

    def _verb_list(self, args: argparse.Namespace) -> Any:
        import pandas as pd

        rows = [
            {
                "name": d.name,
                "revision": d.revision,
                "image": d.image,
                "vcpus": d.vcpus,
                "memory": d.memory,
                "depends_on": ", ".join(d.depends_on),
                "array": d.array_size,
            }
            for d in self.registry().definitions()
        ]
        columns = ["name", "revision", "image", "vcpus", "memory", "depends_on", "array"]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.astype({"revision": "Int64", "memory": "Int64", "array": "Int64"})

    def _verb_show(self, args: argparse.Namespace) -> None:
        reg = self.registry()
        d = reg.definition(args.name, args.revision)
        masked, hidden = mask_definition(d, self.settings.secret_patterns)
        cell = self.cells.get(d.name)
        print(f"# {d.name}, revision {d.revision}")
        if hidden:
            names = ", ".join(h.split(".", 1)[1] for h in hidden)
            print(f"# values of {names} are masked ({MASK}): Kadam.secret_patterns")
        gaps = cell_gaps(d)
        if gaps:
            print(f"# not expressible in a job cell (see the JSON): {', '.join(gaps)}")
        print(
            to_job_cell(
                masked,
                queue=cell.queue if cell else None,
                cache=cell.cache if cell else False,
            )
        )
        print()
        print('# RegisterJobDefinition JSON (the "kadam" block is kadam\'s own)')
        doc, _ = masked_export(d, extensions=True, extra=self.settings.secret_patterns)
        print(json.dumps(doc, indent=2))

    def _verb_remove(self, args: argparse.Namespace) -> None:
        reg = self.registry()
        reg.remove(args.name)
        self.cells.pop(args.name, None)
        count = len(reg.revisions(args.name))
        print(f"removed {args.name} (its {count} revision(s) and its jobs stay in the history)")
        users = [d.name for d in reg.definitions() if args.name in d.depends_on]
        if users:
            print(
                f"note: {', '.join(users)} still depend(s) on {args.name}: running them fails "
                "until it is registered again"
            )

    def _verb_export(self, args: argparse.Namespace) -> None:
        reg = self.registry()
        definitions = {d.name: d for d in reg.definitions()}
        order = plan_pipeline({n: d.depends_on for n, d in definitions.items()}, None)
        jobs = []
        for name in order:
            d = definitions[name]
            deps: list[Any] = []
            for upstream in d.depends_on:
                n_to_n = d.array_dependency == "N_TO_N" and definitions[upstream].is_array
                placeholder = dependency_placeholder(upstream)
                deps.append((placeholder, "N_TO_N") if n_to_n else placeholder)
            cell = self.cells.get(name)
            body = submit_job_to_aws(
                job_name=name,
                job_definition=name,
                job_queue=(cell.queue if cell and cell.queue else "default"),
                depends_on=deps,
                array_size=d.array_size,
            )
            if d.array_dependency == "SEQUENTIAL":
                body.setdefault("dependsOn", []).append({"type": "SEQUENTIAL"})
            jobs.append(body)
        exported = {
            n: masked_export(definitions[n], extra=self.settings.secret_patterns) for n in order
        }
        doc = {
            "jobDefinitions": [exported[n][0] for n in order],
            "submitJobs": jobs,
        }
        text = json.dumps(doc, indent=2)
        if args.path:
            from ..core.aws_export import export_files

            folder = Path(args.path).expanduser()
            for relative, content in export_files(doc).items():
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
            print(
                f"wrote {folder}: pipeline.json, definitions/, jobs/ and submit.py; run "
                f"`python3 {folder / 'submit.py'} --queue YOUR_QUEUE` to submit the pipeline "
                "to AWS Batch (boto3's credentials and region)"
            )
        if args.file:
            path = Path(args.file).expanduser()
            path.write_text(text + "\n", encoding="utf-8")
            print(
                f"wrote {path}: {len(order)} RegisterJobDefinition and {len(jobs)} SubmitJob "
                'bodies; replace each "${name}" in dependsOn by the jobId SubmitJob returned '
                "for that job (submit them in the order given)"
            )
        elif not args.path:
            print(text)
        for name in order:
            # depends_on/array_size are in the SubmitJob bodies: no warning about them
            plain = definitions[name].replace(depends_on=(), array_size=None, array_dependency=None)
            for warning in export_warnings(plain) + exported[name][1]:
                print(f"warning: {name}: {warning}", file=sys.stderr)

    # ------------------------------------------------------------------ housekeeping

    def _verb_reset(self, args: argparse.Namespace) -> None:
        reg = self.registry()
        if args.history:
            busy = [v for v in reg.views() if not v.status.done]
            if busy:
                listed = ", ".join(f"{v.display_name} {v.status.value}" for v in busy[:5])
                raise KadamError(
                    f"reset --history refused: {len(busy)} job(s) are not finished ({listed}); "
                    "wait for them or %kadam terminate them first"
                )
        names = [d.name for d in reg.definitions()]
        for name in names:
            reg.remove(name)
        self.cells.clear()
        if not args.history:
            print(f"forgot {len(names)} definition(s); their jobs stay in the history")
            return
        state_dir = reg.state_dir
        reg.close()
        shutil.rmtree(state_dir, ignore_errors=True)
        self.last_run = None
        print(f"forgot {len(names)} definition(s) and deleted {state_dir} (the history)")

    def _verb_form(self, args: argparse.Namespace) -> Any:
        from .form import JobForm

        return JobForm(self.registry(), self.settings, args.name)

    def _verb_config(self, args: argparse.Namespace) -> Any:
        import pandas as pd

        current = Kadam(parent=self.shell, config=self.settings.config)
        rows = current.effective()
        return pd.DataFrame(rows, columns=["name", "value", "source", "help"])


# ---------------------------------------------------------------------------------------------
# helpers


def _latest(reg: Registry, name: str) -> JobDefinition | None:
    try:
        return reg.definition(name)
    except NotFound:
        return None


def _summary(d: JobDefinition, change: str, cell: JobCell | None) -> str:
    parts = [f"{d.name}: revision {d.revision} ({change})", f"image {d.image or '(none)'}"]
    resources = f"{d.vcpus:g} vCPU, {d.memory} MiB"
    if d.gpus:
        resources += f", {d.gpus} GPU"
    parts.append(resources)
    if d.depends_on:
        parts.append("after " + ", ".join(d.depends_on))
    if d.array_size is not None:
        kind = f" {d.array_dependency}" if d.array_dependency else ""
        parts.append(f"array of {d.array_size}{kind}")
    if d.retry_strategy.attempts != 1:
        parts.append(f"{d.retry_strategy.attempts} attempts")
    if d.timeout is not None:
        parts.append(f"timeout {d.timeout} s")
    if cell is not None and cell.queue:
        parts.append(f"queue {cell.queue}")
    if cell is not None and cell.cache:
        parts.append("cache")
    return " · ".join(parts)


def _reason(job: Job) -> str:
    reason = job.status_reason
    return f": {reason}" if reason else ""


def _log_parts(
    job: Job, attempt: int | None, hide: list[str]
) -> list[tuple[tuple[str, int], str, list[str]]]:
    """``((job id, attempt), header, lines)`` for each attempt log of a job (or of each child
    of an array job), in order; the values in ``hide`` (secrets) are masked."""
    sources = job.children if job.view.is_parent else [job]
    parts = []
    for source in sources:
        view = source.view
        for a in view.attempts:
            if attempt is not None and a.number != attempt:
                continue
            lines = [mask_text(line.text, hide) for line in source.log_lines(a.number)]
            parts.append(
                ((source.id, a.number), f"--- {view.display_name} attempt {a.number} ---", lines)
            )
    return parts


def _render(
    parts: Iterable[tuple[tuple[str, int], str, list[str]]],
    seen: dict[tuple[str, int], int],
    always_header: bool,
) -> list[str]:
    """The lines of ``parts`` not yet in ``seen`` (updated), a header before each new part
    (before the first only when there are several parts, unless ``always_header``)."""
    parts = list(parts)
    out: list[str] = []
    several = always_header or len(parts) > 1
    for key, header, lines in parts:
        start = seen.get(key)
        if start is None:
            start = 0
            if several:
                out.append(header)
        out.extend(lines[start:])
        seen[key] = len(lines)
    return out


def _emit(lines: list[str]) -> None:
    if lines:
        print("\n".join(lines), flush=True)

"""The ``%kadam`` grammar, pure: argparse and shlex, no IPython.

The magics (:mod:`kadam_nb.notebook.magics`) and the headless ``kadam run NOTEBOOK`` command
both read ``%%kadam job`` cells with these functions, so that a notebook means the same thing
with and without a kernel. (For the same reason the magic does not expand ``$var``/``{expr}``
in its line: a headless run has no Python namespace to expand them from.)

* :func:`read_job_cell` / :func:`parse_job_cell`: ``%%kadam job NAME [options]`` + script body
  → keywords for :meth:`Registry.register <kadam_nb.facade.Registry.register>`.
* :func:`parse_definition_cell`: a ``RegisterJobDefinition`` JSON (or YAML) body → the dict
  for :meth:`JobDefinition.from_aws <kadam_nb.core.spec.JobDefinition.from_aws>`.
* :func:`parse_verb`: the line verbs (``run``, ``status``, ``logs``, ...).
* :func:`to_job_cell`: the inverse of :func:`parse_job_cell`; :func:`cell_gaps` names the
  fields a cell cannot carry.

Every refusal is a :class:`GrammarError` naming the option and what is allowed; argparse never
prints and never exits.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NoReturn

from ..core.spec import JobDefinition, parse_duration, parse_memory
from ..errors import KadamError, SpecError

__all__ = [
    "GRAMMAR",
    "RULE_DEFAULT_ATTEMPTS",
    "VERBS",
    "GrammarError",
    "JobCell",
    "cell_gaps",
    "describe_spec_error",
    "option_for_field",
    "parse_definition_cell",
    "parse_job_cell",
    "parse_verb",
    "read_job_cell",
    "split_magic_cell",
    "to_job_cell",
]

RULE_DEFAULT_ATTEMPTS = 3
"""Attempts a job gets when it has ``--retry-on``/``--exit-on`` rules but no ``--retries``:
rules only matter when there is a retry to decide about, so one attempt would make them dead
letters. Give ``--retries N`` to choose (``--retries 1`` keeps a single attempt)."""

VERBS = (
    "run",
    "graph",
    "status",
    "logs",
    "cancel",
    "terminate",
    "list",
    "show",
    "remove",
    "export",
    "dashboard",
    "reset",
    "config",
    "form",
    "states",
    "timeline",
    "step",
)
"""The line verbs, in the order the grammar lists them."""

CELL_VERBS = ("job", "definition")

GRAMMAR = """\
%kadam / %%kadam: AWS Batch-style job pipelines in the notebook.

Cells (the first line names the job; the cell body is its script, run by /bin/sh -c):

  %%kadam job NAME [options]
  SCRIPT

    --image IMAGE              container image (default: Kadam.default_image)
    --depends-on A [B ...]     upstream definitions; also A,B; repeatable
    --vcpus N                  vCPUs (1, 2, 0.5)                         [default 1]
    --memory SIZE              hard memory limit: 512 (MiB), 512m, 2g    [default 2048]
    --gpus N                   GPUs                                      [default 0]
    --env NAME=VALUE           environment variable; repeatable
    --volume HOST:CONTAINER[:ro]
                               bind mount (relative HOST is resolved against the current
                               directory); a lone /CONTAINER is an engine-made volume; repeatable
    --array N                  array job of N children (2-10000); $AWS_BATCH_JOB_ARRAY_INDEX
    --array-dependency N_TO_N|SEQUENTIAL
                               N_TO_N: child i waits for child i of each upstream array;
                               SEQUENTIAL: child i waits for child i-1 (any case)
    --retries N                total attempts, AWS's retryStrategy.attempts (1-10; 1 runs once)
    --retry-on RULE            evaluateOnExit rule with action RETRY; repeatable
    --exit-on RULE             evaluateOnExit rule with action EXIT; repeatable
                               RULE is one or more conditions joined by ',', all must match:
                                 exit:CODE      exit code, e.g. exit:137, exit:1* (prefix)
                                 reason:TEXT    the attempt's reason, e.g. reason:OutOfMemory*
                                 status:TEXT    its statusReason, e.g. status:Essential*
                               e.g. --retry-on exit:1,reason:Host*. Rules from both options keep
                               their order; the first match decides, no match retries (AWS).
                               With rules but no --retries a job gets 3 attempts.
    --timeout DURATION         per-attempt limit: 90, 90s, 10m, 1h30m (SIGTERM, then SIGKILL)
    --queue QUEUE              submit option, not part of the definition: the jobQueue of
                               %kadam export aws (%kadam run --queue Q picks the run's)
    --param NAME=VALUE         default for Ref::NAME in the command; repeatable
    --user USER                user (name or uid) the command runs as
    --shm-size SIZE            size of /dev/shm: 64, 64m, 1g
    --read-only                read-only root filesystem
    --privileged               privileged container
    --cache                    submit option: %kadam run skips unchanged jobs (cache=True) when
                               every job it runs has --cache (or with %kadam run --cache)
    --argv                     the body is one argv (shell-quoted words, run without a shell);
                               an empty body then means the image's own command

  %%kadam definition
  { RegisterJobDefinition JSON (or YAML, if PyYAML is installed) }

    registers AWS's JSON as is; a top-level "kadam" block may carry dependsOn, arraySize
    and arrayDependency.

  Registering a NAME again makes revision n+1 (an identical cell keeps its revision).
  Neither cell runs anything: %kadam run does.

Lines:

  %kadam run [NAME ...] [--wait] [--cache] [--queue Q]
                         run the pipeline (the NAMEs and everything upstream; all by
                         default) and show a live dashboard; --wait blocks until it ends;
                         --cache skips jobs whose definition and inputs are unchanged;
                         --queue sends every job to queue Q (e.g. one on AWS Batch or Slurm)
  %kadam graph [RUN]     the latest run's jobs coloured by state (or the definitions' DAG)
  %kadam status [RUN] [--all]
                         a table of the latest run's jobs (--all: every job ever)
  %kadam logs JOB [--tail N] [--attempt N]
                         a job's log; a job still running is followed until it ends
                         (interrupt the kernel to stop following)
  %kadam cancel JOB [--reason TEXT]
                         AWS CancelJob: fails a job that has not started yet
  %kadam terminate JOB [--reason TEXT]
                         AWS TerminateJob: also stops a running job (no retry)
  %kadam list            the registered definitions
  %kadam show NAME [--revision N]
                         a definition as a %%kadam job cell and as AWS JSON
  %kadam remove NAME     forget a definition (its jobs stay in the history)
  %kadam export aws [DIR] [--file F]
                         RegisterJobDefinition + SubmitJob JSON for the pipeline; DIR: also
                         one file per request and submit.py, which submits it with boto3
  %kadam dashboard [RUN] a live dashboard of the latest (or given) run
  %kadam reset [--history]
                         forget every definition; --history also deletes the state
                         directory (refused while a job is unfinished)
  %kadam config          the effective settings (%config Kadam.NAME = VALUE changes them)
  %kadam form [NAME]     a job definition form like the AWS console's (NAME: filled with its
                         latest revision): create, submit, show as code, load any revision
  %kadam states [JOB]    the seven job states and AWS's transitions, each with its cause; with
                         JOB, the path it took, the time in each state and the reasons
  %kadam timeline [RUN]  a Gantt picture of the latest (or given) run: waiting for
                         dependencies (PENDING) vs for capacity (RUNNABLE), attempts, failures
  %kadam step [on|off]   step mode: with on, the scheduler takes no decision until asked;
                         %kadam step takes one and says what it did and why; off lets it run

JOB is a definition name (its latest job), NAME[i] (array child i) or a job id; RUN is a run
id or a unique prefix of one.
"""


class GrammarError(KadamError, ValueError):
    """A ``%kadam`` line or cell that cannot be read; ``option`` is the one at fault, if any."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


# ---------------------------------------------------------------------------------------------
# argparse that raises


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`GrammarError` instead of printing and exiting."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        super().__init__(prog=prog, add_help=False, allow_abbrev=False, **kwargs)
        self.words: list[str] = []

    def error(self, message: str) -> NoReturn:
        raise GrammarError(*_rephrase(self, message))

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise GrammarError(f"{self.prog}: {(message or 'stopped').strip()}")

    def print_usage(self, file: Any = None) -> None:  # never print
        return None

    def print_help(self, file: Any = None) -> None:  # help is the magic's docstring
        return None

    def options(self) -> list[str]:
        return [s for a in self._actions for s in a.option_strings]


def _rephrase(parser: _Parser, message: str) -> tuple[str, str | None]:
    """argparse's message, reworded to name the option first and say what is allowed."""
    m = re.match(r"argument ([^:]+): (.*)", message, re.DOTALL)
    if m:
        option, text = m.group(1).split("/")[0], m.group(2)
        if not option.startswith("-"):
            return f"{parser.prog} {option}: {text}", None
        if text == "expected one argument":
            text = "needs a value"
        elif text == "expected at least one argument":
            text = "needs at least one value"
        elif text.startswith("ignored explicit argument"):
            text = "takes no value"
        return f"{option}: {text}", option
    m = re.match(r"unrecognized arguments: (.*)", message, re.DOTALL)
    if m:
        word = m.group(1).split(" ")[0]
        known = parser.options()
        if word.startswith("-"):
            name = word.split("=")[0]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            allowed = ", ".join(known) or "none"
            return f"{parser.prog}: unknown option {name}{hint}; options: {allowed}", name
        before = parser.words[: parser.words.index(word)] if word in parser.words else []
        if before and before[-1].startswith("--") and before[-1] in known:
            flag = before[-1]
            return f"{flag}: takes no value (unexpected {word!r} after it)", flag
        return f"{parser.prog}: unexpected value {word!r}", None
    m = re.match(r"the following arguments are required: (.*)", message, re.DOTALL)
    if m:
        return f"{parser.prog}: missing {m.group(1)} (see %kadam?)", None
    return f"{parser.prog}: {message}", None


def _size(text: str) -> int:
    try:
        return parse_memory(text, "size")
    except SpecError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size; use 512, 512m or 2g (MiB unless a unit k, m, g or t "
            "follows; a whole number of MiB)"
        ) from None


def _duration(text: str) -> int:
    try:
        return parse_duration(text, "duration")
    except SpecError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; use 90 (seconds), 90s, 10m or 1h30m"
        ) from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use 1, 2 or 0.5")
    return value


def _whole(minimum: int | None = None) -> Any:
    def convert(text: str) -> int:
        if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", text):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        value = int(text)
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: use a whole number >= {minimum}")
        return value

    return convert


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (e.g. MODE=fast)")
    if not key:
        raise argparse.ArgumentTypeError(f"{text!r} has no NAME before '='")
    return key, value


def _array_dependency(text: str) -> str:
    kind = text.strip().upper()
    if kind not in ("N_TO_N", "SEQUENTIAL"):
        raise argparse.ArgumentTypeError(f"{text!r}: use N_TO_N or SEQUENTIAL (any case)")
    return kind


_RULE_KEYS = {"exit": "on_exit_code", "reason": "on_reason", "status": "on_status_reason"}
_RULE_WORDS = {attr: key for key, attr in _RULE_KEYS.items()}
_EXIT_PATTERN = re.compile(r"[0-9]*\*?")
_REASON_PATTERN = re.compile(r"[A-Za-z0-9.: \t]*\*?")
_RULE_HELP = (
    "use exit:CODE, reason:TEXT or status:TEXT (a trailing * matches any rest), several "
    "joined with ',' (e.g. exit:1*,reason:Host*)"
)


def _rule(action: str) -> Any:
    def convert(text: str) -> tuple[str, dict[str, str]]:
        conditions: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition(":")
            key = key.strip().lower()
            if not sep or key not in _RULE_KEYS:
                raise argparse.ArgumentTypeError(f"{part!r} is not a condition; {_RULE_HELP}")
            attr = _RULE_KEYS[key]
            if attr in conditions:
                raise argparse.ArgumentTypeError(
                    f"{text!r} gives {key}: twice; a rule has at most one of each condition"
                )
            if key == "exit":
                value = value.strip()
                if not value or not _EXIT_PATTERN.fullmatch(value):
                    raise argparse.ArgumentTypeError(
                        f"exit:{value} is not an exit code pattern; use digits with an "
                        "optional trailing * (exit:137, exit:1*, exit:*)"
                    )
            elif not value or not _REASON_PATTERN.fullmatch(value):
                raise argparse.ArgumentTypeError(
                    f"{key}:{value} is not a reason pattern; use letters, digits, '.', ':', "
                    "spaces, with an optional trailing * (e.g. reason:OutOfMemory*)"
                )
            conditions[attr] = value
        return action, conditions

    return convert


def _split_volume(spec: str) -> list[str]:
    """``HOST:CONTAINER[:MODE]`` split on ':', keeping a Windows drive (``C:\\x``) whole."""
    parts = spec.split(":")
    if len(parts) > 1 and re.fullmatch(r"[A-Za-z]", parts[0]) and parts[1][:1] in ("\\", "/"):
        parts = [parts[0] + ":" + parts[1], *parts[2:]]
    return parts


def _volume(text: str) -> str:
    parts = _split_volume(text)
    mode = "rw"
    if len(parts) > 1 and parts[-1] in ("ro", "rw"):
        mode = parts.pop()
    if len(parts) not in (1, 2) or not all(parts):
        raise argparse.ArgumentTypeError(
            f"{text!r}: use HOST:CONTAINER, HOST:CONTAINER:ro or /CONTAINER"
        )
    container = parts[-1]
    if not container.startswith("/"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: the container path must be absolute (e.g. data:/data)"
        )
    out = container
    if len(parts) == 2:
        host = os.path.expanduser(parts[0])
        if not (host.startswith(("/", "\\\\")) or re.match(r"[A-Za-z]:[\\/]", host)):
            host = os.path.abspath(host)
        out = f"{host}:{container}"
    return out + (":ro" if mode == "ro" else "")


def _text(text: str) -> str:
    return text


# ---------------------------------------------------------------------------------------------
# %%kadam job


@dataclass(frozen=True)
class JobCell:
    """A parsed ``%%kadam job`` cell.

    ``fields`` are the keywords for ``Registry.register(name, **fields)`` (and
    ``JobDefinition.create``); ``queue`` (``--queue``) and ``cache`` (``--cache``) are submit
    options, not definition fields, so they are kept beside them.
    """

    name: str
    fields: dict[str, Any]
    queue: str | None = None
    cache: bool = False


def _job_parser() -> _Parser:
    p = _Parser("%%kadam job NAME")
    add = p.add_argument
    add("--image", type=_text)
    add("--depends-on", dest="depends_on", nargs="+", action="append", metavar="NAME")
    add("--vcpus", type=_number)
    add("--memory", type=_size)
    add("--gpus", type=_whole())
    add("--env", action="append", type=_pair)
    add("--volume", action="append", type=_volume)
    add("--array", type=_whole())
    add("--array-dependency", dest="array_dependency", type=_array_dependency)
    add("--retries", type=_whole())
    add("--retry-on", dest="rules", action="append", type=_rule("RETRY"))
    add("--exit-on", dest="rules", action="append", type=_rule("EXIT"))
    add("--timeout", type=_duration)
    add("--queue", type=_text)
    add("--param", action="append", type=_pair)
    add("--user", type=_text)
    add("--shm-size", dest="shm_size", type=_size)
    add("--read-only", dest="read_only", action="store_true")
    add("--privileged", action="store_true")
    add("--cache", action="store_true")
    add("--argv", action="store_true")
    return p


def _parser(key: str) -> _Parser:
    """A fresh parser for ``job`` or a verb (a parser remembers the words it reads, for its
    messages, so none is shared between calls or threads; building one takes ~1 ms)."""
    return _job_parser() if key == "job" else _verb_parsers()[key]


def _split(line: str, where: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise GrammarError(
            f"{where}: cannot split the line into words ({exc}); check quotes"
        ) from None


def _parse(parser: _Parser, words: list[str]) -> argparse.Namespace:
    parser.words = list(words)
    try:
        return parser.parse_args(words)
    except GrammarError:
        raise
    except (argparse.ArgumentError, TypeError, ValueError) as exc:  # pragma: no cover - safety
        raise GrammarError(f"{parser.prog}: {exc}") from None


def read_job_cell(line: str, body: str) -> JobCell:
    """Read ``%%kadam job NAME [options]`` and its body into a :class:`JobCell`.

    ``line`` is the text after ``%%kadam`` (a leading ``%%kadam`` is tolerated): ``job NAME
    [options]``. The body is the job's shell script (with ``--argv``: one shell-quoted argv).
    """
    words = _split(line, "%%kadam job")
    if words and words[0] == "%%kadam":
        words = words[1:]
    if not words or words[0] != "job":
        raise GrammarError("a job cell starts with: %%kadam job NAME [options]")
    if len(words) < 2 or words[1].startswith("-"):
        raise GrammarError(
            "%%kadam job: give the job's NAME first: %%kadam job NAME [options] "
            "(1-128 letters, digits, '-' or '_', not starting with '-')"
        )
    name = words[1]
    args = _parse(_parser("job"), words[2:])
    out: dict[str, Any] = {}
    if args.argv:
        try:
            out["command"] = shlex.split(body)
        except ValueError as exc:
            raise GrammarError(
                f"--argv: the body is not shell-quoted words ({exc}); check quotes", "--argv"
            ) from None
    else:
        if not body.strip():
            raise GrammarError("the cell body is the job's script; it is empty")
        out["command"] = body
    if args.image is not None:
        out["image"] = args.image
    if args.depends_on:
        names: list[str] = []
        for group in args.depends_on:
            for word in group:
                pieces = word.split(",")
                if not all(p.strip() for p in pieces):
                    raise GrammarError(
                        f"--depends-on: {word!r} has an empty name; use A B or A,B",
                        "--depends-on",
                    )
                names.extend(p.strip() for p in pieces)
        out["depends_on"] = names
    for option, key in (
        ("vcpus", "vcpus"),
        ("memory", "memory"),
        ("gpus", "gpus"),
        ("array", "array_size"),
        ("array_dependency", "array_dependency"),
        ("timeout", "timeout"),
        ("user", "user"),
        ("shm_size", "shared_memory_size"),
    ):
        value = getattr(args, option)
        if value is not None:
            out[key] = value
    if args.env:
        out["environment"] = dict(args.env)
    if args.param:
        out["parameters"] = dict(args.param)
    if args.volume:
        out["volumes"] = list(args.volume)
    if args.rules:
        out["retries"] = args.retries if args.retries is not None else RULE_DEFAULT_ATTEMPTS
        out["retry_strategy"] = {
            "evaluate_on_exit": [{"action": action, **cond} for action, cond in args.rules]
        }
    elif args.retries is not None:
        out["retries"] = args.retries
    if args.read_only:
        out["readonly_root_filesystem"] = True
    if args.privileged:
        out["privileged"] = True
    return JobCell(name, out, args.queue, bool(args.cache))


def parse_job_cell(line: str, body: str) -> tuple[str, dict[str, Any]]:
    """``%%kadam job NAME [options]`` + body → ``(name, fields)`` for
    ``Registry.register(name, **fields)``. ``--queue`` and ``--cache`` are submit options, not
    definition fields: they are not in ``fields``; :func:`read_job_cell` returns them too."""
    cell = read_job_cell(line, body)
    return cell.name, cell.fields


# ---------------------------------------------------------------------------------------------
# %%kadam definition


def parse_definition_cell(body: str) -> dict[str, Any]:
    """A ``RegisterJobDefinition`` document from JSON (or YAML, if PyYAML is installed)."""
    if not body.strip():
        raise GrammarError(
            "%%kadam definition: the cell body is a RegisterJobDefinition JSON document; "
            "it is empty"
        )
    try:
        doc = json.loads(body)
    except ValueError as exc:
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise GrammarError(
                f"%%kadam definition: the body is not JSON ({exc}); YAML would need PyYAML, "
                "which is not installed (pip install pyyaml)"
            ) from None
        try:
            doc = yaml.safe_load(body)
        except yaml.YAMLError as yexc:
            raise GrammarError(
                f"%%kadam definition: the body is neither JSON ({exc}) nor YAML ({yexc})"
            ) from None
    if not isinstance(doc, Mapping):
        raise GrammarError(
            "%%kadam definition: the body must be one RegisterJobDefinition object "
            f"{{...}}, not {type(doc).__name__}"
        )
    return dict(doc)


# ---------------------------------------------------------------------------------------------
# %kadam VERB


def _verb_parsers() -> dict[str, _Parser]:
    parsers: dict[str, _Parser] = {}

    def new(verb: str) -> _Parser:
        parsers[verb] = _Parser(f"%kadam {verb}")
        return parsers[verb]

    p = new("run")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--wait", action="store_true")
    p.add_argument("--cache", action="store_true")
    p.add_argument("--queue", type=_text)
    new("graph").add_argument("run", nargs="?", metavar="RUN")
    p = new("status")
    p.add_argument("run", nargs="?", metavar="RUN")
    p.add_argument("--all", action="store_true")
    p = new("logs")
    p.add_argument("job", metavar="JOB")
    p.add_argument("--tail", type=_whole(0))
    p.add_argument("--attempt", type=_whole(1))
    for verb in ("cancel", "terminate"):
        p = new(verb)
        p.add_argument("job", metavar="JOB")
        p.add_argument("--reason", default="", type=_text)
    new("list")
    p = new("show")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--revision", type=_whole(1))
    new("remove").add_argument("name", metavar="NAME")
    p = new("export")
    p.add_argument("target", metavar="FORMAT", type=_export_target)
    p.add_argument("path", nargs="?", metavar="DIR", type=_text)
    p.add_argument("--file", type=_text)
    new("dashboard").add_argument("run", nargs="?", metavar="RUN")
    new("reset").add_argument("--history", action="store_true")
    new("config")
    new("form").add_argument("name", nargs="?", metavar="NAME")
    new("states").add_argument("job", nargs="?", metavar="JOB")
    new("timeline").add_argument("run", nargs="?", metavar="RUN")
    new("step").add_argument("mode", nargs="?", metavar="on|off", type=_on_off)
    return parsers


def _on_off(text: str) -> str:
    if text.lower() not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r}: use on or off (or nothing, to take a step)")
    return text.lower()


def _export_target(text: str) -> str:
    if text.lower() != "aws":
        raise argparse.ArgumentTypeError(f"{text!r}: the only export format is aws")
    return "aws"


def parse_verb(line: str) -> tuple[str, argparse.Namespace]:
    """``%kadam VERB [arguments]`` (the text after ``%kadam``) → ``(verb, namespace)``."""
    words = _split(line, "%kadam")
    if words and words[0] == "%kadam":
        words = words[1:]
    verbs = ", ".join(VERBS)
    if not words:
        raise GrammarError(f"%kadam: give a verb: {verbs} (%kadam? shows the grammar)")
    verb = words[0]
    if verb in CELL_VERBS:
        raise GrammarError(
            f"%kadam {verb} is a cell magic: write %%kadam {verb}"
            + (
                " NAME [options] on a cell's first line, the script below it"
                if verb == "job"
                else " on a cell's first line, the JSON document below it"
            )
        )
    if verb not in VERBS:
        close = difflib.get_close_matches(verb, VERBS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise GrammarError(f"%kadam: unknown verb {verb!r}{hint}; verbs: {verbs}")
    return verb, _parse(_parser(verb), words[1:])


def split_magic_cell(source: str) -> tuple[str, str] | None:
    """``(line, body)`` of a notebook cell that starts with ``%%kadam``, else None.

    ``line`` is the rest of the first line (``job NAME ...``), ``body`` everything after it;
    what the magic receives, for readers of notebooks without a kernel.
    """
    first, _, body = source.lstrip("\n").partition("\n")
    head = first.strip()
    if head != "%%kadam" and not head.startswith(("%%kadam ", "%%kadam\t")):
        return None
    return head[len("%%kadam") :].strip(), body


# ---------------------------------------------------------------------------------------------
# Definition → cell


def _number_text(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _rule_text(rule: Any) -> str:
    parts = [
        f"{_RULE_WORDS[attr]}:{getattr(rule, attr)}"
        for attr in ("on_exit_code", "on_reason", "on_status_reason")
        if getattr(rule, attr) is not None
    ]
    return ",".join(parts)


def _one_line(text: str) -> bool:
    """Whether ``text`` has no line break of any kind (IPython splits cells with
    ``str.splitlines``, which also breaks at ``\r``, ``\x0c``, ``\u2028``, ...)."""
    return "".join(text.splitlines()) == text


def to_job_cell(d: JobDefinition, *, queue: str | None = None, cache: bool = False) -> str:
    """The ``%%kadam job NAME ...`` cell (first line + body) that registers ``d`` again.

    Options at their defaults are left out. A ``/bin/sh -c SCRIPT`` command becomes the body
    as it is; any other argv is written shell-quoted with ``--argv`` (run without a shell), and
    no command (the image's own) is ``--argv`` with an empty body. Fields a cell cannot carry
    (tags, ulimits, log configuration, role ARNs, kept AWS fields, named volumes, values with
    line breaks) are left out: :func:`cell_gaps` names them.
    """
    words = ["%%kadam", "job", d.name]

    def opt(option: str, *values: object) -> None:
        texts = [str(v) for v in values]
        if not all(_one_line(t) for t in texts):
            return  # a line break cannot be in the first line of a cell: cell_gaps says so
        words.append(option)
        words.extend(shlex.quote(t) for t in texts)

    if d.image is not None:
        opt("--image", d.image)
    if d.depends_on:
        opt("--depends-on", ",".join(d.depends_on))
    if d.vcpus != 1.0:
        opt("--vcpus", _number_text(d.vcpus))
    if d.memory != 2048:
        opt("--memory", d.memory)
    if d.gpus:
        opt("--gpus", d.gpus)
    for key, value in d.environment.items():
        opt("--env", f"{key}={value}")
    hosts = {v.name: v.host_path for v in d.volumes}
    for mp in d.mount_points:
        host = hosts.get(mp.source_volume)
        spec = mp.container_path if host is None else f"{host}:{mp.container_path}"
        opt("--volume", spec + (":ro" if mp.read_only else ""))
    if d.array_size is not None:
        opt("--array", d.array_size)
    if d.array_dependency is not None:
        opt("--array-dependency", d.array_dependency)
    rs = d.retry_strategy
    if rs.attempts != 1 or rs.evaluate_on_exit:
        opt("--retries", rs.attempts)
    for rule in rs.evaluate_on_exit:
        opt("--retry-on" if rule.action == "RETRY" else "--exit-on", _rule_text(rule))
    if d.timeout is not None:
        opt("--timeout", d.timeout)
    if queue is not None:
        opt("--queue", queue)
    for key, value in d.parameters.items():
        opt("--param", f"{key}={value}")
    if d.user is not None:
        opt("--user", d.user)
    if d.shared_memory_size is not None:
        opt("--shm-size", d.shared_memory_size)
    if d.readonly_root_filesystem:
        opt("--read-only")
    if d.privileged:
        opt("--privileged")
    if cache:
        opt("--cache")
    script = d.script
    if script is not None:
        body = script
    else:
        opt("--argv")
        body = shlex.join(d.command)
    return " ".join(words) + "\n" + body


def cell_gaps(d: JobDefinition) -> list[str]:
    """The fields of ``d`` that :func:`to_job_cell`'s cell does not reproduce (empty when the
    cell registers an equal definition)."""
    try:
        line, _, body = to_job_cell(d).partition("\n")
        name, kwargs = parse_job_cell(line, body)
        again = JobDefinition.create(name, **kwargs)
    except (GrammarError, SpecError):
        return ["name"] if d.name.startswith("-") else ["(the whole definition)"]
    return [
        f.name
        for f in fields(JobDefinition)
        if f.name != "revision" and getattr(again, f.name) != getattr(d, f.name)
    ]


# ---------------------------------------------------------------------------------------------
# Definition errors in the grammar's words


_FIELD_OPTIONS = {
    "name": "NAME",
    "image": "--image",
    "command": "the cell body",
    "vcpus": "--vcpus",
    "memory": "--memory",
    "gpus": "--gpus",
    "environment": "--env",
    "volumes": "--volume",
    "mount_points": "--volume",
    "user": "--user",
    "privileged": "--privileged",
    "readonly_root_filesystem": "--read-only",
    "shared_memory_size": "--shm-size",
    "parameters": "--param",
    "retries": "--retries",
    "attempts": "--retries",
    "retry_strategy": "--retries",
    "timeout": "--timeout",
    "depends_on": "--depends-on",
    "array_size": "--array",
    "array_dependency": "--array-dependency",
    "vcpus/memory/gpus": "--vcpus/--memory/--gpus",
}


def option_for_field(name: str) -> str | None:
    """The cell option that sets a definition field (``environment.X`` → ``--env``), if any."""
    if name.startswith("retry_strategy.evaluate_on_exit"):
        return "--retry-on/--exit-on"
    if name.startswith("retry_strategy.attempts"):
        return "--retries"
    head = re.split(r"[.\[]", name, maxsplit=1)[0]
    return _FIELD_OPTIONS.get(head)


def describe_spec_error(exc: SpecError) -> str:
    """A :class:`SpecError` about a job cell, each problem led by the option that set it."""
    lines = []
    for problem in exc.errors:
        option = option_for_field(problem.field)
        if option is None:
            lines.append(str(problem))
        elif re.fullmatch(r"[a-z_/]+", problem.field):
            lines.append(f"{option}: {problem.message}")
        else:
            lines.append(f"{option} ({problem.field}): {problem.message}")
    head = f"{exc.context}: " if exc.context else ""
    if len(lines) == 1:
        return head + lines[0]
    return head + f"{len(lines)} problems:\n" + "\n".join("  - " + s for s in lines)

"""Job definitions: what a job runs and with what resources, in AWS Batch's model.

A :class:`JobDefinition` is a frozen, validated value. Building one that breaks a rule raises a
single :class:`~kadam_nb.errors.SpecError` that lists *every* broken rule, each as a
:class:`~kadam_nb.errors.FieldError` whose ``field`` is the keyword name (dotted and indexed for
nested values: ``environment.AWS_BATCH_X``, ``mount_points[0].source_volume``,
``retry_strategy.evaluate_on_exit[2].on_exit_code``), so a form or a magic can point at the
exact input to fix.

Two front doors:

* the dataclass constructor is strict: it takes the canonical types (tuples, :class:`FrozenMap`,
  MiB and seconds as ints) and only normalizes harmless spellings (a list for a tuple, a dict
  for a :class:`FrozenMap`, an int for a float, the case of ``array_dependency``);
* :meth:`JobDefinition.create` is lenient, for people: a shell script for ``command``, ``"2g"``
  for ``memory``, ``"1h30m"`` for ``timeout``, ``"/host:/container:ro"`` for ``volumes``, AWS-
  shaped dicts for ``retry_strategy``/``ulimits``/``log_configuration``, and so on.

:mod:`kadam_nb.core.aws` converts to and from AWS's ``RegisterJobDefinition`` JSON.

Standard library only, no I/O.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import inspect
import json
import math
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from fractions import Fraction
from itertools import compress
from operator import is_not
from typing import Any

from ..errors import FieldError, SpecError
from .secrets import mask_environment

__all__ = [
    "ARRAY_DEPENDENCY_TYPES",
    "SHELL",
    "ULIMIT_NAMES",
    "EvaluateOnExit",
    "FrozenMap",
    "JobDefinition",
    "LogConfiguration",
    "MountPoint",
    "RetryStrategy",
    "Ulimit",
    "Volume",
    "parse_duration",
    "parse_memory",
]

ARRAY_DEPENDENCY_TYPES = ("N_TO_N", "SEQUENTIAL")
"""How the children of an array job depend on each other or on another array (AWS's dependsOn
types): ``N_TO_N`` (child *i* waits for child *i* of each dependency) or ``SEQUENTIAL`` (child
*i* waits for child *i - 1*)."""

SHELL = ("/bin/sh", "-c")
"""A script command is stored as ``SHELL + (script,)``; AWS sees the same three strings."""

ULIMIT_NAMES = frozenset(
    {
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    }
)
"""The ulimit names AWS Batch (and Docker) accept."""

_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_VOLUME_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_]+")
_EXIT_CODE_PATTERN = re.compile(r"[0-9]*\*?")
_REASON_PATTERN = re.compile(r"[A-Za-z0-9.: \t]*\*?")
_PATTERN_MAX = 512

_NAME_RULE = "1-128 characters, each a letter, digit, '-' or '_' (e.g. 'clean-data_2')"


# ---------------------------------------------------------------------------------------------
# Small helpers


def _at(path: str, name: str) -> str:
    """``path.name``, or ``name`` at the top."""
    return f"{path}.{name}" if path else name


def _type_name(value: object) -> str:
    return type(value).__name__


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _suggest(key: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or ``""``."""
    names = list(candidates)
    matches = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in names}
        if key.lower() in lowered:
            matches = [lowered[key.lower()]]
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _prefixed(errors: Iterable[FieldError], path: str) -> list[FieldError]:
    return [FieldError(_at(path, e.field), e.message) for e in errors]


def _raise_if(problems: list[FieldError], context: str) -> None:
    if problems:
        raise SpecError(problems, context)


def _context(name: object) -> str:
    return f"job definition {name!r}" if isinstance(name, str) and name else "job definition"


# ---------------------------------------------------------------------------------------------
# FrozenMap


class FrozenMap(Mapping[str, str]):
    """An immutable, hashable, picklable ``Mapping[str, str]`` (environment, parameters, tags).

    It keeps insertion order (for display and export) but compares like a dict: equal to any
    mapping with the same items. Its repr is the dict's.
    """

    __slots__ = ("_data", "_hash")

    _data: dict[str, str]
    _hash: int | None

    def __init__(
        self, data: Mapping[str, str] | Iterable[tuple[str, str]] = (), /, **kwargs: str
    ) -> None:
        items = dict(data)
        items.update(kwargs)
        object.__setattr__(self, "_data", items)
        object.__setattr__(self, "_hash", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("FrozenMap is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("FrozenMap is immutable")

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            object.__setattr__(self, "_hash", hash(frozenset(self._data.items())))
        assert self._hash is not None
        return self._hash

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[type[FrozenMap], tuple[dict[str, str]]]:
        return (FrozenMap, (dict(self._data),))


_EMPTY = FrozenMap()


# ---------------------------------------------------------------------------------------------
# Memory and durations


_MEMORY_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*")
_MEMORY_UNITS: dict[str, Fraction] = {
    "": Fraction(1),
    "m": Fraction(1),
    "mb": Fraction(1),
    "mib": Fraction(1),
    "k": Fraction(1, 1024),
    "kb": Fraction(1, 1024),
    "kib": Fraction(1, 1024),
    "g": Fraction(1024),
    "gb": Fraction(1024),
    "gib": Fraction(1024),
    "t": Fraction(1024**2),
    "tb": Fraction(1024**2),
    "tib": Fraction(1024**2),
}
_MEMORY_HELP = (
    "must be a whole number of MiB: an integer (MiB) or a string like "
    "'512', '512m', '512MiB', '2g', '2GiB', '1.5g' (= 1536), '1t'"
)


def parse_memory(value: object, field: str = "memory") -> int:
    """Memory in MiB, from an int (MiB) or a string with an optional binary unit.

    Units are case-insensitive and binary, as Docker's are: ``m``/``mb``/``mib`` = MiB,
    ``g``/``gb``/``gib`` = GiB, ``t`` = TiB, ``k`` = KiB. The result must be a whole, non-negative
    number of MiB; otherwise :class:`SpecError` naming ``field``.
    """
    amount: Fraction
    if _is_int(value):
        assert isinstance(value, int)
        amount = Fraction(value)
    elif isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise SpecError(FieldError(field, f"{_MEMORY_HELP}; got {value!r}"))
        amount = Fraction(value)
    elif isinstance(value, str):
        m = _MEMORY_RE.fullmatch(value)
        unit = m.group(2).lower() if m else ""
        if m is None or unit not in _MEMORY_UNITS:
            raise SpecError(FieldError(field, f"{_MEMORY_HELP}; got {value!r}"))
        amount = Fraction(m.group(1)) * _MEMORY_UNITS[unit]
    else:
        raise SpecError(FieldError(field, f"{_MEMORY_HELP}; got {_type_name(value)}"))
    if amount < 0:
        raise SpecError(FieldError(field, f"must not be negative; {_MEMORY_HELP}; got {value!r}"))
    if amount.denominator != 1:
        raise SpecError(
            FieldError(
                field,
                f"must come to a whole number of MiB, but {value!r} is {float(amount):g} MiB; "
                + _MEMORY_HELP,
            )
        )
    return int(amount)


_DURATION_PART = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([dhms])", re.IGNORECASE)
_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_HELP = (
    "must be a whole number of seconds > 0: an integer (seconds) or a string like "
    "'90', '90s', '10m', '2h', '1h30m'"
)


def parse_duration(value: object, field: str = "timeout") -> int:
    """A duration in whole seconds (> 0), from an int (seconds) or a string like ``"1h30m"``.

    String parts are a number followed by ``d``, ``h``, ``m`` or ``s`` (case-insensitive); a bare
    number is seconds. Anything else, zero, or a fraction of a second: :class:`SpecError`.
    """
    total: Fraction
    if _is_int(value):
        assert isinstance(value, int)
        total = Fraction(value)
    elif isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise SpecError(FieldError(field, f"{_DURATION_HELP}; got {value!r}"))
        total = Fraction(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[0-9]+", text):
            total = Fraction(int(text))
        else:
            total = Fraction(0)
            pos = 0
            for m in _DURATION_PART.finditer(text):
                if m.start() != pos:
                    break
                total += Fraction(m.group(1)) * _DURATION_UNITS[m.group(2).lower()]
                pos = m.end()
            if pos == 0 or pos != len(text):
                raise SpecError(FieldError(field, f"{_DURATION_HELP}; got {value!r}"))
    else:
        raise SpecError(FieldError(field, f"{_DURATION_HELP}; got {_type_name(value)}"))
    if total.denominator != 1 or total <= 0:
        raise SpecError(FieldError(field, f"{_DURATION_HELP}; got {value!r}"))
    return int(total)


# ---------------------------------------------------------------------------------------------
# Parts of a definition


def _is_abs_container_path(path: object) -> bool:
    return isinstance(path, str) and path.startswith("/") and "\0" not in path


def _is_abs_host_path(path: object) -> bool:
    """POSIX absolute, or a Windows drive (``C:\\data``) or UNC (``\\\\server\\share``) path."""
    if not isinstance(path, str) or "\0" in path:
        return False
    return path.startswith(("/", "\\\\")) or bool(re.match(r"[A-Za-z]:[\\/]", path))


@dataclass(frozen=True)
class Volume:
    """A named volume: a host directory (``host_path``), or without one a volume the container
    engine creates. A :class:`MountPoint` makes it visible inside the container."""

    name: str
    host_path: str | None = None

    def __post_init__(self) -> None:
        _raise_if(self._problems(""), "volume")

    def _problems(self, path: str) -> list[FieldError]:
        out = []
        if not isinstance(self.name, str) or not _VOLUME_NAME.fullmatch(self.name):
            out.append(
                FieldError(
                    _at(path, "name"),
                    "volume names must be 1-255 letters, digits, '-' or '_' (e.g. 'data')",
                )
            )
        if self.host_path is not None and not _is_abs_host_path(self.host_path):
            out.append(
                FieldError(
                    _at(path, "host_path"),
                    "must be an absolute host path (e.g. '/srv/data'), or None for a volume "
                    "the engine creates",
                )
            )
        return out


@dataclass(frozen=True)
class MountPoint:
    """Where a declared :class:`Volume` appears inside the container."""

    source_volume: str
    container_path: str
    read_only: bool = False

    def __post_init__(self) -> None:
        _raise_if(self._problems(""), "mount point")

    def _problems(self, path: str) -> list[FieldError]:
        out = []
        if not isinstance(self.source_volume, str) or not self.source_volume:
            out.append(
                FieldError(_at(path, "source_volume"), "must be the name of a declared volume")
            )
        if not _is_abs_container_path(self.container_path):
            out.append(
                FieldError(
                    _at(path, "container_path"),
                    "must be an absolute path inside the container (e.g. '/data')",
                )
            )
        if not isinstance(self.read_only, bool):
            out.append(FieldError(_at(path, "read_only"), "must be True or False"))
        return out


@dataclass(frozen=True)
class Ulimit:
    """A resource limit for the container's processes (``ulimit -n`` and friends)."""

    name: str
    soft: int
    hard: int

    def __post_init__(self) -> None:
        _raise_if(self._problems(""), "ulimit")

    def _problems(self, path: str) -> list[FieldError]:
        out = []
        if self.name not in ULIMIT_NAMES:
            out.append(
                FieldError(
                    _at(path, "name"),
                    f"unknown ulimit {self.name!r}; allowed: {', '.join(sorted(ULIMIT_NAMES))}",
                )
            )
        ok = True
        for attr in ("soft", "hard"):
            value = getattr(self, attr)
            if not _is_int(value) or value < 0:
                ok = False
                out.append(FieldError(_at(path, attr), "must be a whole number >= 0"))
        if ok and self.soft > self.hard:
            out.append(
                FieldError(
                    _at(path, "soft"),
                    f"the soft limit must be <= the hard limit (soft {self.soft} > "
                    f"hard {self.hard})",
                )
            )
        return out


@dataclass(frozen=True)
class LogConfiguration:
    """AWS's log driver settings. Kept and exported; locally kadam captures logs itself.

    ``secret_options`` holds ``(name, value_from)`` pairs (AWS's ``secretOptions``).
    """

    log_driver: str
    options: FrozenMap = _EMPTY
    secret_options: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.options, Mapping) and not isinstance(self.options, FrozenMap):
            object.__setattr__(self, "options", FrozenMap(self.options))
        if isinstance(self.secret_options, list):
            object.__setattr__(self, "secret_options", tuple(self.secret_options))
        if isinstance(self.secret_options, tuple):
            object.__setattr__(
                self,
                "secret_options",
                tuple(tuple(p) if isinstance(p, list) else p for p in self.secret_options),
            )
        _raise_if(self._problems(""), "log configuration")

    def _problems(self, path: str) -> list[FieldError]:
        out = []
        if (
            not isinstance(self.log_driver, str)
            or not self.log_driver
            or any(c.isspace() for c in self.log_driver)
        ):
            out.append(
                FieldError(
                    _at(path, "log_driver"),
                    "must be a log driver name without spaces (e.g. 'awslogs', 'json-file')",
                )
            )
        out += _string_map_problems(self.options, _at(path, "options"), "option")
        if not isinstance(self.secret_options, tuple):
            out.append(
                FieldError(_at(path, "secret_options"), "must be a tuple of (name, value_from)")
            )
        else:
            for i, pair in enumerate(self.secret_options):
                if not (
                    isinstance(pair, tuple)
                    and len(pair) == 2
                    and all(isinstance(s, str) and s for s in pair)
                ):
                    out.append(
                        FieldError(
                            f"{_at(path, 'secret_options')}[{i}]",
                            "must be a (name, value_from) pair of non-empty strings",
                        )
                    )
        return out


def _glob_match(pattern: str, text: str) -> bool:
    """AWS's evaluateOnExit glob: a trailing ``*`` matches any suffix; otherwise exact."""
    if pattern.endswith("*"):
        return text.startswith(pattern[:-1])
    return text == pattern


@dataclass(frozen=True)
class EvaluateOnExit:
    """One retry rule: if every condition that is set matches, take ``action`` (RETRY or EXIT).

    Conditions are AWS globs (a trailing ``*`` is a prefix match, otherwise exact): the exit
    code's decimal text, the attempt's ``reason`` and its ``statusReason``.
    """

    action: str
    on_exit_code: str | None = None
    on_reason: str | None = None
    on_status_reason: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.action, str):
            object.__setattr__(self, "action", self.action.strip().upper())
        _raise_if(self._problems(""), "evaluateOnExit rule")

    def _problems(self, path: str) -> list[FieldError]:
        out = []
        if self.action not in ("RETRY", "EXIT"):
            out.append(FieldError(_at(path, "action"), "must be RETRY or EXIT (any case)"))
        if self.on_exit_code is not None and not (
            isinstance(self.on_exit_code, str)
            and 0 < len(self.on_exit_code) <= _PATTERN_MAX
            and _EXIT_CODE_PATTERN.fullmatch(self.on_exit_code)
        ):
            out.append(
                FieldError(
                    _at(path, "on_exit_code"),
                    "must be digits with an optional trailing '*' (e.g. '137', '1*', '*'), "
                    f"1-{_PATTERN_MAX} characters",
                )
            )
        for attr in ("on_reason", "on_status_reason"):
            value = getattr(self, attr)
            if value is not None and not (
                isinstance(value, str)
                and 0 < len(value) <= _PATTERN_MAX
                and _REASON_PATTERN.fullmatch(value)
            ):
                out.append(
                    FieldError(
                        _at(path, attr),
                        "may contain only letters, digits, '.', ':', spaces and tabs, with an "
                        "optional trailing '*' (e.g. 'CannotPullContainerError*'), "
                        f"1-{_PATTERN_MAX} characters",
                    )
                )
        return out

    def matches(self, exit_code: int | None, reason: str | None, status_reason: str | None) -> bool:
        """Whether every condition that is set matches (AWS semantics).

        ``None`` reasons are matched as ``""`` (so ``"*"`` matches them); a ``None`` exit code
        (the container never exited normally) never matches an ``on_exit_code`` condition.
        A rule with no condition matches everything.
        """
        if self.on_exit_code is not None and (
            exit_code is None or not _glob_match(self.on_exit_code, str(exit_code))
        ):
            return False
        if self.on_reason is not None and not _glob_match(self.on_reason, reason or ""):
            return False
        return self.on_status_reason is None or _glob_match(
            self.on_status_reason, status_reason or ""
        )


@dataclass(frozen=True)
class RetryStrategy:
    """How many attempts a job gets (``attempts``, 1-10, total: 1 runs once) and the rules that
    decide, after a failed attempt, whether to retry or give up."""

    attempts: int = 1
    evaluate_on_exit: tuple[EvaluateOnExit, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.evaluate_on_exit, list):
            object.__setattr__(self, "evaluate_on_exit", tuple(self.evaluate_on_exit))
        _raise_if(self._problems(""), "retry strategy")

    def _problems(self, path: str) -> list[FieldError]:
        out = []
        if not _is_int(self.attempts) or not 1 <= self.attempts <= 10:
            out.append(
                FieldError(
                    _at(path, "attempts"),
                    "must be a whole number of attempts from 1 to 10 (total attempts; 1 runs once)",
                )
            )
        rules = self.evaluate_on_exit
        where = _at(path, "evaluate_on_exit")
        if not isinstance(rules, tuple):
            out.append(FieldError(where, "must be a tuple of EvaluateOnExit rules"))
            return out
        if len(rules) > 5:
            out.append(FieldError(where, f"at most 5 rules (AWS Batch's limit); got {len(rules)}"))
        for i, rule in enumerate(rules):
            if isinstance(rule, EvaluateOnExit):
                out += rule._problems(f"{where}[{i}]")
            else:
                out.append(FieldError(f"{where}[{i}]", "must be an EvaluateOnExit rule"))
        return out

    def action_for(
        self, exit_code: int | None, reason: str | None, status_reason: str | None
    ) -> str:
        """``"RETRY"`` or ``"EXIT"``: the first matching rule's action; no match retries (AWS).

        It does not count attempts: whether any remain is the caller's question.
        """
        for rule in self.evaluate_on_exit:
            if rule.matches(exit_code, reason, status_reason):
                return rule.action
        return "RETRY"


_DEFAULT_RETRY = RetryStrategy()


# ---------------------------------------------------------------------------------------------
# Validation of a whole definition


def _string_map_problems(value: object, path: str, what: str) -> list[FieldError]:
    """Every key and value of a mapping is a string (keys named by the caller's rules)."""
    if not isinstance(value, Mapping):
        return [FieldError(path, f"must be a mapping of {what} names to string values")]
    out = []
    for key, item in value.items():
        if not isinstance(key, str):
            out.append(FieldError(f"{path}.{key}", f"{what} names must be strings"))
        elif not isinstance(item, str):
            out.append(
                FieldError(f"{path}.{key}", f"values must be strings (got {_type_name(item)})")
            )
    return out


def _check_optional_text(v: Mapping[str, Any], name: str, what: str) -> list[FieldError]:
    value = v[name]
    if value is None or (isinstance(value, str) and value and "\0" not in value):
        return []
    return [FieldError(name, f"must be {what}, or None")]


_Live = Callable[..., bool]


def _check_name(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    if live("name") and not (isinstance(v["name"], str) and _NAME.fullmatch(v["name"])):
        return [FieldError("name", f"must be {_NAME_RULE}")]
    return []


def _check_image(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    image = v["image"]
    if not live("image") or image is None:
        return []
    if isinstance(image, str) and image and not any(c.isspace() for c in image):
        return []
    return [
        FieldError(
            "image",
            "must be a non-empty image reference without spaces (e.g. 'busybox:1.36'), "
            "or None for no image",
        )
    ]


def _check_command(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    command = v["command"]
    if not live("command"):
        return []
    if not isinstance(command, tuple):
        return [FieldError("command", "must be a tuple of strings (the argv)")]
    out = []
    for i, arg in enumerate(command):
        if not isinstance(arg, str):
            out.append(FieldError(f"command[{i}]", "must be a string"))
        elif "\0" in arg:
            out.append(FieldError(f"command[{i}]", "must not contain NUL characters"))
    return out


def _check_resources(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    out = []
    vcpus = v["vcpus"]
    if live("vcpus") and not (isinstance(vcpus, float) and math.isfinite(vcpus) and vcpus > 0):
        out.append(FieldError("vcpus", "must be a number of vCPUs > 0 (e.g. 1, 2, 0.5)"))
    if live("memory") and not (_is_int(v["memory"]) and v["memory"] >= 4):
        out.append(
            FieldError("memory", "must be a whole number of MiB >= 4 (the hard limit; e.g. 2048)")
        )
    if live("gpus") and not (_is_int(v["gpus"]) and v["gpus"] >= 0):
        out.append(FieldError("gpus", "must be a whole number of GPUs >= 0"))
    shm = v["shared_memory_size"]
    if live("shared_memory_size") and shm is not None and not (_is_int(shm) and shm > 0):
        out.append(
            FieldError(
                "shared_memory_size",
                "must be a whole number of MiB > 0 (the size of /dev/shm), or None for the "
                "engine's default",
            )
        )
    return out


def _env_name_problem(key: str) -> str | None:
    if not _ENV_NAME.fullmatch(key):
        return (
            "variable names must be letters, digits and '_', not starting with a digit "
            "([A-Za-z_][A-Za-z0-9_]*)"
        )
    if key.startswith("AWS_BATCH_"):
        return (
            "reserved: AWS Batch sets these in every job (AWS_BATCH_JOB_ID, "
            "AWS_BATCH_JOB_ATTEMPT, ...); choose a name that does not start with AWS_BATCH_"
        )
    if key == "KADAM_WORK":
        return "reserved: kadam sets KADAM_WORK to the run's shared work directory"
    return None


def _check_environment(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    env = v["environment"]
    if not live("environment"):
        return []
    out = _string_map_problems(env, "environment", "variable")
    if isinstance(env, Mapping):
        for key, value in env.items():
            if not isinstance(key, str):
                continue
            problem = _env_name_problem(key)
            if problem:
                out.append(FieldError(f"environment.{key}", problem))
            if isinstance(value, str) and "\0" in value:
                out.append(FieldError(f"environment.{key}", "values must not contain NUL"))
    return out


def _declared_volumes(v: Mapping[str, Any], live: _Live) -> set[str] | None:
    """The declared volume names, or None if they cannot be known (volumes broken)."""
    volumes = v["volumes"]
    if not live("volumes") or not isinstance(volumes, tuple):
        return None
    if not all(isinstance(vol, Volume) and isinstance(vol.name, str) for vol in volumes):
        return None
    return {vol.name for vol in volumes}


def _check_volumes(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    volumes = v["volumes"]
    if not live("volumes"):
        return []
    if not isinstance(volumes, tuple):
        return [FieldError("volumes", "must be a tuple of Volume")]
    out = []
    seen: set[object] = set()
    for i, vol in enumerate(volumes):
        if not isinstance(vol, Volume):
            out.append(FieldError(f"volumes[{i}]", "must be a Volume(name, host_path)"))
            continue
        out += vol._problems(f"volumes[{i}]")
        if isinstance(vol.name, str) and vol.name in seen:
            out.append(
                FieldError(
                    f"volumes[{i}].name",
                    f"duplicate volume name {vol.name!r}: volume names must be unique",
                )
            )
        seen.add(vol.name if isinstance(vol.name, str) else None)
    return out


def _check_mount_points(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    mounts = v["mount_points"]
    if not live("mount_points"):
        return []
    if not isinstance(mounts, tuple):
        return [FieldError("mount_points", "must be a tuple of MountPoint")]
    declared = _declared_volumes(v, live)
    out = []
    seen_paths: set[str] = set()
    for i, mp in enumerate(mounts):
        where = f"mount_points[{i}]"
        if not isinstance(mp, MountPoint):
            out.append(FieldError(where, "must be a MountPoint(source_volume, container_path)"))
            continue
        out += mp._problems(where)
        source = mp.source_volume
        if declared is not None and isinstance(source, str) and source and source not in declared:
            names = ", ".join(sorted(declared)) or "none"
            out.append(
                FieldError(
                    f"{where}.source_volume",
                    f"names no declared volume ({source!r}); a mount point must name one of "
                    f"the volumes (declared: {names})",
                )
            )
        if _is_abs_container_path(mp.container_path):
            path = posixpath.normpath(mp.container_path)
            if path in seen_paths:
                out.append(
                    FieldError(
                        f"{where}.container_path",
                        f"duplicate container path {mp.container_path!r}: each path can be "
                        "mounted only once",
                    )
                )
            seen_paths.add(path)
    return out


def _check_container_options(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    out = []
    if live("user"):
        out += _check_optional_text(v, "user", "a non-empty user name or uid (e.g. 'nobody')")
    for flag in ("privileged", "readonly_root_filesystem"):
        if live(flag) and not isinstance(v[flag], bool):
            out.append(FieldError(flag, "must be True or False"))
    for arn in ("job_role_arn", "execution_role_arn"):
        if live(arn):
            out += _check_optional_text(v, arn, "a non-empty IAM role ARN")
    log = v["log_configuration"]
    if live("log_configuration"):
        if isinstance(log, LogConfiguration):
            out += log._problems("log_configuration")
        elif log is not None:
            out.append(FieldError("log_configuration", "must be a LogConfiguration, or None"))
    return out


def _check_ulimits(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    ulimits = v["ulimits"]
    if not live("ulimits"):
        return []
    if not isinstance(ulimits, tuple):
        return [FieldError("ulimits", "must be a tuple of Ulimit")]
    out = []
    seen: set[object] = set()
    for i, ul in enumerate(ulimits):
        if not isinstance(ul, Ulimit):
            out.append(FieldError(f"ulimits[{i}]", "must be an Ulimit(name, soft, hard)"))
            continue
        out += ul._problems(f"ulimits[{i}]")
        if ul.name in ULIMIT_NAMES and ul.name in seen:
            out.append(
                FieldError(
                    f"ulimits[{i}].name", f"duplicate ulimit {ul.name!r}: give each limit once"
                )
            )
        seen.add(ul.name if isinstance(ul.name, str) else None)
    return out


def _check_parameters(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    params = v["parameters"]
    if not live("parameters"):
        return []
    out = _string_map_problems(params, "parameters", "parameter")
    if isinstance(params, Mapping):
        for key in params:
            if isinstance(key, str) and not _PARAMETER_NAME.fullmatch(key):
                out.append(
                    FieldError(
                        f"parameters.{key}",
                        "parameter names must be letters, digits and '_' (they are referenced "
                        "as Ref::name in the command)",
                    )
                )
    return out


def _check_retry_and_timeout(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    out = []
    rs = v["retry_strategy"]
    if live("retry_strategy"):
        if isinstance(rs, RetryStrategy):
            out += rs._problems("retry_strategy")
        else:
            out.append(FieldError("retry_strategy", "must be a RetryStrategy"))
    timeout = v["timeout"]
    if live("timeout") and timeout is not None and not (_is_int(timeout) and timeout >= 1):
        out.append(
            FieldError(
                "timeout",
                "must be a whole number of seconds >= 1 (e.g. 3600), or None for no timeout",
            )
        )
    return out


def _check_tags(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    tags = v["tags"]
    if not live("tags"):
        return []
    out = _string_map_problems(tags, "tags", "tag")
    if isinstance(tags, Mapping):
        for key, value in tags.items():
            if not isinstance(key, str):
                continue
            if not 1 <= len(key) <= 128:
                out.append(FieldError(f"tags.{key}", "tag keys must be 1-128 characters"))
            elif key.lower().startswith("aws:"):
                out.append(
                    FieldError(f"tags.{key}", "tag keys must not start with 'aws:' (reserved)")
                )
            if isinstance(value, str) and len(value) > 256:
                out.append(FieldError(f"tags.{key}", "tag values must be at most 256 characters"))
    return out


def _check_depends_on(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    deps = v["depends_on"]
    if not live("depends_on"):
        return []
    if not isinstance(deps, tuple):
        return [FieldError("depends_on", "must be a tuple of job definition names")]
    out = []
    if len(deps) > 20:
        out.append(
            FieldError(
                "depends_on", f"at most 20 dependencies (AWS Batch's limit); got {len(deps)}"
            )
        )
    own = v["name"] if live("name") else None
    seen: set[str] = set()
    for i, dep in enumerate(deps):
        where = f"depends_on[{i}]"
        if not (isinstance(dep, str) and _NAME.fullmatch(dep)):
            out.append(FieldError(where, f"must be a job definition name: {_NAME_RULE}"))
            continue
        if dep in seen:
            out.append(FieldError(where, f"duplicate dependency {dep!r}"))
        if dep == own:
            out.append(FieldError(where, "a definition cannot depend on itself"))
        seen.add(dep)
    return out


def _check_array(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    out = []
    size = v["array_size"]
    if live("array_size") and size is not None and not (_is_int(size) and 2 <= size <= 10000):
        out.append(
            FieldError(
                "array_size",
                "must be a whole number from 2 to 10000 (AWS Batch's array sizes), or None for "
                "a single job",
            )
        )
    kind = v["array_dependency"]
    if live("array_dependency") and kind is not None:
        if kind not in ARRAY_DEPENDENCY_TYPES:
            out.append(FieldError("array_dependency", "must be N_TO_N or SEQUENTIAL, or None"))
        elif live("array_size") and size is None:
            out.append(
                FieldError(
                    "array_dependency",
                    "only applies to array jobs: set array_size too (or remove it)",
                )
            )
    return out


def _check_bookkeeping(v: Mapping[str, Any], live: _Live) -> list[FieldError]:
    out = []
    revision = v["revision"]
    if live("revision") and revision is not None and not (_is_int(revision) and revision >= 1):
        out.append(
            FieldError("revision", "must be a whole number >= 1 (set by the registry), or None")
        )
    extra = v["aws_extra"]
    if live("aws_extra") and not isinstance(_json_object(extra), dict):
        out.append(
            FieldError(
                "aws_extra",
                "must be the JSON text of an object (AWS fields kept for export), e.g. '{}'",
            )
        )
    return out


def _json_object(text: object) -> object:
    """``json.loads(text)`` if ``text`` is a string of valid JSON, else None."""
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


_Check = Callable[[Mapping[str, Any], _Live], list[FieldError]]
_CHECKS: tuple[tuple[_Check, tuple[str, ...]], ...] = (
    # each rule, and the fields that, left at their defaults, give it nothing to say
    (_check_name, ("name",)),
    (_check_image, ("image",)),
    (_check_command, ("command",)),
    (_check_resources, ("vcpus", "memory", "gpus", "shared_memory_size")),
    (_check_environment, ("environment",)),
    (_check_volumes, ("volumes",)),
    (_check_mount_points, ("mount_points",)),
    (
        _check_container_options,
        (
            "user",
            "privileged",
            "readonly_root_filesystem",
            "job_role_arn",
            "execution_role_arn",
            "log_configuration",
        ),
    ),
    (_check_ulimits, ("ulimits",)),
    (_check_parameters, ("parameters",)),
    (_check_retry_and_timeout, ("retry_strategy", "timeout")),
    (_check_tags, ("tags",)),
    (_check_depends_on, ("depends_on",)),
    (_check_array, ("array_size", "array_dependency")),
    (_check_bookkeeping, ("revision", "aws_extra")),
)


def _definition_problems(v: Mapping[str, Any], skip: Collection[str] = ()) -> list[FieldError]:
    """Every broken rule of a definition's (normalized) field values. Fields in ``skip`` (they
    already failed to parse) and the cross-field checks that involve them are left out."""

    def live(*names: str) -> bool:
        return not any(n in skip for n in names)

    if not skip:
        live = _every_field_parsed
    out: list[FieldError] = []
    for check, _ in _CHECKS:
        out += check(v, live)
    return out


_MISSING = object()


def _every_field_parsed(*names: str) -> bool:
    return True


def _problems_of_given(values: Mapping[str, Any], given: Iterable[str]) -> list[FieldError]:
    """:func:`_definition_problems` of a definition whose fields other than ``given`` hold
    their defaults: only the rules about the given fields run (in the usual order)."""
    indexes = sorted({i for name in given for i in _CHECKS_BY_FIELD.get(name, ())})
    out: list[FieldError] = []
    for i in indexes:
        out += _CHECKS[i][0](values, _every_field_parsed)
    return out


def _canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _normalize(values: Mapping[str, Any]) -> dict[str, Any]:
    """Harmless respellings of field values: list -> tuple, mapping -> FrozenMap, int -> float
    for vcpus, upper case for array_dependency, canonical JSON for aws_extra."""
    out = dict(values)
    for name, value in values.items():
        respell = _RESPELL.get(name)
        if respell is not None:
            out[name] = respell(value)
    return out


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _as_frozen_map(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, FrozenMap):
        return FrozenMap(value)
    return value


def _as_float(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**1000:
        return float(value)
    return value


def _as_upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _as_canonical_json(value: Any) -> Any:
    parsed = None if value == "{}" else _json_object(value)
    if isinstance(parsed, dict):
        with contextlib.suppress(ValueError):  # NaN/Infinity: refused by the check instead
            return _canonical_json(parsed)
    return value


_RESPELL: dict[str, Callable[[Any], Any]] = {
    "command": _as_tuple,
    "volumes": _as_tuple,
    "mount_points": _as_tuple,
    "ulimits": _as_tuple,
    "depends_on": _as_tuple,
    "environment": _as_frozen_map,
    "parameters": _as_frozen_map,
    "tags": _as_frozen_map,
    "vcpus": _as_float,
    "array_dependency": _as_upper,
    "aws_extra": _as_canonical_json,
}


def _plain(value: object) -> object:
    """A JSON-ready copy of a field value (dataclasses as dicts, tuples as lists)."""
    if isinstance(value, FrozenMap):
        return dict(value)
    if isinstance(value, tuple):
        return [_plain(x) for x in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


# ---------------------------------------------------------------------------------------------
# The job definition


@dataclass(frozen=True)
class JobDefinition:
    """What a job runs and with what: AWS Batch's job definition (single container), plus
    kadam's own ``depends_on``/``array_size``/``array_dependency`` for notebook pipelines.

    ``memory`` and ``shared_memory_size`` are MiB, ``timeout`` seconds, ``retry_strategy``
    counts total attempts. ``revision`` is set by the registry (1, then +1 per re-register);
    ``aws_extra`` holds, as canonical JSON, the AWS fields kadam keeps for export but that have
    no local effect. Construction validates everything and raises one :class:`SpecError`
    listing every broken rule; :meth:`create` is the lenient front door.
    """

    name: str
    image: str | None = None
    command: tuple[str, ...] = ()
    vcpus: float = 1.0
    memory: int = 2048
    gpus: int = 0
    environment: FrozenMap = _EMPTY
    volumes: tuple[Volume, ...] = ()
    mount_points: tuple[MountPoint, ...] = ()
    user: str | None = None
    privileged: bool = False
    readonly_root_filesystem: bool = False
    shared_memory_size: int | None = None
    ulimits: tuple[Ulimit, ...] = ()
    parameters: FrozenMap = _EMPTY
    retry_strategy: RetryStrategy = _DEFAULT_RETRY
    timeout: int | None = None
    tags: FrozenMap = _EMPTY
    job_role_arn: str | None = None
    execution_role_arn: str | None = None
    log_configuration: LogConfiguration | None = None
    depends_on: tuple[str, ...] = ()
    array_size: int | None = None
    array_dependency: str | None = None
    revision: int | None = None
    aws_extra: str = "{}"

    def __post_init__(self) -> None:
        # Only fields that are not their (valid) default objects need normalizing and checking:
        # most definitions set a handful of fields, and 10,000 of them validate in ~0.1 s.
        fields_now = self.__dict__  # a frozen dataclass: written here once, never after
        defaults = _RULE_DEFAULTS
        given = {k: v for k, v in fields_now.items() if v is not defaults.get(k, _MISSING)}
        fields_now.update(_normalize(given))
        _raise_if(_problems_of_given(fields_now, given), _context(self.name))

    @classmethod
    def _from_given(cls, values: Mapping[str, Any], given: Collection[str]) -> JobDefinition:
        """Build from every field's value where only ``given`` fields may differ from the
        defaults (create()'s path): the same respellings and rules as construction, run on
        those fields alone."""
        self = object.__new__(cls)
        fields_now = self.__dict__
        fields_now.update(values)
        picked = {name: values[name] for name in given}
        fields_now.update(_normalize(picked))
        _raise_if(_problems_of_given(fields_now, given), _context(self.name))
        return self

    # -- lenient construction ------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        *,
        image: str | None = None,
        command: str | Iterable[str] | None = None,
        vcpus: float | str = 1,
        memory: int | str = 2048,
        gpus: int | str = 0,
        environment: Mapping[str, Any] | Iterable[Any] | None = None,
        volumes: Iterable[Any] = (),
        mount_points: Iterable[Any] = (),
        user: str | None = None,
        privileged: bool | str = False,
        readonly_root_filesystem: bool | str = False,
        shared_memory_size: int | str | None = None,
        ulimits: Iterable[Any] = (),
        parameters: Mapping[str, Any] | Iterable[Any] | None = None,
        retries: int | str | None = None,
        attempts: int | str | None = None,
        retry_strategy: RetryStrategy | Mapping[str, Any] | None = None,
        timeout: int | str | None = None,
        tags: Mapping[str, Any] | Iterable[Any] | None = None,
        job_role_arn: str | None = None,
        execution_role_arn: str | None = None,
        log_configuration: LogConfiguration | Mapping[str, Any] | str | None = None,
        depends_on: str | Iterable[str] | None = (),
        array_size: int | str | None = None,
        array_dependency: str | None = None,
    ) -> JobDefinition:
        """Build a definition from the forms people type (the Python API, magics, forms).

        * ``command``: a ``str`` is a shell script (run as ``/bin/sh -c script``; a blank one
          means no command: the image's own); a list or tuple is the argv (numbers are turned
          into strings).
        * ``memory``, ``shared_memory_size``: anything :func:`parse_memory` takes (``"2g"``).
        * ``timeout``: anything :func:`parse_duration` takes (``"1h30m"``).
        * ``environment``, ``parameters``, ``tags``: a dict, or a list of ``"K=V"`` strings,
          ``(k, v)`` pairs or AWS ``{"name", "value"}`` dicts; numbers become strings.
        * ``volumes``: :class:`Volume` objects, AWS-shaped dicts (``{"name", "host":
          {"sourcePath"}}``), or Docker-style strings ``"HOST:CONTAINER"``,
          ``"HOST:CONTAINER:ro"`` or ``"CONTAINER"`` (an engine-managed volume) that create a
          volume named ``vol0``, ``vol1``, ... and its mount point.
        * ``mount_points``: :class:`MountPoint` objects or dicts (AWS or keyword spelling).
        * ``ulimits``: :class:`Ulimit` objects, dicts ``{"name", "soft", "hard"}`` or AWS's
          ``{"name", "softLimit", "hardLimit"}``, or strings ``"nofile=1024:4096"``.
        * ``retries`` and ``attempts`` are the same number, AWS's ``retryStrategy.attempts``
          (total attempts; 1 runs once): give at most one. ``retry_strategy`` takes a
          :class:`RetryStrategy` or an AWS-shaped dict ``{"attempts": 3, "evaluateOnExit":
          [{"onExitCode": "3", "action": "RETRY"}]}``.
        * ``log_configuration``: a :class:`LogConfiguration`, an AWS-shaped dict or a driver
          name.
        * ``depends_on``: a list of names or one string ``"a,b"`` / ``"a b"``.
        * ``array_dependency``: ``"n_to_n"``, ``"sequential"`` in any case.
        * optional strings (``image``, ``user``, role ARNs) that are empty mean "not set".

        Every problem, in parsing or in the rules, is collected into one :class:`SpecError`.
        """
        values = (
            image,
            command,
            vcpus,
            memory,
            gpus,
            environment,
            volumes,
            mount_points,
            user,
            privileged,
            readonly_root_filesystem,
            shared_memory_size,
            ulimits,
            parameters,
            timeout,
            tags,
            job_role_arn,
            execution_role_arn,
            log_configuration,
            depends_on,
            array_size,
            array_dependency,
        )
        # An argument left at create()'s default parses to the field's default: only the
        # others are parsed (picked without a Python-level loop: 10,000 creates in ~0.1 s).
        given = dict(
            compress(
                zip(_CREATE_FIELDS, values, strict=True),
                map(is_not, values, _CREATE_FIELD_DEFAULTS),
            )
        )
        builder = _Builder(_defaults(), from_defaults=True)
        builder.apply({"name": name, **given})
        builder.apply_retry(retries, attempts, retry_strategy, base=None)
        return builder.finish(_context(name))

    def replace(self, **changes: Any) -> JobDefinition:
        """A copy with some fields changed, validated, accepting :meth:`create`'s lenient forms
        (``memory="4g"``, ``command="echo hi"``, ``attempts=3``, ...).

        ``retries``/``attempts`` change ``retry_strategy.attempts`` and keep its rules; volume
        strings like ``"/host:/data"`` add their mount points to ``mount_points``.
        """
        known = [f.name for f in fields(self)] + ["retries", "attempts"]
        unknown = [k for k in changes if k not in known]
        if unknown:
            raise SpecError(
                [FieldError(k, "not a JobDefinition field" + _suggest(k, known)) for k in unknown],
                _context(self.name),
            )
        builder = _Builder({f.name: getattr(self, f.name) for f in fields(self)})
        retry_keys = ("retries", "attempts", "retry_strategy")
        builder.apply({k: v for k, v in changes.items() if k not in retry_keys})
        if any(k in changes for k in retry_keys):
            builder.apply_retry(
                changes.get("retries"),
                changes.get("attempts"),
                changes.get("retry_strategy"),
                base=self.retry_strategy,
            )
        return builder.finish(_context(builder.values["name"]))

    # -- views ---------------------------------------------------------------------------------

    @property
    def script(self) -> str | None:
        """The shell script, if the command is ``/bin/sh -c SCRIPT``; else None."""
        if len(self.command) == 3 and self.command[:2] == SHELL:
            return self.command[2]
        return None

    @property
    def is_array(self) -> bool:
        """Whether a submission of this definition is an array job (``array_size`` is set)."""
        return self.array_size is not None

    def content_key(self) -> str:
        """Canonical JSON of every field but ``revision``: equal content, equal key.

        The registry compares keys to decide whether a re-register makes a new revision.
        """
        plain = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        del plain["revision"]
        plain["aws_extra"] = json.loads(self.aws_extra)
        return _canonical_json(plain)

    def __repr__(self) -> str:
        """The dataclass repr, but secret-looking environment and parameter values are shown
        as :data:`~kadam_nb.core.secrets.MASK`: a repr ends up in logs and tracebacks."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("environment", "parameters"):
                value = FrozenMap(mask_environment(value))
            parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- AWS JSON (see kadam_nb.core.aws) ------------------------------------------------------

    @classmethod
    def from_aws(cls, doc: Mapping[str, Any] | str | bytes, *, warn: bool = True) -> JobDefinition:
        """A definition from AWS ``RegisterJobDefinition`` JSON (a dict or its text); see
        :func:`kadam_nb.core.aws.definition_from_aws`."""
        from .aws import _definition_from_aws

        return _definition_from_aws(doc, stacklevel=3, warn=warn)

    def to_aws(self, extensions: bool = False) -> dict[str, Any]:
        """AWS ``RegisterJobDefinition`` JSON; see :func:`kadam_nb.core.aws.definition_to_aws`."""
        from .aws import definition_to_aws

        return definition_to_aws(self, extensions=extensions)


_FIELD_NAMES = tuple(f.name for f in fields(JobDefinition))
_DEFAULTS = {f.name: f.default for f in fields(JobDefinition) if f.name != "name"} | {"name": ""}
_RULE_DEFAULTS = {name: value for name, value in _DEFAULTS.items() if name != "name"}
"""The field defaults that break no rule (a name has none)."""
_CHECKS_BY_FIELD: dict[str, tuple[int, ...]] = {}
for _i, (_, _names) in enumerate(_CHECKS):
    for _name in _names:
        _CHECKS_BY_FIELD[_name] = (*_CHECKS_BY_FIELD.get(_name, ()), _i)
# create()'s own defaults: a field left at one needs no parsing (it parses to the field default)
_CREATE_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(JobDefinition.create).parameters.items()
    if p.default is not inspect.Parameter.empty
}
_CREATE_FIELDS = tuple(
    name for name in _CREATE_DEFAULTS if name not in ("retries", "attempts", "retry_strategy")
)
_CREATE_FIELD_DEFAULTS = tuple(_CREATE_DEFAULTS[name] for name in _CREATE_FIELDS)


def _defaults() -> dict[str, Any]:
    return dict(_DEFAULTS)


# ---------------------------------------------------------------------------------------------
# Lenient parsing (create / replace)


def _fail(path: str, message: str) -> SpecError:
    return SpecError(FieldError(path, message))


def _gather(
    items: Iterable[tuple[int, Any]], path: str, parse: Callable[[Any, str], Any]
) -> list[Any]:
    """Parse each ``(index, item)`` at ``path[index]``, collecting every error before raising."""
    out: list[Any] = []
    errors: list[FieldError] = []
    for i, item in items:
        try:
            out.append(parse(item, f"{path}[{i}]"))
        except SpecError as e:
            errors.extend(e.errors)
    if errors:
        raise SpecError(errors)
    return out


def _sequence(value: object, path: str, what: str) -> list[Any]:
    """A list/tuple (not a string or a mapping) as a list, or SpecError."""
    if isinstance(value, (list, tuple)):
        return list(value)
    raise _fail(path, f"must be a list of {what} (got {_type_name(value)})")


def _sub(cls: Callable[..., Any], path: str, **kwargs: Any) -> Any:
    """Construct a part (Volume, Ulimit, ...) re-rooting its errors at ``path``."""
    try:
        return cls(**kwargs)
    except SpecError as e:
        raise SpecError(_prefixed(e.errors, path)) from None


def _check_keys(value: Mapping[Any, Any], path: str, allowed: Collection[str]) -> None:
    errors = []
    for key in value:
        if key not in allowed:
            hint = _suggest(key, allowed) if isinstance(key, str) else ""
            errors.append(
                FieldError(
                    _at(path, str(key)),
                    f"unknown key{hint}; allowed: {', '.join(sorted(allowed))}",
                )
            )
    if errors:
        raise SpecError(errors)


def _pick(value: Mapping[Any, Any], *keys: str) -> Any:
    """The value of the first of ``keys`` present (AWS or keyword spelling), else None."""
    for key in keys:
        if key in value:
            return value[key]
    return None


def _p_text(value: object, path: str) -> str:
    if isinstance(value, str):
        return value
    if _is_number(value):
        return str(value)
    raise _fail(path, f"must be a string (got {_type_name(value)})")


def _p_optional_text(value: object, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(path, f"must be a string, or None (got {_type_name(value)})")
    return value.strip() or None


def _p_command(value: object, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (*SHELL, value) if value.strip() else ()
    if isinstance(value, (list, tuple)):
        return tuple(_gather(enumerate(value), path, _p_text))
    raise _fail(
        path,
        f"must be a shell script (a string) or an argv list of strings (got {_type_name(value)})",
    )


def _p_float(value: object, path: str) -> float:
    number: float | None = None
    if _is_number(value):
        assert isinstance(value, (int, float))
        try:
            number = float(value)
        except OverflowError:
            number = None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise _fail(path, f"must be a number (e.g. 1, 2, 0.5); got {value!r}")
    return number


def _p_int(value: object, path: str) -> int:
    if _is_int(value):
        assert isinstance(value, int)
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        return int(value)
    raise _fail(path, f"must be a whole number; got {value!r}")


def _p_optional_int(value: object, path: str) -> int | None:
    return None if value is None else _p_int(value, path)


def _p_memory(value: object, path: str) -> int:
    return parse_memory(value, path)


def _p_optional_memory(value: object, path: str) -> int | None:
    return None if value is None else parse_memory(value, path)


def _p_optional_duration(value: object, path: str) -> int | None:
    return None if value is None else parse_duration(value, path)


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def _p_bool(value: object, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if _is_int(value) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _fail(path, f"must be True or False; got {value!r}")


def _p_string_map(value: object, path: str) -> FrozenMap:
    """A dict, or a list of ``"K=V"`` / ``(k, v)`` / ``{"name", "value"}`` items."""
    if value is None:
        return _EMPTY
    pairs: list[tuple[str, Any]] = []
    errors: list[FieldError] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                pairs.append((key, item))
            else:
                errors.append(FieldError(f"{path}.{key}", "names must be strings"))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            if isinstance(item, str) and "=" in item:
                key, _, text = item.partition("=")
                pairs.append((key, text))
            elif isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
                pairs.append((item[0], item[1]))
            elif (
                isinstance(item, Mapping)
                and set(item) == {"name", "value"}
                and isinstance(item["name"], str)
            ):
                pairs.append((item["name"], item["value"]))
            else:
                errors.append(
                    FieldError(
                        where,
                        "must be 'NAME=value', a (name, value) pair or {'name': ..., 'value': ...}",
                    )
                )
    else:
        raise _fail(
            path,
            f"must be a dict of names to strings, or a list of 'NAME=value' strings; got "
            f"{_type_name(value)}",
        )
    out: dict[str, str] = {}
    for key, item in pairs:
        try:
            out[key] = _p_text(item, f"{path}.{key}")
        except SpecError as e:
            errors.extend(e.errors)
    if errors:
        raise SpecError(errors)
    return FrozenMap(out)


def _p_depends_on(value: object, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(s for s in re.split(r"[,\s]+", value) if s)
    items = _sequence(value, path, "job definition names")

    def one(item: object, where: str) -> str:
        if isinstance(item, str):
            return item.strip()
        raise _fail(where, f"must be a job definition name (got {_type_name(item)})")

    return tuple(_gather(enumerate(items), path, one))


def _p_array_dependency(value: object, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(path, f"must be N_TO_N or SEQUENTIAL, or None (got {_type_name(value)})")
    return value.strip().upper().replace("-", "_") or None


def _p_mount_point(value: object, path: str) -> MountPoint:
    if isinstance(value, MountPoint):
        return value
    if not isinstance(value, Mapping):
        raise _fail(path, "must be a MountPoint or a dict {'sourceVolume', 'containerPath'}")
    _check_keys(
        value,
        path,
        (
            "sourceVolume",
            "containerPath",
            "readOnly",
            "source_volume",
            "container_path",
            "read_only",
        ),
    )
    read_only = _pick(value, "readOnly", "read_only")
    return _sub(
        MountPoint,
        path,
        source_volume=_pick(value, "sourceVolume", "source_volume"),
        container_path=_pick(value, "containerPath", "container_path"),
        read_only=False if read_only is None else _p_bool(read_only, _at(path, "read_only")),
    )


def _p_mount_points(value: object, path: str) -> tuple[MountPoint, ...]:
    if value is None:
        return ()
    return tuple(_gather(enumerate(_sequence(value, path, "mount points")), path, _p_mount_point))


def _split_volume_spec(spec: str) -> list[str]:
    """``HOST:CONTAINER[:MODE]`` split on ':' but keeping a Windows drive (``C:\\x``) whole."""
    parts = spec.split(":")
    if len(parts) > 1 and re.fullmatch(r"[A-Za-z]", parts[0]) and parts[1][:1] in ("\\", "/"):
        parts = [parts[0] + ":" + parts[1], *parts[2:]]
    return parts


def _p_volumes(
    value: object, path: str, taken: Collection[str]
) -> tuple[tuple[Volume, ...], tuple[MountPoint, ...]]:
    """Volumes, plus the mount points that Docker-style strings imply."""
    if value is None:
        return (), ()
    items = _sequence(value, path, "volumes")
    names = set(taken)
    for item in items:
        if isinstance(item, Volume):
            names.add(item.name)
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            names.add(item["name"])
    counter = iter(range(len(names) + len(items) + 1))
    volumes: list[Volume] = []
    mounts: list[MountPoint] = []
    errors: list[FieldError] = []

    def fresh_name() -> str:
        for n in counter:
            if f"vol{n}" not in names:
                names.add(f"vol{n}")
                return f"vol{n}"
        raise AssertionError("unreachable")  # pragma: no cover

    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        try:
            if isinstance(item, Volume):
                volumes.append(item)
            elif isinstance(item, str):
                parts = _split_volume_spec(item)
                mode = "rw"
                if len(parts) > 1 and parts[-1] in ("ro", "rw"):
                    mode = parts.pop()
                if len(parts) not in (1, 2) or not all(parts):
                    raise _fail(
                        where,
                        "must be 'HOST:CONTAINER', 'HOST:CONTAINER:ro' or 'CONTAINER' (absolute "
                        f"paths); got {item!r}",
                    )
                host, container = (None, parts[0]) if len(parts) == 1 else parts
                vol_name = fresh_name()
                volume = _sub(Volume, where, name=vol_name, host_path=host)
                mount = _sub(
                    MountPoint,
                    where,
                    source_volume=vol_name,
                    container_path=container,
                    read_only=mode == "ro",
                )
                volumes.append(volume)
                mounts.append(mount)
            elif isinstance(item, Mapping):
                if "efsVolumeConfiguration" in item:
                    raise _fail(
                        _at(where, "efsVolumeConfiguration"),
                        "EFS volumes are not supported locally; use a host path",
                    )
                _check_keys(item, where, ("name", "host", "host_path"))
                host_path = item.get("host_path")
                if "host" in item:
                    host = item["host"]
                    if host is not None and not isinstance(host, Mapping):
                        raise _fail(_at(where, "host"), "must be a dict {'sourcePath': ...}")
                    if host:
                        _check_keys(host, _at(where, "host"), ("sourcePath",))
                        host_path = host.get("sourcePath")
                volumes.append(_sub(Volume, where, name=item.get("name"), host_path=host_path))
            else:
                raise _fail(
                    where,
                    "must be a Volume, a dict {'name', 'host': {'sourcePath'}} or a string "
                    "'HOST:CONTAINER[:ro]'",
                )
        except SpecError as e:
            errors.extend(e.errors)
    if errors:
        raise SpecError(errors)
    return tuple(volumes), tuple(mounts)


def _p_ulimit(value: object, path: str) -> Ulimit:
    if isinstance(value, Ulimit):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([A-Za-z]+)\s*=\s*([0-9]+)\s*(?::\s*([0-9]+)\s*)?", value)
        if m is None:
            raise _fail(path, "must be 'NAME=SOFT:HARD' or 'NAME=LIMIT' (e.g. 'nofile=1024:4096')")
        soft = int(m.group(2))
        hard = int(m.group(3)) if m.group(3) is not None else soft
        return _sub(Ulimit, path, name=m.group(1), soft=soft, hard=hard)
    if not isinstance(value, Mapping):
        raise _fail(path, "must be an Ulimit, a dict {'name', 'soft', 'hard'} or 'NAME=SOFT:HARD'")
    _check_keys(value, path, ("name", "soft", "hard", "softLimit", "hardLimit"))
    errors: list[FieldError] = []
    limits: dict[str, int | None] = {}
    for attr, aws_key in (("soft", "softLimit"), ("hard", "hardLimit")):
        raw = _pick(value, attr, aws_key)
        if raw is None:
            errors.append(FieldError(_at(path, attr), "required: a whole number >= 0"))
            continue
        try:
            limits[attr] = _p_int(raw, _at(path, attr))
        except SpecError as e:
            errors.extend(e.errors)
    if errors:
        raise SpecError(errors)
    return _sub(Ulimit, path, name=value.get("name"), soft=limits["soft"], hard=limits["hard"])


def _p_ulimits(value: object, path: str) -> tuple[Ulimit, ...]:
    if value is None:
        return ()
    return tuple(_gather(enumerate(_sequence(value, path, "ulimits")), path, _p_ulimit))


def _p_secret_option(value: object, path: str) -> tuple[str, str]:
    if isinstance(value, Mapping):
        _check_keys(value, path, ("name", "valueFrom", "value_from"))
        pair = (value.get("name"), _pick(value, "valueFrom", "value_from"))
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise _fail(path, "must be {'name': ..., 'valueFrom': ...} or a (name, value_from) pair")
    if not all(isinstance(s, str) and s for s in pair):
        raise _fail(path, "name and valueFrom must be non-empty strings")
    return (str(pair[0]), str(pair[1]))


def _p_log_configuration(value: object, path: str) -> LogConfiguration | None:
    if value is None or isinstance(value, LogConfiguration):
        return value
    if isinstance(value, str):
        return _sub(LogConfiguration, path, log_driver=value.strip())
    if not isinstance(value, Mapping):
        raise _fail(
            path, "must be a LogConfiguration, a dict {'logDriver', 'options'} or a driver name"
        )
    _check_keys(
        value,
        path,
        ("logDriver", "options", "secretOptions", "log_driver", "secret_options"),
    )
    errors: list[FieldError] = []
    options: FrozenMap = _EMPTY
    secrets: tuple[tuple[str, str], ...] = ()
    try:
        options = _p_string_map(value.get("options"), _at(path, "options"))
    except SpecError as e:
        errors.extend(e.errors)
    raw_secrets = _pick(value, "secretOptions", "secret_options")
    if raw_secrets is not None:
        where = _at(path, "secret_options")
        try:
            secrets = tuple(
                _gather(
                    enumerate(_sequence(raw_secrets, where, "secret options")),
                    where,
                    _p_secret_option,
                )
            )
        except SpecError as e:
            errors.extend(e.errors)
    if errors:
        raise SpecError(errors)
    return _sub(
        LogConfiguration,
        path,
        log_driver=_pick(value, "logDriver", "log_driver"),
        options=options,
        secret_options=secrets,
    )


_RULE_KEYS = {
    "action": "action",
    "onExitCode": "on_exit_code",
    "onReason": "on_reason",
    "onStatusReason": "on_status_reason",
    "on_exit_code": "on_exit_code",
    "on_reason": "on_reason",
    "on_status_reason": "on_status_reason",
}


def _p_rule(value: object, path: str) -> EvaluateOnExit:
    if isinstance(value, EvaluateOnExit):
        return value
    if not isinstance(value, Mapping):
        raise _fail(path, "must be an EvaluateOnExit or a dict {'onExitCode', 'action'}")
    _check_keys(value, path, _RULE_KEYS)
    kwargs = {_RULE_KEYS[k]: v for k, v in value.items()}
    if "action" not in kwargs:
        raise _fail(_at(path, "action"), "required: RETRY or EXIT")
    return _sub(EvaluateOnExit, path, **kwargs)


def _p_retry_strategy(value: object, path: str) -> tuple[int | None, tuple[EvaluateOnExit, ...]]:
    """(attempts or None if not given, rules) from a RetryStrategy or an AWS/keyword dict."""
    if isinstance(value, RetryStrategy):
        return value.attempts, value.evaluate_on_exit
    if not isinstance(value, Mapping):
        raise _fail(
            path,
            "must be a RetryStrategy or a dict like {'attempts': 3, 'evaluateOnExit': "
            "[{'onExitCode': '3', 'action': 'RETRY'}]}",
        )
    _check_keys(value, path, ("attempts", "evaluateOnExit", "evaluate_on_exit"))
    errors: list[FieldError] = []
    attempts: int | None = None
    rules: tuple[EvaluateOnExit, ...] = ()
    if value.get("attempts") is not None:
        try:
            attempts = _p_int(value["attempts"], _at(path, "attempts"))
        except SpecError as e:
            errors.extend(e.errors)
    raw_rules = _pick(value, "evaluateOnExit", "evaluate_on_exit")
    if raw_rules is not None:
        where = _at(path, "evaluate_on_exit")
        try:
            rules = tuple(_gather(enumerate(_sequence(raw_rules, where, "rules")), where, _p_rule))
        except SpecError as e:
            errors.extend(e.errors)
    if errors:
        raise SpecError(errors)
    return attempts, rules


_FIELD_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "image": _p_optional_text,
    "command": _p_command,
    "vcpus": _p_float,
    "memory": _p_memory,
    "gpus": _p_int,
    "environment": _p_string_map,
    "mount_points": _p_mount_points,
    "user": _p_optional_text,
    "privileged": _p_bool,
    "readonly_root_filesystem": _p_bool,
    "shared_memory_size": _p_optional_memory,
    "ulimits": _p_ulimits,
    "parameters": _p_string_map,
    "timeout": _p_optional_duration,
    "tags": _p_string_map,
    "job_role_arn": _p_optional_text,
    "execution_role_arn": _p_optional_text,
    "log_configuration": _p_log_configuration,
    "depends_on": _p_depends_on,
    "array_size": _p_optional_int,
    "array_dependency": _p_array_dependency,
}


class _Builder:
    """Collects parsed field values and every error, then builds or raises once."""

    def __init__(self, values: dict[str, Any], from_defaults: bool = False) -> None:
        self.values = values
        self.errors: list[FieldError] = []
        self.failed: set[str] = set()
        # Built on the defaults (create): the fields set since, which alone need checking.
        self.given: set[str] | None = {"name"} if from_defaults else None

    def apply(self, raw: Mapping[str, Any]) -> None:
        if self.given is not None:
            self.given.update(raw)
            if "volumes" in raw:
                self.given.add("mount_points")
        for name, value in raw.items():
            if name == "volumes":
                continue
            parse = _FIELD_PARSERS.get(name)
            if parse is None:
                self.values[name] = value
                continue
            try:
                self.values[name] = parse(value, name)
            except SpecError as e:
                self.errors.extend(e.errors)
                self.failed.add(name)
        if "volumes" in raw:
            taken = set()
            if "mount_points" not in raw:
                taken = {
                    mp.source_volume
                    for mp in self.values.get("mount_points", ())
                    if isinstance(mp, MountPoint)
                }
            try:
                volumes, mounts = _p_volumes(raw["volumes"], "volumes", taken)
            except SpecError as e:
                self.errors.extend(e.errors)
                self.failed.add("volumes")
                return
            self.values["volumes"] = volumes
            if mounts and "mount_points" not in self.failed:
                current = self.values.get("mount_points", ())
                self.values["mount_points"] = tuple(current) + mounts

    def apply_retry(
        self, retries: object, attempts: object, retry_strategy: object, base: RetryStrategy | None
    ) -> None:
        errors: list[FieldError] = []
        count: int | None = None
        which = "retries" if retries is not None else "attempts"
        if retries is not None and attempts is not None:
            errors.append(
                FieldError(
                    "attempts",
                    "give retries or attempts, not both: they are the same number (AWS's "
                    "retryStrategy.attempts, total attempts; 1 runs once)",
                )
            )
        elif retries is not None or attempts is not None:
            try:
                count = _p_int(retries if retries is not None else attempts, which)
            except SpecError as e:
                errors.extend(e.errors)
        if retries is None and attempts is None and retry_strategy is None and base is None:
            return  # the default strategy (one attempt) stays
        given: int | None = base.attempts if base is not None else None
        rules: tuple[EvaluateOnExit, ...] = base.evaluate_on_exit if base is not None else ()
        if retry_strategy is not None:
            try:
                given, rules = _p_retry_strategy(retry_strategy, "retry_strategy")
            except SpecError as e:
                errors.extend(e.errors)
            if count is not None and given is not None and given != count:
                errors.append(
                    FieldError(
                        "retry_strategy.attempts",
                        f"{given} conflicts with {which}={count}: give the number of attempts once",
                    )
                )
        if errors:
            self.errors.extend(errors)
            self.failed.add("retry_strategy")
            return
        total = count if count is not None else (given if given is not None else 1)
        try:
            strategy = RetryStrategy(attempts=total, evaluate_on_exit=rules)
        except SpecError as e:
            for fe in e.errors:
                field = which if fe.field == "attempts" and count is not None else None
                self.errors.append(FieldError(field or _at("retry_strategy", fe.field), fe.message))
            self.failed.add("retry_strategy")
            return
        self.values["retry_strategy"] = strategy
        if self.given is not None:
            self.given.add("retry_strategy")

    def finish(
        self, context: str, translate: Callable[[FieldError], FieldError] | None = None
    ) -> JobDefinition:
        if self.given is not None and not self.errors:
            try:
                return JobDefinition._from_given(self.values, self.given)
            except SpecError as e:
                errors = [translate(p) for p in e.errors] if translate else e.errors
                raise SpecError(errors, context) from None
        return _finish(self.values, self.errors, self.failed, context, translate)


def _finish(
    values: Mapping[str, Any],
    errors: list[FieldError],
    failed: Collection[str],
    context: str,
    translate: Callable[[FieldError], FieldError] | None = None,
) -> JobDefinition:
    """Build the definition, or raise one SpecError with the parse errors and every rule broken
    by the fields that did parse (rule errors go through ``translate``, e.g. to JSON paths)."""

    def tr(problems: Iterable[FieldError]) -> list[FieldError]:
        return [translate(p) for p in problems] if translate else list(problems)

    if not errors:
        try:
            return JobDefinition(**values)
        except SpecError as e:
            raise SpecError(tr(e.errors), context) from None
    problems = _definition_problems(_normalize(values), skip=failed)
    raise SpecError(list(errors) + tr(problems), context)

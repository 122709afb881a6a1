"""The parts a job definition is made of, and the vocabulary they share.

:class:`FrozenMap` (environment, parameters, tags), :class:`Volume`, :class:`MountPoint`,
:class:`Ulimit`, :class:`LogConfiguration`, :class:`EvaluateOnExit` and :class:`RetryStrategy`
are frozen values that check themselves when built. Each one's ``_problems(path)`` lists every
rule it breaks with the field at a dotted path, so that :mod:`kadam_nb.core.rules` can check a
part inside a whole definition and name ``mount_points[0].source_volume``.

They live apart from :class:`~kadam_nb.core.spec.JobDefinition` because they depend on nothing
else of a definition: the rules, the lenient parsers and the definition itself all build on
them. The small helpers here (``_at``, ``_is_int``, ``_suggest``, ...) are shared by those
modules. Import the public names from :mod:`kadam_nb.core.spec`, which re-exports them.

Standard library only, no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..errors import FieldError, SpecError

__all__ = [
    "ARRAY_DEPENDENCY_TYPES",
    "SHELL",
    "ULIMIT_NAMES",
    "EvaluateOnExit",
    "FrozenMap",
    "LogConfiguration",
    "MountPoint",
    "RetryStrategy",
    "Ulimit",
    "Volume",
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

_VOLUME_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_EXIT_CODE_PATTERN = re.compile(r"[0-9]*\*?")
_REASON_PATTERN = re.compile(r"[A-Za-z0-9.: \t]*\*?")
_PATTERN_MAX = 512


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

"""Lenient parsing: the forms people type, turned into a definition's canonical field values.

:func:`parse_memory` (``"2g"``), :func:`parse_duration` (``"1h30m"``) and one parser per field
(``_FIELD_PARSERS``: a shell script for ``command``, ``"K=V"`` lists for maps, Docker-style
``"/host:/container:ro"`` volumes, AWS-shaped dicts for ``retry_strategy``, ``ulimits``,
``log_configuration``, ...). Each parser takes ``(value, path)`` and raises one
:class:`~kadam_nb.errors.SpecError` with every problem at ``path``; ``_gather`` collects the
errors of a list's items before raising.

:meth:`JobDefinition.create <kadam_nb.core.spec.JobDefinition.create>` and ``replace`` use
these through ``_Builder`` (in :mod:`kadam_nb.core.spec`), and :mod:`kadam_nb.core.aws` uses
some for AWS JSON. This module builds parts only, never a definition, so that the dependency
points one way: :mod:`~kadam_nb.core.spec` imports it, not the reverse.

Standard library only, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from fractions import Fraction
from typing import Any

from ..errors import FieldError, SpecError
from .parts import (
    _EMPTY,
    SHELL,
    EvaluateOnExit,
    FrozenMap,
    LogConfiguration,
    MountPoint,
    RetryStrategy,
    Ulimit,
    Volume,
    _at,
    _is_int,
    _is_number,
    _prefixed,
    _suggest,
    _type_name,
)

__all__ = [
    "parse_duration",
    "parse_memory",
]

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
        if all(isinstance(item, str) for item in value):  # the usual argv: nothing to parse
            return tuple(value)
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
    if all(isinstance(item, str) for item in items):  # the usual list of names
        return tuple(item.strip() for item in items)

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

"""The rules of a whole job definition, each naming the field it is about.

A definition is checked by a fixed list of rules (``_CHECKS``), each paired with the fields
that, left at their defaults, give it nothing to say: construction runs only the rules about
the fields that were set (``_problems_of_given``), so that 10,000 definitions validate in about
0.1 s, and the lenient front door runs them all, skipping the fields that failed to parse
(``_definition_problems``). ``_normalize`` first applies the harmless respellings (a list for a
tuple, a dict for a :class:`~kadam_nb.core.parts.FrozenMap`, ...).

Kept apart from :mod:`kadam_nb.core.spec` so that the rules read as one list, and so that the
lenient parsers (:mod:`kadam_nb.core.lenient`) and the AWS reader (:mod:`kadam_nb.core.aws`)
can report every broken rule without building a definition.

Standard library only, no I/O.
"""

from __future__ import annotations

import contextlib
import json
import math
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from ..errors import FieldError
from .parts import (
    ARRAY_DEPENDENCY_TYPES,
    ULIMIT_NAMES,
    FrozenMap,
    LogConfiguration,
    MountPoint,
    RetryStrategy,
    Ulimit,
    Volume,
    _is_abs_container_path,
    _is_int,
    _string_map_problems,
)

_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_]+")

_NAME_RULE = "1-128 characters, each a letter, digit, '-' or '_' (e.g. 'clean-data_2')"


# ---------------------------------------------------------------------------------------------
# Validation of a whole definition


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
        if not (isinstance(dep, str) and _NAME.fullmatch(dep)):
            out.append(
                FieldError(f"depends_on[{i}]", f"must be a job definition name: {_NAME_RULE}")
            )
            continue
        if dep in seen:
            out.append(FieldError(f"depends_on[{i}]", f"duplicate dependency {dep!r}"))
        if dep == own:
            out.append(FieldError(f"depends_on[{i}]", "a definition cannot depend on itself"))
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


_CHECKS_BY_FIELD: dict[str, tuple[int, ...]] = {}
for _i, (_, _names) in enumerate(_CHECKS):
    for _name in _names:
        _CHECKS_BY_FIELD[_name] = (*_CHECKS_BY_FIELD.get(_name, ()), _i)


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


def _every_field_parsed(*names: str) -> bool:
    return True


_CHECKS_OF_GIVEN: dict[frozenset[str], list[int]] = {}
"""The rules to run for a set of given fields (a program uses a few such sets, over and over)."""


def _problems_of_given(values: Mapping[str, Any], given: Iterable[str]) -> list[FieldError]:
    """:func:`_definition_problems` of a definition whose fields other than ``given`` hold
    their defaults: only the rules about the given fields run (in the usual order)."""
    key = frozenset(given)
    indexes = _CHECKS_OF_GIVEN.get(key)
    if indexes is None:
        indexes = sorted({i for name in key for i in _CHECKS_BY_FIELD.get(name, ())})
        if len(_CHECKS_OF_GIVEN) < 4096:
            _CHECKS_OF_GIVEN[key] = indexes
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

"""AWS Batch JSON <-> kadam's model: ``RegisterJobDefinition`` in and out, ``SubmitJob`` out.

What is read, and how it comes back out of :func:`definition_to_aws`:

* **Understood** fields become :class:`~kadam_nb.core.spec.JobDefinition` fields and act
  locally: ``jobDefinitionName``, ``type`` (``container`` only), ``parameters``,
  ``retryStrategy``, ``timeout``, ``tags`` and, in ``containerProperties``, ``image``,
  ``command``, ``resourceRequirements`` (and the legacy ``vcpus``/``memory``, which are read but
  written back as ``resourceRequirements``), ``environment``, ``volumes`` (host volumes),
  ``mountPoints``, ``user``, ``privileged``, ``readonlyRootFilesystem``, ``ulimits``,
  ``linuxParameters.sharedMemorySize``, ``jobRoleArn``, ``executionRoleArn``,
  ``logConfiguration``.
* **Kept** fields are AWS fields with no local effect (``schedulingPriority``, ``secrets``,
  ``networkConfiguration``, ...). They are stored verbatim in ``JobDefinition.aws_extra`` and
  written back exactly where they came from, with one :class:`~kadam_nb.errors.KadamWarning`
  naming them on import.
* **Refused**: ``type: multinode``, ``nodeProperties``, ``eksProperties``, ``ecsProperties``
  and EFS volumes (not supported locally), unknown keys (a typo, with the closest known key
  suggested) and wrong types; each as a :class:`~kadam_nb.errors.SpecError` naming the JSON
  path (``containerProperties.resourceRequirements[1].value``).
* ``jobDefinitionArn``, ``revision``, ``status`` and ``containerOrchestrationType`` (the extra
  keys of ``DescribeJobDefinitions`` output) are ignored with a warning, so that a described
  definition can be pasted in; the registry numbers revisions itself.

kadam's own fields (``depends_on``, ``array_size``, ``array_dependency``) travel in an optional
top-level ``"kadam"`` block, written only with ``extensions=True``: plain output is registrable
on AWS unchanged.

Export omits what is empty or default (``privileged: false``, ``readOnly: false``, a
``retryStrategy`` of one attempt without rules, ...) and always writes ``type`` and the MEMORY
and VCPU ``resourceRequirements`` (in that order, as AWS's own examples do; then GPU), so that
``to_aws(from_aws(doc)) == doc`` for documents written that way; other documents come back
normalized (legacy ``vcpus``/``memory`` as ``resourceRequirements``, defaults left out).

Standard library only, no I/O.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import FieldError, KadamWarning, SpecError
from .lenient import _p_optional_duration, _p_retry_strategy, _sub
from .parts import _is_int, _prefixed, _suggest
from .rules import _NAME, _NAME_RULE, _canonical_json
from .secrets import MASK, mask_definition
from .spec import (
    ARRAY_DEPENDENCY_TYPES,
    EvaluateOnExit,
    FrozenMap,
    JobDefinition,
    LogConfiguration,
    MountPoint,
    RetryStrategy,
    Ulimit,
    Volume,
    _defaults,
    _finish,
)

__all__ = [
    "AWS_LOG_DRIVERS",
    "CONTAINER_PROPERTIES",
    "definition_from_aws",
    "definition_to_aws",
    "export_warnings",
    "masked_export",
    "submit_job_to_aws",
]

AWS_LOG_DRIVERS = frozenset(
    {"awslogs", "fluentd", "gelf", "journald", "json-file", "splunk", "syslog", "awsfirelens"}
)
"""The ``logConfiguration.logDriver`` values AWS Batch accepts."""

# --- the keys of each JSON object, by what kadam does with them ------------------------------

_TOP_UNDERSTOOD = (
    "jobDefinitionName",
    "type",
    "parameters",
    "containerProperties",
    "retryStrategy",
    "timeout",
    "tags",
    "kadam",
)
_TOP_KEPT = (
    "schedulingPriority",
    "propagateTags",
    "platformCapabilities",
    "consumableResourceProperties",
)
_TOP_UNSUPPORTED = {
    "nodeProperties": "multi-node parallel jobs (nodeProperties) are not supported locally",
    "eksProperties": "Amazon EKS jobs (eksProperties) are not supported locally",
    "ecsProperties": "multi-container ECS jobs (ecsProperties) are not supported locally; "
    "use containerProperties",
}
_TOP_IGNORED = ("jobDefinitionArn", "revision", "status", "containerOrchestrationType")
_CONTAINER_UNDERSTOOD = (
    "image",
    "command",
    "resourceRequirements",
    "vcpus",
    "memory",
    "environment",
    "volumes",
    "mountPoints",
    "user",
    "privileged",
    "readonlyRootFilesystem",
    "ulimits",
    "linuxParameters",
    "jobRoleArn",
    "executionRoleArn",
    "logConfiguration",
)
_CONTAINER_KEPT = (
    "instanceType",
    "secrets",
    "networkConfiguration",
    "fargatePlatformConfiguration",
    "ephemeralStorage",
    "runtimePlatform",
    "repositoryCredentials",
    "enableExecuteCommand",
)
_LINUX_UNDERSTOOD = ("sharedMemorySize",)
_LINUX_KEPT = ("devices", "initProcessEnabled", "tmpfs", "maxSwap", "swappiness")

# The order keys are written in (AWS's documentation order); others follow.
_TOP_ORDER = (
    "jobDefinitionName",
    "type",
    "parameters",
    "schedulingPriority",
    "containerProperties",
    "retryStrategy",
    "propagateTags",
    "timeout",
    "tags",
    "platformCapabilities",
    "consumableResourceProperties",
    "kadam",
)
CONTAINER_PROPERTIES = (  # every containerProperties key kadam reads or writes, in AWS's order
    "image",
    "command",
    "jobRoleArn",
    "executionRoleArn",
    "volumes",
    "environment",
    "mountPoints",
    "readonlyRootFilesystem",
    "privileged",
    "ulimits",
    "user",
    "instanceType",
    "resourceRequirements",
    "linuxParameters",
    "logConfiguration",
    "secrets",
    "networkConfiguration",
    "fargatePlatformConfiguration",
    "enableExecuteCommand",
    "ephemeralStorage",
    "runtimePlatform",
    "repositoryCredentials",
)

# kadam field -> the JSON path it is read from (for error messages).
_FIELD_PATHS = {
    "name": "jobDefinitionName",
    "image": "containerProperties.image",
    "command": "containerProperties.command",
    "vcpus": "containerProperties.resourceRequirements",
    "memory": "containerProperties.resourceRequirements",
    "gpus": "containerProperties.resourceRequirements",
    "environment": "containerProperties.environment",
    "volumes": "containerProperties.volumes",
    "mount_points": "containerProperties.mountPoints",
    "user": "containerProperties.user",
    "privileged": "containerProperties.privileged",
    "readonly_root_filesystem": "containerProperties.readonlyRootFilesystem",
    "shared_memory_size": "containerProperties.linuxParameters.sharedMemorySize",
    "ulimits": "containerProperties.ulimits",
    "parameters": "parameters",
    "retry_strategy": "retryStrategy",
    "timeout": "timeout.attemptDurationSeconds",
    "tags": "tags",
    "job_role_arn": "containerProperties.jobRoleArn",
    "execution_role_arn": "containerProperties.executionRoleArn",
    "log_configuration": "containerProperties.logConfiguration",
    "depends_on": "kadam.dependsOn",
    "array_size": "kadam.arraySize",
    "array_dependency": "kadam.arrayDependency",
}
# nested kadam attribute -> JSON key
_ATTR_KEYS = {
    "host_path": "host.sourcePath",
    "source_volume": "sourceVolume",
    "container_path": "containerPath",
    "read_only": "readOnly",
    "soft": "softLimit",
    "hard": "hardLimit",
    "log_driver": "logDriver",
    "secret_options": "secretOptions",
    "evaluate_on_exit": "evaluateOnExit",
    "on_exit_code": "onExitCode",
    "on_reason": "onReason",
    "on_status_reason": "onStatusReason",
}

_DOCUMENT = "(document)"


# ---------------------------------------------------------------------------------------------
# Reading JSON values, each failure a SpecError at its JSON path


def _jp(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_:@/+-]+")


def _key_path(path: str, key: object) -> str:
    """The path of a key the user wrote: ``path.key``, or ``path["key"]`` (JSON-quoted) when
    the key is empty, not a string, or holds dots, spaces, quotes or control characters, so
    that the field is never blank and a message stays one readable line."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return _jp(path, key)
    text = json.dumps(key if isinstance(key, str) else str(key))
    return f"{path}[{text}]"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _bad(path: str, wanted: str, value: object) -> SpecError:
    return SpecError(FieldError(path, f"must be {wanted} (got {_kind(value)})"))


def _obj(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(path, "an object", value)
    return value


def _arr(value: object, path: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise _bad(path, "an array", value)
    return list(value)


def _str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _bad(path, "a string", value)
    return value


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, "true or false", value)
    return value


def _int(value: object, path: str) -> int:
    if _is_int(value):
        assert isinstance(value, int)
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise _bad(path, "a whole number", value)


def _str_map(value: object, path: str) -> FrozenMap:
    obj = _obj(value, path)
    errors = [
        FieldError(_key_path(path, k), f"must be a string (got {_kind(v)})")
        for k, v in obj.items()
        if not isinstance(v, str)
    ]
    if errors:
        raise SpecError(errors)
    return FrozenMap({str(k): v for k, v in obj.items()})


def _each(items: list[Any], path: str, read: Any) -> list[Any]:
    """``read(item, "path[i]")`` for every item, collecting every error before raising."""
    out: list[Any] = []
    errors: list[FieldError] = []
    for i, item in enumerate(items):
        try:
            out.append(read(item, f"{path}[{i}]"))
        except SpecError as e:
            errors.extend(e.errors)
    if errors:
        raise SpecError(errors)
    return out


def _unknown_key(key: object, path: str, known: Iterable[str]) -> FieldError:
    where = _key_path(path, key)
    if not isinstance(key, str):
        return FieldError(where, "keys must be strings")
    hint = _suggest(key, known)
    return FieldError(where, f"unknown key{hint or ' (not a field kadam knows here)'}")


def _only(obj: Mapping[str, Any], path: str, known: Iterable[str]) -> None:
    """Refuse any key of ``obj`` not in ``known``."""
    known = tuple(known)
    errors = [_unknown_key(k, path, known) for k in obj if k not in known]
    if errors:
        raise SpecError(errors)


def _json_problems(value: object, path: str) -> list[FieldError]:
    """Why ``value`` is not plain JSON (kept fields are stored as JSON text)."""
    if value is None or isinstance(value, (bool, int, str)):
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [FieldError(path, "must be a finite number")]
    if isinstance(value, (list, tuple)):
        return [p for i, x in enumerate(value) for p in _json_problems(x, f"{path}[{i}]")]
    if isinstance(value, Mapping):
        out = []
        for k, x in value.items():
            if isinstance(k, str):
                out += _json_problems(x, _jp(path, k))
            else:
                out.append(FieldError(_jp(path, str(k)), "keys must be strings"))
        return out
    return [FieldError(path, f"must be a JSON value (got {type(value).__name__})")]


# ---------------------------------------------------------------------------------------------
# RegisterJobDefinition JSON -> JobDefinition


class _Reader:
    """Reads one document, collecting every problem; ``values`` are JobDefinition fields."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.errors: list[FieldError] = []
        self.failed: set[str] = set()
        self.kept: dict[str, Any] = {}
        self.kept_paths: list[str] = []
        self.ignored: list[str] = []
        self.origin: dict[str, str] = {}
        self.env_index: dict[str, int] = {}

    # -- bookkeeping ---------------------------------------------------------------------------

    def take(self, name: str, read: Any, *args: Any) -> None:
        """``values[name] = read(*args)``, or record its errors and mark ``name`` failed."""
        try:
            self.values[name] = read(*args)
        except SpecError as e:
            self.errors.extend(e.errors)
            self.failed.add(name)

    def fail(self, name: str | None, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))
        if name:
            self.failed.add(name)

    def scan(
        self,
        obj: Mapping[str, Any],
        path: str,
        understood: Iterable[str],
        kept: Iterable[str] = (),
        unsupported: Mapping[str, str] | None = None,
        ignored: Iterable[str] = (),
    ) -> None:
        """Sort ``obj``'s keys: keep the kept ones, refuse unknown or unsupported ones."""
        understood, kept, ignored = tuple(understood), tuple(kept), tuple(ignored)
        unsupported = unsupported or {}
        for key, value in obj.items():
            if key in understood:
                continue
            where = _jp(path, str(key))
            if key in kept:
                problems = _json_problems(value, where)
                if problems:
                    self.errors.extend(problems)
                    continue
                slot = self.kept
                for part in path.split(".") if path else ():
                    slot = slot.setdefault(part, {})
                slot[key] = json.loads(json.dumps(value))
                self.kept_paths.append(where)
            elif key in unsupported:
                self.fail(None, where, unsupported[key])
            elif key in ignored:
                self.ignored.append(where)
            else:
                known = understood + kept + tuple(unsupported)
                self.errors.append(_unknown_key(key, path, known))

    def make(self, cls: Any, kadam_path: str, **kwargs: Any) -> Any:
        """Construct a part, its rule errors re-rooted at ``kadam_path`` then put in JSON."""
        try:
            return cls(**kwargs)
        except SpecError as e:
            raise SpecError([self.translate(p) for p in _prefixed(e.errors, kadam_path)]) from None

    def translate(self, problem: FieldError) -> FieldError:
        """A rule error named by kadam field (``mount_points[0].source_volume``) renamed to
        the JSON path it was read from (``containerProperties.mountPoints[0].sourceVolume``)."""
        m = re.match(r"([a-z_]+)(.*)", problem.field, re.DOTALL)
        if m is None:
            return problem
        head, rest = m.groups()
        if head in ("parameters", "tags") or head not in _FIELD_PATHS:
            return problem
        if head == "environment":
            index = self.env_index.get(rest[1:]) if rest.startswith(".") else None
            where = _FIELD_PATHS[head] + (f"[{index}].name" if index is not None else "")
            return FieldError(where, problem.message)
        prefix = self.origin.get(head, _FIELD_PATHS[head])
        rest = re.sub(r"[a-z_]+", lambda w: _ATTR_KEYS.get(w.group(), w.group()), rest)
        return FieldError(prefix + rest, problem.message)

    # -- the document --------------------------------------------------------------------------

    def read(self, doc: Mapping[str, Any]) -> None:
        self.scan(doc, "", _TOP_UNDERSTOOD, _TOP_KEPT, _TOP_UNSUPPORTED, _TOP_IGNORED)
        kind = doc.get("type", "container")
        if kind == "multinode":
            self.fail(
                None,
                "type",
                "multinode (multi-node parallel) job definitions are not supported locally; "
                "kadam runs single-container jobs (type 'container')",
            )
        elif kind != "container":
            self.fail(None, "type", f"must be 'container' (got {kind!r})")
        if "jobDefinitionName" in doc:
            self.take("name", _str, doc["jobDefinitionName"], "jobDefinitionName")
        else:
            self.fail("name", "jobDefinitionName", f"required: {_NAME_RULE}")
        if "parameters" in doc:
            self.take("parameters", _str_map, doc["parameters"], "parameters")
        if "tags" in doc:
            self.take("tags", _str_map, doc["tags"], "tags")
        if "containerProperties" in doc:
            try:
                container = _obj(doc["containerProperties"], "containerProperties")
            except SpecError as e:
                self.errors.extend(e.errors)
            else:
                self.read_container(container)
        if "retryStrategy" in doc:
            self.take("retry_strategy", self.read_retry, doc["retryStrategy"])
        if "timeout" in doc:
            self.take("timeout", self.read_timeout, doc["timeout"])
        if "kadam" in doc:
            self.read_kadam(doc["kadam"])

    def read_container(self, cp: Mapping[str, Any]) -> None:
        at = "containerProperties"
        self.scan(cp, at, _CONTAINER_UNDERSTOOD, _CONTAINER_KEPT)
        for key, name in (
            ("image", "image"),
            ("user", "user"),
            ("jobRoleArn", "job_role_arn"),
            ("executionRoleArn", "execution_role_arn"),
        ):
            if key in cp:
                self.take(name, _str, cp[key], _jp(at, key))
        for key, name in (
            ("privileged", "privileged"),
            ("readonlyRootFilesystem", "readonly_root_filesystem"),
        ):
            if key in cp:
                self.take(name, _bool, cp[key], _jp(at, key))
        if "command" in cp:
            where = _jp(at, "command")
            self.take("command", lambda: tuple(_each(_arr(cp["command"], where), where, _str)))
        self.read_resources(cp)
        if "environment" in cp:
            self.take("environment", self.read_environment, cp["environment"])
        if "volumes" in cp:
            where = _jp(at, "volumes")
            self.take(
                "volumes", lambda: tuple(_each(_arr(cp["volumes"], where), where, self.volume))
            )
        if "mountPoints" in cp:
            where = _jp(at, "mountPoints")
            self.take(
                "mount_points",
                lambda: tuple(_each(_arr(cp["mountPoints"], where), where, self.mount)),
            )
        if "ulimits" in cp:
            where = _jp(at, "ulimits")
            self.take(
                "ulimits", lambda: tuple(_each(_arr(cp["ulimits"], where), where, self.ulimit))
            )
        if "linuxParameters" in cp:
            self.read_linux(cp["linuxParameters"])
        if "logConfiguration" in cp:
            self.take("log_configuration", self.read_log, cp["logConfiguration"])

    def read_resources(self, cp: Mapping[str, Any]) -> None:
        at = "containerProperties"
        found: dict[str, tuple[str, object]] = {}  # field -> (path of value, value)
        if "resourceRequirements" in cp:
            where = _jp(at, "resourceRequirements")
            try:
                items = _arr(cp["resourceRequirements"], where)
            except SpecError as e:
                self.errors.extend(e.errors)
                items = []
            types = {"VCPU": "vcpus", "MEMORY": "memory", "GPU": "gpus"}
            for i, item in enumerate(items):
                path = f"{where}[{i}]"
                try:
                    entry = _obj(item, path)
                    _only(entry, path, ("type", "value"))
                    kind = _str(entry.get("type"), _jp(path, "type"))
                    if kind not in types:
                        raise SpecError(
                            FieldError(
                                _jp(path, "type"),
                                f"must be VCPU, MEMORY or GPU{_suggest(kind, types)}",
                            )
                        )
                    if "value" not in entry:
                        raise SpecError(FieldError(_jp(path, "value"), "required (a string)"))
                except SpecError as e:
                    self.errors.extend(e.errors)
                    continue
                field = types[kind]
                if field in found:
                    self.fail(field, _jp(path, "type"), f"{kind} is given more than once")
                    continue
                found[field] = (_jp(path, "value"), entry["value"])
        for key in ("vcpus", "memory"):
            if key not in cp:
                continue
            where = _jp(at, key)
            if key in found:
                self.fail(
                    key,
                    where,
                    f"given both here and in resourceRequirements ({key.upper()}); AWS refuses "
                    "both: keep the resourceRequirements entry",
                )
                continue
            found[key] = (where, cp[key])
        readers = {"vcpus": _vcpus_value, "memory": _mib_value, "gpus": _count_value}
        for field, (path, value) in found.items():
            self.origin[field] = path
            self.take(field, readers[field], value, path)

    def read_environment(self, value: object) -> FrozenMap:
        where = "containerProperties.environment"
        items = _arr(value, where)
        pairs: dict[str, str] = {}
        errors: list[FieldError] = []
        for i, item in enumerate(items):
            path = f"{where}[{i}]"
            try:
                entry = _obj(item, path)
                _only(entry, path, ("name", "value"))
                name = _str(entry.get("name"), _jp(path, "name"))
                text = _str(entry.get("value"), _jp(path, "value"))
            except SpecError as e:
                errors.extend(e.errors)
                continue
            if name in pairs:
                errors.append(FieldError(_jp(path, "name"), f"duplicate variable {name!r}"))
                continue
            pairs[name] = text
            self.env_index[name] = i
        if errors:
            raise SpecError(errors)
        return FrozenMap(pairs)

    def volume(self, item: object, path: str) -> Volume:
        entry = _obj(item, path)
        if "efsVolumeConfiguration" in entry:
            raise SpecError(
                FieldError(
                    _jp(path, "efsVolumeConfiguration"),
                    "EFS volumes are not supported locally; use a host volume "
                    "({'host': {'sourcePath': ...}})",
                )
            )
        _only(entry, path, ("name", "host", "efsVolumeConfiguration"))
        name = _str(entry.get("name"), _jp(path, "name"))
        host_path = None
        if entry.get("host") is not None:
            host = _obj(entry["host"], _jp(path, "host"))
            _only(host, _jp(path, "host"), ("sourcePath",))
            if "sourcePath" in host:
                host_path = _str(host["sourcePath"], _jp(path, "host.sourcePath"))
        return self.make(Volume, _kadam_index("volumes", path), name=name, host_path=host_path)

    def mount(self, item: object, path: str) -> MountPoint:
        entry = _obj(item, path)
        _only(entry, path, ("sourceVolume", "containerPath", "readOnly"))
        errors: list[FieldError] = []
        values: dict[str, Any] = {}
        for key, attr, read in (
            ("sourceVolume", "source_volume", _str),
            ("containerPath", "container_path", _str),
            ("readOnly", "read_only", _bool),
        ):
            if key not in entry:
                if key != "readOnly":
                    errors.append(FieldError(_jp(path, key), "required (a string)"))
                continue
            try:
                values[attr] = read(entry[key], _jp(path, key))
            except SpecError as e:
                errors.extend(e.errors)
        if errors:
            raise SpecError(errors)
        return self.make(MountPoint, _kadam_index("mount_points", path), **values)

    def ulimit(self, item: object, path: str) -> Ulimit:
        entry = _obj(item, path)
        _only(entry, path, ("name", "softLimit", "hardLimit"))
        errors: list[FieldError] = []
        values: dict[str, Any] = {}
        for key, attr, read in (
            ("name", "name", _str),
            ("softLimit", "soft", _int),
            ("hardLimit", "hard", _int),
        ):
            if key not in entry:
                errors.append(FieldError(_jp(path, key), "required"))
                continue
            try:
                values[attr] = read(entry[key], _jp(path, key))
            except SpecError as e:
                errors.extend(e.errors)
        if errors:
            raise SpecError(errors)
        return self.make(Ulimit, _kadam_index("ulimits", path), **values)

    def read_linux(self, value: object) -> None:
        where = "containerProperties.linuxParameters"
        try:
            lp = _obj(value, where)
        except SpecError as e:
            self.errors.extend(e.errors)
            return
        self.scan(lp, where, _LINUX_UNDERSTOOD, _LINUX_KEPT)
        if "sharedMemorySize" in lp:
            self.take(
                "shared_memory_size", _int, lp["sharedMemorySize"], _jp(where, "sharedMemorySize")
            )

    def read_log(self, value: object) -> LogConfiguration:
        where = "containerProperties.logConfiguration"
        entry = _obj(value, where)
        _only(entry, where, ("logDriver", "options", "secretOptions"))
        if "logDriver" not in entry:
            raise SpecError(FieldError(_jp(where, "logDriver"), "required (e.g. 'awslogs')"))
        errors: list[FieldError] = []
        driver = options = secrets = None
        try:
            driver = _str(entry["logDriver"], _jp(where, "logDriver"))
        except SpecError as e:
            errors.extend(e.errors)
        try:
            options = _str_map(entry.get("options") or {}, _jp(where, "options"))
        except SpecError as e:
            errors.extend(e.errors)
        try:
            path = _jp(where, "secretOptions")
            secrets = tuple(_each(_arr(entry.get("secretOptions") or [], path), path, _secret))
        except SpecError as e:
            errors.extend(e.errors)
        if errors:
            raise SpecError(errors)
        return self.make(
            LogConfiguration,
            "log_configuration",
            log_driver=driver,
            options=options,
            secret_options=secrets,
        )

    def read_retry(self, value: object) -> RetryStrategy:
        where = "retryStrategy"
        entry = _obj(value, where)
        _only(entry, where, ("attempts", "evaluateOnExit"))
        errors: list[FieldError] = []
        attempts = 1
        rules: list[EvaluateOnExit] = []
        if entry.get("attempts") is not None:
            try:
                attempts = _int(entry["attempts"], _jp(where, "attempts"))
            except SpecError as e:
                errors.extend(e.errors)
        if entry.get("evaluateOnExit") is not None:
            path = _jp(where, "evaluateOnExit")
            try:
                rules = _each(_arr(entry["evaluateOnExit"], path), path, self.rule)
            except SpecError as e:
                errors.extend(e.errors)
        if errors:
            raise SpecError(errors)
        return self.make(
            RetryStrategy, "retry_strategy", attempts=attempts, evaluate_on_exit=tuple(rules)
        )

    def rule(self, item: object, path: str) -> EvaluateOnExit:
        entry = _obj(item, path)
        keys = {
            "action": "action",
            "onExitCode": "on_exit_code",
            "onReason": "on_reason",
            "onStatusReason": "on_status_reason",
        }
        _only(entry, path, keys)
        if entry.get("action") is None:  # missing, or null
            raise SpecError(FieldError(_jp(path, "action"), "required: RETRY or EXIT"))
        values = {}
        errors: list[FieldError] = []
        for key, attr in keys.items():
            if entry.get(key) is not None:
                try:
                    values[attr] = _str(entry[key], _jp(path, key))
                except SpecError as e:
                    errors.extend(e.errors)
        if errors:
            raise SpecError(errors)
        index = path[path.rindex("[") :]
        return self.make(EvaluateOnExit, f"retry_strategy.evaluate_on_exit{index}", **values)

    def read_timeout(self, value: object) -> int:
        entry = _obj(value, "timeout")
        _only(entry, "timeout", ("attemptDurationSeconds",))
        if "attemptDurationSeconds" not in entry:
            raise SpecError(
                FieldError("timeout.attemptDurationSeconds", "required: seconds (e.g. 3600)")
            )
        return _int(entry["attemptDurationSeconds"], "timeout.attemptDurationSeconds")

    def read_kadam(self, value: object) -> None:
        try:
            block = _obj(value, "kadam")
            _only(block, "kadam", ("dependsOn", "arraySize", "arrayDependency"))
        except SpecError as e:
            self.errors.extend(e.errors)
            return
        if block.get("dependsOn") is not None:
            path = "kadam.dependsOn"
            self.take(
                "depends_on", lambda: tuple(_each(_arr(block["dependsOn"], path), path, _str))
            )
        if block.get("arraySize") is not None:
            self.take("array_size", _int, block["arraySize"], "kadam.arraySize")
        if block.get("arrayDependency") is not None:
            self.take("array_dependency", _str, block["arrayDependency"], "kadam.arrayDependency")


def _kadam_index(field: str, json_path: str) -> str:
    """``volumes[3]`` from ``containerProperties.volumes[3]`` (lists map one to one)."""
    return field + json_path[json_path.rindex("[") :]


def _secret(item: object, path: str) -> tuple[str, str]:
    entry = _obj(item, path)
    _only(entry, path, ("name", "valueFrom"))
    return (
        _str(entry.get("name"), _jp(path, "name")),
        _str(entry.get("valueFrom"), _jp(path, "valueFrom")),
    )


def _vcpus_value(value: object, path: str) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value) if abs(value) < 1e300 else None
    elif isinstance(value, str) and re.fullmatch(r"\s*[0-9]*\.?[0-9]+\s*", value):
        number = float(value)
    if number is None or not math.isfinite(number):
        raise SpecError(
            FieldError(
                path, f'must be a number of vCPUs as a string, e.g. "2" or "0.5" (got {value!r})'
            )
        )
    return number


def _mib_value(value: object, path: str) -> int:
    if _is_int(value):
        assert isinstance(value, int)
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return int(value)
    raise SpecError(
        FieldError(path, f'must be a whole number of MiB as a string, e.g. "2048" (got {value!r})')
    )


def _count_value(value: object, path: str) -> int:
    if _is_int(value):
        assert isinstance(value, int)
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return int(value)
    raise SpecError(
        FieldError(path, f'must be a whole number as a string, e.g. "1" (got {value!r})')
    )


def definition_from_aws(
    doc: Mapping[str, Any] | str | bytes, *, warn: bool = True
) -> JobDefinition:
    """A :class:`JobDefinition` from ``RegisterJobDefinition`` JSON (a dict, or its text).

    See the module docstring for what is understood, kept (with a :class:`KadamWarning`, unless
    ``warn=False``: for re-reading documents kadam wrote itself) and refused. Every problem is
    reported at once, in one :class:`SpecError` naming JSON paths.
    """
    return _definition_from_aws(doc, stacklevel=3, warn=warn)


def _definition_from_aws(doc: object, stacklevel: int, warn: bool = True) -> JobDefinition:
    context = "job definition JSON"
    if isinstance(doc, (str, bytes, bytearray)):
        try:
            doc = json.loads(doc)
        except (ValueError, RecursionError) as e:
            raise SpecError(FieldError(_DOCUMENT, f"is not valid JSON: {e}"), context) from None
    if not isinstance(doc, Mapping):
        raise SpecError(FieldError(_DOCUMENT, f"must be a JSON object (got {_kind(doc)})"), context)
    reader = _Reader()
    reader.read(doc)
    name = reader.values.get("name")
    if isinstance(name, str) and name:
        context = f"job definition {name!r} (AWS JSON)"
    reader.values["aws_extra"] = _canonical_json(reader.kept)
    definition = _finish(
        _defaults() | reader.values, reader.errors, reader.failed, context, reader.translate
    )
    if warn and reader.kept_paths:
        warnings.warn(
            f"{context}: {', '.join(reader.kept_paths)}: no local effect in kadam; kept as they "
            "are for export to AWS Batch",
            KadamWarning,
            stacklevel=stacklevel,
        )
    if warn and reader.ignored:
        warnings.warn(
            f"{context}: ignored {', '.join(reader.ignored)}: these are DescribeJobDefinitions "
            "output, not RegisterJobDefinition input (kadam numbers revisions itself)",
            KadamWarning,
            stacklevel=stacklevel,
        )
    return definition


# ---------------------------------------------------------------------------------------------
# JobDefinition -> RegisterJobDefinition JSON


def _number_text(value: float) -> str:
    """``"2"`` for 2.0, ``"0.25"`` for 0.25: how AWS writes resource values."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _retry_to_aws(rs: RetryStrategy) -> dict[str, Any]:
    out: dict[str, Any] = {"attempts": rs.attempts}
    if rs.evaluate_on_exit:
        rules = []
        for rule in rs.evaluate_on_exit:
            entry: dict[str, Any] = {}
            if rule.on_status_reason is not None:
                entry["onStatusReason"] = rule.on_status_reason
            if rule.on_reason is not None:
                entry["onReason"] = rule.on_reason
            if rule.on_exit_code is not None:
                entry["onExitCode"] = rule.on_exit_code
            entry["action"] = rule.action
            rules.append(entry)
        out["evaluateOnExit"] = rules
    return out


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Put the kept fields back where they came from, never over an understood one."""
    for key, value in extra.items():
        if key not in target:
            target[key] = value
        elif isinstance(target[key], dict) and isinstance(value, Mapping):
            _merge(target[key], value)


def _ordered(obj: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    head = {k: obj[k] for k in order if k in obj}
    return head | {k: v for k, v in obj.items() if k not in head}


def _container_to_aws(d: JobDefinition) -> dict[str, Any]:
    cp: dict[str, Any] = {}
    if d.image is not None:
        cp["image"] = d.image
    if d.command:
        cp["command"] = list(d.command)
    if d.job_role_arn is not None:
        cp["jobRoleArn"] = d.job_role_arn
    if d.execution_role_arn is not None:
        cp["executionRoleArn"] = d.execution_role_arn
    if d.volumes:
        cp["volumes"] = [
            {"name": v.name} | ({"host": {"sourcePath": v.host_path}} if v.host_path else {})
            for v in d.volumes
        ]
    if d.environment:
        cp["environment"] = [{"name": k, "value": v} for k, v in d.environment.items()]
    if d.mount_points:
        cp["mountPoints"] = [
            {"sourceVolume": m.source_volume, "containerPath": m.container_path}
            | ({"readOnly": True} if m.read_only else {})
            for m in d.mount_points
        ]
    if d.readonly_root_filesystem:
        cp["readonlyRootFilesystem"] = True
    if d.privileged:
        cp["privileged"] = True
    if d.ulimits:
        cp["ulimits"] = [
            {"name": u.name, "softLimit": u.soft, "hardLimit": u.hard} for u in d.ulimits
        ]
    if d.user is not None:
        cp["user"] = d.user
    requirements = [
        {"type": "MEMORY", "value": str(d.memory)},
        {"type": "VCPU", "value": _number_text(d.vcpus)},
    ]
    if d.gpus:
        requirements.append({"type": "GPU", "value": str(d.gpus)})
    cp["resourceRequirements"] = requirements
    if d.shared_memory_size is not None:
        cp["linuxParameters"] = {"sharedMemorySize": d.shared_memory_size}
    if d.log_configuration is not None:
        log = d.log_configuration
        entry: dict[str, Any] = {"logDriver": log.log_driver}
        if log.options:
            entry["options"] = dict(log.options)
        if log.secret_options:
            entry["secretOptions"] = [{"name": n, "valueFrom": v} for n, v in log.secret_options]
        cp["logConfiguration"] = entry
    return cp


def definition_to_aws(d: JobDefinition, extensions: bool = False) -> dict[str, Any]:
    """``RegisterJobDefinition`` JSON for ``d`` (``revision`` is not part of it).

    Empty and default values are left out, the kept AWS fields (``aws_extra``) are put back
    where they came from, and with ``extensions=True`` kadam's own fields are written in a
    top-level ``"kadam"`` block (when there are any): AWS would refuse that block.
    """
    doc: dict[str, Any] = {"jobDefinitionName": d.name, "type": "container"}
    if d.parameters:
        doc["parameters"] = dict(d.parameters)
    doc["containerProperties"] = _container_to_aws(d)
    rs = d.retry_strategy
    if rs.attempts != 1 or rs.evaluate_on_exit:
        doc["retryStrategy"] = _retry_to_aws(rs)
    if d.timeout is not None:
        doc["timeout"] = {"attemptDurationSeconds": d.timeout}
    if d.tags:
        doc["tags"] = dict(d.tags)
    _merge(doc, json.loads(d.aws_extra))
    if extensions:
        block: dict[str, Any] = {}
        if d.depends_on:
            block["dependsOn"] = list(d.depends_on)
        if d.array_size is not None:
            block["arraySize"] = d.array_size
        if d.array_dependency is not None:
            block["arrayDependency"] = d.array_dependency
        if block:
            doc["kadam"] = block
    doc["containerProperties"] = _ordered(doc["containerProperties"], CONTAINER_PROPERTIES)
    return _ordered(doc, _TOP_ORDER)


def export_warnings(d: JobDefinition) -> list[str]:
    """What AWS Batch would refuse in ``d``'s export, or treat differently from kadam."""
    out: list[str] = []
    if d.image is None:
        out.append(
            "image: AWS Batch needs containerProperties.image; this definition has none "
            "(kadam runs its command without a container)"
        )
    if d.timeout is not None and d.timeout < 60:
        out.append(
            f"timeout: AWS Batch requires attemptDurationSeconds >= 60; this definition's "
            f"{d.timeout} s would be refused"
        )
    if not d.vcpus.is_integer():
        out.append(
            f"vcpus: {d.vcpus:g} vCPUs is only valid on Fargate (0.25, 0.5, 1, 2, 4, ...); "
            "EC2 compute environments need a whole number"
        )
    if d.log_configuration is not None and d.log_configuration.log_driver not in AWS_LOG_DRIVERS:
        out.append(
            f"log_configuration.log_driver: AWS Batch accepts only "
            f"{', '.join(sorted(AWS_LOG_DRIVERS))} (got {d.log_configuration.log_driver!r})"
        )
    if len(d.tags) > 50:
        out.append(f"tags: AWS allows at most 50 tags per resource (got {len(d.tags)})")
    for field in ("job_role_arn", "execution_role_arn"):
        value = getattr(d, field)
        if value is not None and not value.startswith("arn:"):
            out.append(f"{field}: AWS expects an IAM role ARN (arn:aws:iam::...), got {value!r}")
    if any("/kadam/work" in arg or "KADAM_WORK" in arg for arg in d.command):
        out.append(
            "command: uses kadam's shared work directory (/kadam/work, $KADAM_WORK), which "
            "does not exist on AWS Batch; pass data through S3 or EFS there"
        )
    if d.depends_on or d.array_size is not None:
        out.append(
            "depends_on/array_size/array_dependency: kadam's own fields, not part of a job "
            "definition on AWS; give them to SubmitJob (dependsOn, arrayProperties) instead"
        )
    return out


def masked_export(
    d: JobDefinition, *, extensions: bool = False, extra: Iterable[str] = ()
) -> tuple[dict[str, Any], list[str]]:
    """What ``%kadam export aws``, ``%kadam show`` and the form print: :func:`definition_to_aws`
    with each secret-looking environment or parameter value (:mod:`kadam_nb.core.secrets`)
    replaced by the placeholder ``MASK``, and one warning per replaced value saying where a
    secret belongs on AWS Batch (``containerProperties.secrets``, with ``valueFrom``)."""
    masked, hidden = mask_definition(d, extra)
    warnings_ = []
    for field in hidden:
        kind, name = field.split(".", 1)
        where = (
            f'containerProperties.secrets [{{"name": "{name}", "valueFrom": "<Secrets Manager '
            'or SSM Parameter Store ARN>"}]'
            if kind == "environment"
            else "SubmitJob's parameters, not as a default in the definition"
        )
        warnings_.append(
            f"{field}: value masked ({MASK}) in this export; on AWS Batch give a secret in {where}"
        )
    return definition_to_aws(masked, extensions=extensions), warnings_


# ---------------------------------------------------------------------------------------------
# SubmitJob


_OVERRIDE_KEYS = (
    "command",
    "environment",
    "resourceRequirements",
    "vcpus",
    "memory",
    "instanceType",
)


def _dependency(item: object, path: str) -> dict[str, str]:
    job_id: object
    kind: object
    if isinstance(item, str):
        job_id, kind = item, None
    elif isinstance(item, Mapping):
        _only(item, path, ("jobId", "type"))
        job_id, kind = item.get("jobId"), item.get("type")
    elif isinstance(item, (tuple, list)) and len(item) == 2:
        job_id, kind = item
    else:
        raise SpecError(
            FieldError(path, "must be a job id, (job_id, type) or {'jobId': ..., 'type': ...}")
        )
    if not isinstance(job_id, str) or not job_id:
        raise SpecError(FieldError(path, "the job id must be a non-empty string"))
    entry = {"jobId": job_id}
    if kind is not None:
        if kind not in ARRAY_DEPENDENCY_TYPES:
            raise SpecError(FieldError(_jp(path, "type"), "must be N_TO_N or SEQUENTIAL"))
        entry["type"] = kind
    return entry


def submit_job_to_aws(
    *,
    job_name: str,
    job_definition: str | JobDefinition,
    job_queue: str,
    depends_on: Iterable[Any] = (),
    array_size: int | None = None,
    parameters: Mapping[str, str] | None = None,
    retry_strategy: RetryStrategy | Mapping[str, Any] | None = None,
    timeout: int | str | None = None,
    container_overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``SubmitJob`` request body, empty keys left out.

    ``job_definition`` is a name, ``name:revision`` or ARN, or a :class:`JobDefinition`
    (``name:revision`` when it has a revision). ``depends_on`` items are job ids,
    ``(job_id, type)`` pairs or ``{"jobId", "type"}`` dicts (type ``N_TO_N``/``SEQUENTIAL``).
    ``retry_strategy`` and ``timeout`` take the same forms as :meth:`JobDefinition.create`.
    ``container_overrides`` is AWS-shaped; an ``environment`` dict is turned into AWS's list.
    """
    errors: list[FieldError] = []
    body: dict[str, Any] = {}
    if isinstance(job_name, str) and _NAME.fullmatch(job_name):
        body["jobName"] = job_name
    else:
        errors.append(FieldError("job_name", f"must be {_NAME_RULE}"))
    if isinstance(job_queue, str) and job_queue:
        body["jobQueue"] = job_queue
    else:
        errors.append(FieldError("job_queue", "must be a queue name or ARN"))
    if array_size is not None:
        if _is_int(array_size) and 2 <= array_size <= 10000:
            body["arrayProperties"] = {"size": array_size}
        else:
            errors.append(FieldError("array_size", "must be a whole number from 2 to 10000"))
    try:
        deps = _each(_arr(depends_on, "depends_on"), "depends_on", _dependency)
        if len(deps) > 20:
            errors.append(FieldError("depends_on", f"at most 20 dependencies; got {len(deps)}"))
        elif deps:
            body["dependsOn"] = deps
    except SpecError as e:
        errors.extend(e.errors)
    if isinstance(job_definition, JobDefinition):
        d = job_definition
        body["jobDefinition"] = d.name if d.revision is None else f"{d.name}:{d.revision}"
    elif isinstance(job_definition, str) and job_definition:
        body["jobDefinition"] = job_definition
    else:
        errors.append(
            FieldError("job_definition", "must be a name, name:revision, ARN or JobDefinition")
        )
    if parameters:
        try:
            body["parameters"] = dict(_str_map(parameters, "parameters"))
        except SpecError as e:
            errors.extend(e.errors)
    if container_overrides:
        try:
            overrides = dict(_obj(container_overrides, "container_overrides"))
            _only(overrides, "container_overrides", _OVERRIDE_KEYS)
            env = overrides.get("environment")
            if isinstance(env, Mapping):
                overrides["environment"] = [
                    {"name": k, "value": v}
                    for k, v in _str_map(env, "container_overrides.environment").items()
                ]
            problems = _json_problems(overrides, "container_overrides")
            if problems:
                raise SpecError(problems)
            body["containerOverrides"] = {
                k: v for k, v in overrides.items() if v not in (None, [], {})
            }
        except SpecError as e:
            errors.extend(e.errors)
    if retry_strategy is not None:
        try:
            attempts, rules = _p_retry_strategy(retry_strategy, "retry_strategy")
            body["retryStrategy"] = _retry_to_aws(
                _sub(
                    RetryStrategy,
                    "retry_strategy",
                    attempts=1 if attempts is None else attempts,
                    evaluate_on_exit=rules,
                )
            )
        except SpecError as e:
            errors.extend(e.errors)
    if timeout is not None:
        try:
            body["timeout"] = {"attemptDurationSeconds": _p_optional_duration(timeout, "timeout")}
        except SpecError as e:
            errors.extend(e.errors)
    if errors:
        raise SpecError(errors, "SubmitJob")
    return body

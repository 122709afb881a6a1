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

The parts a definition is made of live in :mod:`kadam_nb.core.parts`, the rules of a whole
definition in :mod:`kadam_nb.core.rules`, the lenient parsers in :mod:`kadam_nb.core.lenient`;
this module holds :class:`JobDefinition` and the builder behind its lenient front door, and
re-exports the public names of the others (``__all__``): import them from here.

Standard library only, no I/O.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from itertools import compress
from operator import is_not
from typing import Any

from ..errors import FieldError, SpecError
from .lenient import (
    _FIELD_PARSERS,
    _p_int,
    _p_retry_strategy,
    _p_volumes,
    parse_duration,
    parse_memory,
)
from .parts import (
    _DEFAULT_RETRY,
    _EMPTY,
    ARRAY_DEPENDENCY_TYPES,
    SHELL,
    ULIMIT_NAMES,
    EvaluateOnExit,
    FrozenMap,
    LogConfiguration,
    MountPoint,
    RetryStrategy,
    Ulimit,
    Volume,
    _at,
    _suggest,
)
from .rules import (
    _canonical_json,
    _definition_problems,
    _normalize,
    _problems_of_given,
)
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

# ---------------------------------------------------------------------------------------------
# Small helpers


def _context(name: object) -> str:
    return f"job definition {name!r}" if isinstance(name, str) and name else "job definition"


_MISSING = object()


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
        problems = _problems_of_given(fields_now, given)
        if problems:
            raise SpecError(problems, _context(self.name))

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
        problems = _problems_of_given(fields_now, given)
        if problems:
            raise SpecError(problems, _context(self.name))
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
# Building from parsed fields (create / replace; core.aws builds through _finish)


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

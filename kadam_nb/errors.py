"""The errors kadam raises: every refusal is a :class:`KadamError` whose message says what to fix.

Standard library only, so that :mod:`kadam_nb.core` can raise these too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "BackendUnavailable",
    "CapacityError",
    "DependencyError",
    "FieldError",
    "KadamError",
    "KadamWarning",
    "NotFound",
    "SpecError",
    "StateDirBusy",
    "StateError",
]


class KadamError(Exception):
    """Base class of every error kadam raises on purpose."""


class KadamWarning(UserWarning):
    """Something kadam accepted but wants you to know (e.g. a field with no local effect)."""


@dataclass(frozen=True)
class FieldError:
    """One broken rule: which field (dotted path, as in AWS's JSON or kadam's keyword) and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SpecError(KadamError, ValueError):
    """A definition, job or setting breaks a rule. ``errors`` lists every broken rule at once."""

    def __init__(self, errors: FieldError | Iterable[FieldError], context: str = "") -> None:
        self.errors: tuple[FieldError, ...] = (
            (errors,) if isinstance(errors, FieldError) else tuple(errors)
        )
        self.context = context
        lines = [str(e) for e in self.errors]
        head = f"{context}: " if context else ""
        if len(lines) == 1:
            message = head + lines[0]
        else:
            message = head + f"{len(lines)} problems:\n" + "\n".join("  - " + s for s in lines)
        super().__init__(message)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(e.field for e in self.errors)


class DependencyError(KadamError, ValueError):
    """The dependency graph cannot run: a cycle, a missing definition, mismatched arrays."""


class CapacityError(SpecError):
    """A job asks for more vCPUs, memory or GPUs than its queue's compute environments ever have."""


class NotFound(KadamError, LookupError):
    """No definition, job, queue or compute environment by that name or id."""


class StateError(KadamError):
    """An operation that the job's current state does not allow."""


class BackendUnavailable(KadamError):
    """The backend asked for cannot be used here (e.g. no Docker engine answers)."""


class StateDirBusy(KadamError):
    """Another live Registry (usually another kernel) owns this state directory's scheduler."""

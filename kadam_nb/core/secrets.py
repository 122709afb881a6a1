"""The one rule for secret-looking names: which values kadam never shows.

A name is secret when it matches, ignoring case, one of the glob patterns
:data:`DEFAULT_PATTERNS` (``*_KEY``, ``*_SECRET``, ``*TOKEN*``, ``*PASSWORD*``: always on), the
process-wide extra patterns (:func:`set_extra_patterns`; in a notebook the trait
``Kadam.secret_patterns`` sets them) or the ``extra`` patterns a caller passes. Every view
uses these functions: definition sheets, ``repr(JobDefinition)``, ``%kadam show``, ``%kadam
export aws``, the form's "Show as code", ``%kadam logs`` and the dashboard's log panes.

What is masked is the *value*; the name stays visible, so a reader knows the variable is set.
The job itself still gets the real value, and :meth:`JobDefinition.to_aws
<kadam_nb.core.spec.JobDefinition.to_aws>` (data in the caller's hands, also what the store
keeps) returns it unchanged.

Standard library only, no I/O.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spec import JobDefinition

__all__ = [
    "DEFAULT_PATTERNS",
    "MASK",
    "extra_patterns",
    "is_secret_name",
    "mask_definition",
    "mask_environment",
    "mask_text",
    "secret_patterns",
    "secret_values",
    "set_extra_patterns",
]

DEFAULT_PATTERNS: tuple[str, ...] = ("*_KEY", "*_SECRET", "*TOKEN*", "*PASSWORD*")
"""Glob patterns (case-insensitive) of names whose values are always masked."""

MASK = "••••••"
"""What a secret value is shown as, everywhere."""

MIN_LOG_SECRET = 4
"""Values shorter than this are not searched for in log lines (``1`` would hide every digit)."""

_extra: tuple[str, ...] = ()


def _check_patterns(patterns: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(patterns, str):  # one pattern, not its characters
        patterns = [patterns]
    out = tuple(patterns)
    for p in out:
        if not isinstance(p, str):
            raise ValueError(f"secret patterns are glob strings like '*_CRED*'; got {p!r}")
    return tuple(p.strip() for p in out if p.strip())  # a blank pattern would mean nothing


def set_extra_patterns(patterns: Iterable[str] | str) -> None:
    """Mask, in this process, the names matching ``patterns`` too (on top of the defaults).

    ``Kadam.secret_patterns`` calls this when it is set; call it yourself outside a notebook.
    """
    global _extra
    _extra = _check_patterns(patterns)


def extra_patterns() -> tuple[str, ...]:
    """The process-wide extra patterns (:func:`set_extra_patterns`)."""
    return _extra


def secret_patterns(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Every pattern in force: the defaults, the process-wide extras and ``extra``."""
    return tuple(dict.fromkeys((*DEFAULT_PATTERNS, *_extra, *_check_patterns(extra))))


@lru_cache(maxsize=64)
def _matcher(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(p.upper()) for p in patterns))


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether the value of ``name`` must not be shown.

    >>> is_secret_name("AWS_SECRET_ACCESS_KEY"), is_secret_name("github_token")
    (True, True)
    >>> is_secret_name("PATH"), is_secret_name("MODE", extra=["MODE"])
    (False, True)
    """
    return _matcher(secret_patterns(extra)).match(name.upper()) is not None


def mask_environment(values: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``values`` (environment, parameters) with each secret value replaced by
    :data:`MASK`; the input is left alone."""
    extra = tuple(extra)
    return {k: MASK if is_secret_name(k, extra) else v for k, v in values.items()}


def secret_values(values: Mapping[str, str], extra: Iterable[str] = ()) -> list[str]:
    """The secret values of ``values`` worth looking for in text (at least
    :data:`MIN_LOG_SECRET` characters), longest first."""
    extra = tuple(extra)
    found = {v for k, v in values.items() if len(v) >= MIN_LOG_SECRET and is_secret_name(k, extra)}
    return sorted(found, key=lambda v: (-len(v), v))


def mask_text(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of each of ``values`` replaced by :data:`MASK`
    (pass :func:`secret_values`, longest first, so that a value inside another goes too)."""
    for value in values:
        if value and value in text:
            text = text.replace(value, MASK)
    return text


def mask_definition(d: JobDefinition, extra: Iterable[str] = ()) -> tuple[JobDefinition, list[str]]:
    """``d`` with its secret environment and parameter values masked (for showing it as a
    cell or as JSON), and the masked fields (``environment.API_KEY``, ``parameters.token``)."""
    extra = tuple(extra)
    hidden = [
        f"{field}.{name}"
        for field in ("environment", "parameters")
        for name in getattr(d, field)
        if is_secret_name(name, extra)
    ]
    if not hidden:
        return d, []
    masked = d.replace(
        environment=mask_environment(d.environment, extra),
        parameters=mask_environment(d.parameters, extra),
    )
    return masked, hidden

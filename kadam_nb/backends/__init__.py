"""Backends run attempts: ``local`` (host processes) and, when an engine answers, ``docker``."""

from __future__ import annotations

from ..errors import BackendUnavailable, SpecError
from ..errors import FieldError as _FieldError
from .base import Backend

__all__ = ["BACKEND_CHOICES", "make_backend", "resolve_backend_name"]

BACKEND_CHOICES = ("auto", "docker", "local")


def resolve_backend_name(name: str) -> str:
    """The concrete backend ``name`` means here ("auto" picks docker when it can)."""
    if name not in BACKEND_CHOICES:
        raise SpecError(
            _FieldError(
                "backend", f"{name!r} is not a backend; use one of {', '.join(BACKEND_CHOICES)}"
            )
        )
    if name == "auto":
        return "local"
    if name == "docker":
        raise BackendUnavailable(
            "the docker backend is not available in this version of kadam; use backend='local'"
        )
    return name


def make_backend(name: str, *, stop_grace: float) -> Backend:
    if name == "local":
        from .local import LocalBackend

        return LocalBackend(stop_grace=stop_grace)
    raise BackendUnavailable(f"no backend named {name}")

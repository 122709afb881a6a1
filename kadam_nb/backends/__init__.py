"""Backends run attempts: ``docker`` (containers) and ``local`` (host processes)."""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

from ..errors import BackendUnavailable, FieldError, KadamWarning, SpecError
from .base import Backend

__all__ = ["BACKEND_CHOICES", "docker_client", "make_backend", "resolve_backend_name"]

BACKEND_CHOICES = ("auto", "docker", "local")
_client_lock = threading.Lock()
_clients: dict[str, Any] = {}  # DOCKER_HOST ("" for the default engine) -> its client
_client: Any = None  # unused; kept because tests reset it
_said_local = False


def docker_client() -> Any:
    """A shared Docker client that answered a ping (BackendUnavailable says how to get one).

    One client per engine: the one ``DOCKER_HOST`` names when the Registry is created (the
    default engine when it is unset), so a Registry can be pointed at another engine."""
    from .docker import connect

    host = os.environ.get("DOCKER_HOST", "")
    with _client_lock:
        client = _clients.get(host)
        if client is not None:
            try:  # the engine may have gone since: a new Registry must hear of it now
                client.ping()
                return client
            except Exception:
                del _clients[host]
        _clients[host] = connect()
        return _clients[host]


def resolve_backend_name(name: str) -> str:
    """The concrete backend ``name`` means here: "auto" is docker when an engine answers,
    otherwise local (said once per session)."""
    global _said_local
    if name not in BACKEND_CHOICES:
        choices = ", ".join(BACKEND_CHOICES)
        raise SpecError(FieldError("backend", f"{name!r} is not a backend; use one of {choices}"))
    if name == "docker":
        docker_client()
        return "docker"
    if name == "auto":
        try:
            docker_client()
            return "docker"
        except BackendUnavailable as exc:
            if not _said_local:
                _said_local = True
                warnings.warn(
                    f"kadam: running jobs as local processes because {exc}",
                    KadamWarning,
                    stacklevel=3,
                )
            return "local"
    return name


def make_backend(
    name: str, *, stop_grace: float, state_dir: str = "", keep_failed: bool = False
) -> Backend:
    if name == "local":
        from .local import LocalBackend

        return LocalBackend(stop_grace=stop_grace)
    if name == "docker":
        from .docker import DockerBackend

        return DockerBackend(
            stop_grace=stop_grace,
            state_dir=state_dir,
            keep_failed=keep_failed,
            client=docker_client(),
        )
    raise BackendUnavailable(f"no backend named {name}")

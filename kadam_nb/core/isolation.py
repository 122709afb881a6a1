"""What a definition asks for that breaks a container's isolation from the host.

kadam gives a container none of these unless its definition says so explicitly: privileged
mode, or a bind mount of the host's ``/``, of ``/etc`` (or anything under it), or of the
Docker socket (``/var/run/docker.sock``, ``/run/docker.sock``, or a directory holding it).
Host networking and the host's PID namespace cannot be asked for at all (a definition has no
such field, and the Docker backend never sets them). :func:`isolation_risks` lists what a
definition asks for, each as a :class:`~kadam_nb.errors.FieldError` naming the field, so that
the form can show it beside the input and ``%%kadam job`` can warn.

Standard library only, no I/O.
"""

from __future__ import annotations

import posixpath

from ..errors import FieldError
from .spec import JobDefinition

__all__ = ["DOCKER_SOCKETS", "PRIVILEGED_RISK", "host_path_risk", "isolation_risks"]

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
"""Where the Docker engine's socket lives (``/var/run`` is a link to ``/run``)."""

PRIVILEGED_RISK = (
    "a privileged container has every capability and the host's devices: it can take over the host"
)
"""Why ``privileged`` breaks isolation."""


def _normal(path: str) -> str:
    path = posixpath.normpath(path)
    return "/" + path.lstrip("/") if path.startswith("/") else path


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def host_path_risk(host_path: str) -> str | None:
    """Why bind-mounting ``host_path`` breaks isolation, or None when it does not."""
    path = _normal(host_path)
    if not path.startswith("/"):
        return None
    if path == "/":
        return "mounts the host's whole filesystem (/) into the container"
    if _within(path, "/etc"):
        return f"mounts the host's configuration ({path}, under /etc) into the container"
    for socket in DOCKER_SOCKETS:
        if _within(path, socket) or _within(socket, path):
            return (
                f"mounts the Docker socket ({socket}) into the container: whatever runs there "
                "can start privileged containers, i.e. is root on the host"
            )
    return None


def isolation_risks(d: JobDefinition) -> list[FieldError]:
    """Each thing ``d`` asks for that breaks its container's isolation, naming the field
    (``privileged``, ``volumes[i].host_path``); empty for an isolated definition."""
    out: list[FieldError] = []
    if d.privileged:
        out.append(FieldError("privileged", PRIVILEGED_RISK))
    mounted = {m.source_volume for m in d.mount_points}
    for i, volume in enumerate(d.volumes):
        if volume.host_path is None or volume.name not in mounted:
            continue
        why = host_path_risk(volume.host_path)
        if why is not None:
            out.append(FieldError(f"volumes[{i}].host_path", why))
    return out

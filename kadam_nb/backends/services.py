"""Services that schedule jobs themselves: AWS Batch and Slurm.

A compute environment of one of these types hands its jobs over whole (see
:class:`~kadam_nb.backends.base.RemoteBackend`); its settings say where they go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import FieldError

__all__ = ["SERVICE_SETTINGS", "check_service_settings", "make_service_backend"]

SERVICE_SETTINGS: dict[str, dict[str, bool]] = {
    # setting -> required
    "aws-batch": {
        "job_queue": True,
        "region": False,
        "endpoint_url": False,
        "mount_work_dir": False,  # "true": the run's files are mounted (jobs on this machine)
    },
    "slurm": {"partition": False, "account": False},
}
"""Each service's compute-environment settings, and whether it must be given."""


def check_service_settings(backend: str, settings: Mapping[str, Any]) -> list[FieldError]:
    """What is wrong with ``settings`` for ``backend``, each naming the setting and the rule."""
    allowed = SERVICE_SETTINGS.get(backend)
    if allowed is None:
        if not settings:
            return []
        names = ", ".join(sorted(settings))
        return [
            FieldError(
                names,
                f"settings are for services only (backend aws-batch or slurm), not {backend}",
            )
        ]
    errors = []
    for key, value in settings.items():
        if key not in allowed:
            known = ", ".join(allowed)
            errors.append(FieldError(key, f"not a setting of a {backend} environment; use {known}"))
        elif isinstance(value, bool):
            continue  # a flag (mount_work_dir), kept as "true"/"false"
        elif value is not None and (not isinstance(value, str) or not value.strip()):
            errors.append(FieldError(key, "must be a non-empty string"))
    for key, required in allowed.items():
        if required and not settings.get(key):
            errors.append(FieldError(key, f"a {backend} environment needs it"))
    return errors


def make_service_backend(name: str, state_dir: str, stop_grace: float = 10.0) -> Any:
    """The backend object for service ``name`` (its library is imported only here)."""
    if name == "aws-batch":
        from .aws_batch import AwsBatchBackend

        return AwsBatchBackend(state_dir=state_dir)
    from .slurm import SlurmBackend

    return SlurmBackend(state_dir=state_dir, stop_grace=stop_grace)

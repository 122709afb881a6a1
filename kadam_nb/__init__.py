"""kadam_nb: AWS Batch's model in a notebook.

Define job definitions (Python, ``%%kadam job`` magics or a form), and a kernel-side
:class:`Registry` runs them in dependency order — in Docker containers or as local processes —
and streams their logs back while they run.

>>> import kadam_nb as kadam
>>> reg = kadam.Registry(state_dir=".kadam", backend="local")      # doctest: +SKIP
>>> reg.register("hello", command="echo hi")                        # doctest: +SKIP
>>> reg.run().wait()                                                # doctest: +SKIP
True
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from .core.spec import (
    EvaluateOnExit,
    JobDefinition,
    MountPoint,
    RetryStrategy,
    Ulimit,
    Volume,
)
from .core.states import JobStatus
from .errors import (
    BackendUnavailable,
    CapacityError,
    DependencyError,
    KadamError,
    KadamWarning,
    NotFound,
    SpecError,
    StateDirBusy,
    StateError,
)

if TYPE_CHECKING:
    from .facade import Registry
    from .jobs import Job, Run
    from .notebook.form import JobForm

__all__ = [
    "BackendUnavailable",
    "CapacityError",
    "DependencyError",
    "EvaluateOnExit",
    "Job",
    "JobDefinition",
    "JobStatus",
    "KadamError",
    "KadamWarning",
    "MountPoint",
    "NotFound",
    "Registry",
    "RetryStrategy",
    "Run",
    "SpecError",
    "StateDirBusy",
    "StateError",
    "Ulimit",
    "Volume",
    "__version__",
    "form",
    "load_ipython_extension",
    "registry",
]

__version__ = "0.1.0.dev0"

_default: Registry | None = None
_default_lock = threading.Lock()


def registry(**kwargs: Any) -> Registry:
    """The kernel's default Registry (the one the magics use), created on first use.

    Its state directory is ``$KADAM_STATE_DIR`` or ``.kadam`` beside the notebook, its backend
    ``$KADAM_BACKEND`` or "auto". Keywords are passed to :class:`Registry` the first time.
    """
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            from .facade import Registry

            kwargs.setdefault("state_dir", os.environ.get("KADAM_STATE_DIR", ".kadam"))
            kwargs.setdefault("backend", os.environ.get("KADAM_BACKEND", "auto"))
            _default = Registry(**kwargs)
        return _default


def form(name: str | None = None) -> JobForm:
    """An AWS-console-like form for a job definition, on the default :func:`registry`.

    With ``name`` of a registered definition it starts filled with its latest revision. Display
    it (the last expression of a cell) to use it; ``%kadam form [NAME]`` is the same.
    """
    from .notebook.form import JobForm

    return JobForm(registry(), name=name)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kadam_nb`` registers the ``%kadam`` magics (IPython is imported only then)."""
    from .notebook import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:  # lazy: keep `import kadam_nb` light
    if name == "Registry":
        from .facade import Registry

        return Registry
    if name in ("Job", "Run"):
        from . import jobs

        return getattr(jobs, name)
    raise AttributeError(f"module 'kadam_nb' has no attribute {name!r}")

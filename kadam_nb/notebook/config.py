"""kadam's notebook settings as one configurable class (traitlets).

Set them in ``ipython_config.py`` (``c.Kadam.backend = "local"``), in a notebook with
``%config Kadam.log_lines = 500``, or with ``KADAM_*`` environment variables
(``KADAM_BACKEND=local``). ``%kadam config`` shows the effective values and where each came from.
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Bool, Enum, Float, Int, List, Unicode, observe
from traitlets.config import Configurable

from ..core import secrets

__all__ = ["ENV_PREFIX", "Kadam"]

ENV_PREFIX = "KADAM_"


class Kadam(Configurable):
    """Settings of kadam's magics, dashboard and default Registry."""

    state_dir = Unicode(
        ".kadam", help="Where the registry keeps its history: a folder beside the notebook."
    ).tag(config=True)
    backend = Enum(
        ["auto", "docker", "local"],
        default_value="auto",
        help="What runs jobs: docker, local processes, or auto (docker when an engine answers).",
    ).tag(config=True)
    default_image = Unicode("busybox:1.36", help="Image for definitions that name none.").tag(
        config=True
    )
    log_lines = Int(
        200, min=10, help="Lines of each job's log shown in a dashboard pane (the file keeps all)."
    ).tag(config=True)
    updates_per_second = Float(
        10.0,
        min=0.5,
        max=20.0,
        help="How often the dashboard may redraw (the browser drops messages above ~1000/s).",
    ).tag(config=True)
    keep_failed_containers = Bool(
        False, help="Keep failed attempts' containers for debugging (id shown on the attempt)."
    ).tag(config=True)
    stop_grace = Float(
        10.0, min=0.0, help="Seconds between SIGTERM and SIGKILL on timeout or terminate."
    ).tag(config=True)
    secret_patterns = List(
        Unicode(),
        default_value=[],
        help="More glob patterns (any case) of environment variable names whose values are "
        "masked in every view, on top of *_KEY, *_SECRET, *TOKEN*, *PASSWORD* (always masked).",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources: dict[str, str] = {}
        configured = self.config.get("Kadam", {}) if self.config else {}
        for name in self.trait_names(config=True):
            env = os.environ.get(ENV_PREFIX + name.upper())
            if name in kwargs:
                self.sources[name] = "argument"
            elif name in configured:
                self.sources[name] = "config (ipython_config.py or %config)"
            elif env is not None:
                self.set_trait(name, _from_env(self.traits()[name], env))
                self.sources[name] = f"environment ${ENV_PREFIX}{name.upper()}"
            else:
                self.sources[name] = "default"
        secrets.set_extra_patterns(self.secret_patterns)

    @observe("secret_patterns")
    def _secret_patterns_changed(self, change: Any) -> None:
        """One rule in the kernel: the patterns reach every view, reprs included."""
        secrets.set_extra_patterns(change["new"])

    def effective(self) -> list[tuple[str, Any, str, str]]:
        """(name, value, where it came from, help) for every setting."""
        rows = []
        for name in sorted(self.trait_names(config=True)):
            trait = self.traits()[name]
            rows.append((name, getattr(self, name), self.sources.get(name, "default"), trait.help))
        return rows


def _from_env(trait: Any, text: str) -> Any:
    if isinstance(trait, Bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(trait, Int):
        return int(text)
    if isinstance(trait, Float):
        return float(text)
    if isinstance(trait, List):
        return [part.strip() for part in text.split(",") if part.strip()]
    return text

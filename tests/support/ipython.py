"""An IPython shell with kadam's magics loaded, for tests of the magics."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import kadam_nb


def close_default_registry() -> None:
    """Close the process's default Registry (each test gets its own state directory)."""
    with kadam_nb._default_lock:
        if kadam_nb._default is not None:
            kadam_nb._default.close()
        kadam_nb._default = None


def kadam_shell(
    folder: Path, patch: pytest.MonkeyPatch, *, pictures: bool = False, **env: str
) -> Any:
    """The test IPython shell, working in ``folder`` on the local backend, with fresh kadam
    magics (no last run, no cells). ``pictures=False`` hides the graph module (a job cell's
    summary is what such tests read, and ``dot`` would dominate the time); ``env`` adds
    ``KADAM_*`` settings. Call :func:`close_default_registry` when done."""
    from IPython.testing import globalipapp

    from kadam_nb.notebook.magics import KadamMagics

    patch.setenv("KADAM_STATE_DIR", str(folder / "state"))
    patch.setenv("KADAM_BACKEND", "local")
    for name, value in env.items():
        patch.setenv(f"KADAM_{name.upper()}", value)
    patch.chdir(folder)
    if not pictures:
        patch.setitem(sys.modules, "kadam_nb.display.graph", None)
    close_default_registry()
    globalipapp.start_ipython()  # once per process; later calls return None
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "kadam_nb")
    shell.register_magics(KadamMagics(shell))
    return shell

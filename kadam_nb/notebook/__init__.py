"""The notebook surface: magics, dashboard, form. The only package importing IPython/ipywidgets."""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kadam_nb``: register the ``%kadam`` / ``%%kadam`` magic."""
    from .magics import KadamMagics

    ipython.register_magics(KadamMagics(ipython))

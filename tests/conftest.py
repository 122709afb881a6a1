"""Shared fixtures: a Registry on a fresh state directory, closed after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kadam_nb.facade import Registry


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def reg(state_dir: Path) -> Iterator[Registry]:
    registry = Registry(state_dir=state_dir, backend="local", max_vcpus=2, stop_grace=1.0)
    yield registry
    registry.close()

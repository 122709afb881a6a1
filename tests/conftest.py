"""Shared fixtures: Registries on fresh state directories, and a Docker engine for the session.

Docker tests are marked ``docker``. When no engine can be had they are skipped with a loud
line, except when ``KADAM_REQUIRE_DOCKER=1`` (as in CI), which makes them fail instead.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kadam_nb.facade import Registry
from tests.support.docker_engine import (
    Engine,
    ensure_test_image,
    kadam_containers,
    start_engine,
    stop_engine,
)

_state_keys: set[str] = set()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def reg(state_dir: Path) -> Iterator[Registry]:
    registry = Registry(state_dir=state_dir, backend="local", max_vcpus=2, stop_grace=1.0)
    yield registry
    registry.close()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    try:
        engine = start_engine()
        ensure_test_image()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        message = f"NO DOCKER ENGINE: docker tests cannot run here: {exc}"
        if os.environ.get("KADAM_REQUIRE_DOCKER") == "1":
            pytest.fail(message + " (KADAM_REQUIRE_DOCKER=1 makes this a failure)")
        print(f"\n{'!' * 78}\n{message}\n{'!' * 78}")
        pytest.skip(message)
    yield engine
    leftovers = kadam_containers(_state_keys)
    if leftovers:
        subprocess.run(["docker", "rm", "-f", *leftovers], capture_output=True)
    stop_engine(engine)
    assert not leftovers, f"tests left kadam containers behind: {leftovers}"


@pytest.fixture
def docker_reg(docker_engine: Engine, state_dir: Path) -> Iterator[Registry]:
    from kadam_nb.backends.docker import state_dir_key

    registry = Registry(state_dir=state_dir, backend="docker", max_vcpus=2, stop_grace=1.0)
    _state_keys.add(state_dir_key(str(registry.state_dir)))
    yield registry
    registry.close()
    assert kadam_containers({state_dir_key(str(registry.state_dir))}) == []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "docker_reg" in getattr(item, "fixturenames", ()) or "docker_engine" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.docker)

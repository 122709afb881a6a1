"""Fixtures for backends that hand jobs to a service (AWS Batch, Slurm)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# ---------------------------------------------------------------------- AWS Batch (moto_server)


@pytest.fixture(scope="session")
def moto_batch(docker_engine: object) -> Iterator[object]:
    """A ``moto_server`` on 127.0.0.1 with a job queue, running jobs on the Docker engine.

    Skipped with a loud line when it cannot start, except with ``KADAM_REQUIRE_DOCKER=1``,
    which makes that a failure. Fake credentials are in the environment only while it runs."""
    from tests.support.moto_server import (
        create_batch_queue,
        fake_credentials,
        job_container_names,
        remove_job_containers,
        start_moto_server,
        stop_moto_server,
    )

    try:
        server = start_moto_server()
    except (RuntimeError, OSError) as exc:
        message = f"NO MOTO SERVER: AWS Batch tests cannot run here: {exc}"
        if os.environ.get("KADAM_REQUIRE_DOCKER") == "1":
            pytest.fail(message + " (KADAM_REQUIRE_DOCKER=1 makes this a failure)")
        print(f"\n{'!' * 78}\n{message}\n{'!' * 78}")
        pytest.skip(message)
    names: list[str] = []
    try:
        with fake_credentials():
            create_batch_queue(server)
            yield server
            names = job_container_names(server)
    finally:
        stop_moto_server(server)
        remove_job_containers(names)


@pytest.fixture
def aws_credentials() -> Iterator[None]:
    """Fake AWS credentials in the environment for one test (Stubber tests sign requests)."""
    from tests.support.moto_server import fake_credentials

    with fake_credentials():
        yield


# ---------------------------------------------------------------------- Slurm (one-node cluster)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[object]:
    """A one-node Slurm cluster on 127.0.0.1 (its own munged, slurmctld and slurmd), with
    ``SLURM_CONF`` in the environment while it runs; every daemon is stopped by PID after.

    Skipped with a loud line when it cannot start, except with ``KADAM_REQUIRE_DOCKER=1``,
    which makes that a failure."""
    import subprocess

    from tests.support.slurm_cluster import SlurmCluster

    cluster = SlurmCluster()
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        message = f"NO SLURM CLUSTER: Slurm tests cannot run here: {exc}"
        if os.environ.get("KADAM_REQUIRE_DOCKER") == "1":
            pytest.fail(message + " (KADAM_REQUIRE_DOCKER=1 makes this a failure)")
        print(f"\n{'!' * 78}\n{message}\n{'!' * 78}")
        pytest.skip(message)
    saved = {key: os.environ.get(key) for key in cluster.env}
    os.environ.update(cluster.env)
    try:
        yield cluster
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        cluster.stop()

"""What the Docker backend really asks the engine for, read back from the engine: commands as
argv (a script only as the user's own ``/bin/sh -c SCRIPT``), no privileged mode, host network,
host PID or IPC namespace, or bind mount beyond the run's work directory unless the definition
says so; and kadam stops and removes only containers carrying its labels.

Failed attempts' containers are kept (``keep_failed_containers=True``) so that their
``Config`` and ``HostConfig`` can be inspected; the tests remove them.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kadam_nb.backends.docker import state_dir_key
from kadam_nb.facade import Registry
from tests.support.docker_engine import TEST_IMAGE, Engine

HOSTILE_ARGV = ["/bin/false", "$(id)", "; rm -rf /", "a'b\"c", "&&", "`id`", "*", "x\ny"]
SCRIPT = "echo \"$MODE\" '$(not run)'; exit 3"


@pytest.fixture
def client(docker_engine: Engine) -> Any:
    import docker

    return docker.from_env()


@pytest.fixture
def keeping_reg(docker_engine: Engine, state_dir: Path, client: Any) -> Iterator[Registry]:
    """A Docker Registry that keeps failed attempts' containers; removes them afterwards."""
    reg = Registry(
        state_dir=state_dir,
        backend="docker",
        max_vcpus=2,
        stop_grace=1.0,
        keep_failed_containers=True,
    )
    key = state_dir_key(str(reg.state_dir))
    yield reg
    reg.close()
    for c in client.containers.list(all=True, filters={"label": f"kadam.state-dir={key}"}):
        c.remove(force=True)


def kept(client: Any, reg: Registry, name: str) -> Any:
    """The kept container of job ``name``'s first attempt, inspected."""
    job = reg.job(name)
    found = client.api.containers(
        all=True, filters={"label": [f"kadam.job-id={job.id}", "kadam.attempt=1"]}
    )
    assert len(found) == 1, f"no kept container for {name}"
    return client.api.inspect_container(found[0]["Id"])


def test_commands_reach_docker_as_argv_and_scripts_as_the_users_own(
    keeping_reg: Registry, client: Any
) -> None:
    reg = keeping_reg
    reg.register("argv", image=TEST_IMAGE, memory=64, command=HOSTILE_ARGV)
    reg.register("script", image=TEST_IMAGE, memory=64, command=SCRIPT, environment={"MODE": "m"})
    reg.register(
        "param",
        image=TEST_IMAGE,
        memory=64,
        command=["/bin/false", "Ref::who"],
        parameters={"who": "$(id); echo pwned"},
    )
    run = reg.run()
    assert run.wait(timeout=120) is False  # all three fail, by design
    assert kept(client, reg, "argv")["Config"]["Cmd"] == HOSTILE_ARGV
    assert kept(client, reg, "script")["Config"]["Cmd"] == ["/bin/sh", "-c", SCRIPT]
    # a parameter's value is one argv element, whatever it holds
    assert kept(client, reg, "param")["Config"]["Cmd"] == ["/bin/false", "$(id); echo pwned"]
    assert reg.job("script").logs() == "m $(not run)\n"


def test_no_privilege_host_namespace_or_extra_mount_unless_asked(
    keeping_reg: Registry, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = keeping_reg
    backend: Any = reg._scheduler.backends["docker"]
    api = backend.client.api
    asked: dict[str, Any] = {}
    create = api.create_container

    def recording(**kwargs: Any) -> Any:
        asked[kwargs["labels"]["kadam.job-id"]] = kwargs["host_config"]
        return create(**kwargs)

    monkeypatch.setattr(api, "create_container", recording)
    reg.register("plain", image=TEST_IMAGE, memory=64, command="exit 1")
    reg.register("asks", image=TEST_IMAGE, memory=64, command="exit 1", privileged=True)
    assert reg.run().wait(timeout=120) is False

    info = kept(client, reg, "plain")
    host = info["HostConfig"]
    assert host["Privileged"] is False
    assert host["NetworkMode"] in ("default", "bridge")
    assert host["PidMode"] in ("", "private")
    assert host["IpcMode"] in ("", "private", "shareable")
    assert host["UTSMode"] in ("", None) and host.get("UsernsMode") in ("", None)
    assert not host.get("CapAdd") and not host.get("Devices") and not host.get("SecurityOpt")
    binds = host["Binds"] or []
    assert len(binds) == 1 and binds[0].endswith(":/kadam/work:rw"), binds
    work = binds[0].rsplit(":", 2)[0]
    assert work.startswith(str(reg.state_dir)), "the only mount is the run's work directory"
    labels = info["Config"]["Labels"]
    assert labels["kadam.job-id"] == reg.job("plain").id
    assert labels["kadam.state-dir"] == state_dir_key(str(reg.state_dir))

    # privileged only when the definition asks (an engine without the capabilities, like a
    # rootless or nested one, then refuses to start it: that is its answer, not kadam's)
    assert asked[reg.job("plain").id].get("Privileged") in (None, False)
    assert asked[reg.job("asks").id]["Privileged"] is True


@pytest.fixture
def strangers(client: Any, docker_engine: Engine) -> Iterator[list[Any]]:
    """Two running containers kadam must never touch: one with no labels but a kadam-looking
    name, one labelled by another state directory. Removed at the end by this fixture."""
    tag = uuid.uuid4().hex[:8]
    made = [
        client.containers.run(TEST_IMAGE, ["sleep", "300"], name=f"kadam-{tag}", detach=True),
        client.containers.run(
            TEST_IMAGE,
            ["sleep", "300"],
            name=f"kadam-other-{tag}",
            labels={"kadam.job-id": "not-yours", "kadam.attempt": "1", "kadam.state-dir": "0" * 16},
            detach=True,
        ),
    ]
    yield made
    for c in made:
        subprocess.run(["docker", "rm", "-f", c.id], capture_output=True)


def test_only_kadams_own_containers_are_stopped_or_removed(
    docker_reg: Registry, state_dir: Path, client: Any, strangers: list[Any]
) -> None:
    reg = docker_reg
    reg.register("quick", image=TEST_IMAGE, memory=64, command="echo done")
    reg.register("slow", image=TEST_IMAGE, memory=64, command="sleep 60")
    reg.run()
    assert reg.job("quick").wait(timeout=60)
    deadline = time.monotonic() + 60
    while reg.job("slow").status.value != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    reg.close()  # the kernel goes away while "slow" runs: its container keeps running
    # a new kernel on the same state directory finds its container by label and follows it
    again = Registry(state_dir=state_dir, backend="docker", max_vcpus=2, stop_grace=1.0)
    try:
        slow = again.job("slow")
        assert slow.status.value == "RUNNING"
        backend: Any = again._scheduler.backends["docker"]
        # at once, maybe before the backend has found the container again: the stop waits
        assert again.terminate("slow", "test")  # kadam stops one of its own containers
        assert slow.wait(timeout=30) is False and slow.status.value == "FAILED"
        # the backend removes the container once the job's end is stored: nothing of its own
        # is left (remove_all, kadam's own clean-up by label, then finds nothing)
        mine = {"label": [f"kadam.job-id={slow.id}"]}
        deadline = time.monotonic() + 20
        while backend.client.api.containers(all=True, filters=mine) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend.remove_all() == 0
    finally:
        again.close()

    for c in strangers:
        c.reload()
        assert c.status == "running", f"{c.name} was touched by kadam"

"""What breaks a container's isolation is named (``kadam_nb.core.isolation``) and warned about
by ``%%kadam job`` and the form; commands reach host processes as argv lists, never through a
shell string kadam builds; kadam's own code has no shell string at all."""

from __future__ import annotations

import re
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kadam_nb
from kadam_nb.backends import local as local_backend
from kadam_nb.core.isolation import host_path_risk, isolation_risks
from kadam_nb.core.spec import JobDefinition
from kadam_nb.errors import KadamWarning
from kadam_nb.facade import Registry
from kadam_nb.notebook.form import JobForm
from tests.support.comms import recording_comms
from tests.support.ipython import close_default_registry, kadam_shell

PACKAGE = Path(kadam_nb.__file__).parent


@pytest.mark.parametrize(
    "host",
    [
        "/",
        "//",
        "/etc",
        "/etc/",
        "/etc/passwd",
        "/srv/../etc/ssh",
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/var/run",
        "/run",
        "/var",
    ],
)
def test_dangerous_host_paths_are_named(host: str) -> None:
    assert host_path_risk(host)
    d = JobDefinition.create("d", volumes=[f"{host}:/host"])
    risks = isolation_risks(d)
    assert [r.field for r in risks] == ["volumes[0].host_path"]


@pytest.mark.parametrize("host", ["/srv/data", "/etcetera", "/home/me/etc", "/var/lib/x", "/tmp"])
def test_ordinary_host_paths_are_fine(host: str) -> None:
    assert host_path_risk(host) is None
    assert isolation_risks(JobDefinition.create("d", volumes=[f"{host}:/data"])) == []


def test_privileged_is_named_and_an_unmounted_volume_is_not() -> None:
    d = JobDefinition.create(
        "d", privileged=True, volumes=[{"name": "root", "host": {"sourcePath": "/"}}]
    )
    assert [r.field for r in isolation_risks(d)] == ["privileged"]  # "/" is declared, not mounted
    assert isolation_risks(JobDefinition.create("d")) == []


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield kadam_shell(tmp_path, monkeypatch)
    close_default_registry()


def test_the_job_magic_warns_about_what_breaks_isolation(ip: Any, capsys: Any) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ip.run_cell_magic("kadam", "job calm --volume /srv/data:/data", "echo hi")
        assert [w for w in caught if issubclass(w.category, KadamWarning)] == []
        ip.run_cell_magic(
            "kadam",
            "job wild --privileged --volume /var/run/docker.sock:/var/run/docker.sock",
            "echo hi",
        )
    said = [str(w.message) for w in caught if issubclass(w.category, KadamWarning)]
    assert any("wild: privileged:" in s for s in said), said
    assert any("volumes[0].host_path" in s and "Docker socket" in s for s in said), said
    capsys.readouterr()


def test_the_form_warns_beside_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recording_comms(monkeypatch)
    reg = Registry(state_dir=tmp_path / "state", backend="local")
    try:
        form = JobForm(reg)
        form.fields["name"].value = "wild"
        assert form.privileged_warning.value == ""
        form.fields["privileged"].value = True
        assert "take over the host" in form.privileged_warning.value
        assert form.valid  # a warning blocks nothing: the definition says so explicitly
        row = form.volume_rows.add()
        row.host.value = "/etc"
        row.container.value = "/host-etc"
        assert "under /etc" in row.note.value
        row.host.value = "/srv/data"
        assert row.note.value == ""
        form.fields["privileged"].value = False
        assert form.privileged_warning.value == ""
    finally:
        reg.close()


# ---------------------------------------------------------------------------------------------
# Commands as argv


HOSTILE = ["$(id)", "; echo pwned", "a'b\"c", "&&", "`id`", "*", "x\ny", "$HOME"]


def test_host_processes_get_argv_lists_and_only_the_users_script(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, dict[str, Any]]] = []
    real = subprocess.Popen

    def recording(args: Any, **kwargs: Any) -> Any:
        seen.append((args, kwargs))
        return real(args, **kwargs)

    monkeypatch.setattr(local_backend.subprocess, "Popen", recording)
    script = 'printf "%s\\n" "$MODE"'
    reg.register("argv", command=["/bin/echo", *HOSTILE])
    reg.register("param", command=["/bin/echo", "Ref::who"], parameters={"who": "$(id); pwned"})
    reg.register("script", command=script, environment={"MODE": "$(id)"})
    assert reg.run().wait(timeout=60)

    argvs = sorted((list(args) for args, _ in seen), key=len)
    assert ["/bin/sh", "-c", script] in argvs  # the user's own script, as written
    assert ["/bin/echo", "$(id); pwned"] in argvs  # a parameter stays one argument
    assert ["/bin/echo", *HOSTILE] in argvs
    assert all(isinstance(args, list) and not kw.get("shell") for args, kw in seen)
    assert reg.job("argv").logs() == " ".join(HOSTILE) + "\n"  # nothing interpreted
    assert reg.job("script").logs() == "$(id)\n"  # a value reaches the script as data


def test_kadam_builds_no_shell_string() -> None:
    """The package never asks for a shell: no ``shell=True``, ``os.system``, ``os.popen``,
    and the only ``sh -c`` is the core's ``SHELL`` prefix for a user's own script. (The Slurm
    backend writes a job script for ``sbatch``; its values pass through ``shlex.quote``.)"""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"shell\s*=\s*True", r"os\.system\(", r"os\.popen\(", r"\bcommands\."):
            if re.search(pattern, text):
                offenders.append(f"{path.name}: {pattern}")
        for m in re.finditer(r"""sh["']\s*,\s*["']-c["']""", text):
            line = text[: m.start()].count("\n") + 1
            where = text.splitlines()[line - 1]
            if "SHELL = " not in where and "``" not in where:  # the core's prefix; docs
                offenders.append(f"{path.name}:{line}: {where.strip()}")
    assert offenders == []


def test_registering_from_python_warns_too(tmp_path: Path) -> None:
    with Registry(tmp_path, backend="local") as reg, pytest.warns(KadamWarning) as said:
        reg.register("root", command="true", volumes=["/:/host"])
    assert any("volumes[0].host_path" in str(w.message) for w in said), [
        str(w.message) for w in said
    ]
    with Registry(tmp_path / "b", backend="local") as reg, warnings.catch_warnings():
        warnings.simplefilter("error", KadamWarning)
        reg.register("plain", command="true", volumes=["/srv/data:/data"])  # no warning

"""Snakemake and Luigi on the B2 DAGs, installed into bench/.peers by the benchmark itself."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PEERS = Path(__file__).parent / ".peers"
PACKAGES = ["snakemake", "luigi"]

SNAKEFILE_FAN = """
N = {n}
rule all:
    input: "join.done"
rule leaf:
    output: "leaf/{i}.done"
    shell: "true && touch {output}"
rule join:
    input: expand("leaf/{i}.done", i=range(N - 1))
    output: "join.done"
    shell: "true && touch {output}"
"""

SNAKEFILE_CHAIN = """
N = {n}
rule all:
    input: f"c/{N - 1}.done"
rule c:
    input: lambda w: [f"c/{int(w.i) - 1}.done"] if int(w.i) > 0 else []
    output: "c/{i}.done"
    shell: "true && touch {output}"
"""

LUIGI = """
import subprocess, sys, luigi
D, SHAPE, N = sys.argv[1], sys.argv[2], int(sys.argv[3])

class Job(luigi.Task):
    name = luigi.Parameter()
    upstream = luigi.ListParameter(default=[])
    def requires(self):
        return [Job(name=d, upstream=CHAIN_DEPS(d)) for d in self.upstream]
    def output(self):
        return luigi.LocalTarget(f"{D}/{self.name}.done")
    def run(self):
        subprocess.run(["true"], check=True)
        with self.output().open("w"):
            pass

def CHAIN_DEPS(name):
    if SHAPE == "chain":
        i = int(name[1:])
        return [f"c{i - 1}"] if i else []
    return []

if SHAPE == "chain":
    target = Job(name=f"c{N - 1}", upstream=CHAIN_DEPS(f"c{N - 1}"))
else:
    target = Job(name="join", upstream=[f"l{i}" for i in range(N - 1)])
ok = luigi.build([target], workers=2, local_scheduler=True, log_level="ERROR")
sys.exit(0 if ok else 1)
"""


def install() -> str | None:
    """None when the peers are ready; else what went wrong."""
    py = PEERS / "bin" / "python"
    try:
        if not py.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(PEERS)],
                check=True,
                capture_output=True,
                timeout=120,
            )
        probe = subprocess.run([str(py), "-c", "import snakemake, luigi"], capture_output=True)
        if probe.returncode != 0:
            subprocess.run(
                [str(py), "-m", "pip", "install", "--quiet", *PACKAGES],
                check=True,
                capture_output=True,
                timeout=600,
            )
    except (OSError, subprocess.SubprocessError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        return f"cannot install {', '.join(PACKAGES)} into {PEERS}: {exc} {err[-500:]!r}"
    return None


def versions() -> dict[str, str]:
    out = subprocess.run(
        [str(PEERS / "bin" / "python"), "-m", "pip", "show", *PACKAGES],
        capture_output=True,
        text=True,
    ).stdout
    found, name = {}, ""
    for line in out.splitlines():
        if line.startswith("Name:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("Version:"):
            found[name] = line.split(":", 1)[1].strip()
    return found


def snakemake(shape: str, n: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        snakefile = Path(d) / "Snakefile"
        text = SNAKEFILE_FAN if shape == "fan" else SNAKEFILE_CHAIN
        snakefile.write_text(textwrap.dedent(text).replace("N = {n}", f"N = {n}"))
        t = time.perf_counter()
        subprocess.run(
            [str(PEERS / "bin" / "snakemake"), "--cores", "2", "-s", str(snakefile), "-d", d],
            check=True,
            capture_output=True,
            timeout=900,
        )
        return time.perf_counter() - t


def luigi(shape: str, n: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "flow.py"
        script.write_text(LUIGI)
        t = time.perf_counter()
        subprocess.run(
            [str(PEERS / "bin" / "python"), str(script), d, shape, str(n)],
            check=True,
            capture_output=True,
            timeout=900,
        )
        return time.perf_counter() - t

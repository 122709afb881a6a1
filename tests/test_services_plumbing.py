"""The scheduler's side of services (AWS Batch, Slurm), with a scripted stand-in service.

The real services are tested in tests/remote/ (moto_server, a one-node Slurm); this checks the
plumbing they share: hand-over order, the store, log files, and following again after a
restart. The stand-in answers from its own thread, as the real backends do.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest

import kadam_nb.facade as facade
from kadam_nb import Registry
from kadam_nb.backends.base import Observation, RemoteEvents, RemoteJob
from kadam_nb.console import ConsolePrinter
from kadam_nb.core.views import ServiceProblem
from kadam_nb.errors import SpecError
from kadam_nb.notebook.config import Kadam
from kadam_nb.notebook.dashboard import Dashboard
from tests.support.comms import recording_comms


class ScriptedService:
    """Runs nothing: reports each job RUNNING, two log lines, then SUCCEEDED (or what
    ``exit_codes`` says), in hand-over order, from its own thread."""

    name = "slurm"
    remote = True

    def __init__(self, exit_codes: dict[str, int] | None = None) -> None:
        self.exit_codes = exit_codes or {}
        self.handed: list[RemoteJob] = []
        self.calls: list[tuple[str, str]] = []
        self.adopted: list[RemoteJob] = []
        self.hold = threading.Event()
        self.hold.set()
        self.events: RemoteEvents | None = None

    def hand_over(self, job: RemoteJob, events: RemoteEvents) -> None:
        self.handed.append(job)
        self.events = events
        threading.Thread(target=self._run, args=(job, events)).start()

    def _run(self, job: RemoteJob, events: RemoteEvents) -> None:
        remote_id = f"{len(self.handed)}00"
        events.handed_over(job.job_id, remote_id)
        events.observed(Observation(job.job_id, "RUNNING", attempt=1, handle=remote_id))
        events.log((job.job_id, 1), "stdout", [f"hello from {job.job_name}", "bye"], 1)
        self.hold.wait(10)
        code = self.exit_codes.get(job.job_name, 0)
        status = "SUCCEEDED" if code == 0 else "FAILED"
        events.observed(Observation(job.job_id, status, attempt=1, exit_code=code))

    def cancel(self, job_id: str, reason: str) -> None:
        self.calls.append(("cancel", job_id))

    def terminate(self, job_id: str, reason: str) -> None:
        self.calls.append(("terminate", job_id))

    def adopt(self, jobs: list[RemoteJob], events: RemoteEvents) -> None:
        self.adopted.extend(jobs)

    def close(self) -> None:
        self.hold.set()


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> ScriptedService:
    stand_in = ScriptedService()
    monkeypatch.setattr(facade, "make_service_backend", lambda *args: stand_in)
    return stand_in


def cluster_registry(state_dir: Any) -> Registry:
    reg = Registry(state_dir, backend="local")
    reg.create_compute_environment("hpc", backend="slurm", partition="debug")
    reg.create_queue("cluster", compute_environments=["hpc"])
    return reg


def test_a_pipeline_goes_to_the_service_and_its_logs_and_states_are_kept(
    tmp_path: Any, service: ScriptedService
) -> None:
    with cluster_registry(tmp_path) as reg:
        reg.register("extract", command="true")
        reg.register("clean", command="true", depends_on=["extract"])
        run = reg.run(queue="cluster")
        assert run.wait(20)
        assert [j.job_name for j in service.handed] == ["extract", "clean"]
        clean = service.handed[1]
        # handed over in the same step as its parent: the backend maps the parent's id itself
        assert [d.job_id for d in clean.depends_on] == [service.handed[0].job_id]
        assert clean.settings["partition"] == "debug"
        job = reg.job("clean")
        assert str(job.status) == "SUCCEEDED"
        assert job.logs().splitlines() == ["hello from clean", "bye"]
        transitions = [str(t.dst) for t in reg.store.transitions(job.id)]
        assert transitions == ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]


def test_a_new_session_follows_again_what_the_service_still_runs(
    tmp_path: Any, service: ScriptedService
) -> None:
    service.hold.clear()
    reg = cluster_registry(tmp_path)
    reg.register("long", command="sleep 100")
    reg.run(queue="cluster")
    assert reg._scheduler.wait_for(lambda: str(reg.job("long").status) == "RUNNING", 10)
    remote_id = reg.views()[0].remote_id
    reg.close()
    with Registry(tmp_path, backend="local"):
        assert [j.remote_id for j in service.adopted] == [remote_id]
        assert service.adopted[0].attempts_seen == 1


def test_cancel_reaches_the_service_and_a_queue_cannot_mix_a_service(
    tmp_path: Any, service: ScriptedService
) -> None:
    service.hold.clear()
    with cluster_registry(tmp_path) as reg:
        with pytest.raises(SpecError, match=r"compute_environments.*only compute environment"):
            reg.create_queue("mixed", compute_environments=["hpc", "default"])
        with pytest.raises(SpecError, match="job_queue"):
            reg.create_compute_environment("cloud", backend="aws-batch")
        with pytest.raises(SpecError, match="partiton"):
            reg.create_compute_environment("hpc2", backend="slurm", partiton="x")
        reg.register("a", command="true")
        reg.run(queue="cluster")
        assert reg._scheduler.wait_for(lambda: service.handed != [], 10)
        reg.terminate("a", "stop")
        assert reg._scheduler.wait_for(lambda: service.calls != [], 10)
        assert service.calls[0][0] == "terminate"
        service.hold.set()


def test_a_service_that_stops_answering_is_shown_until_it_answers(
    tmp_path: Any, service: ScriptedService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a backend reports of its service (AWS Batch or Slurm not answering) reaches the
    compute environment's status_reason, subscribers (once per change), the console and the
    run's dashboard, escaped; and is cleared everywhere when the service answers again."""
    recording_comms(monkeypatch)
    service.hold.clear()
    seen: list[Any] = []
    printed = io.StringIO()
    problem = "squeue failed: <no controller> & no answer; check that slurmctld runs"
    with cluster_registry(tmp_path) as reg:
        reg.subscribe(seen.append)
        reg.subscribe(ConsolePrinter(printed))
        reg.register("long", command="sleep 100")
        run = reg.run(queue="cluster")
        assert reg._scheduler.wait_for(lambda: str(reg.job("long").status) == "RUNNING", 10)
        dash = Dashboard(reg, run, Kadam())
        assert dash.service.value == ""
        events = service.events
        assert events is not None
        events.service_problem("hpc", problem)
        events.service_problem("hpc", problem)  # a repeat changes nothing
        assert reg._scheduler.wait_for(
            lambda: reg.compute_environments["hpc"].status_reason == problem, 10
        )
        assert dash.wait_idle(10)
        shown = dash.service.value
        assert "hpc does not answer" in shown and "&lt;no controller&gt; &amp; no answer" in shown
        assert str(reg.job("long").status) == "RUNNING"  # kept while the service is silent

        events.service_problem("hpc", None)
        assert reg._scheduler.wait_for(
            lambda: reg.compute_environments["hpc"].status_reason == "", 10
        )
        assert dash.wait_idle(10)
        assert dash.service.value == ""
        service.hold.set()
        assert run.wait(20)
        dash.close()
    problems = [(e.compute_environment, e.problem) for e in seen if isinstance(e, ServiceProblem)]
    assert problems == [("hpc", problem), ("hpc", None)]
    text = printed.getvalue()
    assert f"hpc cannot follow its jobs: {problem}" in text
    assert "hpc answers again" in text

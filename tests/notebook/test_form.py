"""The job definition form, in process: a real Registry running local processes, widgets without
a frontend, values set the way a browser sets them (``widget.value = ...``), buttons clicked.

As in test_dashboard.py, ``comm.create_comm`` is replaced by a comm that records what would
reach the browser, so the tests can also check that every message came from the kernel's own
thread (the form starts no thread).
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.testing import globalipapp

import kadam_nb
from kadam_nb import JobDefinition
from kadam_nb.core.states import JobStatus
from kadam_nb.errors import SpecError
from kadam_nb.facade import Registry
from kadam_nb.notebook.dashboard import Dashboard
from kadam_nb.notebook.form import ARGV, FIELD_KEYS, JobForm
from kadam_nb.notebook.grammar import parse_job_cell
from kadam_nb.notebook.magics import KadamMagics
from tests.support.comms import Msg


@pytest.fixture
def forms() -> Iterator[list[JobForm]]:
    made: list[JobForm] = []
    yield made
    for f in made:
        f.close()


@pytest.fixture
def form(reg: Registry, sent: list[Msg], forms: list[JobForm]) -> JobForm:
    f = JobForm(reg)
    forms.append(f)
    return f


def fill(f: JobForm, **values: Any) -> None:
    """Set inputs by key, one at a time, as a browser does."""
    for key, value in values.items():
        f.fields[key.replace("_", "-")].value = value


def has_class(widget: Any, css: str) -> bool:
    return css in widget._dom_classes


def walk(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


EVERYTHING = JobDefinition.create(
    "every_field",
    image="busybox:1.36",
    command=["echo", "two words", "Ref::p"],
    vcpus=0.5,
    memory="1g",
    gpus=1,
    environment={"A": "1", "B": "x y"},
    # two volumes mounted in the other order, one mounted twice, one engine volume, one unmounted
    volumes=[
        {"name": "data", "host_path": "/srv/data"},
        {"name": "cache"},
        {"name": "spare", "host_path": "/srv/spare"},
    ],
    mount_points=[
        {"source_volume": "cache", "container_path": "/cache"},
        {"source_volume": "data", "container_path": "/data", "read_only": True},
        {"source_volume": "data", "container_path": "/data2"},
    ],
    user="nobody",
    privileged=True,
    readonly_root_filesystem=True,
    shared_memory_size=64,
    ulimits=["nofile=1024:4096", "core=0"],
    parameters={"p": "v"},
    retry_strategy={
        "attempts": 4,
        "evaluateOnExit": [
            {"onExitCode": "137", "action": "RETRY"},
            {"onExitCode": "1*", "onReason": "Host*", "action": "EXIT"},
            {"onStatusReason": "Essential*", "onReason": "CannotPull*", "action": "retry"},
        ],
    },
    timeout="10m",
    tags={"team": "data", "cost": "low"},
    job_role_arn="arn:aws:iam::123456789012:role/job",
    execution_role_arn="arn:aws:iam::123456789012:role/exec",
    log_configuration={
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/batch/jobs"},
        "secretOptions": [{"name": "token", "valueFrom": "arn:aws:ssm:::parameter/t"}],
    },
    depends_on=["upstream", "other"],
    array_size=4,
    array_dependency="N_TO_N",
).replace(aws_extra='{"schedulingPriority": 5, "containerProperties": {"instanceType": "m5"}}')


# ---------------------------------------------------------------------------------------------


def test_dom_hooks(form: JobForm) -> None:
    assert has_class(form.widget, "kadam-form")
    assert has_class(form.status, "kadam-form-status")
    assert has_class(form.output, "kadam-form-output")
    required = [
        "name",
        "image",
        "command",
        "user",
        "readonly",
        "privileged",
        "vcpus",
        "memory",
        "gpus",
        "shm",
        "attempts",
        "timeout",
        "array-size",
        "array-dependency",
        "depends-on",
        "job-role",
        "execution-role",
        "log-driver",
    ]
    assert set(required) <= set(FIELD_KEYS)
    shown = list(walk(form.widget))
    for key in FIELD_KEYS:
        assert has_class(form.fields[key], f"kadam-field-{key}"), key
        assert has_class(form.errors[key], f"kadam-error-{key}"), key
        assert form.fields[key] in shown and form.errors[key] in shown, key
    for key in ("name", "image", "command", "user", "vcpus", "memory", "timeout"):
        assert form.fields[key].continuous_update, key
    descriptions = {w.description for w in shown if type(w).__name__ == "Button"}
    assert {
        "Create job definition",
        "Submit job",
        "Show as code",
        "Load",
        "Add variable",
        "Add volume",
        "Add rule",
        "Add parameter",
        "Add tag",
    } <= descriptions
    env = form.env_rows.add()
    vol = form.volume_rows.add()
    assert has_class(env.key, "kadam-env-name") and has_class(env.value, "kadam-env-value")
    assert has_class(env.error, "kadam-error-env")
    assert has_class(vol.host, "kadam-vol-host") and has_class(vol.container, "kadam-vol-container")
    assert has_class(vol.read_only, "kadam-vol-ro") and has_class(vol.error, "kadam-error-vol")
    assert form._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"]["model_id"] == (
        form.widget.model_id
    )


def test_fill_field_by_field(reg: Registry, form: JobForm, sent: list[Msg]) -> None:
    reg.register("upstream", command="echo up")
    assert form.fields["name"].value == ""
    assert form.errors["name"].value != "" and form.create_button.disabled
    fill(form, name="clean", image="busybox:1.36", command="echo hi\necho $A")
    assert form.valid and not form.create_button.disabled
    assert all(label.value == "" for label in form._labels())
    fill(form, user="nobody", readonly=True, privileged=True, vcpus="0.5", memory="512m")
    fill(form, gpus="1", shm="64m", attempts="3", timeout="90s", array_size="4")
    fill(form, array_dependency="SEQUENTIAL", job_role="arn:aws:iam::1:role/j")
    for key, value in (("A", "1"), ("B", "x y")):
        row = form.env_rows.add()
        row.key.value = key
        row.value.value = value
    vol = form.volume_rows.add()
    vol.host.value = "/srv/data"
    vol.container.value = "/data"
    vol.read_only.value = True
    rule = form.rule_rows.add()
    rule.conditions[0][1].value = "137"
    rule.action.value = "EXIT"
    param = form.parameter_rows.add()
    param.key.value, param.value.value = "p", "v"
    tag = form.tag_rows.add()
    tag.key.value, tag.value.value = "team", "data"
    assert "upstream" in form.fields["depends-on"].options
    form.fields["depends-on"].value = ("upstream",)
    assert form.valid, form.problems
    assert form.definition() == JobDefinition.create(
        "clean",
        image="busybox:1.36",
        command="echo hi\necho $A",
        user="nobody",
        readonly_root_filesystem=True,
        privileged=True,
        vcpus=0.5,
        memory=512,
        gpus=1,
        shared_memory_size=64,
        attempts=3,
        retry_strategy={"evaluateOnExit": [{"onExitCode": "137", "action": "EXIT"}]},
        timeout=90,
        array_size=4,
        array_dependency="SEQUENTIAL",
        job_role_arn="arn:aws:iam::1:role/j",
        environment={"A": "1", "B": "x y"},
        volumes=["/srv/data:/data:ro"],
        parameters={"p": "v"},
        tags={"team": "data"},
        depends_on=["upstream"],
    )
    # every widget message came from this (the kernel's) thread: the form starts no thread
    assert sent and {m.thread for m in sent} == {threading.current_thread().name}


def test_memory_error_appears_next_to_memory_and_goes_away(form: JobForm) -> None:
    fill(form, name="m", command="echo hi")
    assert form.valid and form.errors["memory"].value == ""
    form.fields["memory"].value = "12q"
    assert "12q" in form.errors["memory"].value and "MiB" in form.errors["memory"].value
    assert form.create_button.disabled and form.submit_button.disabled
    assert [p.field for p in form.problems] == ["memory"]
    assert all(label.value == "" for label in form._labels() if label is not form.errors["memory"])
    with pytest.raises(SpecError) as info:
        form.definition()
    assert info.value.fields == ("memory",)
    form.fields["memory"].value = "256"
    assert form.errors["memory"].value == ""
    assert not form.create_button.disabled and form.definition().memory == 256


def test_every_error_is_shown_at_once_next_to_its_field(form: JobForm) -> None:
    fill(form, name="bad name", vcpus="x", timeout="0", array_dependency="N_TO_N")
    fill(form, attempts="11", gpus="-1")
    shown = {k for k, label in form.errors.items() if label.value}
    assert shown == {"name", "vcpus", "timeout", "array-dependency", "attempts", "gpus"}
    assert "array_size" in form.errors["array-dependency"].value
    fill(form, name="good", vcpus="2", timeout="10m", array_size="3", attempts="10", gpus="0")
    assert form.valid and not any(label.value for label in form.errors.values())


def test_reserved_variable_shows_its_error_on_its_row(form: JobForm) -> None:
    fill(form, name="env", command="env")
    ok = form.env_rows.add("GOOD", "1")
    bad = form.env_rows.add()
    bad.key.value = "AWS_BATCH_X"
    bad.value.value = "2"
    assert "reserved" in bad.error.value and "AWS_BATCH_" in bad.error.value
    assert ok.error.value == "" and form.env_rows.error.value == ""
    assert form.create_button.disabled
    bad.key.value = "ALSO_GOOD"
    assert bad.error.value == "" and form.valid
    bad.remove_button.click()
    assert form.env_rows.rows == [ok]
    assert form.definition().environment == {"GOOD": "1"}
    # the same name twice: a note on the later row, not an error (the last one wins)
    twice = form.env_rows.add("GOOD", "2")
    assert "more than once" in twice.note.value and twice.error.value == "" and form.valid
    assert form.definition().environment == {"GOOD": "2"}
    assert has_class(twice.note, "kadam-note-env") and not has_class(twice.note, "kadam-error")


def test_volume_and_rule_errors_go_to_their_rows(form: JobForm) -> None:
    fill(form, name="vols", command="ls")
    first = form.volume_rows.add("", "/srv/a", "/a")
    second = form.volume_rows.add("", "relative", "b")
    assert (first.name.placeholder, second.name.placeholder) == ("vol0", "vol1")
    assert first.error.value == ""
    assert "host path" in second.error.value and "container path" in second.error.value
    second.host.value = "/srv/b"
    second.container.value = "/a/"
    assert "duplicate container path" in second.error.value and first.error.value == ""
    second.container.value = "/b"
    d = form.definition()
    assert [(v.name, v.host_path) for v in d.volumes] == [("vol0", "/srv/a"), ("vol1", "/srv/b")]
    # a second row naming the same volume without a host path mounts it again
    first.name.value = "a"
    again = form.volume_rows.add("a", "", "/a2", True)
    assert second.name.placeholder == "vol0"
    assert form.valid and len(form.definition().volumes) == 2
    assert [(m.source_volume, m.container_path) for m in form.definition().mount_points] == [
        ("a", "/a"),
        ("vol0", "/b"),
        ("a", "/a2"),
    ]
    again.host.value = "/elsewhere"  # with a host path it declares a second "a"
    assert "duplicate volume name" in again.error.value

    again.remove_button.click()
    rules = [form.rule_rows.add() for _ in range(6)]
    assert "at most 5 rules" in form.rule_rows.error.value and not form.valid
    for r in rules[2:]:
        r.remove_button.click()
    assert form.rule_rows.error.value == "" and form.valid
    # a rule without a condition matches everything: a note (not an error) says so
    assert "no condition yet" in rules[0].note.value and rules[0].error.value == ""
    assert form.valid
    rules[0].conditions[0][1].value = "137"
    assert rules[0].note.value == ""
    rules[1].conditions[0][1].value = "x1"
    assert "exit code" in rules[1].error.value and rules[0].error.value == ""
    rules[1].conditions[0][1].value = "1*"
    rules[1].add_condition_button.click()
    assert rules[1].conditions[1][0].value == "on_reason"
    rules[1].conditions[1][0].value = "on_exit_code"
    rules[1].conditions[1][1].value = "2"
    assert "twice" in rules[1].error.value
    rules[1].conditions[1][0].value = "on_reason"
    assert form.valid
    assert form.definition().retry_strategy.evaluate_on_exit[1].on_reason == "2"


def test_create_then_a_new_revision(reg: Registry, form: JobForm) -> None:
    fill(form, name="rev", command="echo 1")
    form.buttons["Create job definition"].click()
    assert "revision <b>1</b>" in form.status.value and "new definition" in form.status.value
    assert reg.definition("rev").revision == 1
    assert form.definition().revision == 1  # unchanged: the registered revision itself
    form.buttons["Create job definition"].click()
    assert "revision <b>1</b>" in form.status.value and "unchanged" in form.status.value
    form.fields["command"].value = "echo 2"
    assert form.definition().revision is None
    form.buttons["Create job definition"].click()
    assert "revision <b>2</b>" in form.status.value and "new revision" in form.status.value
    assert [d.revision for d in reg.revisions("rev")] == [1, 2]
    assert reg.definition("rev").script == "echo 2"
    # the load bar follows
    assert form.load_name.options == ("rev",)
    assert [v for _, v in form.load_revision.options] == [2, 1]


def test_submit_runs_the_job_and_shows_a_dashboard(
    reg: Registry, form: JobForm, sent: list[Msg]
) -> None:
    fill(form, name="hello", command="echo hello from the form", memory="64")
    form.buttons["Submit job"].click()
    assert "Submitted <b>hello</b> revision 1" in form.status.value, form.status.value
    assert isinstance(form.dashboard, Dashboard)
    assert form.output.children == (form.dashboard.widget,)
    assert form.last_run is not None and form.last_run.wait(timeout=20)
    job = form.last_run.jobs[0]
    assert job.status == JobStatus.SUCCEEDED
    assert job.logs() == "hello from the form\n"
    assert form.dashboard.wait_idle(10)
    assert "SUCCEEDED" in form.dashboard.table.value
    # a second submission of the same definition: same revision, a new dashboard
    first = form.dashboard
    form.buttons["Submit job"].click()
    assert form.dashboard is not first and form.output.children == (form.dashboard.widget,)
    assert form.last_run.wait(timeout=20)
    assert [d.revision for d in reg.revisions("hello")] == [1]


def test_submit_with_dependencies_runs_them_first(reg: Registry, form: JobForm) -> None:
    reg.register("upstream", command='echo made > "$KADAM_WORK/file"', memory=64)
    fill(form, name="downstream", command='cat "$KADAM_WORK/file"', memory="64")
    form.fields["depends-on"].value = ("upstream",)
    job = form.submit()
    assert "with 1 upstream job(s): upstream" in form.status.value
    assert form.last_run is not None and form.last_run.wait(timeout=20)
    assert [j.name for j in form.last_run.jobs] == ["upstream", "downstream"]
    assert job.status == JobStatus.SUCCEEDED and job.logs() == "made\n"
    assert form.dashboard is not None and form.dashboard.wait_idle(10)
    assert form.dashboard.table.value.count(">SUCCEEDED<") == 2


def test_submit_errors_go_to_the_status_line(reg: Registry, form: JobForm) -> None:
    fill(form, name="huge", command="true", vcpus="64")
    form.buttons["Submit job"].click()
    assert "kadam-error" in form.status.value and "vcpus" in form.status.value.lower()
    assert form.dashboard is None and form.output.children == ()


def test_show_as_code(form: JobForm) -> None:
    fill(form, name="coded", command="echo hi", memory="1g", timeout="10m")
    tag = form.tag_rows.add()
    tag.key.value, tag.value.value = "team", "data"
    assert form.code.layout.display == "none"
    form.buttons["Show as code"].click()
    assert form.code.layout.display != "none"
    cell, text = form.code_cell.value, form.code_json.value
    assert cell.startswith("%%kadam job coded ") and "--memory 1024" in cell
    assert cell.endswith("\necho hi")
    assert "tags" in form.code_note.value  # a cell cannot carry them: the note says so
    doc = json.loads(text)
    assert doc["jobDefinitionName"] == "coded" and doc["tags"] == {"team": "data"}
    assert JobDefinition.from_aws(doc) == form.definition()
    line, _, body = cell.partition("\n")
    name, kwargs = parse_job_cell(line.removeprefix("%%kadam "), body)
    assert JobDefinition.create(name, **kwargs) == form.definition().replace(tags={})
    # while shown, the code follows the form
    form.fields["memory"].value = "2g"
    assert "--memory" not in form.code_cell.value


def test_load_fills_every_field(reg: Registry, forms: list[JobForm]) -> None:
    registered = reg.register(EVERYTHING)
    reg.register("other", command="true")
    form = JobForm(reg)
    forms.append(form)
    form.load_name.value = "every_field"
    assert [v for _, v in form.load_revision.options] == [1]
    form.buttons["Load"].click()
    assert "Loaded every_field revision 1" in form.status.value
    f = form.fields
    assert (f["name"].value, f["image"].value) == ("every_field", "busybox:1.36")
    assert (f["command-mode"].value, f["command"].value) == (ARGV, "echo 'two words' Ref::p")
    assert (f["vcpus"].value, f["memory"].value, f["gpus"].value, f["shm"].value) == (
        "0.5",
        "1024",
        "1",
        "64",
    )
    assert (f["user"].value, f["readonly"].value, f["privileged"].value) == ("nobody", True, True)
    assert (f["attempts"].value, f["timeout"].value) == ("4", "600")
    assert (f["array-size"].value, f["array-dependency"].value) == ("4", "N_TO_N")
    assert set(f["depends-on"].value) == {
        "upstream",
        "other",
    }
    assert form._deps == ["upstream", "other"]
    assert f["job-role"].value.endswith("role/job") and f["execution-role"].value.endswith("exec")
    assert f["log-driver"].value == "awslogs"
    assert f["log-options"].value == "awslogs-group=/batch/jobs"
    assert f["log-secrets"].value == "token=arn:aws:ssm:::parameter/t"
    assert json.loads(f["aws-extra"].value) == json.loads(EVERYTHING.aws_extra)
    assert {r.key.value: r.value.value for r in form.env_rows.rows} == {"A": "1", "B": "x y"}
    assert [(r.key.value, r.value.value) for r in form.parameter_rows.rows] == [("p", "v")]
    assert {r.key.value: r.value.value for r in form.tag_rows.rows} == {
        "team": "data",
        "cost": "low",
    }
    assert [(r.name.value, r.soft.value, r.hard.value) for r in form.ulimit_rows.rows] == [
        ("nofile", "1024", "4096"),
        ("core", "0", "0"),
    ]
    assert [
        (r.action.value, [(k.value, p.value) for k, p in r.conditions]) for r in form.rule_rows.rows
    ] == [
        ("RETRY", [("on_exit_code", "137")]),
        ("EXIT", [("on_exit_code", "1*"), ("on_reason", "Host*")]),
        ("RETRY", [("on_reason", "CannotPull*"), ("on_status_reason", "Essential*")]),
    ]
    assert [
        (r.name.value, r.host.value, r.container.value, r.read_only.value)
        for r in form.volume_rows.rows
    ] == [
        ("data", "/srv/data", "", False),
        ("cache", "", "/cache", False),
        ("data", "", "/data", True),
        ("data", "", "/data2", False),
        ("spare", "/srv/spare", "", False),
    ]
    assert form.valid, form.problems
    assert form.definition() == registered
    assert form.definition().revision == 1

    # form -> JSON -> form keeps every field
    doc = json.loads(json.dumps(form.definition().to_aws(extensions=True)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = JobDefinition.from_aws(doc)
    again = JobForm(reg)
    forms.append(again)
    again.load(back)
    assert again.definition() == registered.replace(revision=None) == back
    # a change, then loading the registered revision again, gives it back
    again.fields["memory"].value = "2g"
    assert again.definition() != back
    again.load(registered)
    assert again.definition() == registered


def test_form_equals_magic_and_create(reg: Registry, form: JobForm) -> None:
    reg.register("extract", command="true")
    line = (
        "job clean --image busybox:1.36 --depends-on extract --vcpus 0.5 --memory 1g "
        "--env A=1 --env 'B=x y' --volume /srv:/srv:ro --array 4 --array-dependency n_to_n "
        "--retries 4 --retry-on exit:137 --exit-on reason:OutOfMemory* --timeout 10m "
        "--param p=v --user nobody --shm-size 64m --read-only --privileged"
    )
    name, kwargs = parse_job_cell(line, "echo hi\n")
    magic_made = JobDefinition.create(name, **kwargs)

    fill(form, name="clean", image="busybox:1.36", vcpus="0.5", memory="1g", command="echo hi\n")
    for key, value in (("A", "1"), ("B", "x y")):
        form.env_rows.add(key, value)
    form.volume_rows.add("", "/srv", "/srv", True)
    fill(form, array_size="4", array_dependency="N_TO_N", attempts="4", timeout="10m")
    form.rule_rows.add([("on_exit_code", "137")], "RETRY")
    form.rule_rows.add([("on_reason", "OutOfMemory*")], "EXIT")
    form.parameter_rows.add("p", "v")
    fill(form, user="nobody", shm="64m", readonly=True, privileged=True)
    form.fields["depends-on"].value = ("extract",)
    assert form.definition() == magic_made
    # and through the registry: the form registers what the magic would
    assert form.create() == reg.register(magic_made)


def test_form_equals_magic_in_a_shell(ip: Any, forms: list[JobForm]) -> None:
    ip.run_cell_magic("kadam", "job m --memory 64 --env A=1 --volume /srv:/srv --retries 2", "ls")
    form = ip.run_line_magic("kadam", "form")
    forms.append(form)
    fill(form, name="f", memory="64", command="ls", attempts="2")
    form.env_rows.add("A", "1")
    form.volume_rows.add("", "/srv", "/srv")
    made = form.create()
    magic = kadam_nb.registry().definition("m")
    assert made.replace(name="m") == magic


def test_depends_on_choices_follow_the_registry(reg: Registry, form: JobForm) -> None:
    assert form.fields["depends-on"].options == ()
    reg.register("a", command="true")
    form.fields["name"].value = "c"  # any action refreshes the choices
    assert form.fields["depends-on"].options == ("a",)
    form.fields["depends-on"].value = ("a",)
    reg.register("b", command="true")
    form.refresh()
    assert form.fields["depends-on"].options == ("a", "b")
    assert form.fields["depends-on"].value == ("a",)  # the choice survives the refresh
    # chosen in this order: kept in this order
    form.fields["depends-on"].value = ("a", "b")
    form.fields["depends-on"].value = ("b",)
    form.fields["depends-on"].value = ("a", "b")
    fill(form, command="true")
    assert form.definition().depends_on == ("b", "a")
    # the form's own name is not offered
    form.fields["depends-on"].value = ()
    form.fields["name"].value = "a"
    assert form.fields["depends-on"].options == ("b",)
    # the load bar too
    assert form.load_name.options == ("a", "b")


def test_argv_command(form: JobForm) -> None:
    fill(form, name="argv", command_mode=ARGV, command="echo 'two words'")
    assert form.definition().command == ("echo", "two words")
    form.fields["command"].value = "echo 'unclosed"
    assert "quote" in form.errors["command"].value and not form.valid
    form.fields["command"].value = ""
    assert form.definition().command == ()


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def close_default() -> None:
        with kadam_nb._default_lock:
            if kadam_nb._default is not None:
                kadam_nb._default.close()
            kadam_nb._default = None

    monkeypatch.setenv("KADAM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("KADAM_BACKEND", "local")
    monkeypatch.chdir(tmp_path)
    close_default()
    globalipapp.start_ipython()
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "kadam_nb")
    shell.register_magics(KadamMagics(shell))
    yield shell
    close_default()


def test_form_verb_and_function(ip: Any, forms: list[JobForm]) -> None:
    empty = ip.run_line_magic("kadam", "form")
    assert isinstance(empty, JobForm) and empty.fields["name"].value == ""
    ip.run_cell_magic("kadam", "job known --memory 64", "echo hi")
    known = ip.run_line_magic("kadam", "form known")
    new = ip.run_line_magic("kadam", "form brand-new")
    from_python = kadam_nb.form("known")
    forms.extend([empty, known, new, from_python])
    assert known.definition() == kadam_nb.registry().definition("known")
    assert known.fields["command"].value == "echo hi" and known.fields["memory"].value == "64"
    assert new.fields["name"].value == "brand-new" and new.env_rows.rows == []
    assert from_python.definition() == known.definition()
    assert known.registry is kadam_nb.registry()


def test_a_secret_looking_variable_is_typed_as_a_password(reg: Registry, form: JobForm) -> None:
    """Its value is not shown on screen; the definition still gets it, and a row renamed to a
    plain name shows its value again."""
    import ipywidgets as widgets

    fill(form, name="signer", command="sign")
    row = form.env_rows.add()
    assert isinstance(row.value, widgets.Text) and not isinstance(row.value, widgets.Password)
    row.key.value = "API_TOKEN"
    assert isinstance(row.value, widgets.Password)
    assert row.value in row.line.children and "kadam-env-value" in row.value._dom_classes
    row.value.value = "s3cr3t"
    assert form.definition().environment["API_TOKEN"] == "s3cr3t"  # what is typed still counts
    row.key.value = "MODE"
    assert not isinstance(row.value, widgets.Password) and row.value.value == "s3cr3t"
    assert form.definition().environment == {"MODE": "s3cr3t"}
    loaded = form.env_rows.add("DB_PASSWORD", "hunter2")  # as when a definition is loaded
    assert isinstance(loaded.value, widgets.Password)

"""The form's fields under random values, set as a browser sets them: no exception escapes a
callback; the form is valid and gives the definition the core would build, or every problem
is shown under an input (a FieldError naming the field); nothing is registered while invalid.

100 random fillings (each sets up to 8 inputs and rows, and every set validates the form).
"""

from __future__ import annotations

import html
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kadam_nb.errors import SpecError
from kadam_nb.facade import Registry
from kadam_nb.notebook.form import ARGV, SCRIPT, JobForm
from tests.fuzz.strategies import hostile_text
from tests.support.comms import Msg

TEXT_KEYS = [
    "name",
    "image",
    "command",
    "user",
    "vcpus",
    "memory",
    "gpus",
    "shm",
    "attempts",
    "timeout",
    "array-size",
    "job-role",
    "execution-role",
    "log-driver",
    "log-options",
    "log-secrets",
    "aws-extra",
]
PLAUSIBLE = {
    "name": ["job", "a-b_c", "", "x" * 129],
    "vcpus": ["1", "0.5", "0", "-1", "nan", "1e400", "inf"],
    "memory": ["256", "2g", "0", "1.5g", "9t"],
    "attempts": ["1", "10", "11", "0"],
    "timeout": ["90", "10m", "0", "-1", "1h30x"],
    "array-size": ["2", "10001", "1"],
    "aws-extra": ['{"schedulingPriority": 10}', "{", "[]", '{"containerProperties": 1}', "null"],
    "log-options": ["a=b", "=", "novalue"],
    "log-secrets": ["t=arn:x", "=", "x"],
}
values = {k: st.one_of(st.sampled_from(v), hostile_text) for k, v in PLAUSIBLE.items()}

actions = st.one_of(
    st.tuples(st.just("field"), st.sampled_from(TEXT_KEYS), hostile_text),
    st.sampled_from(TEXT_KEYS).flatmap(
        lambda k: st.tuples(st.just("field"), st.just(k), values.get(k, hostile_text))
    ),
    st.tuples(st.just("mode"), st.sampled_from([SCRIPT, ARGV]), st.just("")),
    st.tuples(st.just("check"), st.sampled_from(["privileged", "readonly"]), st.booleans()),
    st.tuples(st.just("env"), hostile_text, hostile_text),
    st.tuples(st.just("param"), hostile_text, hostile_text),
    st.tuples(
        st.just("volume"),
        st.sampled_from(["/srv:/data", "/:/host", "rel:/x", ":/x", "/etc:/etc:ro"]),
        hostile_text,
    ),
    st.tuples(st.just("rule"), st.sampled_from(["onExitCode", "onReason"]), hostile_text),
)


def apply(form: JobForm, action: tuple[str, Any, Any]) -> None:
    kind, a, b = action
    if kind == "field":
        form.fields[a].value = b
    elif kind == "mode":
        form.fields["command-mode"].value = a
    elif kind == "check":
        form.fields[a].value = b
    elif kind == "env":
        form.env_rows.add(a, b)
    elif kind == "param":
        form.parameter_rows.add(a, b)
    elif kind == "volume":
        host, _, container = a.partition(":")
        row = form.volume_rows.add()
        row.host.value = host
        row.container.value = container.replace(":ro", "") + b[:5]
    else:
        row = form.rule_rows.add()
        patterns = [pattern for _, pattern in row.conditions]
        if patterns:
            patterns[0].value = b


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    reg = Registry(state_dir=tmp_path_factory.mktemp("form") / "state", backend="local")
    yield reg
    reg.close()


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(actions, min_size=1, max_size=8))
def test_random_fillings_validate_without_escaping(
    registry: Registry, sent: list[Msg], steps: list[tuple[str, Any, Any]]
) -> None:
    form = JobForm(registry)
    before = [(d.name, d.revision) for d in registry.definitions()]
    for step in steps:
        apply(form, step)  # an exception in a callback would escape here
    shown = " ".join(label.value for label in form._labels())
    if form.valid:
        d = form.definition()
        assert form.problems == []
        cell, doc = form.show_code()
        assert cell and doc
    else:
        assert form.problems
        for problem in form.problems:
            assert problem.field
            assert html.escape(problem.message) in shown, (problem, shown[:500])
        with pytest.raises(SpecError):
            form.definition()
        assert form.create_button.disabled and form.submit_button.disabled
        form.create_button.click()  # disabled in the page; a click here must not register
    assert [(d.name, d.revision) for d in registry.definitions()] == before or form.valid
    form.close()
    if form.valid:
        assert d.name == form.fields["name"].value

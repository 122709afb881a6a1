"""The Python API under random arguments: ``JobDefinition.create``/``replace`` and
``Registry.register`` give a definition or one SpecError whose every problem names a keyword
(the field it came from); nothing else escapes, and a refused registration registers nothing.

2,000 ``create`` calls with random values for random keywords, 1,000 ``replace`` calls, 300
``register`` calls on a live Registry (each one writes the store).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kadam_nb.core.spec import JobDefinition
from kadam_nb.errors import KadamError, SpecError
from kadam_nb.facade import Registry
from tests.fuzz.strategies import hostile_text, python_values

FUZZ = settings(
    max_examples=3000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# every keyword of create() (tests/core/test_spec.py pins the list itself)
KEYWORDS = [p for p in inspect.signature(JobDefinition.create).parameters if p != "name"]
# plausible values per keyword, so that the rules behind the type checks are reached too
PLAUSIBLE: dict[str, list[Any]] = {
    "command": ["echo hi", ["echo", "hi"], "", [], [1, 2.5], ["a\x00b"]],
    "vcpus": [1, 0.5, "2", 0, -1, float("nan"), float("inf"), 10**9, "0.25"],
    "memory": [256, "2g", "512m", "1.5g", 3, 0, "-1", 2**63, "1e3"],
    "gpus": [0, 1, "2", -1, 1.5],
    "environment": [{"A": "1"}, ["A=1"], {"AWS_BATCH_X": "1"}, {"1A": "x"}, {"A": 1}],
    "volumes": ["/h:/c", "/h:/c:ro", "/c", "rel:/c", "/:/host", {"name": "v"}, [("a", "b")]],
    "mount_points": [{"source_volume": "v", "container_path": "/c"}, {"sourceVolume": "x"}],
    "ulimits": ["nofile=1024:4096", "nofile=9:1", {"name": "nope", "soft": 1, "hard": 1}],
    "retries": [1, 3, 10, 11, 0, "3"],
    "attempts": [1, 5, 11],
    "retry_strategy": [
        {"attempts": 3, "evaluateOnExit": [{"onExitCode": "1*", "action": "RETRY"}]},
        {"evaluateOnExit": [{"action": "maybe"}]},
        {"evaluate_on_exit": [{"on_reason": "x" * 600, "action": "EXIT"}] * 6},
    ],
    "timeout": [60, "1h30m", "10m", 0, -5, "soon"],
    "log_configuration": ["awslogs", {"logDriver": "awslogs", "options": {"a": "b"}}, {}],
    "depends_on": ["a,b", ["a", "a"], ["bad name"], "self"],
    "array_size": [2, 10000, 10001, 1, "4"],
    "array_dependency": ["n_to_n", "SEQUENTIAL", "sideways"],
}
names = st.one_of(st.sampled_from(["job", "a-b_c", "x" * 129, ""]), hostile_text, python_values)


@st.composite
def keywords(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(KEYWORDS), max_size=5, unique=True))
    out = {}
    for key in chosen:
        options = [python_values]
        if key in PLAUSIBLE:
            options.insert(0, st.sampled_from(PLAUSIBLE[key]))
        out[key] = draw(st.one_of(*options))
    return out


def _head(field: str) -> str:
    return re.split(r"[.\[]", field, maxsplit=1)[0]


def assert_names_given_keywords(exc: SpecError, given_names: set[str]) -> None:
    """Every problem names a field that one of the given keywords sets."""
    assert exc.errors
    message = str(exc)
    # which definition fields each keyword can break
    allowed = set(given_names) | {"name"}
    if given_names & {"retries", "attempts", "retry_strategy"}:
        allowed |= {"retry_strategy", "retries", "attempts"}
    if given_names & {"volumes", "mount_points"}:
        allowed |= {"volumes", "mount_points"}
    if "depends_on" in given_names:
        allowed |= {"array_dependency"}  # a dependency type needs something to depend on
    if "array_dependency" in given_names:
        allowed |= {"depends_on", "array_size"}
    for problem in exc.errors:
        assert problem.field and problem.field in message, (problem, message)
        assert _head(problem.field) in allowed, (problem, sorted(given_names))


@settings(FUZZ, max_examples=2000)
@given(name=names, kwargs=keywords())
def test_create_gives_a_definition_or_names_each_bad_keyword(
    name: Any, kwargs: dict[str, Any]
) -> None:
    try:
        d = JobDefinition.create(name, **kwargs)
    except SpecError as exc:
        assert_names_given_keywords(exc, set(kwargs))
        return
    assert d.name == name
    assert JobDefinition.create(name, **kwargs) == d  # deterministic


@settings(FUZZ, max_examples=1000)
@given(kwargs=keywords())
def test_replace_changes_nothing_on_refusal(kwargs: dict[str, Any]) -> None:
    base = JobDefinition.create("base", command="echo hi", environment={"A": "1"})
    snapshot = repr(base), base.content_key()
    try:
        changed = base.replace(**kwargs)
    except SpecError as exc:
        assert_names_given_keywords(exc, set(kwargs))
    else:
        assert isinstance(changed, JobDefinition)
    assert (repr(base), base.content_key()) == snapshot  # frozen: the original is untouched


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    reg = Registry(state_dir=Path(tmp_path_factory.mktemp("fuzz")) / "state", backend="local")
    reg.register("up", command="echo up")
    yield reg
    reg.close()


@settings(FUZZ, max_examples=300)
@given(name=st.one_of(st.sampled_from(["job", "up"]), names), kwargs=keywords())
def test_a_refused_registration_registers_nothing(
    registry: Registry, name: Any, kwargs: dict[str, Any]
) -> None:
    before = {d.name: d.revision for d in registry.definitions()}
    stored = len(registry.store.definitions(active_only=False))
    try:
        d = registry.register(name, **kwargs)
    except KadamError as exc:
        assert str(exc).strip()
        if isinstance(exc, SpecError):
            for problem in exc.errors:
                assert problem.field and problem.field in str(exc)
        assert {d.name: d.revision for d in registry.definitions()} == before
        assert len(registry.store.definitions(active_only=False)) == stored
        return
    assert registry.definition(d.name) == d

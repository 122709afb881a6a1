"""The real ``%%kadam job`` and ``%%kadam definition`` magics under random cells: a definition
is registered, or one UsageError (never SystemExit, never another exception) whose message
names the option or field, and nothing is registered half-way.

300 job cells and 200 definition cells through IPython (each registers or refuses).
"""

from __future__ import annotations

import json
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

import kadam_nb
from kadam_nb.errors import KadamWarning
from tests.fuzz.strategies import hostile_text, json_values
from tests.fuzz.test_aws_json_fuzz import AWS_EXAMPLES
from tests.fuzz.test_grammar_fuzz import NAMES_A_PLACE, bodies, names, words
from tests.support.ipython import close_default_registry, kadam_shell

MAGIC = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def ip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    patch = pytest.MonkeyPatch()
    yield kadam_shell(Path(tmp_path_factory.mktemp("magic")), patch)
    close_default_registry()
    patch.undo()


def registered() -> list[tuple[str, int | None]]:
    reg = kadam_nb.registry()
    return sorted((d.name, d.revision) for d in reg.store.definitions(active_only=False))


def refused(ip: Any, line: str, body: str) -> str | None:
    """The UsageError's message, or None when the cell registered."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadamWarning)
        try:
            ip.run_cell_magic("kadam", line, body)
        except UsageError as exc:
            return str(exc)
    return None


@MAGIC
@given(name=names, options=st.lists(words, max_size=8), body=bodies)
def test_random_job_cells_register_or_refuse_cleanly(
    ip: Any, capsys: Any, name: str, options: list[str], body: str
) -> None:
    before = registered()
    message = refused(ip, "job " + shlex.join([name, *options]), body)
    capsys.readouterr()
    if message is None:
        assert kadam_nb.registry().definition(name).name == name
        return
    assert (message.strip() and NAMES_A_PLACE.search(message)) or ":" in message, message
    assert registered() == before, "a refused cell changed the definitions"


@st.composite
def documents(draw: st.DrawFn) -> str:
    doc = json.loads(json.dumps(draw(st.sampled_from(AWS_EXAMPLES))))
    key = draw(st.sampled_from([*doc, "containerProperties"]))
    doc[key] = draw(st.one_of(json_values, hostile_text, st.just(doc.get(key))))
    text = json.dumps(doc)
    return draw(st.sampled_from([text, text[: len(text) // 2], text + "}", "", "[1]"]))


@settings(MAGIC, max_examples=200)
@given(body=documents())
def test_random_definition_cells_register_or_refuse_cleanly(
    ip: Any, capsys: Any, body: str
) -> None:
    before = registered()
    message = refused(ip, "definition", body)
    capsys.readouterr()
    if message is None:
        return
    assert message.strip()
    assert registered() == before, "a refused cell changed the definitions"

"""Secret-looking values are masked in every view: the definition's repr and sheet, ``%kadam
show``, ``%kadam export aws``, ``%kadam logs``, the form's "Show as code" and the dashboard;
by one rule (``kadam_nb.core.secrets``) with the defaults always on and extra patterns from
``Kadam.secret_patterns``. The job itself still gets the real value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kadam_nb
from kadam_nb.core import secrets
from kadam_nb.core.aws import masked_export
from kadam_nb.core.secrets import MASK, is_secret_name, mask_text, secret_values
from kadam_nb.core.spec import JobDefinition
from kadam_nb.display.html import definition_html
from kadam_nb.facade import Registry
from kadam_nb.notebook.config import Kadam
from kadam_nb.notebook.form import JobForm
from tests.support.comms import Msg, recording_comms
from tests.support.ipython import close_default_registry, kadam_shell

SECRET = "hunter2-s3cr3t-VALUE"
ENV = {"API_KEY": SECRET, "github_token": "ghp_abcdef123", "DB_PASSWORD": "pa55word", "MODE": "x"}


@pytest.fixture(autouse=True)
def no_extra_patterns() -> Iterator[None]:
    secrets.set_extra_patterns(())
    yield
    secrets.set_extra_patterns(())


def secretive(**more: Any) -> JobDefinition:
    return JobDefinition.create(
        "s", command="echo hi", environment=ENV, parameters={"auth_token": "tok-123456"}, **more
    )


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    stem=st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True),
    pattern=st.sampled_from(["{}_KEY", "{}_secret", "X{}TOKEN{}", "{}Password", "token"]),
)
def test_the_default_patterns_match_in_any_case(stem: str, pattern: str) -> None:
    assert is_secret_name(pattern.format(stem, stem))
    assert is_secret_name(pattern.format(stem, stem).lower())


@pytest.mark.parametrize("name", ["PATH", "HOME", "KEYS", "MONKEY", "SECRETARY", "PASSWD", "MODE"])
def test_ordinary_names_are_shown(name: str) -> None:
    assert not is_secret_name(name)


def test_repr_masks_and_the_job_keeps_the_value() -> None:
    d = secretive()
    text = repr(d)
    for value in (SECRET, "ghp_abcdef123", "pa55word", "tok-123456"):
        assert value not in text
    assert f"'API_KEY': '{MASK}'" in text and "'MODE': 'x'" in text
    assert d.environment["API_KEY"] == SECRET  # the data is untouched
    assert str([d]).count(MASK) == 4  # inside containers too


def test_extra_patterns_from_the_kadam_setting_reach_every_view() -> None:
    d = JobDefinition.create("s", environment={"MY_CRED": "c-r-e-d", "MODE": "fast"})
    assert "c-r-e-d" in repr(d)
    settings_ = Kadam(secret_patterns=["*_CRED"])
    assert "c-r-e-d" not in repr(d) and "c-r-e-d" not in definition_html(d)
    doc, warned = masked_export(d)
    assert "c-r-e-d" not in json.dumps(doc) and warned
    settings_.secret_patterns = []
    assert "c-r-e-d" in repr(d)


def test_export_masks_and_says_where_secrets_belong() -> None:
    doc, warned = masked_export(secretive(), extensions=True)
    text = json.dumps(doc)
    assert SECRET not in text and "tok-123456" not in text
    assert {"name": "API_KEY", "value": MASK} in doc["containerProperties"]["environment"]
    assert {"name": "MODE", "value": "x"} in doc["containerProperties"]["environment"]
    assert len(warned) == 4
    assert any("environment.API_KEY" in w and "valueFrom" in w for w in warned)
    assert secretive().to_aws()["containerProperties"]["environment"][0]["value"] == SECRET


def test_log_text_masking_takes_the_longest_value_first() -> None:
    values = secret_values({"A_KEY": "abcd", "B_KEY": "abcdef", "C_KEY": "ab", "MODE": "abcd"})
    assert values == ["abcdef", "abcd"]  # short values are not hunted in text
    assert mask_text("x abcdef y abcd", values) == f"x {MASK} y {MASK}"


# ---------------------------------------------------------------------------------------------
# The notebook views


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield kadam_shell(tmp_path, monkeypatch)
    close_default_registry()


def test_show_export_and_logs_mask_in_the_notebook(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_cell_magic(
        "kadam",
        f"job leaky --env API_KEY={SECRET} --env MODE=fast --param auth_token=tok-123456",
        'echo "key is $API_KEY"; echo "mode $MODE"',
    )
    ip.run_line_magic("kadam", "show leaky")
    ip.run_line_magic("kadam", "export aws")
    out, err = capsys.readouterr()
    assert SECRET not in out and "tok-123456" not in out
    assert f"API_KEY={MASK}" in out and "MODE=fast" in out
    assert "environment.API_KEY: value masked" in err and "valueFrom" in err

    ip.run_line_magic("kadam", "run --wait")
    capsys.readouterr()
    ip.run_line_magic("kadam", "logs leaky")
    out = capsys.readouterr().out
    assert f"key is {MASK}" in out and "mode fast" in out and SECRET not in out
    reg = kadam_nb.registry()
    assert reg.job("leaky").logs() == f"key is {SECRET}\nmode fast\n"  # the job got it


def test_the_forms_code_is_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Msg] = recording_comms(monkeypatch)
    reg = Registry(state_dir=tmp_path / "state", backend="local")
    try:
        reg.register(secretive())
        form = JobForm(reg, Kadam(), "s")
        cell, doc = form.show_code()
        assert SECRET not in cell + doc and "tok-123456" not in cell + doc
        assert f"API_KEY={MASK}" in cell and MASK in json.loads(doc)["parameters"]["auth_token"]
        assert "valueFrom" in form.code_note.value
        # the variable's own input holds the value (an editor must), nothing else does
        inputs = [r.value.value for r in form.env_rows.rows]
        assert SECRET in inputs and sent
    finally:
        reg.close()


def test_the_terminal_printer_masks_secret_values() -> None:
    import io

    from kadam_nb.console import ConsolePrinter
    from kadam_nb.core.views import LogLines

    out = io.StringIO()
    printer = ConsolePrinter(out, secrets=secret_values({"API_KEY": "s3cr3t-value", "HOME": "/h"}))
    printer(LogLines("j1", "fetch", 1, "stdout", ["using s3cr3t-value on /h"], 0))
    assert "s3cr3t-value" not in out.getvalue()
    assert f"using {MASK} on /h" in out.getvalue()

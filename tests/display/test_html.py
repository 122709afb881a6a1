"""The HTML cards notebooks show: escaped values, masked secrets, state colours."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from kadam_nb.core.secrets import DEFAULT_PATTERNS as DEFAULT_SECRET_PATTERNS
from kadam_nb.core.secrets import MASK
from kadam_nb.core.secrets import is_secret_name as is_secret
from kadam_nb.core.secrets import mask_environment as mask_secrets
from kadam_nb.core.spec import JobDefinition
from kadam_nb.core.states import JobStatus
from kadam_nb.core.views import AttemptView, JobView
from kadam_nb.display import colors
from kadam_nb.display.html import definition_html, job_html, registry_html

S = JobStatus
SCRIPT = "<script>alert('pwned')</script>"


# ---------------------------------------------------------------------------------------------
# Factories and an HTML reader


def attempt(
    number: int, exit_code: int | None, reason: str | None = None, *, run_for: float = 2.5
) -> AttemptView:
    started = 1_700_000_000.0 + 10 * number
    return AttemptView(
        job_id="job-1",
        number=number,
        compute_environment="default",
        backend="local",
        created_at=started - 1,
        started_at=started,
        stopped_at=None if exit_code is None else started + run_for,
        exit_code=exit_code,
        reason=None,
        status_reason=reason,
        handle=None,
        log_path=None,
    )


def view(
    name: str = "clean",
    status: JobStatus = S.FAILED,
    *,
    reason: str = "",
    attempts: tuple[AttemptView, ...] = (),
    array_size: int | None = None,
    array_index: int | None = None,
    max_attempts: int = 3,
) -> JobView:
    return JobView(
        id="job-1",
        name=name,
        definition_name=name,
        revision=2,
        run_id="run-7",
        queue="default",
        status=status,
        status_reason=reason,
        created_at=1_700_000_000.0,
        started_at=attempts[0].started_at if attempts else None,
        stopped_at=attempts[-1].stopped_at if attempts else None,
        attempts=attempts,
        parent_id="job-0" if array_index is not None else None,
        array_index=array_index,
        array_size=array_size,
        children=(),
        depends_on=(),
        max_attempts=max_attempts,
        cached_from=None,
    )


class Reader(HTMLParser):
    """What a browser would see: the tags it opens and the text it shows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read(markup: str) -> Reader:
    reader = Reader()
    reader.feed(markup)
    reader.close()
    return reader


def shown(markup: str) -> str:
    return "".join(read(markup).text)


def assert_inert(markup: str) -> None:
    """No script element, and no hostile text left unescaped."""
    assert "<script" not in markup.lower()
    assert "script" not in read(markup).tags


# ---------------------------------------------------------------------------------------------
# Secrets


@pytest.mark.parametrize(
    "name",
    [
        "AWS_SECRET_ACCESS_KEY",
        "api_key",
        "CLIENT_SECRET",
        "GITHUB_TOKEN",
        "tokenizer_path",
        "DB_PASSWORD",
        "password_file",
        "X_PASSWORD_Y",
        "a_Key",
    ],
)
def test_secret_names_are_recognised_in_any_case(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize("name", ["PATH", "KEYS", "SECRETARY", "HOME", "MONKEY", "PASSWD"])
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret(name)


def test_mask_secrets_hides_only_secret_values() -> None:
    env = {"API_KEY": "abc", "PATH": "/bin", "my_token": "t0k3n"}
    assert mask_secrets(env) == {"API_KEY": MASK, "PATH": "/bin", "my_token": MASK}
    assert env["API_KEY"] == "abc"  # the input is untouched
    # extra patterns add to the defaults, which always hold
    assert mask_secrets(env, extra=["PATH"]) == {"API_KEY": MASK, "PATH": MASK, "my_token": MASK}
    assert MASK == "••••••"
    assert "*_KEY" in DEFAULT_SECRET_PATTERNS


# ---------------------------------------------------------------------------------------------
# A job


def test_job_card_shows_name_state_reason_attempts_and_ids() -> None:
    v = view(
        reason="OutOfMemoryError: Container killed due to memory usage",
        attempts=(attempt(1, 137, "OutOfMemoryError"), attempt(2, 1, "exited 1", run_for=75)),
    )
    markup = job_html(v)
    text = shown(markup)
    assert "clean" in text and "FAILED" in text
    assert "OutOfMemoryError: Container killed due to memory usage" in text
    assert "job-1" in text and "run-7" in text
    assert "rev 2" in text
    assert "attempt 2 of 3" in text and "exit code 1" in text
    assert read(markup).tags.count("tr") == 3  # header and two attempts
    assert "137" in text and "2.5 s" in text and "1m 15s" in text
    assert colors.STATE_COLORS["FAILED"] in markup


@pytest.mark.parametrize("status", list(JobStatus))
def test_the_state_badge_has_the_graph_colour(status: JobStatus) -> None:
    markup = job_html(view(status=status))
    assert colors.STATE_COLORS[status.value] in markup
    assert status.value in shown(markup)


def test_a_running_attempt_and_an_array_parent() -> None:
    running = shown(job_html(view(status=S.RUNNING, attempts=(attempt(1, None),))))
    assert "attempt 1 of 3 · started 20" in running and "exit code 0" not in running
    assert "running" in running  # the attempt's duration
    parent = shown(job_html(view(status=S.PENDING, array_size=4)))
    assert "array job of 4 children" in parent
    child = shown(job_html(view(array_size=4, array_index=2)))
    assert "clean[2]" in child


def test_job_card_escapes_everything() -> None:
    v = view(
        name=SCRIPT,
        reason=SCRIPT + ' & "quoted"',
        attempts=(attempt(1, 1, SCRIPT),),
    )
    v = dataclasses.replace(v, id='"><img src=x>', run_id="<b>run</b>", queue="<i>q</i>")
    markup = job_html(v)
    assert_inert(markup)
    assert not {"img", "i"} & set(read(markup).tags)
    text = shown(markup)
    assert SCRIPT + ' & "quoted"' in text
    assert '"><img src=x>' in text and "<b>run</b>" in text


# ---------------------------------------------------------------------------------------------
# A definition


def secretive() -> JobDefinition:
    d = JobDefinition.create(
        "clean",
        image="busybox:1.36",
        command="awk '$1 > 3' /kadam/work/raw.csv | sort\n" + SCRIPT,
        vcpus=0.5,
        memory="1g",
        environment={
            "AWS_SECRET_ACCESS_KEY": "hunter2-secret",
            "github_token": "ghp_abcdef",
            "DB_PASSWORD": "pa55",
            "MODE": "<fast>",
        },
        depends_on=["extract", "load"],
        array_size=4,
        array_dependency="N_TO_N",
        retries=3,
        retry_strategy=None,
        timeout="2m",
    )
    return dataclasses.replace(d, revision=5)


def test_definition_sheet_shows_its_fields() -> None:
    markup = definition_html(secretive())
    text = shown(markup)
    for expected in [
        "clean",
        "rev 5",
        "busybox:1.36",
        "awk '$1 > 3' /kadam/work/raw.csv | sort",
        "0.5",
        "1024 MiB",
        "extract, load",
        "4 children, N_TO_N",
        "3 attempts",
        "120 s",
        "MODE=<fast>",
    ]:
        assert expected in text, expected
    assert "pre" in read(markup).tags


def test_definition_sheet_masks_secrets() -> None:
    markup = definition_html(secretive())
    for secret in ["hunter2-secret", "ghp_abcdef", "pa55"]:
        assert secret not in markup
    text = shown(markup)
    assert f"AWS_SECRET_ACCESS_KEY={MASK}" in text
    assert f"github_token={MASK}" in text
    assert f"DB_PASSWORD={MASK}" in text


def test_definition_sheet_takes_other_secret_patterns() -> None:
    text = shown(definition_html(secretive(), secret_patterns=["MODE"]))
    assert f"MODE={MASK}" in text
    assert f"DB_PASSWORD={MASK}" in text  # the defaults still hold


def test_definition_sheet_escapes_the_script() -> None:
    markup = definition_html(secretive())
    assert_inert(markup)
    assert SCRIPT in shown(markup)


def test_definition_sheet_of_an_argv_command_and_retry_rules() -> None:
    d = JobDefinition.create(
        "x",
        command=["python", "-c", "print('hi there')"],
        retry_strategy={
            "attempts": 2,
            "evaluateOnExit": [{"onExitCode": "137", "action": "EXIT"}],
        },
    )
    text = shown(definition_html(d))
    assert "python -c 'print('\"'\"'hi there'\"'\"')'" in text
    assert "not registered" in text
    assert "EXIT on exit code 137" in text
    assert "depends on" in text and "nothing" in text


# ---------------------------------------------------------------------------------------------
# The registry


def test_registry_summary_lists_definitions() -> None:
    defs = [dataclasses.replace(JobDefinition.create("extract", command="seq 10"), revision=1)]
    defs.append(secretive())
    markup = registry_html("/tmp/state", "docker", defs, 3)
    text = shown(markup)
    for expected in ["/tmp/state", "docker", "3 live jobs", "extract", "seq 10", "clean", "5"]:
        assert expected in text
    assert "hunter2" not in markup  # environments are not shown here at all
    assert_inert(markup)


def test_registry_summary_without_definitions_says_how_to_add_one() -> None:
    text = shown(registry_html("/s", "local", [], 1))
    assert "No job definitions yet" in text and "1 live job" in text


def test_registry_summary_escapes_paths_and_backend() -> None:
    markup = registry_html("/tmp/<script>x</script>", SCRIPT, [], 0)
    assert_inert(markup)
    assert "/tmp/<script>x</script>" in shown(markup)


# ---------------------------------------------------------------------------------------------
# The module itself


def test_html_module_imports_no_third_party_library() -> None:
    code = (
        "import sys, kadam_nb.display.html; "
        "print(sorted(m for m in ('graphviz', 'pandas', 'IPython', 'ipywidgets', 'docker') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

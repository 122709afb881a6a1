"""The magic grammar under random option strings and values: every refusal is a GrammarError
(or a SpecError from the rules) whose message names the option or field; nothing else escapes.

Pure (no IPython, no registry): 3,000 job cells of known options with random values, 1,500
raw lines, 1,500 line verbs. ``test_magics_fuzz.py`` drives the real magic.
"""

from __future__ import annotations

import re
import shlex

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kadam_nb.core.spec import JobDefinition
from kadam_nb.errors import SpecError
from kadam_nb.notebook.grammar import (
    VERBS,
    GrammarError,
    describe_spec_error,
    option_for_field,
    parse_verb,
    read_job_cell,
)
from tests.fuzz.strategies import hostile_text
from tests.notebook.test_grammar import JOB_OPTIONS

FUZZ = settings(
    max_examples=3000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

OPTIONS = JOB_OPTIONS  # every %%kadam job option (pinned by the grammar's own tests)
PLAUSIBLE = [
    "busybox:1.36",
    "1",
    "0",
    "-1",
    "0.5",
    "1e400",
    "nan",
    "inf",
    "2g",
    "512m",
    "3t",
    "10001",
    "A=B",
    "API_KEY=s3cret",
    "AWS_BATCH_X=1",
    "=x",
    "exit:137",
    "exit:1*,reason:Out*",
    "status:Essential*",
    "exit:abc",
    "/host:/data:ro",
    "/data",
    "rel:/data",
    "/:/host",
    "N_TO_N",
    "sequential",
    "10m",
    "1h30m",
    "90x",
    "a,b",
    ",",
    "extract",
]
words = st.one_of(st.sampled_from(OPTIONS), st.sampled_from(PLAUSIBLE), hostile_text)
names = st.one_of(st.sampled_from(["extract", "a-b_c", "x" * 129, "-x", "bad name"]), hostile_text)
bodies = st.one_of(st.sampled_from(["echo hi", "", "  ", "echo 'unclosed", "a b c"]), hostile_text)

NAMES_A_PLACE = re.compile(r"--[a-z-]+|%%?kadam|NAME|cell body|\bbody\b")


def assert_names_what(exc: GrammarError) -> None:
    message = str(exc)
    assert message.strip(), "an empty message"
    if exc.option is not None:
        assert exc.option in message
    assert NAMES_A_PLACE.search(message), message


def assert_spec_error_names_fields(exc: SpecError) -> None:
    assert exc.errors, "a SpecError without a FieldError"
    message = str(exc)
    described = describe_spec_error(exc)
    for problem in exc.errors:
        assert problem.field and problem.field in message, (problem, message)
        assert problem.message.strip()
        option = option_for_field(problem.field)
        assert (option or problem.field) in described, (problem, described)


@FUZZ
@given(name=names, options=st.lists(words, max_size=8), body=bodies)
def test_random_job_cells_are_read_or_refused_naming_the_option(
    name: str, options: list[str], body: str
) -> None:
    line = "job " + shlex.join([name, *options])
    try:
        cell = read_job_cell(line, body)
    except GrammarError as exc:
        assert_names_what(exc)
        return
    assert cell.name == name
    try:
        d = JobDefinition.create(cell.name, **cell.fields)
    except SpecError as exc:
        assert_spec_error_names_fields(exc)
        return
    assert d.name == name


@settings(FUZZ, max_examples=1500)
@given(line=st.one_of(hostile_text, st.lists(words, max_size=6).map(" ".join)), body=bodies)
def test_raw_lines_never_escape_as_anything_but_grammar_errors(line: str, body: str) -> None:
    try:
        read_job_cell("job x " + line, body)
    except GrammarError as exc:
        assert_names_what(exc)


@settings(FUZZ, max_examples=1500)
@given(
    verb=st.one_of(st.sampled_from(VERBS), hostile_text),
    rest=st.lists(
        st.one_of(words, st.sampled_from(["--wait", "--tail", "--all", "on"])), max_size=5
    ),
)
def test_random_line_verbs_are_parsed_or_refused(verb: str, rest: list[str]) -> None:
    try:
        parse_verb(shlex.join([verb, *rest]) if verb else " ".join(rest))
    except GrammarError as exc:
        assert str(exc).strip()
        if exc.option is not None:
            assert exc.option in str(exc)

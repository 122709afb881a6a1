"""Hypothesis strategies shared by the fuzz tests: hostile text, option values, JSON values."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

HOSTILE = [
    "<script>alert(1)</script>",
    "\"'",
    "a & b",
    "line\nbreak",
    "\x1b[31mred\x1b[0m",
    "nul\x00byte",
    "$(id)",
    "`id`",
    "; rm -rf /",
    "Ref::x",
    "--image",
    "=",
    "",
    " ",
    "é漢字🙂",
    "\r\t\x07",
    "x" * 5000,
]
"""Strings that have broken parsers and renderers before: markup, quotes, shell syntax,
control characters, NUL, a very long one."""

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.builds(lambda a, b: a + b, st.sampled_from(HOSTILE), st.text(max_size=10)),
)
"""Any text, with hostile strings much more often than chance would give."""

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(hostile_text, st.sampled_from(["name", "value", "type"])), inner, max_size=4
        ),
    ),
    max_leaves=12,
)
"""JSON-shaped values (NaN and huge integers included: Python's json accepts them)."""

python_values: st.SearchStrategy[Any] = st.one_of(
    json_values,
    st.binary(max_size=8),
    st.tuples(hostile_text, hostile_text),
    st.sets(st.integers(), max_size=3),
    st.builds(object),
    st.complex_numbers(max_magnitude=10),
)
"""What a Python caller might pass anywhere: JSON values and things JSON has not."""

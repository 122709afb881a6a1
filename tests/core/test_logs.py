from __future__ import annotations

import time
from pathlib import Path

import pytest

from kadam_nb.core.logs import (
    STDERR,
    STDOUT,
    LineSplitter,
    LogLine,
    format_log_lines,
    format_timestamp,
    parse_log_line,
    parse_log_text,
    parse_timestamp,
)


def feed_all(splitter: LineSplitter, chunks: list[bytes]) -> list[str]:
    lines: list[str] = []
    for chunk in chunks:
        lines.extend(splitter.feed(chunk))
    return lines + splitter.flush()


def cut_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# -- LineSplitter ---------------------------------------------------------------------------------


def test_whole_lines_in_one_chunk() -> None:
    s = LineSplitter()
    assert s.feed(b"a\nbb\nccc\n") == ["a", "bb", "ccc"]
    assert s.flush() == []


def test_chunks_cut_in_the_middle_of_lines() -> None:
    s = LineSplitter()
    assert s.feed(b"hel") == []
    assert s.pending_bytes == 3
    assert s.feed(b"lo\nwor") == ["hello"]
    assert s.feed(b"ld") == []
    assert s.feed(b"\n") == ["world"]
    assert s.flush() == []


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_every_cut_gives_the_same_lines(size: int) -> None:
    text = "plain\n\nnaïve café ☕ 𝄞 日本語\r\nlast without newline"
    data = text.encode()
    assert feed_all(LineSplitter(), cut_every(data, size)) == text.split("\n")


def test_multibyte_character_cut_across_chunks() -> None:
    data = "é𝄞\n".encode()  # 2 + 4 bytes
    s = LineSplitter()
    out: list[str] = []
    for i in range(len(data)):
        out += s.feed(data[i : i + 1])
    assert out == ["é𝄞"]
    assert "\ufffd" not in out[0]


def test_no_trailing_newline_is_flushed() -> None:
    s = LineSplitter()
    assert s.feed(b"one\ntwo") == ["one"]
    assert s.flush() == ["two"]
    assert s.flush() == []  # flushed once


def test_empty_lines_are_kept() -> None:
    assert feed_all(LineSplitter(), [b"\n\na\n\n"]) == ["", "", "a", ""]
    assert feed_all(LineSplitter(), [b"\n", b"\n"]) == ["", ""]
    assert feed_all(LineSplitter(), [b""]) == []


def test_carriage_returns_are_kept() -> None:
    assert feed_all(LineSplitter(), [b"a\r\nb\r", b"\n", b"progress 1\rprogress 2\n"]) == [
        "a\r",
        "b\r",
        "progress 1\rprogress 2",
    ]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    lines = feed_all(LineSplitter(), [b"ok \xff\xfe bytes\n", b"\xc3\n", b"tail \xe2\x82"])
    assert lines == ["ok \ufffd\ufffd bytes", "\ufffd", "tail \ufffd"]


def test_long_line_is_cut_and_nothing_is_lost() -> None:
    s = LineSplitter(max_line_bytes=10)
    out = s.feed(b"0123456789abcdefghijXY")
    assert out == ["0123456789", "abcdefghij"]
    assert s.pending_bytes == 2
    assert s.feed(b"Z\nshort\n") == ["XYZ", "short"]


def test_long_line_arriving_in_small_chunks() -> None:
    data = b"x" * 95 + b"\n" + b"y" * 3
    lines = feed_all(LineSplitter(max_line_bytes=10), cut_every(data, 7))
    assert "".join(lines) == "x" * 95 + "y" * 3
    assert all(len(line) <= 10 for line in lines)
    assert lines[-1] == "yyy"


def test_long_line_inside_one_big_chunk() -> None:
    data = b"a\n" + b"b" * 25 + b"\nc\n"
    assert feed_all(LineSplitter(max_line_bytes=10), [data]) == [
        "a",
        "b" * 10,
        "b" * 10,
        "b" * 5,
        "c",
    ]


def test_long_line_completed_by_a_newline_is_cut() -> None:
    s = LineSplitter(max_line_bytes=10)
    assert s.feed(b"12345678") == []
    assert s.feed(b"9ABCD\nok\n") == ["123456789A", "BCD", "ok"]


def test_long_line_is_cut_between_characters() -> None:
    text = "é" * 20  # 40 bytes, 2 each
    lines = feed_all(LineSplitter(max_line_bytes=5), [text.encode() + b"\n"])
    assert "".join(lines) == text
    assert all(len(line.encode()) <= 5 for line in lines)
    assert "\ufffd" not in "".join(lines)


def test_max_line_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LineSplitter(max_line_bytes=0)


def test_a_million_short_lines_are_fast() -> None:
    data = "".join(f"{i}\n" for i in range(1, 1_000_001)).encode()
    chunks = cut_every(data, 65536)
    start = time.perf_counter()
    s = LineSplitter()
    count = 0
    last = ""
    for chunk in chunks:
        lines = s.feed(chunk)
        if lines:
            count += len(lines)
            last = lines[-1]
            format_log_lines(STDOUT, lines, 0)
    elapsed = time.perf_counter() - start
    assert (count, last) == (1_000_000, "1000000")
    assert elapsed < 0.6, f"{elapsed:.3f} s"  # about 0.06 s measured; generous for noisy CI


# -- timestamps -----------------------------------------------------------------------------------


def test_format_timestamp_is_fixed_width_nanoseconds() -> None:
    assert format_timestamp(1795764173_123456789) == "2026-11-27T07:22:53.123456789Z"
    assert format_timestamp(0) == "1970-01-01T00:00:00.000000000Z"
    assert format_timestamp(5) == "1970-01-01T00:00:00.000000005Z"
    assert len(format_timestamp(time.time_ns())) == 30


def test_parse_timestamp_inverts_format() -> None:
    for ns in (0, 1, 1795764173_123456789, time.time_ns()):
        assert parse_timestamp(format_timestamp(ns)) == ns
    with pytest.raises(ValueError):
        parse_timestamp("2026-11-27 07:22:53")


# -- the on-disk form -----------------------------------------------------------------------------

AT = 1795764173_123456789
STAMP = "2026-11-27T07:22:53.123456789Z"


def test_format_log_lines() -> None:
    assert format_log_lines(STDOUT, ["a", "b c"], AT) == f"{STAMP} O a\n{STAMP} O b c\n"
    assert format_log_lines(STDERR, [""], AT) == f"{STAMP} E \n"
    assert format_log_lines(STDOUT, [], AT) == ""
    with pytest.raises(ValueError):
        format_log_lines("stdin", ["x"], AT)


def test_embedded_newline_becomes_separate_records() -> None:
    text = format_log_lines(STDERR, ["a\nb"], AT)
    assert parse_log_text(text) == [LogLine(STAMP, STDERR, "a"), LogLine(STAMP, STDERR, "b")]


UNUSUAL = [
    "",
    " ",
    "  leading and trailing  ",
    f"{STAMP} O looks like a record",
    "tab\there",
    "cr at end\r",
    "cr\rin middle",
    "form\x0cfeed\x0bvtab\x1cfs\x85nel\u2028ls\u2029ps",
    "nul\x00byte",
    "\ufffd replaced bytes",
    "emoji 🎉 and RTL \u202e text",
    "E",
    "O O O",
]


@pytest.mark.parametrize("stream", [STDOUT, STDERR])
def test_round_trip(stream: str) -> None:
    text = format_log_lines(stream, UNUSUAL, AT)
    assert text.count("\n") == len(UNUSUAL)
    records = parse_log_text(text)
    assert records == [LogLine(STAMP, stream, line) for line in UNUSUAL]
    assert [parse_log_line(r + "\n") for r in text.split("\n")[:-1]] == records


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "log"
    content = format_log_lines(STDOUT, UNUSUAL[:7], AT) + format_log_lines(STDERR, UNUSUAL, AT + 1)
    path.write_bytes(content.encode())
    back = parse_log_text(path.read_bytes().decode())
    assert [r.text for r in back] == UNUSUAL[:7] + UNUSUAL
    assert {r.stream for r in back[:7]} == {STDOUT}
    assert parse_timestamp(back[-1].timestamp) == AT + 1


def test_parse_log_line_accepts_a_stripped_empty_text() -> None:
    assert parse_log_line(f"{STAMP} E") == LogLine(STAMP, STDERR, "")
    assert parse_log_line(f"{STAMP} O \n") == LogLine(STAMP, STDOUT, "")


@pytest.mark.parametrize(
    "bad",
    ["", "hello", f"{STAMP}", f"{STAMP} X text", f"{STAMP}  O text", f"{STAMP} Otext", STAMP[:-1]],
)
def test_parse_log_line_refuses_other_text(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_log_line(bad)


def test_parse_log_text_ignores_an_unterminated_last_record() -> None:
    text = format_log_lines(STDOUT, ["a", "b"], AT)
    assert [r.text for r in parse_log_text(text + f"{STAMP} O part")] == ["a", "b"]
    assert parse_log_text("") == []

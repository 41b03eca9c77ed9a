"""`zmqlog tail` against hostile input: it never crashes and never writes control codes raw.

The frames come from a raw XPUB socket, as an attacker on the network would send them;
the tail is a real `zmqlog tail` process, so its real stdout (UTF-8, strict) is tested.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_record
from zmqlog import LogMessage, wire
from zmqlog._tail import TailOptions, _Filter, _TextRenderer, escape_controls, level_number

# Everything a terminal may act on, as tail must never write it unless --raw.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SENTINEL = [b"sentinel.INFO", b"end of test input\n"]
THOUSANDS_OF_DIGITS = "9" * 5000


def run_tail_on(messages: Sequence[Sequence[bytes]], *args: str) -> tuple[int, bytes, str]:
    """Send *messages* to a fresh `zmqlog tail ARGS` process; return (exit code, out, err).

    The frames come from a raw XPUB socket on a free loopback port. The tail is told
    to show one message more than it is sent; sentinels, sent until it exits, make up
    for the messages it rightly drops as invalid: at once as many as it could have
    dropped, then one at a time. Its output goes to files, not pipes: a tail that
    wrote more than a pipe holds (64 KiB) before anyone read it would never exit.
    """
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    proc: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            sock = ctx.socket(zmq.XPUB)
            port = sock.bind_to_random_port("tcp://127.0.0.1")
            proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "zmqlog", "tail", f"tcp://127.0.0.1:{port}"),
                    *("--count", str(len(messages) + 1), *args),
                ],
                stdout=out,
                stderr=err,
                env={**os.environ, "NO_COLOR": ""},
            )
            assert sock.poll(20_000), "the tail did not subscribe within 20 s"
            assert sock.recv() == b"\x01"  # subscribed to everything
            for frames in messages:
                sock.send_multipart(list(frames))
            for _ in range(len(messages) + 1):
                sock.send_multipart(SENTINEL)
            deadline = time.monotonic() + 20
            while proc.poll() is None:
                assert time.monotonic() < deadline, "the tail did not exit within 20 s"
                sock.send_multipart(SENTINEL)
                try:
                    proc.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            ctx.destroy(linger=0)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read().decode("utf-8", "replace")


def json_record(message: str, exc_text: str | None = None, **extra: object) -> list[bytes]:
    record = make_record(message, level=logging.ERROR)
    record.exc_text = exc_text
    record.__dict__.update(extra)
    topic, payload = wire.encode_json(record, None, "app", publisher=wire.new_publisher_id(), seq=0)
    return [topic, payload]


# The inputs the issue found crashing or injecting into the terminal.
NASTY: list[list[bytes]] = [
    ["²".encode(), b"hi\n"],
    [f"app.Level {THOUSANDS_OF_DIGITS}".encode(), b"hi\n"],
    [THOUSANDS_OF_DIGITS.encode(), b"digits\n"],
    [b"app.INFO", b"\x1b]0;window title\x07\x1b[2J\x1b[1A\r\x7f\xc2\x9b[31m overwrite\n"],
    [b"app.\x1b[2J.INFO", b"topic with ESC\n"],
    [b"app.INFO", b"\xff\xfe undecodable \xed\xa0\x80\n"],
    json_record("lone \ud800 surrogate \x1b[2J", "Traceback\n\x1b]0;t\x07"),
    json_record("extra", None, k="\x1b[2J", **{"\x1bkey": ["\x9b", {"n": "\x00"}]}),
]


@pytest.mark.parametrize(
    "args",
    [[], ["--json"], ["--level", "DEBUG"], ["--timestamp", "--align"], ["--json", "--level", "5"]],
    ids=["text", "json", "level", "timestamp", "json-level"],
)
def test_nasty_input_is_shown_escaped_and_never_crashes(args: list[str]) -> None:
    """The issue's inputs: exit 0, no traceback, no control character in the output."""
    code, out, err = run_tail_on(NASTY, *args)
    assert (code, err) == (0, "")
    text = out.decode("utf-8")  # strict: what tail writes is valid UTF-8
    assert RAW_CONTROL.search(text) is None
    if "--json" in args:
        objects = [json.loads(line) for line in text.splitlines()]
        assert (objects[0]["topic"], objects[0]["levelno"]) == ("²", None)  # no known level
        assert objects[4]["topic"] == "app.\\x1b[2J.INFO"
        assert objects[7]["extra"] == {"k": "\\x1b[2J", "\\x1bkey": ["\\x9b", {"n": "\\x00"}]}
        text = "\n".join(obj["text"] for obj in objects)
    assert "\\x1b]0;window title\\x07\\x1b[2J\\x1b[1A\\x0d\\x7f\\x9b[31m overwrite" in text
    assert "lone \\ud800 surrogate \\x1b[2J" in text
    assert "\ufffd undecodable" in text


def test_color_adds_only_its_own_escape_sequences() -> None:
    """With --color the only ESC bytes in the output are tail's own colour codes."""
    code, out, err = run_tail_on(NASTY, "--color", "--level", "DEBUG")
    assert (code, err) == (0, "")
    text = re.sub(r"\x1b\[(?:0|31|33|36|1;31)m", "", out.decode("utf-8"))
    assert RAW_CONTROL.search(text) is None


def test_raw_writes_control_characters_as_sent() -> None:
    """--raw passes a text payload through byte for byte; a lone surrogate is escaped."""
    code, out, err = run_tail_on([NASTY[3], NASTY[6]], "--raw")
    assert (code, err) == (0, "")
    assert out.startswith(b"app.INFO | " + NASTY[3][1])
    assert b"lone \\ud800 surrogate \x1b[2J" in out  # UTF-8 cannot carry the surrogate


def test_raw_json_is_still_valid_json() -> None:
    """--json --raw keeps strings as received: JSON's own escapes, nothing lost."""
    code, out, err = run_tail_on([NASTY[3], NASTY[6]], "--json", "--raw")
    assert (code, err) == (0, "")
    first, second, _ = (json.loads(line) for line in out.decode("utf-8").splitlines())
    assert first["text"] == NASTY[3][1].decode().rstrip("\n")
    assert second["message"] == "lone \ud800 surrogate \x1b[2J"


# -- random frames ---------------------------------------------------------------------

_nasty_text = st.text(
    st.characters(codec=None, exclude_categories=()) | st.sampled_from("\x1b\x9b\x7f\r\n\t²\ud800"),
    max_size=40,
)
_topics = st.one_of(
    st.binary(max_size=40),
    _nasty_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.builds(
        lambda root, level, sub: f"{root}.{level}.{sub}".encode("utf-8", "surrogatepass"),
        _nasty_text,
        st.sampled_from(["INFO", "Level 25", f"Level {THOUSANDS_OF_DIGITS}", "²", "٣", ""]),
        _nasty_text,
    ),
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _nasty_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_nasty_text, children),
    max_leaves=8,
)


@st.composite
def _json_payloads(draw: st.DrawFn) -> bytes:
    """A real JSON record with some fields replaced by any JSON value."""
    record = make_record(draw(_nasty_text), level=draw(st.integers(-5, 100)))
    record.exc_text = draw(st.none() | _nasty_text)
    _, payload = wire.encode_json(record, None, "x", publisher=wire.new_publisher_id(), seq=1)
    obj = json.loads(payload)
    for key in draw(st.lists(st.sampled_from(sorted(obj)), max_size=3)):
        obj[key] = draw(_json_values)
    return json.dumps(obj).encode("utf-8", "surrogatepass")


_payloads = st.one_of(
    st.binary(max_size=60),
    _nasty_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
    _json_payloads(),
)
_messages = st.lists(
    st.one_of(
        st.tuples(_topics, _payloads).map(list),
        st.lists(st.binary(max_size=10), min_size=1, max_size=4),  # not [topic, payload]
    ),
    min_size=1,
    max_size=24,
)
# Each example starts a `zmqlog tail` process (about 0.4 s), so the examples are few and
# long: 5 of up to 24 messages try about as many messages as 15 of up to 8 did, and
# each tail meets them one after another, as it would on the network.
_FUZZ = settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@_FUZZ
@given(messages=_messages)
def test_fuzz_json_mode(messages: list[list[bytes]]) -> None:
    """Random frames: `tail --json` exits 0, prints valid JSON lines, no control character."""
    code, out, err = run_tail_on(messages, "--json", "--level", "1")
    assert (code, err) == (0, "")
    text = out.decode("utf-8")
    assert RAW_CONTROL.search(text) is None
    assert all(isinstance(json.loads(line), dict) for line in text.splitlines())


@_FUZZ
@given(messages=_messages)
def test_fuzz_text_mode(messages: list[list[bytes]]) -> None:
    """Random frames: text mode exits 0 and writes valid UTF-8 without control characters."""
    code, out, err = run_tail_on(messages, "--timestamp", "--align")
    assert (code, err) == (0, "")
    assert RAW_CONTROL.search(out.decode("utf-8")) is None


# -- the pieces, without a socket ----------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["²", "٣", f"Level {THOUSANDS_OF_DIGITS}", THOUSANDS_OF_DIGITS, "Level ²", "", "Level -5"],
)
def test_level_number_is_none_for_what_is_no_level(name: str) -> None:
    """Digits int() refuses, or too many for it, are an unknown level, never an error."""
    assert level_number(name) is None


def test_escape_controls_keeps_tab_and_newline_except_in_one_line() -> None:
    """C0 (but tab and newline), DEL, C1 and lone surrogates become \\xNN / \\uNNNN."""
    text = "a\tb\nc\x1b[0m\x00\x7f\x85\x9b\ud800é☃"
    assert escape_controls(text) == "a\tb\nc\\x1b[0m\\x00\\x7f\\x85\\x9b\\ud800é☃"
    assert escape_controls(text, one_line=True).startswith("a\\x09b\\x0ac")
    assert escape_controls("plain") == "plain"


def test_filters_and_colour_rank_unknown_levels_as_shown() -> None:
    """--level and --color on a topic whose level is no number: shown, uncoloured."""
    for level in ("²", f"Level {THOUSANDS_OF_DIGITS}"):
        msg = LogMessage(f"app.{level}", level, "", "hi\n", "app", b"hi\n")
        assert _Filter(logging.CRITICAL, ())(msg, None)
        render = _TextRenderer(TailOptions(endpoints=["x"]), color=True)
        assert render(msg, None, 0.0) == f"app.{level} | hi"

"""Single-frame messages in zmqlog.wire: the prefix, the topic key, and the reading rules."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import make_record
from zmqlog import wire

PUBLISHER = wire.PublisherId("web-1", 4242, "9f2c4e0a1b3d5f67")

topics = st.text(max_size=40).map(lambda text: text.encode("utf-8", "replace"))


@pytest.mark.parametrize(
    ("topic", "prefix"),
    [
        (b"shop.INFO", b"shop.INFO"),
        (b"shop.WARNING.payments", b"shop.WARNING.payments"),
        ("shop.INFO.café".encode(), "shop.INFO.café".encode()),
        (b"shop.INFO.Failed: std", b"shop.INFO.Failed%3A%20std"),
        (b"shop.Level 25", b"shop.Level%2025"),
        (b"shop.INFO.100%", b"shop.INFO.100%25"),
        (b"shop.INFO.tab\there", b"shop.INFO.tab%09here"),
        (b"{root}.INFO", b"%7Broot}.INFO"),
        (b"nul\x00del\x7f", b"nul%00del%7F"),
    ],
)
def test_a_prefix_is_the_topic_with_its_awkward_bytes_escaped(topic: bytes, prefix: bytes) -> None:
    """Ordinary topics are their own prefix; % : SP { and controls become %XX."""
    assert wire.escape_topic(topic) == prefix
    assert wire.unescape_prefix(prefix) == topic


@given(topics)
def test_every_topic_survives_its_prefix(topic: bytes) -> None:
    """Unescaping gives the topic back, and the prefix never holds the separator."""
    prefix = wire.escape_topic(topic)
    assert wire.unescape_prefix(prefix) == topic
    assert not {b" ", b":", b"{"} & {prefix[i : i + 1] for i in range(len(prefix))}
    assert all(byte >= 0x20 and byte != 0x7F for byte in prefix)


@given(topics, topics)
def test_a_subscription_to_an_escaped_prefix_selects_what_the_prefix_selects(
    start: bytes, rest: bytes
) -> None:
    """Escaping byte by byte keeps prefixes prefixes, so ZeroMQ's filter still works."""
    assert wire.escape_topic(start + rest).startswith(wire.escape_topic(start))


@given(topics, st.binary(max_size=60))
def test_a_frame_decodes_to_its_topic_and_payload(topic: bytes, payload: bytes) -> None:
    """Whatever the payload holds (": " included), the first separator ends the prefix."""
    frame = wire.encode_single_frame(topic, payload)
    assert frame[:1] != b"{"  # "{" is escaped: no frame of ours reads as rule 1
    assert wire.decode_single_frame(frame) == (topic, payload)


def test_a_json_frame_carries_its_topic_right_after_the_marker() -> None:
    """The record's "topic" is the topic itself, unescaped; the rest is encode_json's."""
    record = make_record("payments::card %s declined", "x", level=logging.WARNING)
    record.order = 42
    topic, payload = wire.encode_json(record, None, "shop", publisher=PUBLISHER, seq=17)
    frame = wire.encode_single_frame(topic, payload, json=True)
    prefix, body = frame.split(b": ", 1)
    assert prefix == b"shop.WARNING.payments"
    assert body.startswith(b'{"zmqlog":1,"topic":"shop.WARNING.payments","publisher":')
    assert json.loads(body) == {"topic": "shop.WARNING.payments", **json.loads(payload)}
    fields = wire.decode_json(body)
    assert fields is not None
    assert (fields["topic"], fields["message"], fields["extra"]) == (
        "shop.WARNING.payments",
        "card x declined",
        {"order": 42},
    )


def test_a_json_frames_topic_is_written_as_json_and_its_prefix_escaped() -> None:
    """A topic with quotes, a tab and a colon: a JSON string in the record, %XX in front."""
    frame = wire.encode_single_frame(b'a "b"\t:c', b'{"zmqlog":1,"x":2}', json=True)
    assert frame == b'a%20"b"%09%3Ac: {"zmqlog":1,"topic":"a \\"b\\"\\t:c","x":2}'


def test_a_json_frame_needs_a_record_payload() -> None:
    """Only a payload written by encode_json can take the topic key."""
    with pytest.raises(ValueError, match=r"starts with b'\{\"zmqlog\":1,'"):
        wire.encode_single_frame(b"shop.INFO", b"order 42 shipped\n", json=True)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        # zmqlog's own frames
        (b"shop.INFO: order 42 shipped\n", (b"shop.INFO", b"order 42 shipped\n")),
        (b'shop.INFO.a%20b: {"zmqlog":1}', (b"shop.INFO.a b", b'{"zmqlog":1}')),
        (b"shop.INFO: a: b: c", (b"shop.INFO", b"a: b: c")),
        # rule 1: a payload without prefix, even with ": " inside
        (b'{"zmqlog": 1, "name": "x"}', (None, b'{"zmqlog": 1, "name": "x"}')),
        # rule 3: what rsyslog's omczmq sends without its topic frame, or without topics
        (b"rsyslog[msg 2]", (None, b"rsyslog[msg 2]")),
        (
            b"<14>2026-12-02T00:00:00.123456Z web-1 shop[4242] msg 2",
            (None, b"<14>2026-12-02T00:00:00.123456Z web-1 shop[4242] msg 2"),
        ),
        (b"<14>2026 web-1 shop[4242]: msg", (None, b"<14>2026 web-1 shop[4242]: msg")),
        # not prefixes: a raw ":" or "{", a bad escape, an escape that is no UTF-8
        (b"a:b: c", (None, b"a:b: c")),
        (b"a{b: c", (None, b"a{b: c")),
        (b"100%: done", (None, b"100%: done")),
        (b"100%zz: done", (None, b"100%zz: done")),
        (b"bad%FF: x", (None, b"bad%FF: x")),
        (b"tab\there: x", (None, b"tab\there: x")),
        # a foreign frame that looks like one is read as what it most likely meant
        (b"ERROR: disk full", (b"ERROR", b"disk full")),
        (b"", (None, b"")),
    ],
)
def test_the_reading_rules(frame: bytes, expected: tuple[bytes | None, bytes]) -> None:
    """Rule 1 (starts with "{"), rule 2 (a prefix), rule 3 (anything else): never raises."""
    assert wire.decode_single_frame(frame) == expected


def test_lower_case_escapes_are_read_too() -> None:
    """Writers use upper-case hex digits; readers accept either."""
    assert wire.unescape_prefix(b"a%3ab%2f") == b"a:b/"


def test_a_prefix_longer_than_any_topic_is_no_prefix() -> None:
    """The separator is looked for only where a prefix of a 64 KiB topic could end."""
    long = b"y" * (3 * wire.MAX_TOPIC_BYTES + 1)
    assert wire.decode_single_frame(long + b": x") == (None, long + b": x")
    assert wire.unescape_prefix(b"y" * (wire.MAX_TOPIC_BYTES + 1)) is None
    escaped = b"%20" * wire.MAX_TOPIC_BYTES
    assert wire.unescape_prefix(escaped) == b" " * wire.MAX_TOPIC_BYTES


@pytest.mark.parametrize("topic", [7, True, ["shop.INFO"], {"t": 1}])
def test_a_topic_key_of_another_type_makes_the_record_invalid(topic: object) -> None:
    """The topic key is checked like every field: a string, or absent."""
    _, payload = wire.encode_json(make_record("x"), None, publisher=PUBLISHER, seq=0)
    obj = json.loads(payload)
    assert wire.check_json_record(obj) is not None
    assert wire.check_json_record({**obj, "topic": topic}) is None


def test_the_specs_single_frame_example_is_what_the_encoder_writes() -> None:
    """docs/wire-json.md's example frame, byte for byte, from the record it describes."""
    spec = (Path(__file__).parent.parent / "docs" / "wire-json.md").read_text("utf-8")
    (example,) = re.findall(r"^shop\.WARNING\.payments: \{.*\}$", spec, re.MULTILINE)
    record = logging.LogRecord(
        "shop", logging.WARNING, "/srv/shop/payments.py", 88, "payments::card %s declined",
        ("x",), None, "charge",
    )  # fmt: skip
    record.__dict__.update(
        created=1732435200.123456,
        msecs=123.0,
        relativeCreated=5023.4,
        process=4242,
        processName="MainProcess",
        thread=140031,
        threadName="MainThread",
        taskName="Task-7",
        order=42,
    )
    frames = wire.encode_json(record, None, "shop", publisher=PUBLISHER, seq=17)
    assert wire.encode_single_frame(*frames, json=True) == example.encode()

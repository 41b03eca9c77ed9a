"""The subscriber's fast paths give the answers of the slower ones they stand for.

``LogSubscriber`` reads a JSON payload with the strict decode inline (and tests the
pairing of ``publisher`` and ``seq`` itself), and makes its messages without calling
``LogMessage``: each shortcut is checked here against what it replaces. The
subscriber is never opened: its decoding needs no socket.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import pickle
import weakref
from typing import Any

import pytest

from tests.conftest import make_record
from zmqlog import LogMessage, LogSubscriber, wire
from zmqlog import _subscriber as subscriber_module
from zmqlog._subscriber import _new_message
from zmqlog.wire._jsondecode import (
    JsonRecord,
    paired,
    read_record,
    strict_record,
)

PUBLISHER = wire.PublisherId("host-a", 4242, "0123456789abcdef")


def frames(seq: int = 0, **extra: object) -> tuple[bytes, bytes]:
    """A two-frame JSON message as zmqlog's publisher sends it."""
    record = make_record("order %d shipped", 42, level=logging.WARNING)
    record.__dict__.update(extra)
    topic, payload = wire.encode_json(record, None, "svc", publisher=PUBLISHER, seq=seq)
    return topic, payload


def edited(payload: bytes, **changes: object) -> bytes:
    """*payload* with keys replaced (None: removed), written compactly as zmqlog does."""
    obj: dict[str, Any] = json.loads(payload)
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return json.dumps(obj, separators=(",", ":")).encode()


def subscriber(wire_format: Any = "json") -> LogSubscriber:
    return LogSubscriber("tcp://127.0.0.1:1", wire_format=wire_format)


@pytest.mark.parametrize("missing", ["seq", "publisher"])
@pytest.mark.parametrize("wire_format", ["json", "auto"])
def test_a_strict_record_without_its_pair_is_invalid(missing: str, wire_format: str) -> None:
    """A payload the strict decode reads, but with publisher and no seq (or the reverse)."""
    topic, payload = frames()
    payload = edited(payload, **{missing: None})
    assert strict_record(payload) is not None  # the strict decode itself takes it
    assert read_record(payload) is None
    sub = subscriber(wire_format)
    assert sub._decode_parts(topic, payload, 1.0) is None
    single = wire.encode_single_frame(topic, payload)
    assert sub._decode_single(single, 1.0) is None
    assert sub.stats.invalid == 2


def test_a_record_without_publisher_and_seq_is_valid() -> None:
    """Neither of the pair is a valid record: unnumbered, from anyone."""
    topic, payload = frames()
    payload = edited(payload, seq=None, publisher=None)
    record = strict_record(payload)
    assert paired(record)
    sub = subscriber()
    message = sub._decode_parts(topic, payload, 1.0)
    assert message is not None
    assert (message.seq, message.publisher, sub.stats.invalid) == (None, None, 0)


def test_the_strict_record_is_what_read_record_reads() -> None:
    """The subscriber's inline decode and read_record give the same record."""
    topic, payload = frames(seq=7, user="ann")
    inline = subscriber()._decode_parts(topic, payload, 1.0)
    assert inline is not None
    assert isinstance(inline.fields, JsonRecord)
    assert dict(inline.fields) == dict(read_record(payload) or {})
    assert (inline.seq, inline.publisher) == (7, PUBLISHER)


def test_records_are_read_whatever_the_order_of_their_keys() -> None:
    """The fields follow the encoder's key order for speed; any other order reads the same."""
    _topic, payload = frames(seq=3)
    obj = json.loads(payload)
    reversed_payload = json.dumps(dict(reversed(obj.items()))).encode()
    ours, theirs = read_record(payload), read_record(reversed_payload)
    assert ours
    assert theirs
    assert dict(ours) == dict(theirs)


def test_the_fields_are_declared_in_the_encoders_order() -> None:
    """The order that makes msgspec match each key at the first field it looks at."""
    _, payload = frames(seq=3)
    written = [key for key in json.loads(payload) if key != wire.JSON_MARKER]
    declared = [name for name in JsonRecord.__struct_fields__ if name not in ("version", "topic")]
    assert written == declared


def test_gaps_are_counted_from_strict_records() -> None:
    """seq 0, 1, then 5: three lost, from the inline path's sequence numbers."""
    sub = subscriber()
    for seq in (0, 1, 5):
        topic, payload = frames(seq=seq)
        assert sub._decode_parts(topic, payload, 1.0) is not None
    assert (sub.stats.gaps, sub.stats.resets, sub.stats.invalid) == (3, 0, 0)


def test_a_received_message_equals_the_one_logmessage_makes() -> None:
    """_new_message sets every field LogMessage() sets, to the same values."""
    _, payload = frames()
    fields = read_record(payload)
    assert fields
    args = ("app.INFO.db", "INFO", "db", payload.decode(), "app", payload, fields)
    made, received = LogMessage(*args), _new_message(*args)
    assert type(received) is LogMessage
    assert received == made
    assert repr(received) == repr(made)
    for f in dataclasses.fields(LogMessage):
        assert getattr(received, f.name) is getattr(made, f.name), f.name
    assert received.record.getMessage() == made.record.getMessage() == "order 42 shipped"


@pytest.mark.parametrize("wire_format", ["auto", "text"])
def test_a_text_message_is_made_as_before(wire_format: str) -> None:
    sub = subscriber(wire_format)
    message = sub._decode_parts(b"app.WARNING.db", b"caf\xc3\xa9 \xff\n", 1.0)
    assert message == LogMessage(
        "app.WARNING.db", "WARNING", "db", "caf\u00e9 \ufffd\n", "app", b"caf\xc3\xa9 \xff\n"
    )
    assert message is not None
    assert message.fields is None
    assert message.record.getMessage() == "caf\u00e9 \ufffd"  # without its newline


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"user": "ann"}, id="strict"),
        pytest.param({"user": {"name": "ann", "roles": [1, 2]}}, id="nested: careful path"),
    ],
)
def test_the_record_of_any_json_message_is_rebuilt_from_its_fields(extra: dict[str, Any]) -> None:
    """Whichever decode read it, .record is the publisher's record, not a text record."""
    _, payload = frames(seq=1, **extra)
    message = subscriber()._decode_parts(b"svc.WARNING.db", payload, 1.0)
    assert message is not None
    assert isinstance(message.fields, JsonRecord)
    record = message.record
    assert (record.getMessage(), record.levelno, record.funcName) == (
        "order 42 shipped",
        logging.WARNING,
        "func",
    )
    assert record.user == extra["user"]
    assert record.topic == "db"  # the subtopic, kept as the record's topic


def eager(message: LogMessage) -> LogMessage:
    """*message* as LogMessage() makes it, its text decoded from the payload."""
    return LogMessage(
        message.topic,
        message.level,
        message.subtopic,
        message.payload.decode("utf-8", "replace"),
        message.root_topic,
        message.payload,
        message.fields,
    )


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(frames(seq=2)[1], id="a record"),
        pytest.param(b'{"not": "a record", "caf\xc3\xa9": "\xff"}\n', id="JSON-looking text"),
    ],
)
def test_a_json_message_decodes_its_text_when_read(payload: bytes) -> None:
    """Made without its text, it reads, prints, compares, copies and pickles as if made with it."""
    sub = subscriber("auto")
    message = sub._decode_parts(b"svc.INFO", payload, 1.0)
    assert message is not None
    assert message._text is message.payload  # not decoded yet
    expected = eager(message)
    assert repr(message) == repr(expected)  # repr reads the text: decoded now
    assert message._text == expected.text
    for fresh in (
        sub._decode_parts(b"svc.INFO", payload, 1.0),
        copy.copy(sub._decode_parts(b"svc.INFO", payload, 1.0)),
        copy.deepcopy(sub._decode_parts(b"svc.INFO", payload, 1.0)),
        pickle.loads(pickle.dumps(sub._decode_parts(b"svc.INFO", payload, 1.0))),
    ):
        assert fresh == expected
        assert fresh is not None
        assert fresh.text == expected.text
    assert dataclasses.replace(sub._decode_parts(b"svc.INFO", payload, 1.0), level="X").text == (
        expected.text
    )


def test_text_given_is_kept_and_can_be_replaced() -> None:
    """A hand-made message keeps its own text, unlike its payload's; setting text replaces it."""
    message = LogMessage("app.INFO", "INFO", "", "given\n", "app", b"payload\n")
    assert message.text == "given\n"
    match message:
        case LogMessage(_, _, _, text):
            assert text == "given\n"
    message.text = "changed\n"
    assert message.text == "changed\n"
    assert "text='changed\\n'" in repr(message)
    assert message != LogMessage("app.INFO", "INFO", "", "given\n", "app", b"payload\n")
    lazy = _new_message("app.INFO", "INFO", "", None, "app", b"payload\n", None)
    lazy.text = "set before read\n"
    assert lazy.text == "set before read\n"
    assert [f.name for f in dataclasses.fields(LogMessage) if f.init] == [
        "topic",
        "level",
        "subtopic",
        "text",
        "root_topic",
        "payload",
        "fields",
    ]


@pytest.mark.parametrize("wire_format", ["auto", "json", "text"])
def test_a_two_frame_message_has_every_field_set(wire_format: str) -> None:
    """_decode_parts makes its messages itself: every slot is set, as LogMessage() sets it."""
    topic, payload = frames(seq=5)
    message = subscriber(wire_format)._decode_parts(topic, payload, 1.0)
    assert message is not None
    for f in dataclasses.fields(LogMessage):
        object.__getattribute__(message, f.name)  # raises AttributeError for an unset slot
    assert message == eager(message)
    assert message._record is None
    assert (message.fields is None) is (wire_format == "text")


def test_json_only_reads_every_payload_as_json_and_auto_only_those_opening_a_brace() -> None:
    """wire_format="json" does not look at the first byte: JSON after a space is read."""
    topic, payload = frames(seq=1)
    spaced = b" " + payload
    json_only, auto = subscriber("json"), subscriber("auto")
    message = json_only._decode_parts(topic, spaced, 1.0)
    assert message is not None
    assert isinstance(message.fields, JsonRecord)
    assert json_only._decode_parts(topic, b"plain text\n", 1.0) is None
    assert json_only._decode_parts(topic, b"", 1.0) is None
    assert json_only.stats.invalid == 2
    as_text = auto._decode_parts(topic, spaced, 1.0)
    assert as_text is not None
    assert (as_text.fields, as_text.text) == (None, spaced.decode())
    empty = auto._decode_parts(topic, b"", 1.0)
    assert empty is not None
    assert (empty.fields, empty.text, auto.stats.invalid) == (None, "", 0)


def fresh_reading(options: dict[str, Any], topic: bytes, payload: bytes) -> tuple[Any, ...]:
    """What a subscriber with no cached topic makes of one message, and counts invalid."""
    sub = LogSubscriber("tcp://127.0.0.1:1", **options)
    message = sub._decode_parts(topic, payload, 1.0)
    if message is None:
        return (None, sub.stats.invalid)
    reading = (message.topic, message.level, message.subtopic, message.root_topic, message.text)
    return (reading, sub.stats.invalid)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"root_topic": "app"},
        {"topics": ["app.INFO.a b", "app.WARNING"]},  # also subscribed escaped: "a%20b"
        {"wire_format": "text"},
    ],
    ids=["everything", "root topic", "topics with escapes", "text"],
)
def test_a_topic_like_the_previous_one_reads_as_a_fresh_subscriber_reads_it(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last topic's parse, reused when the next frame is equal: runs of one topic,
    topics switching back and forth, unwanted and too long topics between wanted ones,
    and a topic cache cleared on the way (two entries here)."""
    monkeypatch.setattr(subscriber_module, "_TOPIC_CACHE_ENTRIES", 2)
    _, payload = frames()
    long_topic = b"app.INFO." + b"x" * wire.MAX_TOPIC_BYTES
    topics = [
        b"app.WARNING",
        b"app.WARNING",
        b"app.INFO.a b",
        b"app.INFO.a%20b",  # only the escaped form of a wanted topic: dropped if filtered
        b"app.INFO.a%20b",
        b"app.INFO.a b",
        b"app.WARNING.db",
        long_topic,
        long_topic,
        b"app.WARNING.db",
        b"app.WARNING",
        b"app.INFO.a b",
        b"app.WARNING",
    ]
    sub = LogSubscriber("tcp://127.0.0.1:1", **options)
    dropped = invalid = 0
    for topic in topics:
        expected, counted = fresh_reading(options, topic, payload)
        invalid += counted
        message = sub._decode_parts(topic, payload, 1.0)
        if expected is None:
            assert message is None, topic
            dropped += 1
            continue
        assert message is not None, topic
        reading = (message.topic, message.level, message.subtopic, message.root_topic)
        assert (*reading, message.text) == expected, topic
        assert sub.stats.invalid == invalid
    assert dropped >= 2  # the too long topics at least
    assert sub.stats.invalid == invalid


def test_a_subscriber_keeps_its_attributes_in_slots_and_can_be_weakly_referenced() -> None:
    """Slots for speed; weak references still work, and a subclass may add attributes."""

    class Mine(LogSubscriber):
        pass

    sub = subscriber()
    assert not hasattr(sub, "__dict__")
    assert weakref.ref(sub)() is sub
    mine = Mine("tcp://127.0.0.1:1")
    mine.note = "mine"  # type: ignore[attr-defined]
    assert mine.note == "mine"  # type: ignore[attr-defined]

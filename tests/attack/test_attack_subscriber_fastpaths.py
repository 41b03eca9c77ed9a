"""Attacks on the subscriber's JSON receive fast paths (710772e .. d8393c6).

The promise: the strict msgspec decode inline in ``_decode_parts``, the pairing test
moved out of ``__post_init__``, ``LogMessage`` made with ``object.__new__``, the
``.record`` type test, ``rebuild_record`` reading its flag in line and the lazily
decoded ``LogMessage.text`` change speed, not behaviour. Every test here sends real
frames from an XPUB socket over ``inproc://`` to a :class:`LogSubscriber`, and
compares what it delivers and counts with a reference computed by the careful path
(``load_json_object`` then ``check_json_record``) and the old eager
``payload.decode("utf-8", "replace")`` of the payload as received.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
import json
import logging
import pickle
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
import zmq

from tests.conftest import make_record
from zmqlog import LogMessage, LogSubscriber, wire
from zmqlog import _subscriber as subscriber_module
from zmqlog.wire import JSON_MARKER, MAX_JSON_BYTES
from zmqlog.wire._jsondecode import check_json_record, load_json_object

Context = zmq.Context[zmq.Socket[bytes]]
WireFormat = Literal["auto", "json", "text"]

PUBLISHER = wire.PublisherId("host-a", 4242, "0123456789abcdef")
TOPIC = b"svc.WARNING"
_endpoints = itertools.count()


def _payload(seq: int = 0, publisher: wire.PublisherId = PUBLISHER) -> bytes:
    record = make_record("order %d shipped", 42, level=logging.WARNING)
    return wire.encode_json(record, None, "svc", publisher=publisher, seq=seq)[1]


GOOD = _payload()
GOOD_OBJ: dict[str, Any] = json.loads(GOOD)


def _edited(**changes: Any) -> bytes:
    """GOOD with keys replaced (Ellipsis: removed), written compactly as zmqlog does."""
    obj = dict(GOOD_OBJ)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return json.dumps(obj, separators=(",", ":")).encode()


def _sized(size: int) -> bytes:
    """A valid record of exactly *size* bytes (its extra padded)."""
    base = _edited(extra={"pad": ""})
    padded = base.replace(b'"pad":""', b'"pad":"' + b"x" * (size - len(base)) + b'"')
    assert len(padded) == size
    return padded


SENTINEL = _edited(publisher=..., seq=..., message="sentinel")
_PUB = {"host": "h", "pid": 1, "id": "x"}

# Valid JSON that does not conform, and other hostile payloads.
HOSTILE: dict[str, bytes] = {
    "good": GOOD,
    "unnumbered": _edited(publisher=..., seq=...),
    "publisher without seq": _edited(seq=...),
    "seq without publisher": _edited(publisher=...),
    "seq null": _edited(seq=None),
    "publisher null": _edited(publisher=None),
    "seq -1": _edited(seq=-1),
    "seq 2**63-1": _edited(seq=2**63 - 1),
    "seq 2**63": _edited(seq=2**63),
    "seq a str": _edited(seq="1"),
    "seq true": _edited(seq=True),
    "seq 1.0": _edited(seq=1.0),
    "pid 2**63": _edited(publisher={**_PUB, "pid": 2**63}),
    "pid -2**63": _edited(publisher={**_PUB, "pid": -(2**63)}),
    "pid a str": _edited(publisher={**_PUB, "pid": "1"}),
    "publisher extra key": _edited(publisher={**_PUB, "more": 1}),
    # The careful paths test the pairing themselves; the strict one is tested inline.
    "publisher extra key, no seq": _edited(publisher={**_PUB, "more": 1}, seq=...),
    "seq, unknown key": _edited(publisher=None, zz={"more": 1}),
    "nested extra, no seq": _edited(extra={"a": [1]}, seq=...),
    "nested extra, no publisher": _edited(extra={"a": [1]}, publisher=...),
    "surrogate, no seq": _edited(message="\udc80", seq=...),
    "unknown key, no publisher": _edited(zz=1, publisher=...),
    "unnumbered, nested extra": _edited(extra={"a": [1]}, publisher=..., seq=...),
    "publisher a list": _edited(publisher=["h", 1, "x"]),
    "host 256 chars": _edited(publisher={**_PUB, "host": "h" * 256}),
    "id 65 chars": _edited(publisher={**_PUB, "id": "i" * 65}),
    "marker 2": _edited(zmqlog=2),
    "marker true": _edited(zmqlog=True),
    "marker 1.0": _edited(zmqlog=1.0),
    "no marker": _edited(zmqlog=...),
    "levelno a str": _edited(levelno="30"),
    "created negative": _edited(created=-1.0),
    "created 1e300": _edited(created=1e300),
    "message a list": _edited(message=["a"]),
    "extra a list": _edited(extra=[1]),
    "extra nested": _edited(extra={"a": {"b": [1, {"c": None}]}}),
    "extra nested 62": _edited(extra={"a": json.loads("[" * 62 + "]" * 62)}),
    "extra nested 100": GOOD[:-1] + b',"extra":{"a":' + b"[" * 100 + b"]" * 100 + b"}}",
    "extra nested 100000": GOOD[:-1] + b',"extra":{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    "extra int 2**64": GOOD[:-1] + b',"extra":{"a":18446744073709551616}}',
    "extra digits 5000": GOOD[:-1] + b',"extra":{"a":' + b"9" * 5000 + b"}}",
    "unknown key 1e999": GOOD[:-1] + b',"zz":1e999}',
    "unknown key 2**64": GOOD[:-1] + b',"zz":18446744073709551616}',
    "NaN": GOOD[:-1] + b',"extra":{"a":NaN}}',
    "Infinity": GOOD[:-1] + b',"extra":{"a":Infinity}}',
    "-Infinity msecs": GOOD.replace(b'"msecs":', b'"msecs":-Infinity,"x":'),
    "duplicate seq null": GOOD[:-1] + b',"seq":null}',
    "duplicate publisher null": GOOD[:-1] + b',"publisher":null}',
    "duplicate pair null": GOOD[:-1] + b',"publisher":null,"seq":null}',
    "duplicate seq": GOOD[:-1] + b',"seq":7}',
    "duplicate seq huge first": GOOD.replace(b'"seq":0', b'"seq":' + b"9" * 40 + b',"seq":0'),
    "duplicate seq, a str first": GOOD.replace(b'"seq":0', b'"seq":"x","seq":0'),
    "duplicate seq, a str last": GOOD.replace(b'"seq":0', b'"seq":0,"seq":"x"'),
    "duplicate publisher, bad first": GOOD.replace(b'"publisher":', b'"publisher":[],"publisher":'),
    "duplicate marker": GOOD[:-1] + b',"zmqlog":2}',
    "lone surrogate": GOOD.replace(b'"order 42 shipped"', b'"order \\udc80 shipped"'),
    "surrogate pair": GOOD.replace(b'"order 42 shipped"', b'"\\ud83d\\ude00"'),
    "lone surrogate key": GOOD[:-1] + b',"\\ud800":1}',
    "invalid UTF-8": GOOD.replace(b"order 42", b"order \xff\xfe"),
    "overlong UTF-8": GOOD.replace(b"order 42", b"order \xc0\xaf"),
    "encoded surrogate": GOOD.replace(b"order 42", b"order \xed\xa0\x80"),
    "NUL in message": _edited(message="a\x00b"),
    "BOM": b"\xef\xbb\xbf" + GOOD,
    "trailing garbage": GOOD + b"x",
    "trailing object": GOOD + GOOD,
    "trailing whitespace": GOOD + b" \r\n\t",
    "leading whitespace": b" \n" + GOOD,
    "truncated": GOOD[:-1],
    "empty": b"",
    "one brace": b"{",
    "text with a brace": b"{not json} but text\n",
    "text with a brace, invalid UTF-8": b"{\xff\xfe\n",
    "JSON without marker": b'{"a":1}',
    "JSON array": b"[1,2]",
    "JSON string": b'"zmqlog"',
    "plain text": b"hello %s %(x)s\n",
    "at MAX_JSON_BYTES": _sized(MAX_JSON_BYTES),
    "over MAX_JSON_BYTES": _sized(MAX_JSON_BYTES + 1),
    "at MAX_JSON_BYTES, no seq": _sized(MAX_JSON_BYTES + 8).replace(b'"seq":0,', b"", 1),
    "over MAX_JSON_BYTES, no seq": _sized(MAX_JSON_BYTES + 9).replace(b'"seq":0,', b"", 1),
}


def _expected(payload: bytes, wire_format: WireFormat) -> tuple[bool, dict[str, Any] | None]:
    """(invalid, fields) by the careful path and the old code's rules."""
    if wire_format == "text" or (wire_format == "auto" and payload[:1] != b"{"):
        return False, None
    obj = load_json_object(payload, MAX_JSON_BYTES)
    if obj is None or JSON_MARKER not in obj:
        return wire_format == "json", None
    fields = check_json_record(obj)
    return fields is None, fields


class Feed:
    """An XPUB socket over inproc whose subscriber's subscription has arrived."""

    def __init__(self, context: Context, sub: LogSubscriber, xpub: zmq.Socket[bytes]) -> None:
        self.context, self.sub, self.xpub = context, sub, xpub

    def send(self, *frames: bytes) -> None:
        self.xpub.send_multipart(list(frames))

    async def sentinel(self) -> LogMessage:
        """Send a sentinel valid in every format and receive up to it: nothing before
        it may be valid."""
        self.send(b"end.INFO", SENTINEL)
        message = await asyncio.wait_for(self.sub.receive(), 10)
        assert message.payload == SENTINEL
        return message


@pytest.fixture
def wire_format() -> WireFormat:
    return "auto"


@pytest.fixture
async def feed(context: Context, wire_format: WireFormat) -> AsyncIterator[Feed]:
    endpoint = f"inproc://attack-sub-{next(_endpoints)}"
    xpub = context.socket(zmq.XPUB)
    xpub.setsockopt(zmq.LINGER, 0)
    xpub.setsockopt(zmq.SNDHWM, 0)
    xpub.bind(endpoint)
    try:
        sub = LogSubscriber(endpoint, context=context, wire_format=wire_format, rcvhwm=1 << 30)
        async with sub:
            assert xpub.poll(5000), "the subscription did not arrive"
            assert xpub.recv() == b"\x01"
            yield Feed(context, sub, xpub)
    finally:
        xpub.close(linger=0)


def _check_message(message: LogMessage, payload: bytes, fields: dict[str, Any] | None) -> None:
    reference_text = payload.decode("utf-8", "replace")
    eager = LogMessage(
        message.topic,
        message.level,
        message.subtopic,
        reference_text,
        message.root_topic,
        payload,
        message.fields,
    )
    assert message.payload == payload
    if fields is None:
        assert message.fields is None
    else:
        assert message.fields is not None
        assert dict(message.fields.items()) == fields
        assert message.fields == fields
        assert (message.seq, message.publisher) == (fields["seq"], fields["publisher"])
    # As the old eager message, before its text is read: compared, repr'd, copied.
    assert message == eager
    assert repr(message) == repr(eager)
    assert pickle.loads(pickle.dumps(message)) == eager
    assert copy.copy(message) == eager
    assert copy.deepcopy(message) == eager
    assert dataclasses.replace(message) == eager
    assert message.text == reference_text
    match message:
        case LogMessage(topic, level, subtopic, text, root, raw, got):
            assert (topic, level, subtopic, root) == (
                eager.topic,
                eager.level,
                eager.subtopic,
                eager.root_topic,
            )
            assert (text, raw, got) == (reference_text, payload, message.fields)
    record = message.record
    if fields is None:
        as_text = wire.record_from_text(reference_text, message.level, message.root_topic)
        assert record.getMessage() == as_text.getMessage()
    else:
        assert record.getMessage() == fields["message"]
        assert (record.name, record.levelno, record.levelname) == (
            fields["name"],
            fields["levelno"],
            fields["levelname"],
        )
        assert (record.created, record.msecs) == (fields["created"], fields["msecs"])
        extra = fields["extra"]
        if "pad" in extra:
            assert record.__dict__["pad"] == extra["pad"]


@pytest.mark.parametrize("single_frame", [False, True], ids=["two frames", "single frame"])
@pytest.mark.parametrize("wire_format", ["auto", "json", "text"])
async def test_hostile_payloads_are_read_as_the_careful_path_reads_them(
    feed: Feed, wire_format: WireFormat, single_frame: bool
) -> None:
    """Each hostile payload: counted invalid exactly when the careful path says so, and
    delivered as the old code delivered it (text, fields, record, copies, equality)."""
    sub = feed.sub
    delivered = 0
    for name, payload in HOSTILE.items():
        invalid, fields = _expected(payload, wire_format)
        if single_frame:
            if fields is not None:
                # A single frame's record must name the prefix's topic.
                obj = json.loads(payload)
                obj["topic"] = TOPIC.decode()
                payload = json.dumps(obj, separators=(",", ":")).encode()
                invalid, fields = _expected(payload, wire_format)  # longer now
            feed.send(wire.encode_single_frame(TOPIC, payload))
        else:
            feed.send(TOPIC, payload)
        before = sub.stats.invalid
        if invalid:
            await feed.sentinel()
            assert sub.stats.invalid == before + 1, name
            continue
        message = await asyncio.wait_for(sub.receive(), 10)
        assert sub.stats.invalid == before, name
        assert message.topic == TOPIC.decode(), name
        _check_message(message, payload, fields)
        delivered += 1
    sentinels = sub.stats.invalid
    assert (sub.stats.received, sub.stats.invalid) == (delivered + sentinels, sentinels)


async def test_odd_topic_bytes_and_single_frames_without_prefix(feed: Feed) -> None:
    """Topics with invalid UTF-8, NULs, spaces and the escape character; bare frames."""
    sub = feed.sub
    for topic in [b"svc.INFO\xff\xfe", b"\x00.DEBUG.\x00", b"a b.ERROR.c%20d", b"", b"%", b"::"]:
        feed.send(topic, GOOD)
        message = await asyncio.wait_for(sub.receive(), 10)
        assert message.topic == topic.decode("utf-8", "replace")
        _check_message(message, GOOD, check_json_record(json.loads(GOOD)))
    # A bare JSON frame is a record on its own topic (here none); bare text is text.
    feed.send(GOOD)
    message = await asyncio.wait_for(sub.receive(), 10)
    _check_message(message, GOOD, check_json_record(json.loads(GOOD)))
    for bare in [b"{\xff not json", b"plain \xc3", b""]:
        feed.send(bare)
        message = await asyncio.wait_for(sub.receive(), 10)
        _check_message(message, bare, None)
    assert sub.stats.invalid == 0


async def test_gaps_and_resets_from_several_publishers(feed: Feed) -> None:
    """Interleaved publishers, a restart, forged jumps and replays, and records the
    strict decode refuses (nested extra, surrogates: the careful paths) among them."""
    sub = feed.sub
    other = wire.PublisherId("host-b", 7, "fedcba9876543210")
    restarted = PUBLISHER._replace(id="1111111111111111")
    nested = {"extra": {"a": {"b": 1}}}

    def numbered(publisher: wire.PublisherId, seq: int, careful: bool = False) -> bytes:
        payload = _payload(seq, publisher)
        if careful:  # refused by the strict decode: read by read_refused
            payload = _edited(
                **nested,
                publisher=publisher._asdict(),
                seq=seq,
            )
        return payload

    sequence = [
        (PUBLISHER, 0, False),
        (other, 10, True),
        (PUBLISHER, 1, True),
        (PUBLISHER, 4, False),  # 2 lost
        (other, 11, False),
        (other, 15, True),  # 3 lost
        (restarted, 0, False),  # a new identity: its first
        (PUBLISHER, 5, False),
        (PUBLISHER, 2**62, False),  # forged jump: a reset, not gaps
        (PUBLISHER, 6, True),  # back: a reset
        (PUBLISHER, 8, False),  # 1 lost
        (other, 15, False),  # replayed: a reset
        (restarted, 1, True),
    ]
    for publisher, seq, careful in sequence:
        feed.send(TOPIC, numbered(publisher, seq, careful))
    # Pairing failures never reach the tracker.
    feed.send(TOPIC, _edited(seq=2**40, publisher=...))
    feed.send(TOPIC, _edited(seq=None))
    received = [await asyncio.wait_for(sub.receive(), 10) for _ in sequence]
    await feed.sentinel()
    assert [(m.publisher, m.seq) for m in received] == [(p, s) for p, s, _ in sequence]
    assert sub.stats.gaps == 2 + 3 + 1
    assert sub.stats.resets == 3
    assert sub.stats.invalid == 2


async def test_forward_into_a_handler(feed: Feed) -> None:
    """forward() hands each message's record on: JSON (strict and careful) and text."""
    got: list[logging.LogRecord] = []
    all_in = asyncio.Event()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record)
            if len(got) == len(sent) + 1:
                all_in.set()

    handler = Collect(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(pad)s"))
    sent = [
        _edited(extra={"pad": "p1"}),
        _edited(extra={"pad": "p2", "deep": {"x": [1]}}),
        _edited(extra={"pad": "p3"}, message="\udc80"),
    ]
    for payload in sent:
        feed.send(TOPIC, payload)
    feed.send(b"svc.INFO", b"{text 100%% %s\n")
    task = asyncio.create_task(feed.sub.forward(handler))
    try:
        await asyncio.wait_for(all_in.wait(), 10)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    rendered = [handler.format(record) for record in got[: len(sent)]]
    assert rendered == [
        "WARNING app order 42 shipped p1",
        "WARNING app order 42 shipped p2",
        "WARNING app \udc80 p3",
    ]
    assert got[-1].getMessage() == "{text 100%% %s"


async def test_a_flood_of_hostile_frames_lets_other_tasks_run(
    feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each kind of hostile frame goes through the loop's yield point: with a slice of
    zero the receiver lets other tasks run between any two of them."""
    monkeypatch.setattr(subscriber_module, "_SLICE", 0.0)
    kinds = [p for n, p in HOSTILE.items() if _expected(p, "auto")[0] and "MAX" not in n]
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    rounds = 20
    for _ in range(rounds):
        for payload in kinds:
            feed.send(TOPIC, payload)
            feed.send(TOPIC, payload, b"third frame")
    task = asyncio.create_task(ticker())
    try:
        await feed.sentinel()
    finally:
        stop.set()
        await task
    assert feed.sub.stats.invalid == 2 * rounds * len(kinds)
    assert ticks >= 2 * rounds * len(kinds)


async def test_memory_is_bounded_by_what_the_subscriber_keeps(feed: Feed) -> None:
    """A peer inventing publishers and topics: the tracker and the topic cache stay
    bounded, and a JSON message keeps no decoded text until it is read."""
    sub = feed.sub
    count = subscriber_module._MAX_PUBLISHERS + 500
    for n in range(count):
        publisher = wire.PublisherId("h" * 200, n, f"{n:064d}")
        feed.send(b"t.INFO.%d" % n, _payload(n, publisher))
    last = None
    for _ in range(count):
        last = await asyncio.wait_for(sub.receive(), 10)
    assert last is not None
    assert len(sub._sequences) == subscriber_module._MAX_PUBLISHERS
    assert len(sub._parsed_topics) <= subscriber_module._TOPIC_CACHE_ENTRIES
    assert sub.stats == (count, 0, 0, 0)
    assert last._text is last.payload  # not decoded: nothing kept beyond the payload


@pytest.mark.parametrize(
    "payload", [GOOD, b"{not json \xff}\n", HOSTILE["NaN"]], ids=["record", "text", "NaN"]
)
async def test_text_is_what_was_received_even_if_payload_is_replaced(
    feed: Feed, payload: bytes
) -> None:
    """LogMessage is a mutable dataclass: a consumer may drop a big payload
    (``message.payload = b""``) once it has read what it needs, and read text (or a
    text message's record) later. The old eager code gave the received payload's
    text; the lazy one decodes whatever payload the message holds by then."""
    feed.send(TOPIC, payload)
    message = await asyncio.wait_for(feed.sub.receive(), 10)
    message.payload = b""
    assert message.text == payload.decode("utf-8", "replace")

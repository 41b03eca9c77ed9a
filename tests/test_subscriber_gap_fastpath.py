"""Gap counting in the subscriber: the inline "same publisher, next number" case counts as
``SequenceTracker.see`` does with ``(host, pid, id)`` keys.

The subscriber compares each message's decoded publisher with the previous one's and,
when they are equal and the number is the next, updates the tracker's entry itself.
Every test here feeds messages through the subscriber's decoding (never opened: it
needs no socket) and compares its counts, and the tracker's whole state, with a
reference tracker fed the careful path's answer: ``decode_json``'s ``PublisherId``.
"""

from __future__ import annotations

import json
import logging
import random
import unicodedata
from typing import Any

import pytest

from tests.conftest import make_record
from zmqlog import LogSubscriber, wire
from zmqlog import _subscriber as subscriber_module
from zmqlog._sequences import SequenceTracker
from zmqlog.wire._jsondecode import _Publisher, _StrictPublisher, decode_json

A = wire.PublisherId("host-a", 4242, "0123456789abcdef")
TOPIC = b"svc.WARNING"

# How a payload reaches the subscriber's decode: each kind takes another path.
KINDS = ("strict", "known-keys", "careful", "surrogate")
LAYOUTS = ("parts", "single", "bare")


def payload(publisher: wire.PublisherId, seq: int, kind: str = "strict") -> bytes:
    """A record numbered *seq* by *publisher*, written so that *kind* of decode reads it.

    ``strict``: as zmqlog writes it. ``known-keys``: a structure in ``extra`` (read by
    the second typed decode). ``careful``: an unknown key inside ``publisher`` (only the
    careful path takes it, into another Struct class). ``surrogate``: a lone surrogate
    escape (parsed by the json module).
    """
    record = make_record("order %d shipped", 42, level=logging.WARNING)
    encoded = wire.encode_json(record, None, "svc", publisher=publisher, seq=seq)[1]
    if kind == "strict":
        return encoded
    obj: dict[str, Any] = json.loads(encoded)
    if kind == "known-keys":
        obj["extra"] = {"nested": {"a": [1, 2]}}
    elif kind == "careful":
        obj["publisher"] = {**publisher._asdict(), "shard": 3}
    elif kind == "surrogate":
        obj["message"] = "bad \udc80 text"
    else:
        raise AssertionError(kind)
    return json.dumps(obj, separators=(",", ":")).encode()


def subscriber() -> LogSubscriber:
    return LogSubscriber("tcp://127.0.0.1:1", wire_format="json")


def deliver(sub: LogSubscriber, data: bytes, arrived: float, layout: str = "parts") -> None:
    """Hand *data* to the subscriber's decoding as a message of *layout* would arrive."""
    if layout == "parts":
        message = sub._decode_parts(TOPIC, data, arrived)
    elif layout == "single":
        message = sub._decode_single(wire.encode_single_frame(TOPIC, data, json=True), arrived)
    else:  # a frame without prefix: the record's own topic is its topic
        obj = json.loads(data)
        obj["topic"] = TOPIC.decode()
        message = sub._decode_single(json.dumps(obj, separators=(",", ":")).encode(), arrived)
    assert message is not None


def reference(seen: list[tuple[bytes, float]], capacity: int) -> SequenceTracker[Any]:
    """What a tracker fed the careful path's publisher and seq counts."""
    tracker: SequenceTracker[Any] = SequenceTracker(capacity)
    for data, arrived in seen:
        fields = decode_json(data)
        assert fields is not None
        if fields["publisher"] is not None:
            tracker.see(tuple(fields["publisher"]), fields["seq"], arrived)
    return tracker


def assert_counted_alike(sub: LogSubscriber, expected: SequenceTracker[Any]) -> None:
    """The same counts, and the same publishers remembered in the same order and state."""
    tracker = sub._sequences
    assert (tracker.gaps, tracker.resets) == (expected.gaps, expected.resets)
    assert list(tracker._last.items()) == list(expected._last.items())


def test_the_kinds_of_payload_reach_the_struct_classes_they_stand_for() -> None:
    """The careful kinds decode into another class than the strict ones (as intended)."""
    sub = subscriber()
    classes = {}
    for kind in KINDS:
        message = sub._decode_parts(TOPIC, payload(A, 0, kind), 1.0)
        assert message is not None
        classes[kind] = type(message.fields.publisher)  # type: ignore[union-attr]
    assert classes == {
        "strict": _StrictPublisher,
        "known-keys": _StrictPublisher,
        "careful": _Publisher,
        "surrogate": _Publisher,
    }


def test_a_stream_from_one_publisher_counts_its_gaps() -> None:
    """0, 1, 2, then 5: two lost; the tracker's entry holds the last number and time."""
    sub = subscriber()
    seen = [(payload(A, seq), 1.0 + seq) for seq in (0, 1, 2, 5, 6)]
    for data, arrived in seen:
        deliver(sub, data, arrived)
    assert (sub.stats.gaps, sub.stats.resets) == (2, 0)
    assert sub._sequences._last == {tuple(A): [6, 7.0]}
    assert_counted_alike(sub, reference(seen, 10_000))


@pytest.mark.parametrize("first", KINDS)
@pytest.mark.parametrize("then", KINDS)
def test_a_publisher_read_by_another_decode_is_the_same_publisher(first: str, then: str) -> None:
    """Struct classes of different decodes never compare equal: such a message is counted
    by its value, as the same publisher's next number, neither a gap nor a reset."""
    sub = subscriber()
    seen = [(payload(A, 0, first), 1.0), (payload(A, 1, then), 2.0), (payload(A, 2, first), 3.0)]
    for data, arrived in seen:
        deliver(sub, data, arrived)
    assert (sub.stats.gaps, sub.stats.resets, len(sub._sequences)) == (0, 0, 1)
    assert_counted_alike(sub, reference(seen, 10_000))


# Publishers equal to A but in one field, some of them only barely.
NEIGHBOURS = {
    "host": A._replace(host="host-b"),
    "host-case": A._replace(host="HOST-A"),
    "host-space": A._replace(host="host-a "),
    "pid": A._replace(pid=4243),
    "pid-negative": A._replace(pid=-4242),
    "id": A._replace(id="0123456789abcdeF"),
    "id-prefix": A._replace(id="0123456789abcde"),
}


@pytest.mark.parametrize("neighbour", NEIGHBOURS.values(), ids=NEIGHBOURS.keys())
def test_publishers_differing_in_one_field_are_counted_apart(
    neighbour: wire.PublisherId,
) -> None:
    """A's next number after its neighbour's message is no gap, and the neighbour's
    number right after A's is its own first, not A's next."""
    sub = subscriber()
    seen = [
        (payload(A, 0), 1.0),
        (payload(neighbour, 1), 2.0),  # would be A's next: must not be taken for it
        (payload(A, 1), 3.0),
        (payload(neighbour, 2), 4.0),
        (payload(A, 3), 5.0),  # 1 lost
        (payload(neighbour, 2), 6.0),  # a replay: a reset
    ]
    for data, arrived in seen:
        deliver(sub, data, arrived)
    assert (sub.stats.gaps, sub.stats.resets, len(sub._sequences)) == (1, 1, 2)
    assert_counted_alike(sub, reference(seen, 10_000))


def test_hosts_equal_only_once_normalized_are_different_publishers() -> None:
    """Precomposed and decomposed "é" are different hosts, as they are different keys."""
    composed = A._replace(host=unicodedata.normalize("NFC", "hôte-é"))
    decomposed = A._replace(host=unicodedata.normalize("NFD", "hôte-é"))
    assert composed.host != decomposed.host
    sub = subscriber()
    seen = [(payload(composed, 0), 1.0), (payload(decomposed, 1), 2.0), (payload(composed, 1), 3.0)]
    for data, arrived in seen:
        deliver(sub, data, arrived)
    assert (sub.stats.gaps, sub.stats.resets, len(sub._sequences)) == (0, 0, 2)
    assert_counted_alike(sub, reference(seen, 10_000))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pid", True),
        ("pid", 4242.0),
        ("pid", "4242"),
        ("pid", None),
        ("host", 1),
        ("host", ["host-a"]),
        ("id", 123),
        ("id", None),
    ],
)
def test_a_publisher_field_of_another_type_makes_the_message_invalid(
    field: str, value: object
) -> None:
    """The decoder takes str, int and str only (no bool for the pid, no float): so equal
    fields are equal keys, and a hostile ``true`` is never taken for pid 1."""
    obj = json.loads(payload(A, 1))
    obj["publisher"][field] = value
    data = json.dumps(obj, separators=(",", ":")).encode()
    for raw in (data, data.replace(b'"pid":4242.0', b'"pid":4242e0')):
        sub = subscriber()
        deliver(sub, payload(A, 0), 1.0)
        assert sub._decode_parts(TOPIC, raw, 2.0) is None
        assert sub._decode_single(wire.encode_single_frame(TOPIC, raw, json=True), 2.0) is None
        assert decode_json(raw) is None
        assert (sub.stats.invalid, sub._sequences._last) == (2, {tuple(A): [0, 1.0]})


def test_decoded_publisher_fields_are_exactly_str_int_str() -> None:
    """Of every decode: ``type() is``, not isinstance (a bool is an int)."""
    for kind in KINDS:
        message = subscriber()._decode_parts(TOPIC, payload(A, 0, kind), 1.0)
        assert message is not None
        assert message.fields is not None
        publisher = message.fields.publisher  # type: ignore[attr-defined]
        assert [type(publisher.host), type(publisher.pid), type(publisher.id)] == [str, int, str]


def test_the_newest_publisher_forgotten_never_happens_but_the_others_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With room for one publisher, each new one forgets the last: A's next number after
    B is A's first again, not its next (the entry the subscriber kept is A's old one)."""
    monkeypatch.setattr(subscriber_module, "_MAX_PUBLISHERS", 1)
    b = A._replace(id="b" * 16)
    sub = subscriber()
    seen = [
        (payload(A, 0), 1.0),
        (payload(A, 1), 2.0),
        (payload(b, 7), 3.0),  # A forgotten
        (payload(A, 5), 4.0),  # A's first again: no gap
        (payload(A, 6), 5.0),
        (payload(A, 9), 6.0),  # 2 lost
    ]
    for data, arrived in seen:
        deliver(sub, data, arrived)
    assert (sub.stats.gaps, sub.stats.resets) == (2, 0)
    assert sub._sequences._last == {tuple(A): [9, 6.0]}
    assert_counted_alike(sub, reference(seen, 1))


@pytest.mark.parametrize("seed", range(12))
def test_random_streams_are_counted_as_the_tracker_counts_them(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishers switching back and forth (neighbours among them), restarts, numbers
    next, repeated, back, forward a little or absurdly far, every payload kind and
    layout, and a small capacity so that publishers are forgotten and come back."""
    rng = random.Random(seed)
    capacity = rng.choice([1, 2, 3, 10_000])
    monkeypatch.setattr(subscriber_module, "_MAX_PUBLISHERS", capacity)
    publishers = [A, *rng.sample(list(NEIGHBOURS.values()), 3)]
    last: dict[wire.PublisherId, int] = {}
    sub = subscriber()
    seen: list[tuple[bytes, float]] = []
    arrived = 1000.0
    for _ in range(400):
        # Mostly the same publisher as before, as a real stream is.
        if not seen or rng.random() < 0.2:
            publisher = rng.choice(publishers)
        seq = last.get(publisher, rng.randrange(100))
        step = rng.choices([1, 0, -1, 5, 2**40], weights=[80, 4, 4, 8, 4])[0]
        seq = max(0, seq + step)
        if rng.random() < 0.02:
            seq = 0  # a restart keeping its identity
        last[publisher] = seq
        arrived += rng.choice([0.0, 0.001, 1.0])
        data = payload(publisher, seq, rng.choices(KINDS, weights=[85, 5, 5, 5])[0])
        deliver(sub, data, arrived, rng.choices(LAYOUTS, weights=[85, 10, 5])[0])
        seen.append((data, arrived))
    expected = reference(seen, capacity)
    assert expected.gaps  # the stream exercised both
    assert expected.resets
    assert_counted_alike(sub, expected)

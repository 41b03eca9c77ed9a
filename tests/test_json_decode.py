"""Reading JSON records: the fast typed decode and the careful path give one answer."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_record
from zmqlog import wire
from zmqlog.wire import _record
from zmqlog.wire._jsondecode import JsonRecord, read_record

PUBLISHER = wire.PublisherId("host-a", 4242, "0123456789abcdef")


def with_extra(record: logging.LogRecord, **extra: object) -> logging.LogRecord:
    record.__dict__.update(extra)
    return record


def payload_of(record: logging.LogRecord, seq: int = 3) -> bytes:
    return wire.encode_json(record, None, "svc", publisher=PUBLISHER, seq=seq)[1]


def careful(payload: bytes) -> dict[str, Any] | bool | None:
    """What the public two-step reading says: fields, None (invalid) or False (no record)."""
    obj = wire.load_json_object(payload)
    if obj is None or wire.JSON_MARKER not in obj:
        return False
    return wire.check_json_record(obj)


def fast(payload: bytes) -> dict[str, Any] | bool | None:
    record = read_record(payload)
    return dict(record) if record else record


OUR_RECORD = make_record("order %d shipped", 42, level=logging.WARNING)
OBJECT: dict[str, Any] = json.loads(payload_of(OUR_RECORD))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(payload_of(OUR_RECORD), id="ours"),
        pytest.param(json.dumps(OBJECT).encode(), id="stdlib json with spaces"),
        pytest.param(json.dumps(OBJECT, indent=2).encode(), id="indented"),
        pytest.param(json.dumps(dict(reversed(OBJECT.items()))).encode(), id="keys reversed"),
        pytest.param(json.dumps({**OBJECT, "future": [1, {"a": 2}]}).encode(), id="unknown key"),
        pytest.param(
            json.dumps({**OBJECT, "publisher": {**OBJECT["publisher"], "v": 2}}).encode(),
            id="unknown publisher key",
        ),
        pytest.param(json.dumps({**OBJECT, "message": "caf\udce9"}).encode(), id="lone surrogate"),
        pytest.param(
            json.dumps({**OBJECT, "message": "caf\udce9"}, ensure_ascii=False).encode(
                "utf-8", "surrogatepass"
            ),
            id="surrogate as raw bytes",
        ),
        pytest.param(
            json.dumps({**OBJECT, "extra": {"n": 2**64}}).encode(), id="integer beyond 64 bits"
        ),
        pytest.param(
            json.dumps({**OBJECT, "extra": {"id": 1234567890123456789}}).encode(),
            id="19 digits within 64 bits",
        ),
        pytest.param(json.dumps({**OBJECT, "extra": {"a": [[[1]]]}}).encode(), id="nested extra"),
        pytest.param(json.dumps({**OBJECT, "seq": None}).encode(), id="publisher without seq"),
        pytest.param(json.dumps({**OBJECT, "zmqlog": 2}).encode(), id="version 2"),
        pytest.param(json.dumps({"message": "a JSON line"}).encode(), id="no marker"),
        pytest.param(b'{"zmqlog":1', id="truncated"),
        pytest.param(
            b'{"zmqlog":1,"name":"a","levelno":1,"levelname":"x","message":"m",'
            b'"created":1,"x":1e999}',
            id="1e999 under an unknown key",
        ),
    ],
)
def test_fast_and_careful_reading_agree(payload: bytes) -> None:
    """Whatever path a payload takes, the subscriber's reading equals the public functions'."""
    assert fast(payload) == careful(payload)


def test_conforming_producers_are_read_whatever_their_writer() -> None:
    """stdlib json (ASCII escapes, spaces) and our encoder give the same fields."""
    ours = wire.decode_json(payload_of(OUR_RECORD))
    assert ours is not None
    assert wire.decode_json(json.dumps(OBJECT).encode()) == ours
    assert wire.decode_json(json.dumps(OBJECT, ensure_ascii=False).encode()) == ours


def test_a_lone_surrogate_written_by_the_stdlib_is_read() -> None:
    """json.dumps escapes a lone surrogate as \\udce9, which msgspec alone refuses."""
    payload = json.dumps({**OBJECT, "message": "file caf\udce9"}).encode()
    record = read_record(payload)
    assert record
    assert record.message == "file caf\udce9"


def test_the_spec_bounds_hold_on_the_fast_path() -> None:
    """Our own layout (no unknown keys) still refuses what the spec refuses, inside extra."""
    too_deep: Any = 1
    for _ in range(wire.MAX_JSON_DEPTH - 1):
        too_deep = [too_deep]
    many = {f"k{n}": n for n in range(100)}
    for extra in (
        {"n": 2**63},
        {"n": -(2**63) - 1},
        {"deep": too_deep},
        {"a": {"b": [2**70]}},
        {**many, "n": 2**64},  # too many keys to look at one by one: scanned instead
    ):
        payload = json.dumps({**OBJECT, "extra": extra}, separators=(",", ":")).encode()
        assert read_record(payload) is False, extra  # not a record that can be read


_MINIMAL = b'{"zmqlog":1,"name":"a","levelno":1,"levelname":"x","message":"m","created":1,'


@pytest.mark.parametrize(
    "extras",
    [
        pytest.param(b'"extra":{"n":18446744073709551616},"extra":{}', id="long int"),
        pytest.param(b'"\\u0065xtra":{"n":18446744073709551616},"extra":{}', id="escaped key"),
        pytest.param(b'"extra":{"a":' + b"[" * 40 + b"]" * 40 + b'},"extra":{}', id="too deep"),
    ],
)
def test_a_key_given_twice_hides_nothing(extras: bytes) -> None:
    """The value a parser throws away is still in the payload: the spec's bounds apply."""
    payload = _MINIMAL + extras + b"}"
    assert (read_record(payload), wire.load_json_object(payload)) == (False, None)


def test_a_large_flat_extra_within_the_bounds_is_read() -> None:
    """A hundred small fields: scanned, found harmless, kept."""
    extra = {f"k{n}": n for n in range(100)}
    record = read_record(json.dumps({**OBJECT, "extra": extra}).encode())
    assert record
    assert record.extra == extra


def test_fields_are_a_read_only_mapping_equal_to_decode_json() -> None:
    """LogMessage.fields (a JsonRecord) has decode_json's keys and values, in its order."""
    payload = payload_of(with_extra(make_record("hello"), user="ann"))
    record = read_record(payload)
    assert isinstance(record, JsonRecord)
    assert isinstance(record, Mapping)
    expected = wire.decode_json(payload)
    assert expected is not None
    assert list(record) == list(expected)
    assert (dict(record.items()), record, len(record)) == (expected, expected, len(expected))
    assert (record["publisher"], record["seq"], record["extra"]) == (PUBLISHER, 3, {"user": "ann"})
    assert (record.get("nothing", 7), "name" in record, "nothing" in record) == (7, True, False)
    with pytest.raises(KeyError):
        record["nothing"]
    with pytest.raises(AttributeError):
        record.name = "changed"  # type: ignore[misc]


def test_missing_optional_fields_read_as_not_known() -> None:
    """msecs is derived from created, extra is empty, the rest None, as check_json_record says."""
    record = read_record(
        b'{"zmqlog":1,"name":"svc","levelno":30,"levelname":"WARNING","message":"m",'
        b'"created":1700000000.25,"msecs":null}'
    )
    assert record
    assert (record["msecs"], record["extra"], record["publisher"], record["lineno"]) == (
        250.0,
        {},
        None,
        None,
    )


def test_a_record_from_the_struct_equals_one_from_the_dict() -> None:
    """record_from_json builds the same LogRecord from LogMessage.fields as from decode_json."""
    original = with_extra(make_record("charged %s", "ann"), order=42)
    payload = payload_of(original)
    record, fields = read_record(payload), wire.decode_json(payload)
    assert record
    assert fields is not None
    assert wire.record_from_json(record).__dict__ == wire.record_from_json(fields).__dict__


def test_a_python_with_unknown_record_attributes_rebuilds_through_logrecord(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where LogRecord() sets attributes zmqlog does not know, it makes the record: same values."""
    original = with_extra(make_record("charged %s", "ann"), order=42)
    record = read_record(payload_of(original))
    assert record
    in_place = wire.record_from_json(record).__dict__
    monkeypatch.setattr(_record, "_REBUILD_IN_PLACE", False)
    assert not _record._REBUILD_IN_PLACE  # the case under test
    through_logrecord = wire.record_from_json(record).__dict__
    assert in_place == through_logrecord


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["\udc80", "\ud83d"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)


@FUZZ
@given(
    st.dictionaries(st.sampled_from([*OBJECT, "unknown", "getMessage"]), json_values, max_size=5),
    st.booleans(),
)
def test_fuzz_fast_and_careful_reading_agree(changes: dict[str, Any], ascii_only: bool) -> None:
    """Any field replaced by any JSON value: both readings give the same answer."""
    text = json.dumps({**OBJECT, **changes}, ensure_ascii=ascii_only)
    payload = text.encode("utf-8", "surrogatepass")
    assert fast(payload) == careful(payload)


@pytest.mark.parametrize("extra", [{"user": "ann"}, {"order": {"id": 42}}])
def test_a_cycle_through_a_records_extra_is_collected(extra: dict[str, Any]) -> None:
    """A program may keep a message's fields in a structure its ``extra`` holds; the
    garbage collector must free that cycle, as it frees any other."""
    import gc
    import weakref

    class Marker:
        pass

    record = read_record(payload_of(with_extra(make_record("kept"), **extra)))
    assert isinstance(record, JsonRecord)
    marker = Marker()
    alive = weakref.ref(marker)
    record["extra"]["cycle"] = [record, marker]
    del record, marker
    gc.collect()
    assert alive() is None

"""The JSON wire format: encoding, checked decoding, and records rebuilt from it."""

from __future__ import annotations

import enum
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_record
from zmqlog import wire

PUBLISHER = wire.PublisherId("host-a", 4242, "0123456789abcdef")

# Every field a record carries that a formatter can show; the same on both machines
# only because these tests run in one process (asctime depends on the time zone).
FULL_FORMAT = (
    "%(asctime)s|%(msecs)03d|%(relativeCreated)d|%(name)s|%(levelno)s|%(levelname)s|"
    "%(pathname)s|%(filename)s|%(module)s|%(lineno)d|%(funcName)s|%(process)d|"
    "%(processName)s|%(thread)d|%(threadName)s|%(message)s"
)
if sys.version_info >= (3, 12):
    FULL_FORMAT += "|%(taskName)s"


def round_trip(record: logging.LogRecord, root_topic: str = "") -> logging.LogRecord:
    _, payload = wire.encode_json(record, None, root_topic, publisher=PUBLISHER, seq=0)
    fields = wire.decode_json(payload)
    assert fields is not None
    return wire.record_from_json(fields)


def formatted(record: logging.LogRecord, fmt: str = FULL_FORMAT) -> str:
    return logging.Formatter(fmt).format(record)


def _exc_info() -> logging._SysExcInfoType:
    try:
        raise ValueError("boom ☃")
    except ValueError:
        return sys.exc_info()


class _Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def _with_extra(record: logging.LogRecord, **extra: object) -> logging.LogRecord:
    record.__dict__.update(extra)
    return record


def _with_stack() -> logging.LogRecord:
    record = make_record("where am I")
    record.stack_info = "Stack (most recent call last):\n  File 'x.py', line 1, in <module>"
    return record


RECORDS = {
    "plain": lambda: make_record("hello there"),
    "args": lambda: make_record("request %d handled in %.3f ms", 7, 1.5),
    "mapping args": lambda: make_record("%(user)s logged in", {"user": "ann"}),
    "percent in merged text": lambda: make_record("disk %s", "100%d full %s"),
    "unicode": lambda: make_record("héllo wörld ☃ %s", "日本"),
    "exc_info": lambda: make_record("failed", level=logging.ERROR, exc_info=_exc_info()),
    "exc_info without exception": lambda: make_record(
        "no exception", level=logging.ERROR, exc_info=(None, None, None)
    ),
    "stack_info": _with_stack,
    "custom level": lambda: make_record("noticed", level=25),
    "extra": lambda: _with_extra(make_record("with extra"), user_id=7, path="/x"),
    "non-str msg": lambda: make_record(_Opaque()),
}


@pytest.mark.parametrize("case", sorted(RECORDS))
def test_rebuilt_record_formats_like_the_original(case: str) -> None:
    """An ordinary Formatter renders the rebuilt record exactly as it renders the original."""
    original = RECORDS[case]()
    rebuilt = round_trip(original)
    assert formatted(original) == formatted(rebuilt)
    assert logging.Formatter().format(original) == logging.Formatter().format(rebuilt)


def test_traceback_and_stack_arrive_as_text() -> None:
    """The traceback crosses as exc_text, so the rebuilt record needs no exception object."""
    record = make_record("failed", level=logging.ERROR, exc_info=_exc_info())
    record.stack_info = "Stack (most recent call last):\n  here"
    rebuilt = round_trip(record)
    assert rebuilt.exc_info is None
    assert rebuilt.exc_text is not None
    assert rebuilt.exc_text.endswith("ValueError: boom ☃")
    assert formatted(rebuilt).endswith("ValueError: boom ☃\nStack (most recent call last):\n  here")


def test_topic_is_the_text_formats_topic() -> None:
    """JSON keeps the topic of the text format, subtopic included."""
    record = make_record("db.pool::%d open", 3, level=logging.WARNING)
    text_topic, _ = wire.encode_text(record, logging.Formatter(), "svc")
    json_topic, _ = wire.encode_json(record, None, "svc", publisher=PUBLISHER, seq=0)
    assert json_topic == text_topic == b"svc.WARNING.db.pool"


def test_subtopic_is_not_part_of_the_message() -> None:
    """As in the text format, the subtopic prefix is routing, not message text."""
    rebuilt = round_trip(make_record("db.pool::%d open", 3))
    assert rebuilt.getMessage() == "3 open"


def test_envelope_carries_marker_publisher_and_seq() -> None:
    """The payload is one object with the version marker, the publisher and the sequence."""
    _, payload = wire.encode_json(make_record("x"), None, publisher=PUBLISHER, seq=41)
    obj = json.loads(payload)
    assert obj["zmqlog"] == wire.JSON_VERSION
    assert obj["publisher"] == {"host": "host-a", "pid": 4242, "id": "0123456789abcdef"}
    assert obj["seq"] == 41
    fields = wire.decode_json(payload)
    assert fields is not None
    assert (fields["publisher"], fields["seq"]) == (PUBLISHER, 41)


def test_encoding_does_not_modify_the_callers_record() -> None:
    """The record other handlers see is left as it was logged."""
    record = make_record("sub::text %s", "x", level=logging.ERROR, exc_info=_exc_info())
    before = dict(record.__dict__)
    wire.encode_json(record, None, publisher=PUBLISHER, seq=0)
    assert before == record.__dict__


def test_rebuilt_message_is_never_percent_formatted_again() -> None:
    """A merged message holding % sequences comes back verbatim; args is None."""
    rebuilt = round_trip(make_record("%s", "50%% %(x)s %d"))
    assert rebuilt.args is None
    assert rebuilt.getMessage() == "50%% %(x)s %d"


def test_extra_values_json_cannot_hold_become_their_repr() -> None:
    """Unserializable extras arrive as their repr instead of vanishing or failing."""
    record = _with_extra(
        make_record("x"),
        obj=_Opaque(),
        bad=_BadRepr(),
        nan=float("nan"),
        nums=(1, 2.5, True),
        keys={1: "one", None: "none"},
        raw=b"\x00\xff",
        big=2**64,
        nested={"a": [{"b": _Opaque()}]},
    )
    rebuilt = round_trip(record)
    assert rebuilt.obj == "<Opaque thing>"
    assert rebuilt.bad == "<unrepresentable _BadRepr>"
    assert rebuilt.nan == "nan"
    assert rebuilt.nums == [1, 2.5, True]
    assert rebuilt.keys == {"1": "one", "None": "none"}
    assert rebuilt.raw == "b'\\x00\\xff'"
    assert rebuilt.big == str(2**64)
    assert rebuilt.nested == {"a": [{"b": "<Opaque thing>"}]}


def test_self_referencing_extra_is_bounded() -> None:
    """A structure that contains itself is cut off at the depth limit, not recursed forever."""
    loop: list[Any] = []
    loop.append(loop)
    loop.append(loop)
    rebuilt = round_trip(_with_extra(make_record("x"), loop=loop))
    depth, value = 0, rebuilt.loop
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    assert depth == wire.MAX_JSON_DEPTH - 2
    assert value == "[[...], [...]]"


def test_lone_surrogates_survive_as_valid_utf8() -> None:
    """Text with an undecodable file name byte stays UTF-8 on the wire and round-trips."""
    record = make_record("file %s", "caf\udce9")
    _, payload = wire.encode_json(record, None, publisher=PUBLISHER, seq=0)
    payload.decode("utf-8")
    assert round_trip(record).getMessage() == "file caf\udce9"


class _Level(enum.IntEnum):
    NOTICE = 25


class _Text(str):
    pass


def _strict_json(payload: bytes) -> Any:
    """*payload* read by a strict reader: UTF-8, no NaN or infinity, ints of 64 bits."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    def bounded(digits: str) -> int:
        value = int(digits)
        assert -(2**63) <= value < 2**63, digits
        return value

    return json.loads(payload.decode("utf-8"), parse_constant=refuse, parse_int=bounded)


def _set(record: logging.LogRecord, name: str, value: object) -> logging.LogRecord:
    setattr(record, name, value)
    return record


ODD_VALUES = {
    "nan created": lambda: _set(make_record("x"), "created", float("nan")),
    "infinite msecs": lambda: _set(make_record("x"), "msecs", float("inf")),
    "huge lineno": lambda: _set(make_record("x"), "lineno", 2**64),
    "huge negative thread": lambda: _set(make_record("x"), "thread", -(2**63) - 1),
    "str subclass name": lambda: _set(make_record("x"), "name", _Text("app")),
    "enum levelno": lambda: _set(make_record("x"), "levelno", _Level.NOTICE),
    "surrogate pathname": lambda: _set(make_record("x"), "pathname", "/srv/caf\udce9.py"),
    "surrogate in extra key and value": lambda: _with_extra(
        make_record("x"), **{"k\udc80": {"v": "\udcff"}}
    ),
    "odd extras": lambda: _with_extra(
        make_record("x"), big=-(2**70), inf=float("-inf"), text=_Text("t"), level=_Level.NOTICE
    ),
    "str subclass message": lambda: make_record(_Text("hello")),
}


@pytest.mark.parametrize("case", sorted(ODD_VALUES))
def test_values_json_cannot_hold_never_reach_the_wire(case: str) -> None:
    """Non-finite floats, 65-bit ints and lone surrogates anywhere in a record still make
    a payload that a strict reader, and zmqlog's, accept."""
    _, payload = wire.encode_json(ODD_VALUES[case](), None, publisher=PUBLISHER, seq=3)
    obj = _strict_json(payload)
    assert obj["seq"] == 3
    assert wire.decode_json(payload) is not None or case in _INVALID_FIELD_TYPES


# Records whose standard fields have types the format does not allow: written, as
# their repr, but not valid records.
_INVALID_FIELD_TYPES: Final = {
    "nan created",
    "infinite msecs",
    "huge lineno",
    "huge negative thread",
}


@pytest.mark.parametrize(
    ("case", "field", "written"),
    [
        ("nan created", "created", "nan"),
        ("infinite msecs", "msecs", "inf"),
        ("huge lineno", "lineno", str(2**64)),
        ("huge negative thread", "thread", str(-(2**63) - 1)),
        ("enum levelno", "levelno", 25),
        ("str subclass name", "name", "app"),
    ],
)
def test_standard_fields_json_cannot_hold_are_written_as_their_repr(
    case: str, field: str, written: object
) -> None:
    """A standard field of a type JSON cannot hold is its repr (never null, never a
    number beyond 64 bits); a subclass of a JSON type is its plain value."""
    _, payload = wire.encode_json(ODD_VALUES[case](), None, publisher=PUBLISHER, seq=0)
    assert _strict_json(payload)[field] == written


def test_odd_extras_are_written_as_their_json_values_or_repr() -> None:
    """An extra that is a str or int subclass is written as its plain value; what JSON
    cannot hold, as its repr."""
    record = ODD_VALUES["odd extras"]()
    extra = _strict_json(wire.encode_json(record, None, publisher=PUBLISHER, seq=0)[1])["extra"]
    assert extra == {"big": repr(-(2**70)), "inf": "-inf", "text": "t", "level": 25}


def test_lone_surrogates_in_extras_survive() -> None:
    """A lone surrogate in an extra's key or value comes back as it was logged."""
    record = ODD_VALUES["surrogate in extra key and value"]()
    assert round_trip(record).__dict__["k\udc80"] == {"v": "\udcff"}


@pytest.mark.parametrize("name", ["getMessage", "msg", "args", "message", "__class__", "__dict__"])
def test_extra_fields_named_like_record_attributes_are_left_out(name: str) -> None:
    """A hostile extra cannot replace a LogRecord method or field; it stays in fields."""
    payload = json.loads(wire.encode_json(make_record("ok"), None, publisher=PUBLISHER, seq=0)[1])
    payload["extra"] = {name: "evil", "fine": 1}
    fields = wire.decode_json(json.dumps(payload).encode())
    assert fields is not None
    rebuilt = wire.record_from_json(fields)
    assert rebuilt.getMessage() == "ok"
    assert type(rebuilt) is logging.LogRecord
    assert rebuilt.fine == 1
    assert fields["extra"][name] == "evil"


def test_snapshot_extras_leaves_plain_records_alone() -> None:
    """Records without extras, or with only scalar extras, are not copied."""
    plain = make_record("x")
    scalars = _with_extra(make_record("x"), n=1, s="s", f=1.5, b=True, none=None)
    assert wire.snapshot_extras(plain) is plain
    assert wire.snapshot_extras(scalars) is scalars


def test_snapshot_extras_freezes_mutable_values() -> None:
    """A mutable extra is copied as its JSON value at snapshot time; the original is untouched."""
    data = {"items": [1]}
    record = _with_extra(make_record("x"), data=data)
    frozen = wire.snapshot_extras(record)
    data["items"].append(2)
    assert frozen.data == {"items": [1]}
    assert record.data is data


# -- dict messages (structlog's event dicts) -----------------------------------------


def _fields(record: logging.LogRecord, root_topic: str = "") -> tuple[bytes, dict[str, Any]]:
    topic, payload = wire.encode_json(record, None, root_topic, publisher=PUBLISHER, seq=0)
    fields = wire.decode_json(payload)
    assert fields is not None
    return topic, fields


def test_an_event_dict_travels_as_message_and_fields() -> None:
    """The "event" is the message; the other keys are extra fields and record attributes."""
    event = {"event": "order shipped", "order": 42, "items": [1, (2, 3)], "level": "info"}
    record = _with_extra(make_record(event), _logger=logging.getLogger("x"), _name="info")
    topic, fields = _fields(record, "shop")
    assert topic == b"shop.INFO"
    assert fields["message"] == "order shipped"
    # structlog's wrap_for_formatter plumbing (_logger, _name) is not sent.
    assert fields["extra"] == {"order": 42, "items": [1, [2, 3]], "level": "info"}
    rebuilt = wire.record_from_json(fields)
    assert (rebuilt.getMessage(), rebuilt.order, rebuilt.level) == ("order shipped", 42, "info")


def test_an_events_keys_win_over_record_attributes_of_the_same_name() -> None:
    """Keys named like extras replace them; keys named like record fields stay fields only."""
    record = _with_extra(make_record({"event": "x", "user": "ann", "name": "bob"}), user="eve")
    _, fields = _fields(record)
    assert fields["extra"] == {"user": "ann", "name": "bob"}
    assert fields["name"] == "app"
    assert wire.record_from_json(fields).name == "app"


def test_an_events_topic_key_is_its_subtopic_and_no_delimiter_is_looked_for() -> None:
    """As in the text format: the "topic" key routes it, a "::" in the event is text."""
    topic, fields = _fields(make_record({"event": "a::b", "topic": "db.pool"}), "shop")
    assert (topic, fields["message"], fields["extra"]) == (
        b"shop.INFO.db.pool",
        "a::b",
        {"topic": "db.pool"},
    )


def _raised() -> BaseException:
    try:
        raise ValueError("boom ☃")
    except ValueError as error:
        return error


@pytest.mark.parametrize(
    "exc_info",
    [True, _raised(), (ValueError, _raised(), None)],
    ids=["true", "exception", "tuple"],
)
def test_an_events_exc_info_is_the_traceback(exc_info: object) -> None:
    """exc_info in the event (true while handling, an exception, a tuple) becomes exc_text."""
    record = make_record({"event": "failed", "exc_info": exc_info}, level=logging.ERROR)
    try:
        raise ValueError("boom ☃")
    except ValueError:
        _, fields = _fields(record)
    assert fields["exc_text"] is not None
    assert fields["exc_text"].endswith("ValueError: boom ☃")
    assert fields["extra"] == {}


def test_an_events_exc_info_without_an_exception_is_no_traceback() -> None:
    """exc_info=True outside an except block means no exception, as in logging."""
    _, fields = _fields(make_record({"event": "fine", "exc_info": True}))
    assert (fields["exc_text"], fields["extra"]) == (None, {})


def test_the_records_own_traceback_wins_over_the_events() -> None:
    """A record logged with logger.exception() already carries the exception."""
    record = make_record(
        {"event": "failed", "exc_info": _raised()}, level=logging.ERROR, exc_info=_exc_info()
    )
    _, fields = _fields(record)
    assert ("in _exc_info" in fields["exc_text"], "in _raised" in fields["exc_text"]) == (
        True,
        False,
    )


def test_an_event_without_an_event_key_has_an_empty_message() -> None:
    """A dict message is data however it was made; keys that are not str become their repr."""
    _, fields = _fields(make_record({"user": "ann", 7: "seven"}))
    assert (fields["message"], fields["extra"]) == ("", {"user": "ann", "7": "seven"})


def test_an_event_dict_is_not_percent_formatted_with_args() -> None:
    """Args have no place in an event dict's message: they are left out, never merged."""
    record = make_record({"event": "100%s"}, "x")
    assert _fields(record)[1]["message"] == "100%s"


# -- decoding hostile input ---------------------------------------------------------


def valid_object(**changes: Any) -> dict[str, Any]:
    payload = wire.encode_json(make_record("ok"), None, publisher=PUBLISHER, seq=0)[1]
    obj: dict[str, Any] = json.loads(payload)
    obj.update(changes)
    return obj


def encoded(obj: object) -> bytes:
    return json.dumps(obj).encode()


def nested(depth: int) -> bytes:
    """A valid record whose extra value makes the payload *depth* levels deep."""
    value: Any = 1
    for _ in range(depth - 2):
        value = [value]
    return encoded(valid_object(extra={"deep": value}))


@pytest.mark.parametrize(
    ("payload"),
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe{}", id="not utf-8"),
        pytest.param(b'{"zmqlog": 1, "name": "\xc3"}', id="broken utf-8 inside"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"zmqlog"', id="string"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b"[" * 100_000, id="deep arrays"),
        pytest.param(b'{"a":' * 50_000, id="deep objects"),
        pytest.param(nested(wire.MAX_JSON_DEPTH + 1), id="one level too deep"),
        pytest.param(b" " * (wire.MAX_JSON_BYTES + 1), id="too large"),
        # Quadratic for a naive string-skipping regex: would outlast the suite's timeout.
        pytest.param(b"[" * 40 + b'"' + b'\\"' * 400_000, id="unterminated escaped quotes"),
        pytest.param(b"1" * 5000, id="huge integer"),
        pytest.param(encoded(valid_object(extra={"n": 10**21})), id="integer in extra too long"),
        pytest.param(b'{"zmqlog":1,"extra":{"x":Infinity}}', id="Infinity"),
        pytest.param(encoded({"message": "no marker"}), id="no marker"),
        pytest.param(encoded(valid_object(zmqlog=2)), id="unknown version"),
        pytest.param(encoded(valid_object(zmqlog=True)), id="bool version"),
        pytest.param(encoded(valid_object(zmqlog="1")), id="string version"),
        pytest.param(encoded(valid_object(levelno="20")), id="levelno a string"),
        pytest.param(encoded(valid_object(levelno=True)), id="levelno a bool"),
        pytest.param(encoded(valid_object(levelno=2**64)), id="levelno too large"),
        pytest.param(encoded(valid_object(message=["x"])), id="message a list"),
        pytest.param(encoded(valid_object(message=None)), id="message null"),
        pytest.param(encoded(valid_object(name={"a": 1})), id="name an object"),
        pytest.param(encoded(valid_object(created="now")), id="created a string"),
        pytest.param(encoded(valid_object(created=-1)), id="created before 1970"),
        pytest.param(encoded(valid_object(created=1e300)), id="created far away"),
        pytest.param(b'{"zmqlog":1,"created":NaN}', id="created NaN"),
        pytest.param(encoded(valid_object(lineno=1.5)), id="lineno a float"),
        pytest.param(encoded(valid_object(exc_text=7)), id="exc_text a number"),
        pytest.param(encoded(valid_object(extra=[1])), id="extra a list"),
        pytest.param(encoded(valid_object(seq=-1)), id="negative seq"),
        pytest.param(encoded(valid_object(seq="3")), id="seq a string"),
        pytest.param(encoded(valid_object(publisher="me")), id="publisher a string"),
        pytest.param(
            encoded(valid_object(publisher={"host": "h", "pid": "1", "id": "x"})), id="pid a string"
        ),
        pytest.param(encoded(valid_object(publisher=None)), id="seq without publisher"),
        pytest.param(
            encoded(valid_object(publisher={"host": "h", "pid": 1, "id": "x" * 65})),
            id="publisher id too long",
        ),
        pytest.param(
            encoded(valid_object(publisher={"host": "h" * 256, "pid": 1, "id": "x"})),
            id="host name too long",
        ),
    ],
)
def test_decoder_rejects_hostile_payloads(payload: bytes) -> None:
    """Anything but a well-typed record of a known version decodes to None, without raising."""
    assert wire.decode_json(payload) is None


def _with_raw(number: str, where: str) -> bytes:
    """A valid record with *number* written verbatim at *where* in the payload."""
    marker = 123456.5  # a float the encoder writes as it is, found and replaced below
    places: dict[str, dict[str, Any]] = {
        "extra": {"extra": {"n": marker}},
        "nested in extra": {"extra": {"a": [{"b": [0, marker]}]}},
        "unknown key": {"future": marker},
        "publisher": {"publisher": {"host": "h", "pid": 1, "id": "x", "more": marker}},
    }
    payload = encoded(valid_object(**places[where]))
    assert payload.count(b"123456.5") == 1
    return payload.replace(b"123456.5", number.encode())


SPEC_PLACES = ["extra", "nested in extra", "unknown key", "publisher"]


@pytest.mark.parametrize("where", SPEC_PLACES)
@pytest.mark.parametrize(
    "number",
    [
        "1e999",
        "-1e999",
        "1E+400",
        "123456789012.5e300",  # no long digit run, yet beyond 1.8e308
        "1" + "0" * 400 + ".0",
        "9223372036854775808",  # 2**63
        "-9223372036854775809",  # -2**63 - 1
        "99999999999999999999",  # 20 digits
        "NaN",
        "Infinity",
    ],
)
def test_decoder_refuses_numbers_the_spec_excludes(number: str, where: str) -> None:
    """Numbers are finite and integers fit 64 bits, anywhere in the payload."""
    payload = _with_raw(number, where)
    assert wire.load_json_object(payload) is None
    assert wire.decode_json(payload) is None


@pytest.mark.parametrize("where", SPEC_PLACES)
@pytest.mark.parametrize(
    ("number", "value"),
    [
        ("1e308", 1e308),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("1e-400", 0.0),  # underflow is finite
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("123456789012345678", 123456789012345678),
    ],
)
def test_decoder_accepts_numbers_at_the_spec_bounds(number: str, value: float, where: str) -> None:
    """The bounds are where the spec puts them: the largest finite float, signed 64 bits."""
    obj = wire.load_json_object(_with_raw(number, where))
    assert obj is not None
    found = {
        "extra": lambda: obj["extra"]["n"],
        "nested in extra": lambda: obj["extra"]["a"][0]["b"][1],
        "unknown key": lambda: obj["future"],
        "publisher": lambda: obj["publisher"]["more"],
    }[where]()
    assert (type(found), found) == (type(value), value)


@pytest.mark.parametrize(
    "changes",
    [
        {"levelno": 2**63},
        {"lineno": -(2**63) - 1},
        {"process": 2**64},
        {"thread": 2**70},
        {"seq": 2**63},
        {"publisher": {"host": "h", "pid": 2**63, "id": "x"}},
        {"created": float("inf")},
        {"msecs": float("nan")},
        {"relativeCreated": float("-inf")},
    ],
    ids=str,
)
def test_checker_bounds_the_fields_of_any_parsed_object(changes: dict[str, Any]) -> None:
    """A record parsed by another JSON reader still has its fields' numbers checked."""
    assert wire.check_json_record(valid_object(**changes)) is None


def test_deepest_accepted_nesting() -> None:
    """Exactly MAX_JSON_DEPTH levels are accepted: the limit is where it says it is."""
    assert wire.decode_json(nested(wire.MAX_JSON_DEPTH)) is not None


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    """Depth is measured on the structure, so a message full of brackets is fine."""
    record = make_record("%s", "[{" * 1000 + '"\\' + "}]" * 1000)
    assert round_trip(record).getMessage() == "[{" * 1000 + '"\\' + "}]" * 1000


# Every attribute the logging documentation lists for format strings, in each style,
# with the conversions and widths a format may ask of it.
_ATTRIBUTES = (
    "args asctime created exc_info filename funcName levelname levelno lineno module "
    "msecs msg name pathname process processName relativeCreated stack_info thread "
    "threadName" + (" taskName" if sys.version_info >= (3, 12) else "")
).split()
_NUMBERS = {"created", "msecs", "relativeCreated", "levelno", "lineno", "process", "thread"}
EVERY_ATTRIBUTE = {
    "%": "|".join(
        f"%({a})8d" if a in _NUMBERS else f"%({a})-10s" for a in _ATTRIBUTES if a != "args"
    )
    + "|%(args)s|%(message)s",
    "{": "|".join(
        f"{{{a}:>8.0f}}" if a in _NUMBERS else f"{{{a}!s:>10}}" if a == "args" else f"{{{a}}}"
        for a in _ATTRIBUTES
    )
    + "|{processName:>20}|{threadName:<20}|{funcName:^20}|{pathname:.5}|{message}",
    "$": "|".join(f"${{{a}}}" for a in _ATTRIBUTES) + "|${message}",
}


@pytest.mark.parametrize("style", sorted(EVERY_ATTRIBUTE))
def test_minimal_record_renders_with_every_formatter_attribute(style: str) -> None:
    """The smallest record of the spec fills every field a stdlib Formatter may name.

    The fields it does not carry get the values the spec gives: those logging uses
    when it cannot find the caller, ids 0 and "(unknown ...)" names.
    """
    payload = (
        b'{"zmqlog":1,"name":"svc","levelno":30,"levelname":"WARNING",'
        b'"message":"disk 90% full","created":1700000000}'
    )
    fields = wire.decode_json(payload)
    assert fields is not None
    record = wire.record_from_json(fields)
    line = logging.Formatter(EVERY_ATTRIBUTE[style], style=style).format(record)
    assert line.endswith("|disk 90% full")
    assert (record.process, record.processName) == (0, "(unknown process)")
    assert (record.thread, record.threadName) == (0, "(unknown thread)")
    assert (record.pathname, record.filename, record.module) == ("(unknown file)",) * 3
    assert (record.lineno, record.funcName, record.relativeCreated) == (
        0,
        "(unknown function)",
        0.0,
    )
    # What the message said is kept apart from what the record fills in.
    assert (fields["process"], fields["pathname"], fields["lineno"]) == (None, None, None)


def test_minimal_record_from_another_language() -> None:
    """Only the marker, name, levels, message and created are required."""
    payload = (
        b'{"zmqlog":1,"name":"svc","levelno":30,"levelname":"WARNING",'
        b'"message":"disk 90% full","created":1700000000}'
    )
    fields = wire.decode_json(payload)
    assert fields is not None
    record = wire.record_from_json(fields)
    assert formatted(record, "%(name)s %(levelname)s %(lineno)d %(msecs)03d %(message)s") == (
        "svc WARNING 0 000 disk 90% full"
    )
    assert (fields["publisher"], fields["seq"]) == (None, None)


def test_unknown_fields_are_ignored() -> None:
    """Fields this version does not know (a later minor addition) do not invalidate."""
    fields = wire.decode_json(encoded(valid_object(getMessage="x", future_field=[1])))
    assert fields is not None
    assert "getMessage" not in fields
    assert wire.record_from_json(fields).getMessage() == "ok"


# -- text messages as records -------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "levelno"),
    [("INFO", logging.INFO), ("ERROR", logging.ERROR), ("Level 25", 25), ("MADEUP", 0)],
)
def test_text_record_takes_its_level_from_the_topic(level: str, levelno: int) -> None:
    """Known names and "Level N" map to numbers; an unknown name keeps its name at NOTSET."""
    record = wire.record_from_text("x\n", level, "svc")
    assert (record.levelno, record.levelname) == (levelno, level)


def test_text_record_keeps_the_text_verbatim() -> None:
    """The final newline goes, % sequences stay, and nothing local is claimed."""
    record = wire.record_from_text("50%s done %d\n", "INFO", "svc")
    assert record.getMessage() == "50%s done %d"
    assert record.name == "svc"
    assert (record.process, record.processName) == (0, "(unknown process)")
    assert (record.thread, record.threadName) == (0, "(unknown thread)")
    assert (record.pathname, record.lineno, record.funcName) == (
        "(unknown file)",
        0,
        "(unknown function)",
    )


@pytest.mark.parametrize("style", sorted(EVERY_ATTRIBUTE))
def test_text_record_renders_with_every_formatter_attribute(style: str) -> None:
    """A text message's record fills every field a stdlib Formatter may name."""
    record = wire.record_from_text("hello\n", "WARNING", "svc")
    fmt = EVERY_ATTRIBUTE[style]
    line = logging.Formatter(fmt, style=style).format(record)
    assert "(unknown file)" in line
    assert line.endswith("hello")


def test_publisher_ids_differ_per_start() -> None:
    """Two publishers in one process have the same host and pid and different ids."""
    first, second = wire.new_publisher_id(), wire.new_publisher_id()
    assert first[:2] == second[:2]
    assert first.id != second.id


# -- property-based fuzzing ---------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
KNOWN_KEYS = [
    *valid_object(),
    "getMessage",
    "args",
    "exc_info",
]


def check_never_raises(payload: bytes) -> None:
    """The decoder's boundary: None, or fields that rebuild into a formattable record."""
    fields = wire.decode_json(payload)
    if fields is None:
        return
    record = wire.record_from_json(fields)
    assert record.getMessage() == fields["message"]
    logging.Formatter().format(record)
    for style, fmt in EVERY_ATTRIBUTE.items():
        logging.Formatter(fmt, style=style).format(record)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(payload: bytes) -> None:
    """Random bytes never make the decoder raise."""
    check_never_raises(payload)


@FUZZ
@given(st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values, max_size=6))
def test_fuzz_record_fields_of_any_type(changes: dict[str, Any]) -> None:
    """A real record with any fields replaced by any JSON decodes to None or a usable record."""
    check_never_raises(encoded(valid_object(**changes)))


# One fixed payload: hypothesis replays examples, so the input must not change.
SAMPLE_PAYLOAD = wire.encode_json(
    _with_extra(
        make_record("hello %s", "wörld", level=logging.ERROR, exc_info=_exc_info()),
        user={"id": 7, "tags": ["a", "b"]},
    ),
    None,
    publisher=PUBLISHER,
    seq=9,
)[1]


@FUZZ
@given(st.data())
def test_fuzz_corrupted_payloads(data: st.DataObject) -> None:
    """A real payload with bytes overwritten, cut or inserted never makes the decoder raise."""
    payload = bytearray(SAMPLE_PAYLOAD)
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, len(payload)))
        edit = data.draw(st.sampled_from(["overwrite", "cut", "insert"]))
        chunk = data.draw(st.binary(min_size=1, max_size=8))
        if edit == "overwrite":
            payload[at : at + len(chunk)] = chunk
        elif edit == "cut":
            del payload[at : at + len(chunk)]
        else:
            payload[at:at] = chunk
    check_never_raises(bytes(payload))


def test_the_specs_examples_are_valid_records() -> None:
    """Every JSON example in docs/wire-json.md decodes, so the spec cannot drift from the code."""
    spec = (Path(__file__).parent.parent / "docs" / "wire-json.md").read_text("utf-8")
    examples = re.findall(r"```json\n(.*?)```", spec, re.DOTALL)
    assert len(examples) == 2
    for example in examples:
        payload = json.dumps(json.loads(example), separators=(",", ":")).encode()
        fields = wire.decode_json(payload)
        assert fields is not None
        assert wire.record_from_json(fields).getMessage() == json.loads(example)["message"]


def test_json_topic_takes_a_subtopic_given_as_data() -> None:
    """extra={"topic": ...} names the subtopic in JSON mode too, as in text mode."""
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hi", None, None)
    record.topic = "db.pool"
    publisher = wire.new_publisher_id()
    json_topic, payload = wire.encode_json(record, None, "app", publisher=publisher, seq=0)
    text_topic, _ = wire.encode_text(record, logging.Formatter(), "app")
    assert json_topic == text_topic == b"app.INFO.db.pool"
    fields = wire.decode_json(payload)
    assert fields is not None
    assert fields["extra"]["topic"] == "db.pool"


def _typical_records() -> list[logging.LogRecord]:
    try:
        raise ValueError("boom")
    except ValueError:
        exc = sys.exc_info()
    made = [
        logging.LogRecord("svc", logging.INFO, __file__, 3, "plain ☃", None, None, "f"),
        logging.LogRecord("svc", logging.WARNING, __file__, 4, "n=%d %s", (1, "x"), None),
        logging.LogRecord("svc", logging.ERROR, __file__, 5, "failed", None, exc, "g"),
        logging.LogRecord("svc", 25, __file__, 6, "lone \udc80 surrogate", None, None),
    ]
    made[0].user = {"id": 7, "tags": ["a", "b"]}
    made[1].stack_info = "Stack (most recent call last):\n  here"
    return made


@pytest.mark.parametrize("index", range(4))
def test_fast_and_general_json_encoders_write_the_same_bytes(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shortcut for records of the usual shape changes speed, never bytes."""
    record = _typical_records()[index]
    publisher = wire.new_publisher_id()
    assert wire._json._typical_payload(
        record.__dict__, record.getMessage(), None, publisher, 9
    ) is not None or index in (1, 3)  # records 1 and 3 are not of the usual shape
    fast = wire.encode_json(record, None, "r", publisher=publisher, seq=9)
    monkeypatch.setattr(wire._json, "_typical_payload", lambda *args: None)
    general = wire.encode_json(record, None, "r", publisher=publisher, seq=9)
    assert fast == general


def test_a_call_sites_cached_fields_are_not_taken_for_equal_values_of_other_types() -> None:
    """A record whose lineno is True (equal to 1) after one from line 1 is written as
    the careful encoder writes it, not as the cached call site's number."""
    first = make_record("x")
    first.lineno = 1
    wire.encode_json(first, None, publisher=PUBLISHER, seq=0)
    odd = make_record("x")
    odd.lineno = True
    _, payload = wire.encode_json(odd, None, publisher=PUBLISHER, seq=0)
    assert json.loads(payload)["lineno"] is True


def test_the_call_site_cache_is_bounded() -> None:
    """A program that logs from a new line every time does not grow the encoder's memory."""
    for line in range(3 * wire._json._MAX_SITES):
        record = make_record("x")
        record.lineno = line
        _, payload = wire.encode_json(record, None, publisher=PUBLISHER, seq=0)
        assert json.loads(payload)["lineno"] == line
    assert len(wire._json._SITES) <= wire._json._MAX_SITES


class _AddsToTheRecord:
    """An extra whose repr adds attributes to the record it travels on, as another
    handler's thread might while the record is encoded."""

    def __init__(self, record: logging.LogRecord) -> None:
        self.record = record

    def __repr__(self) -> str:
        for n in range(50):
            setattr(self.record, f"late_{n}", n)
        return "<adds>"


@pytest.mark.parametrize("careful", [False, True])
def test_attributes_added_while_encoding_do_not_break_it(careful: bool) -> None:
    """The encoder goes over a copy of the record's attributes, taken in one step."""
    record = make_record("x")
    record.sneaky = _AddsToTheRecord(record)
    if careful:
        record.lineno = True  # not of logging's type: the careful way
    _, payload = wire.encode_json(record, None, publisher=PUBLISHER, seq=0)
    extra = json.loads(payload)["extra"]
    assert extra == {"sneaky": "<adds>"}


def _typical_record(msg: str = "n=%d %s", args: Any = (1, "x")) -> logging.LogRecord:
    return logging.LogRecord("svc", logging.INFO, __file__, 7, msg, args, None, "f")


@pytest.mark.parametrize("formatted", [False, True])
def test_the_drains_typical_writer_writes_what_encode_json_writes(formatted: bool) -> None:
    """The drain's shortcut for typical records changes speed, never bytes; also for a
    record another handler's Formatter has formatted (which adds message and asctime)."""
    writer = wire._json.TypicalWriter(PUBLISHER)
    record = _typical_record()
    if formatted:
        logging.Formatter("%(asctime)s %(message)s").format(record)
    _, expected = wire.encode_json(record, None, publisher=PUBLISHER, seq=11)  # learns the site
    assert writer.payload(record, 11) == expected


@pytest.mark.skipif(sys.version_info < (3, 12), reason="LogRecord has taskName from Python 3.12 on")
def test_the_typical_writer_writes_a_task_name_as_encode_json_does() -> None:
    """A record logged inside an asyncio task carries its name (3.12 on): written in
    the longer of the writer's two layouts, the same bytes."""
    record = _typical_record()
    record.taskName = "Task-7"
    _, expected = wire.encode_json(record, None, publisher=PUBLISHER, seq=4)  # learns the site
    assert json.loads(expected)["taskName"] == "Task-7"
    assert wire._json.TypicalWriter(PUBLISHER).payload(record, 4) == expected


def _with(**attrs: Any) -> logging.LogRecord:
    record = _typical_record()
    record.__dict__.update(attrs)
    return record


@pytest.mark.parametrize(
    "times",
    [
        (1.5e9, 123.0, 4.5),
        (1.7e308, 0.0, 1.7e308),
        (-1.7e308, 999.0, -1.7e308),
        (0.0, -0.0, 5e-324),
    ],
)
def test_the_typical_writer_writes_extreme_times_as_encode_json_does(
    times: tuple[float, float, float],
) -> None:
    """Finite times, however large, small or signed, are written as encode_json writes
    them (or left to it)."""
    record = _with(created=times[0], msecs=times[1], relativeCreated=times[2])
    _, expected = wire.encode_json(record, None, publisher=PUBLISHER, seq=3)
    written = wire._json.TypicalWriter(PUBLISHER).payload(record, 3)
    assert written in (None, expected)
    assert [json.loads(expected)[key] for key in ("created", "msecs", "relativeCreated")] == list(
        times
    )


@pytest.mark.parametrize("attribute", ["msg", "lineno", "created", "exc_text", "threadName"])
def test_the_typical_writer_declines_a_record_missing_a_field(attribute: str) -> None:
    """A record a filter took one of logging's attributes from is left to encode_json."""
    record = _typical_record()
    wire.encode_json(record, None, publisher=PUBLISHER, seq=0)  # the site known
    delattr(record, attribute)
    assert wire._json.TypicalWriter(PUBLISHER).payload(record, 0) is None


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(_with(msg="db::pool %d", args=(1,)), id="a subtopic in the message"),
        pytest.param(_with(exc_text="Traceback..."), id="a traceback"),
        pytest.param(_with(stack_info="Stack..."), id="a stack"),
        pytest.param(_with(lineno=True), id="a field of another type, equal to the site's"),
        pytest.param(_with(created=float("nan")), id="a time JSON cannot hold"),
        pytest.param(_with(msecs=float("inf")), id="an infinite time"),
        pytest.param(_with(relativeCreated=-float("inf")), id="a negative infinite time"),
        pytest.param(_with(msg="lone \udc80", args=None), id="a lone surrogate"),
        pytest.param(_with(lineno=99_999), id="a call site not seen yet"),
    ],
)
def test_the_typical_writer_leaves_every_other_record_to_encode_json(
    record: logging.LogRecord,
) -> None:
    """What is not a typical record from a known site is declined, for the careful way.
    (A record with extras never comes to the writer: the handler queues it wrapped.)"""
    wire.encode_json(_typical_record(), None, publisher=PUBLISHER, seq=0)  # the site known
    assert wire._json.TypicalWriter(PUBLISHER).payload(record, 0) is None

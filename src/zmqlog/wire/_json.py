"""The JSON wire format: one JSON object per message holding the whole record.

The same two frames and the same topic as the text format (:mod:`zmqlog.wire._text`)
carry, as the payload, the record itself: see :func:`encode_json` and the
specification in ``docs/wire-json.md``.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
import secrets
import socket
from collections.abc import Callable, Mapping
from itertools import accumulate
from json.encoder import encode_basestring
from math import isfinite
from operator import itemgetter
from typing import Any, Final, NamedTuple

from ._events import EVENT_KEY, STRUCTLOG_ATTRS, event_message, event_subtopic, exc_info_of
from ._record import (
    BASE_ATTRS,
    UNKNOWN_FILE,
    UNKNOWN_FUNCTION,
    UNKNOWN_ID,
    UNKNOWN_PROCESS,
    UNKNOWN_THREAD,
    build_record,
)
from ._text import TOPIC_DELIM, join_topic

__all__ = [
    "JSON_MARKER",
    "JSON_VERSION",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "PublisherId",
    "check_json_record",
    "decode_json",
    "encode_json",
    "load_json_object",
    "new_publisher_id",
    "record_from_json",
    "snapshot_extras",
]

JSON_MARKER: Final = "zmqlog"
"""The key that marks a JSON payload as a zmqlog record; its value is :data:`JSON_VERSION`."""

JSON_VERSION: Final = 1
"""The version of the JSON record format this module writes and reads."""

MAX_JSON_BYTES: Final = 1 << 20
"""The largest JSON payload the decoder accepts by default (1 MiB)."""

MAX_JSON_DEPTH: Final = 32
"""The deepest nesting of arrays and objects the decoder accepts (the record itself is 1)."""

# A fresh record's attributes (plus those Formatter.format adds, and taskName, which
# Python 3.12 added) are the record's own; everything else on a record is an extra.
_RECORD_ATTRS: Final = BASE_ATTRS | {"message", "asctime", "taskName"}
_BASE_COUNT: Final = len(BASE_ATTRS)

# Values of these exact types are JSON as they are, and cannot change after emit().
_JSON_SCALARS: Final = frozenset({str, int, float, bool, type(None)})

# Containers converted per record before the rest are written as their repr: a
# structure that refers to itself many times must not explode the payload.
_NODE_BUDGET: Final = 10_000


class PublisherId(NamedTuple):
    """Who published a JSON message: a new id per publisher start tells restarts apart."""

    host: str
    """The publishing machine's host name."""
    pid: int
    """The publishing process's id."""
    id: str
    """A random hex string made when the publisher (handler) was created."""


def new_publisher_id() -> PublisherId:
    """Return this process's identity with a fresh random id."""
    return PublisherId(socket.gethostname(), os.getpid(), secrets.token_hex(8))


def _jsonable(value: object, depth: int, budget: list[int]) -> Any:
    """Return *value* as something :func:`json.dumps` writes; anything else as its repr.

    *depth* counts the arrays and objects already open around *value*.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return value if -_INT64 <= value < _INT64 else repr(value)  # type: ignore[operator]
    if kind is float:
        return value if math.isfinite(value) else repr(value)  # type: ignore[arg-type]
    if isinstance(value, (dict, list, tuple)) and depth < MAX_JSON_DEPTH and budget[0] > 0:
        budget[0] -= 1
        depth += 1
        # Texts, small integers, booleans and None are the commonest items: no call for them.
        passed = _PASSED_AS_THEY_ARE
        if isinstance(value, dict):
            return {
                key if type(key) is str else _safe_repr(key): (
                    item
                    if type(item) in passed or (type(item) is int and -_INT64 <= item < _INT64)
                    else _jsonable(item, depth, budget)
                )
                for key, item in value.items()
            }
        return [
            item
            if type(item) in passed or (type(item) is int and -_INT64 <= item < _INT64)
            else _jsonable(item, depth, budget)
            for item in value
        ]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _jsonable(int(value), depth, budget)
    if isinstance(value, float):
        return _jsonable(float(value), depth, budget)
    if isinstance(value, str):
        return str.__str__(value)
    return _safe_repr(value)


# Values of these exact types are JSON as they are, whatever their value.
_PASSED_AS_THEY_ARE: Final = frozenset({str, bool, type(None)})


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__qualname__}>"


def snapshot_extras(record: logging.LogRecord) -> logging.LogRecord:
    """Return *record*, or a copy whose mutable ``extra`` values are frozen as JSON values.

    A handler that encodes later (on another thread) calls this when the record is
    logged, so a dict or an object passed in ``extra`` is published as it was then.
    Records without extras, or whose extras are all str/int/float/bool/None, are
    returned as they are, cheaply.
    """
    attrs = record.__dict__
    # Counting is cheaper than comparing names: a record with no more attributes than a
    # fresh one (plus what another handler's Formatter may have added) has no extras.
    if len(attrs) <= _BASE_COUNT + ("message" in attrs) + ("asctime" in attrs):
        return record
    mutable = [key for key in attrs.keys() - _RECORD_ATTRS if type(attrs[key]) not in _JSON_SCALARS]
    if not mutable:
        return record
    budget = [_NODE_BUDGET]
    changes = {key: _jsonable(attrs[key], 2, budget) for key in mutable}
    if type(record) is logging.LogRecord:
        # What copy.copy does for a LogRecord, without its generic machinery.
        frozen: logging.LogRecord = _new_object(logging.LogRecord)
        frozen.__dict__ = {**attrs, **changes}
    else:
        frozen = copy.copy(record)
        frozen.__dict__.update(changes)
    return frozen


# The record's fields in the order they are written ("message" and "exc_text" are
# computed, not copied).
_STANDARD_FIELDS: Final = (
    "name",
    "levelno",
    "levelname",
    "message",
    "created",
    "msecs",
    "relativeCreated",
    "pathname",
    "filename",
    "module",
    "lineno",
    "funcName",
    "process",
    "processName",
    "thread",
    "threadName",
    "taskName",
    "exc_text",
    "stack_info",
)


def encode_json(
    record: logging.LogRecord,
    formatter: logging.Formatter | None,
    root_topic: str = "",
    *,
    publisher: PublisherId,
    seq: int,
) -> tuple[bytes, bytes]:
    """Return the ``(topic, payload)`` frames of *record* in the JSON wire format.

    The topic is the one :func:`encode_text` makes. The payload is one UTF-8 JSON
    object (specified in ``docs/wire-json.md``): the marker, the publisher and *seq*,
    the record's fields with ``message`` merged from ``msg`` and ``args`` (and any
    subtopic prefix removed, as in the text format), the traceback formatted by
    *formatter* (or a plain ``logging.Formatter``) as ``exc_text``, ``stack_info``,
    and every other attribute of the record under ``extra``. Values JSON cannot hold
    are written as their ``repr``; tuples become arrays, non-string keys their repr.

    A dict message (structlog's event dict) is written as fields: its ``event`` is
    the message (never %-formatted with args), its ``exc_info`` (an exception, an
    exc_info tuple, or true for the exception being handled) the traceback when the
    record has none, and every other key an ``extra`` field, over a record
    attribute of the same name. Its ``topic`` key, if a non-empty string, is the
    subtopic; no ``::`` is looked for in it. The attributes structlog's
    ``wrap_for_formatter`` adds (:data:`STRUCTLOG_ATTRS`) are not written.

    The caller's record is not modified. Raises what ``str(record.msg)`` or merging
    the args raises; a caller that must not fail catches it.
    """
    # One atomic copy: another handler may add attributes while this runs on the loop.
    attrs = record.__dict__.copy()
    msg = attrs.get("msg")
    fields: dict[Any, Any] | None = None
    if type(msg) is not str and isinstance(msg, dict):
        message, subtopic, fields = _event_parts(msg, attrs)
    else:
        subtopic, delim, rest = (msg if type(msg) is str else str(msg)).partition(TOPIC_DELIM)
        if not delim:
            subtopic, rest = "", subtopic
        args = attrs.get("args")
        message = rest % args if args else rest
    if not subtopic:
        extra_topic = attrs.get("topic")  # extra={"topic": ...}, as in encode_text
        if type(extra_topic) is str:
            subtopic = extra_topic
    exc_text = attrs.get("exc_text")
    exc_info = attrs.get("exc_info")
    if exc_info and not exc_text:
        # What Formatter.format does, so an ordinary Formatter renders the rebuilt
        # record's traceback exactly as it would have rendered the original's.
        exc_text = (formatter or _PLAIN_FORMATTER).formatException(exc_info)
    levelname: str = attrs.get("levelname")  # type: ignore[assignment]  # checked below
    text = _typical_payload(attrs, message, exc_text, publisher, seq, fields)
    if text is None:
        text, levelname = _any_payload(attrs, message, exc_text, publisher, seq, fields)
        if type(levelname) is not str:
            levelname = str(levelname)  # as the payload has it
    # A lone surrogate becomes the JSON escape "\udcxx", so the bytes stay UTF-8.
    payload = text.encode("utf-8", "backslashreplace")
    if not subtopic:
        topic = _TOPICS.get((root_topic, levelname))
        if topic is not None:
            return topic, payload
    topic = join_topic(root_topic, levelname, subtopic).encode("utf-8", "replace")
    if not subtopic and len(_TOPICS) < 1024:
        _TOPICS[(root_topic, levelname)] = topic
    return topic, payload


def _event_parts(event: dict[Any, Any], attrs: dict[str, Any]) -> tuple[str, str, dict[Any, Any]]:
    """The message, subtopic and fields of an event dict; its exception goes into *attrs*.

    *attrs* (the record's copied attributes) loses structlog's plumbing and gains the
    event's exception as ``exc_info`` when the record carries none of its own.
    """
    message = event_message(event)
    fields = {key: value for key, value in event.items() if key not in _EVENT_OWN}
    if "exc_info" in event and not (attrs.get("exc_info") or attrs.get("exc_text")):
        attrs["exc_info"] = exc_info_of(event["exc_info"])
    for name in STRUCTLOG_ATTRS:
        attrs.pop(name, None)
    return message, event_subtopic(event), fields


# The keys of an event dict written as fields of their own, not under "extra".
_EVENT_OWN: Final = frozenset({EVENT_KEY, "exc_info"})


# Topic frames of records without a subtopic, by root topic and level name: a
# publisher uses only a few (bounded, in case of one made-up level name per record).
_TOPICS: Final[dict[tuple[str, str], bytes]] = {}

# The encoder json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
# allow_nan=False) makes on every call, made once. Its input is always made by
# _jsonable (fresh, acyclic, at most MAX_JSON_DEPTH deep), so no cycle check is needed.
_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
)

# The standard fields whose types a record made by logging always has, and those types:
# a record of this shape is written by _typical_payload without converting anything.
# (The standard fields but the computed ones and the two written separately.)
_TYPICAL_FIELDS: Final = itemgetter(
    *(f for f in _STANDARD_FIELDS if f not in {"message", "taskName", "exc_text", "stack_info"})
)
_TYPICAL_TYPES: Final = (
    str,
    int,
    str,
    float,
    float,
    float,
    str,
    str,
    str,
    int,
    str,
    int,
    str,
    int,
    str,
)
_STR_OR_NONE: Final = frozenset({str, type(None)})

# The start of a payload, up to and including "seq":, per publisher (bounded).
_ENVELOPES: Final[dict[PublisherId, str]] = {}


def _envelope(publisher: PublisherId) -> str:
    try:
        return _ENVELOPES[publisher]
    except (KeyError, TypeError):  # TypeError: a publisher with unhashable parts
        pass
    ident = {"host": publisher.host, "pid": publisher.pid, "id": publisher.id}
    envelope = f'{{"{JSON_MARKER}":{JSON_VERSION},"publisher":{_ENCODER.encode(ident)},"seq":'
    if len(_ENVELOPES) >= 64:
        _ENVELOPES.clear()
    try:
        _ENVELOPES[publisher] = envelope
    except TypeError:
        pass
    return envelope


def _extra_json(attrs: dict[str, Any], fields: dict[Any, Any] | None = None) -> str:
    """The ``extra`` object: every attribute that is not one of the record's own, then
    an event dict's *fields* (over attributes of the same name)."""
    if fields is None and _RECORD_ATTRS.issuperset(attrs):
        return "{}"
    budget = [_NODE_BUDGET]
    passed = _PASSED_AS_THEY_ARE
    extra = {
        key: value if type(value) in passed else _jsonable(value, 2, budget)
        for key, value in attrs.items()
        if key not in _RECORD_ATTRS
    }
    if fields:
        extra.update(_event_fields(fields, budget))
    return _ENCODER.encode(extra)


def _event_fields(fields: dict[Any, Any], budget: list[int]) -> dict[str, Any]:
    """An event dict's *fields* as JSON values, a key that is not a str as its repr."""
    return {
        key if type(key) is str else _safe_repr(key): _jsonable(value, 2, budget)
        for key, value in fields.items()
    }


def _typical_payload(
    attrs: dict[str, Any],
    message: str,
    exc_text: object,
    publisher: PublisherId,
    seq: int,
    fields: dict[Any, Any] | None = None,
) -> str | None:
    """The payload text of a record whose fields have the types logging gives them, or None.

    Writes exactly what :func:`_any_payload` writes for such a record, field by field,
    without building the object first; None sends the record the careful way.
    """
    try:
        values = _TYPICAL_FIELDS(attrs)
    except KeyError:
        return None
    if tuple(map(type, values)) != _TYPICAL_TYPES or type(seq) is not int:
        return None
    (name, levelno, levelname, created, msecs, relative, pathname, filename, module, lineno,
     func_name, process, process_name, thread, thread_name) = values  # fmt: skip
    task_name = attrs.get("taskName")
    stack_info = attrs.get("stack_info")
    if not (
        -_INT64 <= levelno < _INT64
        and -_INT64 <= lineno < _INT64
        and -_INT64 <= process < _INT64
        and -_INT64 <= thread < _INT64
        and isfinite(created)
        and isfinite(msecs)
        and isfinite(relative)
        and _STR_OR_NONE.issuperset((type(task_name), type(exc_text), type(stack_info)))
    ):
        return None
    q = encode_basestring
    return (
        f"{_envelope(publisher)}{seq},"
        f'"name":{q(name)},"levelno":{levelno},"levelname":{q(levelname)},'
        f'"message":{q(message)},"created":{created!r},"msecs":{msecs!r},'
        f'"relativeCreated":{relative!r},"pathname":{q(pathname)},'
        f'"filename":{q(filename)},"module":{q(module)},"lineno":{lineno},'
        f'"funcName":{q(func_name)},"process":{process},"processName":{q(process_name)},'
        f'"thread":{thread},"threadName":{q(thread_name)},'
        f'"taskName":{"null" if task_name is None else q(task_name)},'
        f'"exc_text":{"null" if exc_text is None else q(exc_text)},'  # type: ignore[arg-type]
        f'"stack_info":{"null" if stack_info is None else q(stack_info)},'
        f'"extra":{_extra_json(attrs, fields)}}}'
    )


def _any_payload(
    attrs: dict[str, Any],
    message: str,
    exc_text: object,
    publisher: PublisherId,
    seq: int,
    fields: dict[Any, Any] | None = None,
) -> tuple[str, Any]:
    """The payload text of any record, each field converted by :func:`_jsonable`, and
    the level name as written in it."""
    budget = [_NODE_BUDGET]
    obj: dict[str, Any] = {
        JSON_MARKER: JSON_VERSION,
        "publisher": {"host": publisher.host, "pid": publisher.pid, "id": publisher.id},
        "seq": seq,
    }
    for key in _STANDARD_FIELDS:
        if key == "message":
            obj[key] = message
        elif key == "exc_text":
            obj[key] = _jsonable(exc_text, 1, budget)
        else:
            obj[key] = _jsonable(attrs.get(key), 1, budget)
    obj["extra"] = {
        key: _jsonable(value, 2, budget) for key, value in attrs.items() if key not in _RECORD_ATTRS
    }
    if fields:
        obj["extra"].update(_event_fields(fields, budget))
    return _ENCODER.encode(obj), obj["levelname"]


_PLAIN_FORMATTER: Final = logging.Formatter()

# JSON strings, to be ignored when the nesting depth is measured. An unterminated one
# runs to the end: a parser stops there anyway, and a pattern that could fail would be
# retried from every later quote, which is quadratic on hostile input.
_JSON_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP: Final = [0] * 256
for _byte in b"[{":
    _DEPTH_STEP[_byte] = 1
for _byte in b"]}":
    _DEPTH_STEP[_byte] = -1
del _byte


def _nesting_depth(payload: bytes) -> int:
    if payload.count(b"[") + payload.count(b"{") <= MAX_JSON_DEPTH:
        return 0  # too few brackets to nest too deeply, whatever they are
    brackets = _JSON_STRING.sub(b"", payload).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _parse_int(text: str) -> int:
    # Longer digit strings cannot be 64-bit integers, and converting them costs
    # quadratic time on Pythons without int_max_str_digits.
    if len(text) > 20:
        raise ValueError("integer too long")
    number = int(text)
    if not -_INT64 <= number < _INT64:
        raise ValueError("integer beyond 64 bits")
    return number


def _parse_float(text: str) -> float:
    number = float(text)
    if not isfinite(number):
        raise ValueError("number too large")  # 1e999 parses as infinity
    return number


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


# The pre-parse checks read one translation of the payload: digits and "+" become
# "0", "[" and "{" become "[", "e" and "E" become "e". Few opening brackets cannot nest
# too deeply, so only a payload with more is scanned for its depth. The careful parser
# (a Python call per number) is needed only where a number could break the spec's
# bounds: an integer beyond 64 bits has at least 19 digits, and a float beyond the
# finite range (1.8e308) has either a run of 19 digits or an exponent of three digits
# ("1e300" and "1e+300" both read "0e000"; so does "1e+30", a rare false alarm). A
# payload with neither (inside strings or not) is parsed at C speed.
def _marks_table() -> bytes:
    table = bytearray(b" " * 256)
    table[ord("0") : ord("9") + 1] = b"0" * 10
    table[ord("+")] = ord("0")
    table[ord("[")] = table[ord("{")] = ord("[")
    table[ord("e")] = table[ord("E")] = ord("e")
    return bytes(table)


_MARKS: Final = _marks_table()
_LONG_DIGIT_RUN: Final = b"0" * 19
_LONG_EXPONENT: Final = b"0e000"
_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
_CAREFUL_DECODER: Final = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
)
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once  # type: ignore[attr-defined]


def load_json_object(payload: bytes, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any] | None:
    """Parse *payload* as one JSON object; return None for anything else. Never raises.

    None comes back for payloads over *max_bytes*, nested deeper than
    :data:`MAX_JSON_DEPTH` (checked before parsing, so hostile input cannot exhaust
    the stack), not UTF-8, not JSON, JSON that is not an object, or JSON holding,
    anywhere, a number the specification excludes: an integer beyond signed 64 bits
    or a number beyond the finite range (``1e999``, ``NaN``, ``Infinity``).
    """
    if len(payload) > max_bytes:
        return None
    try:
        marks = payload.translate(_MARKS)
        if marks.count(b"[") > MAX_JSON_DEPTH and _nesting_depth(payload) > MAX_JSON_DEPTH:
            return None
        text = payload.decode("utf-8")
        if _LONG_DIGIT_RUN in marks or _LONG_EXPONENT in marks:
            obj = _CAREFUL_DECODER.decode(text)
        else:
            try:
                # What decode() does, minus its whitespace handling: a payload is
                # exactly one object, as zmqlog writes it.
                obj, end = _SCAN(text, 0)
            except StopIteration:
                end = -1
            if end != len(text):
                obj = _DECODER.decode(text)  # leading or trailing whitespace, or an error
    except (ValueError, RecursionError, MemoryError):
        return None  # UnicodeDecodeError and json.JSONDecodeError are ValueErrors
    return obj if type(obj) is dict else None


_INT64: Final = 1 << 63
_MAX_HOST: Final = 255  # the longest DNS name
_MAX_ID: Final = 64
# The range of `created` accepted: 1970 to the year 3000, where every platform's
# time functions (and so Formatter.formatTime) work.
_MAX_CREATED: Final = 32_503_680_000.0

_OPTIONAL_STR_FIELDS: Final = (
    "pathname",
    "filename",
    "module",
    "funcName",
    "processName",
    "threadName",
    "taskName",
    "exc_text",
    "stack_info",
    "topic",
)


def _optional_float(value: object) -> float | bool | None:
    """*value* as a float, None if absent; False if it is not a finite number."""
    if value is None:
        return None
    kind = type(value)
    if kind is float:
        return value if isfinite(value) else False  # type: ignore[arg-type,return-value]
    if kind is int:
        return float(value)  # type: ignore[arg-type]  # ints are bounded by the parser
    return False


def check_json_record(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the checked fields of a decoded JSON record, or None if it is not valid.

    Only the fields of the specification are taken, each with its type checked: a
    wrong type, a missing required field or an unknown :data:`JSON_MARKER` version
    makes the whole message invalid. Optional fields that are absent or null become
    None ("not known"; :func:`record_from_json` fills in what a formatter needs),
    except ``msecs``, derived from ``created``; ``extra`` becomes a dict.
    ``publisher`` becomes a :class:`PublisherId` and ``seq`` an int, or both None
    when the message carries no valid pair. ``topic`` (written in single-frame
    messages, where a reader checks it against the frame's prefix) is a str or None.
    Never raises.

    The bounds on numbers elsewhere in the payload (finite, 64-bit integers) are
    enforced by :func:`load_json_object` while parsing; an *obj* from another parser
    has its fields checked here, not the values inside ``extra``.
    """
    get = obj.get
    version = get(JSON_MARKER)
    if type(version) is not int or version != JSON_VERSION:
        return None
    name, levelno, levelname, message = (
        get("name"),
        get("levelno"),
        get("levelname"),
        get("message"),
    )
    if type(name) is not str or type(levelname) is not str or type(message) is not str:
        return None
    if type(levelno) is not int or not -_INT64 <= levelno < _INT64:
        return None
    created = get("created")
    if type(created) is not float:
        created = _optional_float(created)
        if created is None or created is False:
            return None
    if not 0.0 <= created <= _MAX_CREATED:  # False for NaN too
        return None
    texts = tuple(map(get, _OPTIONAL_STR_FIELDS))
    if not _STR_OR_NONE.issuperset(map(type, texts)):
        return None
    lineno, process, thread = get("lineno"), get("process"), get("thread")
    if lineno is not None and (type(lineno) is not int or not -_INT64 <= lineno < _INT64):
        return None
    if process is not None and (type(process) is not int or not -_INT64 <= process < _INT64):
        return None
    if thread is not None and (type(thread) is not int or not -_INT64 <= thread < _INT64):
        return None
    msecs, relative = get("msecs"), get("relativeCreated")
    if type(msecs) is not float or not isfinite(msecs):
        msecs = _optional_float(msecs)
        if msecs is False:
            return None
    if type(relative) is not float or not isfinite(relative):
        relative = _optional_float(relative)
        if relative is False:
            return None
    if msecs is None or not 0.0 <= msecs < 1000.0:
        msecs = float(int((created - int(created)) * 1000))
    extra = get("extra")
    if extra is None:
        extra = {}
    elif type(extra) is not dict:
        return None
    publisher, seq = get("publisher"), get("seq")
    if publisher is not None or seq is not None:
        if type(publisher) is not dict or type(seq) is not int or not 0 <= seq < _INT64:
            return None
        host, pid, ident = publisher.get("host"), publisher.get("pid"), publisher.get("id")
        if type(host) is not str or type(pid) is not int or type(ident) is not str:
            return None
        if not -_INT64 <= pid < _INT64:
            return None
        if len(host) > _MAX_HOST or len(ident) > _MAX_ID:
            return None  # subscribers remember identities: keep each one small
        publisher = _new_tuple(PublisherId, (host, pid, ident))  # PublisherId(), minus a call
    (pathname, filename, module, func_name, process_name, thread_name, task_name, exc_text, stack,
     topic) = texts  # fmt: skip
    return {
        "version": version,
        "name": name,
        "levelno": levelno,
        "levelname": levelname,
        "message": message,
        "created": created,
        "msecs": msecs,
        "relativeCreated": relative,
        "pathname": pathname,
        "filename": filename,
        "module": module,
        "lineno": lineno,
        "funcName": func_name,
        "process": process,
        "processName": process_name,
        "thread": thread,
        "threadName": thread_name,
        "taskName": task_name,
        "exc_text": exc_text,
        "stack_info": stack,
        "extra": extra,
        "publisher": publisher,
        "seq": seq,
        "topic": topic,
    }


def decode_json(payload: bytes, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any] | None:
    """Return the checked fields of a JSON record payload, or None. Never raises.

    :func:`load_json_object` then :func:`check_json_record`; pass the result to
    :func:`record_from_json` for a ``logging.LogRecord``.
    """
    obj = load_json_object(payload, max_bytes)
    return None if obj is None else check_json_record(obj)


def record_from_json(fields: Mapping[str, Any]) -> logging.LogRecord:
    """Rebuild a ``logging.LogRecord`` from :func:`decode_json`'s fields.

    An ordinary ``logging.Formatter`` renders the result exactly as it rendered the
    original: ``msg`` is the merged message and ``args`` is None (so a ``%`` in the
    text is never interpreted again), ``exc_info`` is None and ``exc_text`` holds the
    traceback, ``stack_info`` the stack. Extra fields become attributes, except those
    whose names belong to ``LogRecord`` itself (``msg``, ``getMessage``,
    ``__class__``, ...): they are left out of the record, and stay readable in
    ``fields["extra"]``.

    A field the message does not carry gets a value a formatter can render, of the
    type ``logging`` gives it (see ``docs/wire-json.md``): ``"(unknown file)"`` for
    the paths, line 0, ``"(unknown function)"``, 0 for the process and thread ids,
    ``"(unknown process)"`` and ``"(unknown thread)"`` for their names, 0.0 for
    ``relativeCreated``; ``taskName``, ``exc_text`` and ``stack_info`` stay None, as
    ``logging`` has them for a record logged outside a task, without a traceback.
    """
    pathname, filename, module = fields["pathname"], fields["filename"], fields["module"]
    lineno, func_name, relative = fields["lineno"], fields["funcName"], fields["relativeCreated"]
    process, process_name = fields["process"], fields["processName"]
    thread, thread_name = fields["thread"], fields["threadName"]
    attrs = {
        "name": fields["name"],
        "msg": fields["message"],
        "args": None,
        "levelname": fields["levelname"],
        "levelno": fields["levelno"],
        "pathname": UNKNOWN_FILE if pathname is None else pathname,
        "filename": UNKNOWN_FILE if filename is None else filename,
        "module": UNKNOWN_FILE if module is None else module,
        "exc_info": None,
        "exc_text": fields["exc_text"],
        "stack_info": fields["stack_info"],
        "lineno": 0 if lineno is None else lineno,
        "funcName": UNKNOWN_FUNCTION if func_name is None else func_name,
        "created": fields["created"],
        "msecs": fields["msecs"],
        "relativeCreated": 0.0 if relative is None else relative,
        "thread": UNKNOWN_ID if thread is None else thread,
        "threadName": UNKNOWN_THREAD if thread_name is None else thread_name,
        "processName": UNKNOWN_PROCESS if process_name is None else process_name,
        "process": UNKNOWN_ID if process is None else process,
        "taskName": fields["taskName"],
    }
    extra: Mapping[str, Any] = fields["extra"]
    if extra:
        attrs.update(
            {
                key: value
                for key, value in extra.items()
                if key not in _RECORD_ATTRS and not hasattr(logging.LogRecord, key)
            }
        )
    return build_record(attrs)


_new_object: Final = object.__new__
_new_tuple: Final = tuple.__new__

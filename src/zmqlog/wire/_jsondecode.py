"""The JSON wire format, reading: a payload back to checked fields and to a LogRecord.

Every byte is the peer's: :func:`load_json_object` bounds size, nesting and numbers
before and while parsing, :func:`check_json_record` the type of each field the
specification (``docs/wire-json.md``) defines. Writing is :mod:`zmqlog.wire._json`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from itertools import accumulate
from math import isfinite
from typing import Any, Final

from ._json import (
    _INT64,
    _RECORD_ATTRS,
    _STR_OR_NONE,
    JSON_MARKER,
    JSON_VERSION,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    PublisherId,
)
from ._record import (
    UNKNOWN_FILE,
    UNKNOWN_FUNCTION,
    UNKNOWN_ID,
    UNKNOWN_PROCESS,
    UNKNOWN_THREAD,
    build_record,
)

__all__ = ["check_json_record", "decode_json", "load_json_object", "record_from_json"]

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


_new_tuple: Final = tuple.__new__

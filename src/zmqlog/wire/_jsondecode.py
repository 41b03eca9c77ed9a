"""The JSON wire format, reading: a payload back to checked fields and to a LogRecord.

Every byte is the peer's. One validator serves every path: :class:`JsonRecord`, a
``msgspec.Struct`` whose field types and bounds are those of the specification
(``docs/wire-json.md``), checked by msgspec while it parses. What a typed decode cannot
see is bounded around it:

* msgspec skips keys it does not know without checking their numbers, reads integers
  beyond 64 bits inside ``extra`` (typed ``Any``) as Python ints, and nests up to the
  interpreter's recursion limit, where the specification stops at 64-bit integers and
  :data:`MAX_JSON_DEPTH` everywhere;
* msgspec refuses lone surrogate escapes (``"\\udc80"``), which our encoder and the
  stdlib ``json`` module both write for text that is not valid Unicode.

So the fast path (:func:`read_record`) decodes with a strict twin of the Struct that
refuses unknown keys and takes only scalars in ``extra``: when it succeeds, every value
in the payload was typed and bounded by msgspec, and nothing is left to check. A
record whose ``extra`` holds structures is decoded once more after the byte-level
checks below (which see every byte, so a key given twice hides nothing). Any other
payload takes the careful path, :func:`load_json_object` (byte-level
pre-checks, then msgspec, or the stdlib parser with bounded number hooks for the rare
payload with long digit runs or surrogate escapes) and :func:`check_json_record`
(``msgspec.convert`` into the same Struct). Writing is :mod:`zmqlog.wire._json`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from itertools import accumulate
from math import isfinite
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import msgspec

from . import _record as _record_module
from ._json import (
    _INT64,
    _RECORD_ATTRS,
    _STANDARD_FIELDS,
    JSON_MARKER,
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

__all__ = [
    "STRICT_ERRORS",
    "JsonRecord",
    "check_json_record",
    "decode_json",
    "load_json_object",
    "paired",
    "read_record",
    "read_refused",
    "rebuild_record",
    "record_from_json",
    "strict_record",
]

# -- the validator: the specification's table as types --------------------------------

_MAX_HOST: Final = 255  # the longest DNS name
_MAX_ID: Final = 64
# The range of `created` accepted: 1970 to the year 3000, where every platform's
# time functions (and so Formatter.formatTime) work.
_MAX_CREATED: Final = 32_503_680_000.0
_MAX_FLOAT: Final = 1.7976931348623157e308

_Int64 = Annotated[int, msgspec.Meta(ge=-_INT64, le=_INT64 - 1)]
# Finite: a JSON parser cannot produce NaN or infinity here (msgspec refuses 1e999),
# but an object handed to check_json_record by another parser can.
_Finite = Annotated[float, msgspec.Meta(ge=-_MAX_FLOAT, le=_MAX_FLOAT)]


class _Publisher(msgspec.Struct, frozen=True, gc=False):
    """``publisher``: who sent the message, small enough to be remembered."""

    host: Annotated[str, msgspec.Meta(max_length=_MAX_HOST)]
    pid: _Int64
    id: Annotated[str, msgspec.Meta(max_length=_MAX_ID)]


class _StrictPublisher(_Publisher, frozen=True, gc=False, forbid_unknown_fields=True):
    """``publisher`` with nothing but its three keys: the fast path's."""


def _msecs(record: JsonRecord) -> float:
    msecs, created = record.msecs, record.created
    if msecs is None or not 0.0 <= msecs < 1000.0:
        return float(int((created - int(created)) * 1000))  # as LogRecord computes it
    return msecs


def _extra(record: JsonRecord) -> dict[str, Any]:
    extra = record.extra
    return {} if extra is None else extra


def _publisher(record: JsonRecord) -> PublisherId | None:
    publisher = record.publisher
    if publisher is None:
        return None
    return _new_tuple(PublisherId, (publisher.host, publisher.pid, publisher.id))


# What each key of the checked fields reads, in the order check_json_record has
# always listed them.
_READERS: Final[dict[str, Callable[[JsonRecord], Any]]] = {
    **{
        key: attrgetter(key)
        for key in ("version", *_STANDARD_FIELDS, "extra", "publisher", "seq", "topic")
    },
    "msecs": _msecs,
    "extra": _extra,
    "publisher": _publisher,
}


# To type checkers a Mapping; at run time registered as one (a Struct cannot inherit
# from an ABC: their metaclasses conflict).
if TYPE_CHECKING:
    from collections.abc import Mapping as _MappingBase
else:

    class _MappingBase:
        __slots__ = ()

        def __class_getitem__(cls, params: object) -> type:
            return cls


class JsonRecord(msgspec.Struct, _MappingBase[str, Any], frozen=True, eq=False, kw_only=True):
    """A valid JSON record, as read; also the read-only mapping of its checked fields.

    The attributes are the payload's keys (``version`` is the marker's value), None
    where the message did not say. As a mapping it has the keys and values that
    :func:`check_json_record` returns: ``msecs`` derived from ``created`` when absent
    or out of range, ``extra`` a dict, ``publisher`` a :class:`PublisherId`. A
    subscriber hands it over as ``LogMessage.fields`` without building a dict per
    message. Unknown keys of the payload are ignored.

    The fields are declared in the order zmqlog's encoder writes the keys: msgspec
    looks for each key first at the field after the previous one, so a payload in
    this order is matched with one comparison a key (measured 330 instructions a
    record less than with ``publisher`` and ``seq`` after ``created``). Keyword-only,
    so that required fields may follow optional ones. That ``publisher`` and ``seq``
    come together is checked by each reader (see :func:`read_record`), not in
    ``__post_init__``: msgspec's call of it costs the fast path more than a test.
    """

    version: Literal[1] = msgspec.field(name=JSON_MARKER)
    publisher: _Publisher | None = None
    seq: Annotated[int, msgspec.Meta(ge=0, le=_INT64 - 1)] | None = None
    name: str
    levelno: _Int64
    levelname: str
    message: str
    created: Annotated[float, msgspec.Meta(ge=0.0, le=_MAX_CREATED)]
    msecs: _Finite | None = None
    relativeCreated: _Finite | None = None
    pathname: str | None = None
    filename: str | None = None
    module: str | None = None
    lineno: _Int64 | None = None
    funcName: str | None = None
    process: _Int64 | None = None
    processName: str | None = None
    thread: _Int64 | None = None
    threadName: str | None = None
    taskName: str | None = None
    exc_text: str | None = None
    stack_info: str | None = None
    extra: dict[str, Any] | None = None
    topic: str | None = None

    # -- the read-only mapping (Mapping.register below; a Struct cannot inherit it) --

    def __getitem__(self, key: str) -> Any:
        return _READERS[key](self)

    def __iter__(self) -> Iterator[str]:
        return iter(_READERS)

    def __len__(self) -> int:
        return len(_READERS)

    def __contains__(self, key: object) -> bool:
        return key in _READERS

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping, compared by value

    def get(self, key: str, default: Any = None) -> Any:
        """The value of *key*, or *default* if the fields have no such key."""
        reader = _READERS.get(key)
        return default if reader is None else reader(self)

    def keys(self) -> KeysView[str]:
        """The keys of the checked fields (those of :func:`check_json_record`)."""
        return KeysView(self)

    def items(self) -> ItemsView[str, Any]:
        """``(key, value)`` pairs of the checked fields."""
        return ItemsView(self)

    def values(self) -> ValuesView[Any]:
        """The values of the checked fields."""
        return ValuesView(self)


Mapping.register(JsonRecord)


# An extra value the fast path takes: a scalar, every number bounded by msgspec.
_Scalar = _Int64 | float | str | bool | None


class _StrictRecord(JsonRecord, frozen=True, eq=False, forbid_unknown_fields=True, kw_only=True):
    """:class:`JsonRecord` with nothing msgspec leaves unchecked: the fast path's.

    msgspec skips unknown keys without looking at their numbers, and reads ``Any``
    values (nested to its recursion limit, integers past 64 bits) as they come; so here
    an unknown key is refused, and so is an ``extra`` value that is not a scalar. A
    decode that succeeds has typed and bounded every value in the payload, even that
    of a key given twice (msgspec checks each occurrence, then keeps the last); only
    the pairing of ``publisher`` and ``seq`` is left to its caller (:func:`paired`).
    """

    publisher: _StrictPublisher | None = None
    extra: dict[str, _Scalar] | None = None


class _PairedRecord(JsonRecord, frozen=True, eq=False, kw_only=True):
    """:class:`JsonRecord` that checks, as it is made, that publisher and seq come together.

    The careful paths' type: their cost is in the byte-level checks, not in this call.
    """

    def __post_init__(self) -> None:
        # A message is numbered only together with its publisher's identity.
        if (self.publisher is None) is not (self.seq is None):
            raise ValueError("publisher and seq come together")


class _KnownKeysRecord(
    _PairedRecord, frozen=True, eq=False, forbid_unknown_fields=True, kw_only=True
):
    """:class:`JsonRecord` refusing unknown keys: for a payload whose bytes were checked."""

    publisher: _StrictPublisher | None = None


_STRICT: Final = msgspec.json.Decoder(_StrictRecord).decode
_KNOWN_KEYS: Final = msgspec.json.Decoder(_KnownKeysRecord).decode
_ANY: Final = msgspec.json.Decoder().decode
_convert: Final = msgspec.convert
_MsgspecError: Final = msgspec.MsgspecError

# -- byte-level pre-checks: what no parser should be handed -----------------------------

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


# The pre-parse checks read one translation of the payload: digits and "+" become
# "0", "[" and "{" become "[", "e" and "E" become "e". Few opening brackets cannot nest
# too deeply, so only a payload with more is scanned for its depth. The careful parser
# (a Python call per number) is needed only where a number could break the spec's
# bounds: an integer beyond 64 bits has at least 19 digits, and a float beyond the
# finite range (1.8e308) has either a run of 19 digits or an exponent of three digits
# ("1e300" and "1e+300" both read "0e000"; so does "1e+30", a rare false alarm).
def _marks_table() -> bytes:
    table = bytearray(b" " * 256)
    table[ord("0") : ord("9") + 1] = b"0" * 10
    table[ord("+")] = ord("0")
    table[ord("[")] = table[ord("{")] = ord("[")
    table[ord("e")] = table[ord("E")] = ord("e")
    # A backslash and "u" stay, "d" and "D" become "d": a surrogate escape starts "\\ud".
    table[ord("\\")], table[ord("u")] = ord("\\"), ord("u")
    table[ord("d")] = table[ord("D")] = ord("d")
    return bytes(table)


_MARKS: Final = _marks_table()
_LONG_DIGIT_RUN: Final = b"0" * 19
_LONG_EXPONENT: Final = b"0e000"
_SURROGATE_ESCAPE: Final = b"\\ud"


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


# For the rare payload msgspec must not be given: numbers that need bounds while they
# are parsed, or lone surrogate escapes, which the json module reads as Python does.
_CAREFUL_DECODER: Final = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
)


# What the byte-level checks say of a payload.
_TOO_DEEP: Final = 0  # nested deeper than MAX_JSON_DEPTH: no parser is handed it
_MSGSPEC_MAY_PARSE: Final = 1  # every number within bounds, no surrogate escape
_NEEDS_CARE: Final = 2  # long digit runs or exponents, or surrogate escapes


def _prechecked(payload: bytes) -> int:
    """Read *payload*'s bytes: too deep, safe for msgspec, or for the careful parser."""
    marks = payload.translate(_MARKS)
    if marks.count(b"[") > MAX_JSON_DEPTH and _nesting_depth(payload) > MAX_JSON_DEPTH:
        return _TOO_DEEP
    # A false alarm ("\\ud" as text, "1e+30") only costs the slower parser.
    if _LONG_DIGIT_RUN in marks or _LONG_EXPONENT in marks or _SURROGATE_ESCAPE in marks:
        return _NEEDS_CARE
    return _MSGSPEC_MAY_PARSE


def _parsed(payload: bytes, check: int) -> dict[str, Any] | None:
    """*payload* parsed by the parser *check* (from :func:`_prechecked`) allows."""
    try:
        if check == _MSGSPEC_MAY_PARSE:
            obj = _ANY(payload)
        elif check == _NEEDS_CARE:
            obj = _CAREFUL_DECODER.decode(payload.decode("utf-8"))
        else:
            return None
    except (ValueError, RecursionError, MemoryError, _MsgspecError):
        return None  # UnicodeDecodeError and json.JSONDecodeError are ValueErrors
    return obj if type(obj) is dict else None


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
    return _parsed(payload, _prechecked(payload))


def _checked(obj: dict[str, Any]) -> JsonRecord | None:
    """*obj*, a parsed object with the marker, as a :class:`JsonRecord`; None if invalid."""
    try:
        return _convert(obj, _PairedRecord)
    except (_MsgspecError, TypeError, ValueError, RecursionError):
        return None


def read_record(
    payload: bytes, max_bytes: int = MAX_JSON_BYTES
) -> JsonRecord | Literal[False] | None:
    """Read *payload* as a JSON record: the record, None if invalid, False if no record.

    False means *payload* is not a JSON object with the :data:`JSON_MARKER` key (a
    JSON line from someone else, or not JSON at all, or over the limits); None, that
    it has the marker and is not a valid record. The same answers as
    :func:`load_json_object` then :func:`check_json_record`, faster: a record as
    zmqlog's publisher writes it is read by one typed msgspec decode (two, after the
    byte-level checks, when its ``extra`` holds structures). Never raises.
    """
    if len(payload) > max_bytes:
        return False
    try:
        record = strict_record(payload)
    except STRICT_ERRORS:
        return read_refused(payload)
    return record if paired(record) else None


strict_record: Final[Callable[[bytes], JsonRecord]] = _STRICT
"""The fast path of :func:`read_record`, for a payload within :data:`MAX_JSON_BYTES`:
a record, or one of :data:`STRICT_ERRORS` raised. The record is valid only if
:func:`paired` says so (its publisher and seq come together), a test its caller
makes inline: a subscriber calls this, not :func:`read_record`, a Python call less
per message, and hands a payload it refused over to :func:`read_refused`."""


def paired(record: JsonRecord) -> bool:
    """Whether *record*, from :func:`strict_record`, has a publisher and seq, or neither.

    The one test :func:`strict_record` leaves to its caller (who may write it inline).
    """
    return (record.publisher is None) is (record.seq is None)


STRICT_ERRORS: Final = (_MsgspecError, UnicodeDecodeError, RecursionError, MemoryError)
"""What :func:`strict_record` raises for a payload it does not read: unknown keys,
structures in extra, surrogate escapes, or no valid record. (For bytes that are not
UTF-8, msgspec 0.19 raises UnicodeDecodeError; 0.23 a DecodeError.)"""


def read_refused(payload: bytes) -> JsonRecord | Literal[False] | None:
    """:func:`read_record` of a payload within the size limit that :func:`strict_record` refused."""
    check = _prechecked(payload)
    if check == _MSGSPEC_MAY_PARSE:
        # Every number in the payload is within bounds and it nests no deeper than
        # allowed, so msgspec may read extra as it comes.
        try:
            return _KNOWN_KEYS(payload)
        except STRICT_ERRORS:
            pass  # unknown keys, or no valid record
    obj = _parsed(payload, check)
    if obj is None or JSON_MARKER not in obj:
        return False
    return _checked(obj)


def _fields_dict(record: JsonRecord) -> dict[str, Any]:
    return {key: reader(record) for key, reader in _READERS.items()}


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
    record = _checked(obj if type(obj) is dict else dict(obj))
    return None if record is None else _fields_dict(record)


def decode_json(payload: bytes, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any] | None:
    """Return the checked fields of a JSON record payload, or None. Never raises.

    What :func:`load_json_object` then :func:`check_json_record` return; pass the
    result to :func:`record_from_json` for a ``logging.LogRecord``.
    """
    record = read_record(payload, max_bytes)
    return None if record is None or record is False else _fields_dict(record)


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
    *fields* may also be a :class:`JsonRecord` (a subscriber's ``LogMessage.fields``).
    """
    if isinstance(fields, JsonRecord):
        return rebuild_record(fields)
    return _record_from_fields(fields)


def _record_from_fields(fields: Mapping[str, Any]) -> logging.LogRecord:
    """:func:`record_from_json` read through the mapping: any checked fields."""
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
        attrs.update(_settable(extra))
    return build_record(attrs)


def _settable(extra: Mapping[str, Any]) -> dict[str, Any]:
    """The items of *extra* that may become attributes: not names of ``LogRecord``'s own."""
    return {
        key: value
        for key, value in extra.items()
        if key not in _RECORD_ATTRS and not hasattr(logging.LogRecord, key)
    }


def rebuild_record(record: JsonRecord) -> logging.LogRecord:
    """:func:`record_from_json` for a :class:`JsonRecord`: its attributes, no lookups.

    The attributes are set one by one on a record made without ``LogRecord()``, whose
    work they would all replace. CPython keeps the attributes of a class's instances
    in a layout they share, which a dict built first and assigned as ``__dict__``
    forgoes: setting them measured 0.37 us a record, the dict 1.0 us.
    """
    # Read from its module at each call (a test sets it): on a Python whose records
    # have attributes _record does not know, they are made through LogRecord().
    if not _record_module._REBUILD_IN_PLACE:
        return _record_from_fields(record)
    rebuilt: logging.LogRecord = _new_object(_LogRecord)
    msecs, created = record.msecs, record.created
    if msecs is None or not 0.0 <= msecs < 1000.0:
        msecs = float(int((created - int(created)) * 1000))
    pathname, filename, module = record.pathname, record.filename, record.module
    lineno, func_name, relative = record.lineno, record.funcName, record.relativeCreated
    process, process_name = record.process, record.processName
    thread, thread_name = record.thread, record.threadName
    rebuilt.name = record.name
    rebuilt.msg = record.message
    rebuilt.args = None
    rebuilt.levelname = record.levelname
    rebuilt.levelno = record.levelno
    rebuilt.pathname = UNKNOWN_FILE if pathname is None else pathname
    rebuilt.filename = UNKNOWN_FILE if filename is None else filename
    rebuilt.module = UNKNOWN_FILE if module is None else module
    rebuilt.exc_info = None
    rebuilt.exc_text = record.exc_text
    rebuilt.stack_info = record.stack_info
    rebuilt.lineno = 0 if lineno is None else lineno
    rebuilt.funcName = UNKNOWN_FUNCTION if func_name is None else func_name
    rebuilt.created = created
    rebuilt.msecs = msecs
    rebuilt.relativeCreated = 0.0 if relative is None else relative
    rebuilt.thread = UNKNOWN_ID if thread is None else thread
    rebuilt.threadName = UNKNOWN_THREAD if thread_name is None else thread_name
    rebuilt.processName = UNKNOWN_PROCESS if process_name is None else process_name
    rebuilt.process = UNKNOWN_ID if process is None else process
    rebuilt.taskName = record.taskName
    extra = record.extra
    if extra:
        rebuilt.__dict__.update(_settable(extra))
    return rebuilt


_new_tuple: Final = tuple.__new__
_new_object: Final = object.__new__
_LogRecord: Final = logging.LogRecord

"""The JSON wire format, writing: one JSON object per message holding the whole record.

The same two frames and the same topic as the text format (:mod:`zmqlog.wire._text`)
carry, as the payload, the record itself: see :func:`encode_json` and the
specification in ``docs/wire-json.md``. Reading it back is :mod:`zmqlog.wire._jsondecode`.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import secrets
import socket
from math import isfinite
from operator import itemgetter
from typing import Any, Final, NamedTuple

import msgspec

from ._events import EVENT_KEY, STRUCTLOG_ATTRS, event_message, event_subtopic, exc_info_of
from ._record import (
    BASE_ATTRS,
)
from ._text import TOPIC_DELIM, join_topic

__all__ = [
    "JSON_MARKER",
    "JSON_VERSION",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "PublisherId",
    "TypicalWriter",
    "encode_json",
    "has_extras",
    "new_publisher_id",
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

# JSON integers are signed 64-bit: what every common parser reads without loss.
_INT64: Final = 1 << 63

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
    # Counting is cheaper than comparing names: a record with no more attributes than a
    # fresh one (plus what another handler's Formatter may have added) has no extras.
    if not has_extras(record):
        return record
    attrs = record.__dict__
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


def has_extras(record: logging.LogRecord) -> bool:
    """Whether *record* has attributes beyond logging's own and those a ``Formatter``
    adds (``message``, ``asctime``): what ``extra`` gives it, or a filter sets."""
    attrs = record.__dict__
    return len(attrs) > _BASE_COUNT + ("message" in attrs) + ("asctime" in attrs)


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
    # Read in place, key by key (each read is atomic). Whatever goes over all the
    # attributes works on a copy taken in one step (see _extra, _any_payload): another
    # handler may add attributes meanwhile, on another thread.
    attrs = record.__dict__
    msg = attrs.get("msg")
    fields: dict[Any, Any] | None = None
    if type(msg) is not str and isinstance(msg, dict):
        attrs = attrs.copy()  # changed below: the caller's record is not
        message, subtopic, fields = _event_parts(msg, attrs)
    else:
        rest = msg if type(msg) is str else str(msg)
        subtopic = ""
        if TOPIC_DELIM in rest:
            subtopic, _, rest = rest.partition(TOPIC_DELIM)
        args = attrs.get("args")
        if type(record).getMessage is _GET_MESSAGE:
            message = rest % args if args else rest
        else:
            # A record class of its own (a factory's str.format style, say) merges its
            # own way, as a Formatter would have it do: on a copy without the subtopic.
            merged = copy.copy(record)
            merged.msg = rest
            message = merged.getMessage()
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
    payload = None
    typical = _typical_payload(attrs, message, exc_text, publisher, seq, fields)
    if typical is not None:
        try:
            payload = _ENCODER.encode(typical)
        except UnicodeEncodeError:  # a lone surrogate: written the careful way
            pass
    if payload is None:
        obj = _any_payload(attrs, message, exc_text, publisher, seq, fields)
        payload = _dump(obj)
        levelname = obj["levelname"]
        if type(levelname) is not str:
            levelname = str(levelname)  # as the payload has it
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


# The payload's keys that are not Python-style names.
_RENAMED: Final = {"relative_created": "relativeCreated", "task_name": "taskName"}


class _Payload(msgspec.Struct, gc=False, rename=_RENAMED):
    """The payload object of a typical record, in the order it is written.

    A Struct rather than a dict: msgspec writes its keys from bytes made once, and
    making one takes a single call. Its fields are not type-checked (msgspec does
    not check on construction): :func:`_typical_payload` fills them with values that
    JSON holds as they are. ``name`` and ``pathname`` hold pre-written JSON
    (``msgspec.Raw``) that goes on past their own values, through the fields that
    follow them and are the same for every record of one call site (see
    :func:`_site_json`): msgspec writes a Raw as it is.
    """

    zmqlog: Any
    publisher: Any
    seq: Any
    name: Any  # ... "levelno", "levelname"
    message: Any
    created: Any
    msecs: Any
    relative_created: Any
    pathname: Any  # ... "filename" to "threadName"
    task_name: Any
    exc_text: Any
    stack_info: Any
    extra: Any


# One encoder for every payload, made once. It refuses what it cannot write (any
# type but the plain ones, and text with lone surrogates, which UTF-8 cannot hold),
# but writes, without a word, non-finite floats as null and integers of any size:
# those never reach it (see _typical_payload and _jsonable).
_ENCODER: Final = msgspec.json.Encoder()

# The stdlib's encoder, for text that UTF-8 cannot hold only: it writes a lone
# surrogate as itself, which backslashreplace then turns into the JSON escape.
_SURROGATE_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
)

# The standard fields that are the same for every record of a call site (of one
# logger, thread and process), and the types logging gives them.
_SITE_FIELDS: Final = tuple(
    field
    for field in _STANDARD_FIELDS
    if field
    not in {"message", "created", "msecs", "relativeCreated", "taskName", "exc_text", "stack_info"}
)
_SITE_TYPES: Final = (str, int, str, str, str, str, int, str, int, str, int, str)
_site_of: Final = itemgetter(*_SITE_FIELDS)
_STR_OR_NONE: Final = frozenset({str, type(None)})  # the decoder's check too
_times_of: Final = itemgetter("created", "msecs", "relativeCreated")

# A call site's fields as JSON (see _site_json): from the value of "name" through
# "levelname"; from that of "pathname" through "threadName"; and the same followed by
# the fields that end a record without task, traceback, stack or extra.
_Site = tuple[msgspec.Raw, msgspec.Raw, msgspec.Raw]

# The JSON of call sites' fields, by their values (see _site_json). Bounded: a program
# that logs from a new thread or line each time must not grow it without end.
_SITES: Final[dict[tuple[Any, ...], _Site]] = {}
_MAX_SITES: Final = 1024


def _site_json(site: tuple[Any, ...]) -> _Site | None:
    """The JSON of a call site's *site* fields, from the value of ``name`` through
    ``levelname`` and from that of ``pathname`` through ``threadName``; None if they
    are not of logging's types, or not JSON as they are (a lone surrogate, an integer
    beyond 64 bits)."""
    if tuple(map(type, site)) != _SITE_TYPES:
        return None
    levelno, lineno, process, thread = site[1], site[6], site[8], site[10]
    if not (
        -_INT64 <= levelno < _INT64
        and -_INT64 <= lineno < _INT64
        and -_INT64 <= process < _INT64
        and -_INT64 <= thread < _INT64
    ):
        return None
    try:
        head = _ENCODER.encode(dict(zip(_SITE_FIELDS[:3], site[:3], strict=True)))
        tail = _ENCODER.encode(dict(zip(_SITE_FIELDS[3:], site[3:], strict=True)))
    except UnicodeEncodeError:
        return None
    # The members without the object's braces and the first key: {"name":...} -> ...
    tail = tail[len('{"pathname":') : -1]
    written = (
        msgspec.Raw(head[len('{"name":') : -1]),
        msgspec.Raw(tail),
        msgspec.Raw(tail + _PLAIN_TAIL),
    )
    if len(_SITES) >= _MAX_SITES:
        _SITES.clear()  # bounded: start over rather than stop learning
    _SITES[site] = written
    return written


def _written_site(site: tuple[Any, ...], learn: bool) -> _Site | None:
    """The JSON of the call site whose :data:`_SITE_FIELDS` values are *site* (see
    :func:`_site_json`); None if they are not of logging's types, or if the site is
    new and not to be learnt (*learn* false).

    Sites are looked up by their values: an integer field holding ``True`` or ``1.0``
    (equal to ``1``) is checked for, so it is never taken for another site's ``1``.
    """
    try:
        written = _SITES.get(site)
    except Exception:  # a field unhashable, or comparing with an error
        return None
    if written is None:
        return _site_json(site) if learn else None
    if not (
        type(site[1]) is int
        and type(site[6]) is int
        and type(site[8]) is int
        and type(site[10]) is int
    ):
        return None
    return written


# The publisher object, written once per publisher (bounded).
_PUBLISHERS: Final[dict[PublisherId, msgspec.Raw]] = {}

_EMPTY_OBJECT: Final = msgspec.Raw(b"{}")


def _publisher_json(publisher: PublisherId) -> Any:
    """*publisher* as the JSON object it is written as, remembered for a few publishers."""
    # Looked up by value, so only for the types it is written with: PublisherId("h",
    # True, ...) equals PublisherId("h", 1, ...), and must not be written as it.
    plain = type(publisher.host) is str and type(publisher.pid) is int and type(publisher.id) is str
    if plain:
        known = _PUBLISHERS.get(publisher)
        if known is not None:
            return known
    ident = _publisher_object(publisher, [_NODE_BUDGET])
    try:
        written: Any = msgspec.Raw(_ENCODER.encode(ident))
    except UnicodeEncodeError:
        return ident  # a lone surrogate: the encoder refuses it, and _dump writes it
    if plain:
        if len(_PUBLISHERS) >= 64:
            _PUBLISHERS.clear()
        _PUBLISHERS[publisher] = written
    return written


def _publisher_object(publisher: PublisherId, budget: list[int]) -> dict[str, Any]:
    return {
        "host": _jsonable(publisher.host, 2, budget),
        "pid": _jsonable(publisher.pid, 2, budget),
        "id": _jsonable(publisher.id, 2, budget),
    }


def _extra(
    attrs: dict[str, Any], fields: dict[Any, Any] | None = None, budget: list[int] | None = None
) -> dict[str, Any]:
    """The ``extra`` object: every attribute that is not one of the record's own, then
    an event dict's *fields* (over attributes of the same name), as JSON values, within
    *budget* (a fresh one if None).

    For a record that has extras or fields: the typical payload writes ``{}`` for the
    others.
    """
    if budget is None:
        budget = [_NODE_BUDGET]
    passed = _PASSED_AS_THEY_ARE
    extra = {
        key: value if type(value) in passed else _jsonable(value, 2, budget)
        for key, value in attrs.copy().items()  # copied in one step (see encode_json)
        if key not in _RECORD_ATTRS
    }
    if fields:
        extra.update(_event_fields(fields, budget))
    return extra


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
) -> _Payload | None:
    """The payload of a record whose fields have the types logging gives them, or None.

    Holds exactly what :func:`_any_payload` holds for such a record, without converting
    each field; None sends the record the careful way.
    """
    try:
        site = _site_of(attrs)
    except KeyError:  # a field missing
        return None
    written = _written_site(site, True)
    if written is None:
        return None
    created, msecs, relative = _times_of(attrs)
    task_name = attrs.get("taskName")
    stack_info = attrs.get("stack_info")
    if not (
        type(created) is float
        and type(msecs) is float
        and type(relative) is float
        and isfinite(created)
        and isfinite(msecs)
        and isfinite(relative)
        and type(seq) is int
        and -_INT64 <= seq < _INT64
        and type(message) is str
        and (task_name is None or type(task_name) is str)
        and (exc_text is None or type(exc_text) is str)
        and (stack_info is None or type(stack_info) is str)
    ):
        return None
    return _Payload(
        JSON_VERSION,
        _publisher_json(publisher),
        seq,
        written[0],
        message,
        created,
        msecs,
        relative,
        written[1],
        task_name,
        exc_text,
        stack_info,
        _EMPTY_OBJECT
        if fields is None and _RECORD_ATTRS.issuperset(attrs)
        else _extra(attrs, fields),
    )


class _Typical(msgspec.Struct, gc=False, rename=_RENAMED):
    """The payload :class:`TypicalWriter` writes: :class:`_Payload`'s fields, with more
    of them pre-written. ``zmqlog`` holds the version and the publisher, and ``exc_text``
    the three fields that end a record with no traceback, stack or extra."""

    zmqlog: Any  # ... "publisher"
    seq: Any
    name: Any  # ... "levelno", "levelname"
    message: Any
    created: Any
    msecs: Any
    relative_created: Any
    pathname: Any  # ... "filename" to "threadName"
    task_name: Any
    exc_text: Any  # ... "stack_info", "extra"


_PLAIN_END: Final = msgspec.Raw(b'null,"stack_info":null,"extra":{}')
# The fields after a call site's, for a record without task name too (_site_json).
_PLAIN_TAIL: Final = b',"taskName":null,"exc_text":' + bytes(_PLAIN_END)


class _Plain(msgspec.Struct, gc=False, rename=_RENAMED):
    """:class:`_Typical` for a record without a task name too: ``pathname`` holds the
    site's fields and every field after them (the site's third JSON piece)."""

    zmqlog: Any
    seq: Any
    name: Any
    message: Any
    created: Any
    msecs: Any
    relative_created: Any
    pathname: Any  # ... through "extra"


# Whether this Python's LogRecord sets taskName (3.12 on): where it does not, a record
# that has one has more attributes than a fresh record, so it is not typical.
_HAS_TASK_NAME: Final = "taskName" in BASE_ATTRS


class TypicalWriter:
    """Writes, for one publisher, the payload of a typical record in about half the
    time :func:`encode_json` takes, or says it cannot.

    Typical: a plain ``LogRecord`` without exception, stack or subtopic, its fields of
    the types logging gives them, from a call site the encoder has seen
    (:func:`encode_json` learns each site). The bytes are exactly those
    :func:`encode_json` writes for it; anything else is left to it.

    The record must be a plain ``LogRecord`` (a subclass may merge its message its own
    way, which :func:`encode_json` asks it to do; the drain gives it no other) with no
    attributes but logging's own (``message`` and ``asctime``, which a ``Formatter``
    adds, are allowed): :class:`~zmqlog.AsyncPUBHandler` checks that when the record
    is logged, and queues a record with extras so that it never comes here. The
    writer reads attributes, never ``record.__dict__``: CPython 3.11 on keeps a plain
    instance's attributes without a dict until it is asked for, and building it costs
    more than everything else read here.

    A payload is written into the writer's own buffer, which the next call writes over:
    the drain sends it at once (ZeroMQ copies it), and copies it only to keep it. A
    payload is longer than the 512 bytes CPython's small-object allocator serves, so a
    new ``bytes`` for each would cost a ``malloc`` and a ``free`` besides the encoder's
    reallocations as it grows: measured under callgrind, reusing the buffer saves about
    1,500 instructions a record (of about 81,000 for logging, writing and sending it).
    """

    __slots__ = ("_buffer", "_head")

    def __init__(self, publisher: PublisherId) -> None:
        written = _publisher_json(publisher)
        self._buffer = bytearray()
        # A publisher the encoder cannot write as it is (a lone surrogate) never comes
        # this way.
        self._head: msgspec.Raw | None = (
            msgspec.Raw(b'%d,"publisher":%s' % (JSON_VERSION, bytes(written)))
            if isinstance(written, msgspec.Raw)
            else None
        )

    def payload(self, record: logging.LogRecord, seq: int) -> bytearray | None:
        """The JSON payload of *record* (which has no extras) with sequence number
        *seq*, or None if the record is not typical; valid until the next call."""
        head = self._head
        try:
            # Every attribute of a fresh record is read here or by the drain before it
            # comes here: a record missing one (deleted by a filter) is declined.
            msg = record.msg
            args = record.args
            exc_info = record.exc_info
            levelno, lineno = record.levelno, record.lineno
            process, thread = record.process, record.thread
            site = (
                record.name,
                levelno,
                record.levelname,
                record.pathname,
                record.filename,
                record.module,
                lineno,
                record.funcName,
                process,
                record.processName,
                thread,
                record.threadName,
            )
            created = record.created
            msecs = record.msecs
            relative = record.relativeCreated
            exc_text = record.exc_text
            stack_info = record.stack_info
            task_name = record.taskName if _HAS_TASK_NAME else None  # type: ignore[attr-defined]
            # What _written_site does, without the call.
            written = _SITES.get(site)
        except Exception:  # a field missing, unhashable, or comparing with an error
            return None
        if not (
            written is not None
            and not exc_info  # (None, None, None) too: encode_json formats it
            and type(levelno) is int  # not True or 1.0, equal to a site's 1
            and type(lineno) is int
            and type(process) is int
            and type(thread) is int
            and head is not None
            and type(msg) is str
            and TOPIC_DELIM not in msg
            and type(created) is float
            and type(msecs) is float
            and type(relative) is float
            # All three finite: were one infinite or NaN, so would be their sum, and
            # the sum less itself would be NaN, not 0. (A sum too large for a float
            # is declined too, and written the careful way.)
            and (total := created + msecs + relative) - total == 0.0
            and exc_text is None
            and stack_info is None
            and (task_name is None or type(task_name) is str)
            and type(seq) is int
            and -_INT64 <= seq < _INT64
        ):
            return None
        message = msg % args if args else msg
        buffer = self._buffer
        try:
            if task_name is None:
                _ENCODER.encode_into(
                    _Plain(head, seq, written[0], message, created, msecs, relative, written[2]),
                    buffer,
                )
            else:
                _ENCODER.encode_into(
                    _Typical(
                        head,
                        seq,
                        written[0],
                        message,
                        created,
                        msecs,
                        relative,
                        written[1],
                        task_name,
                        _PLAIN_END,
                    ),
                    buffer,
                )
        except UnicodeEncodeError:  # a lone surrogate: written the careful way
            return None
        return buffer


def _any_payload(
    attrs: dict[str, Any],
    message: str,
    exc_text: object,
    publisher: PublisherId,
    seq: int,
    fields: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """The payload of any record, each field converted by :func:`_jsonable`."""
    attrs = attrs.copy()  # in one step (see encode_json)
    budget = [_NODE_BUDGET]
    obj: dict[str, Any] = {
        JSON_MARKER: JSON_VERSION,
        "publisher": _publisher_object(publisher, budget),
        "seq": _jsonable(seq, 1, budget),
    }
    for key in _STANDARD_FIELDS:
        if key == "message":
            obj[key] = _jsonable(message, 1, budget)
        elif key == "exc_text":
            obj[key] = _jsonable(exc_text, 1, budget)
        else:
            obj[key] = _jsonable(attrs.get(key), 1, budget)
    obj["extra"] = _extra(attrs, fields, budget)
    return obj


def _dump(obj: dict[str, Any]) -> bytes:
    """The UTF-8 JSON text of *obj* (made by :func:`_any_payload`); a lone surrogate as
    the JSON escape ``\\udcxx``, so that the bytes stay UTF-8."""
    try:
        return _ENCODER.encode(obj)
    except UnicodeEncodeError:
        return _SURROGATE_ENCODER.encode(obj).encode("utf-8", "backslashreplace")


_PLAIN_FORMATTER: Final = logging.Formatter()
_GET_MESSAGE: Final = logging.LogRecord.getMessage

_new_object: Final = object.__new__

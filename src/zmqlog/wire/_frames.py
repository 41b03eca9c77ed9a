"""Single-frame messages: the topic and the payload in one ZeroMQ frame.

For peers that read one frame per message (rsyslog's ``imczmq`` makes every frame a
log message of its own), a publisher with ``single_frame=True`` sends each record as
one frame, specified in ``docs/wire-json.md``::

    frame  = prefix ": " payload
    prefix = the topic, each of the bytes  %  :  SP  {  0x00-0x1F  0x7F  written as
             "%" and two upper-case hex digits ("%3A" for ":")

The frame starts with the topic as it is whenever the topic has none of those bytes,
which holds for ordinary topics (``shop.WARNING.payments``), so ZeroMQ's prefix
subscriptions select single frames as they select the two-frame format. A subscriber
subscribes to the escaped form (:func:`escape_topic`) of a prefix that has them.

A JSON payload in a single frame carries its topic as the key ``"topic"``, right after
the marker, equal to the unescaped prefix.

A one-frame message is read by :func:`decode_single_frame`; which frames it takes a
prefix from is part of the specification, because one-frame messages also come from
other programs (rsyslog's ``omczmq``) that write no prefix, or a topic glued to the text.
"""

from __future__ import annotations

import re
from json.encoder import encode_basestring
from typing import Final

from ._json import JSON_MARKER, JSON_VERSION
from ._text import MAX_TOPIC_BYTES

__all__ = [
    "FRAME_SEPARATOR",
    "RECORD_START_BYTES",
    "decode_single_frame",
    "encode_single_frame",
    "escape_topic",
    "frame_head",
    "unescape_prefix",
]

FRAME_SEPARATOR: Final = b": "
"""What ends a single frame's prefix. rsyslog's syslog parser reads ``<prefix>:`` as the
message's tag and leaves the rest (after the space) as its message."""

# The bytes a prefix writes as %XX: the separator's, the escape itself, the opening of
# a JSON object (a frame starting with "{" is a payload without prefix) and controls.
_ESCAPED: Final = re.compile(rb"[%: {\x00-\x1f\x7f]")
# In a prefix, only "%" introducing two hex digits may stand for one of them.
_NOT_IN_PREFIX: Final = re.compile(rb"[: {\x00-\x1f\x7f]|%(?![0-9A-Fa-f]{2})")
_ESCAPE: Final = re.compile(rb"%([0-9A-Fa-f]{2})")

_RECORD_START: Final = f'{{"{JSON_MARKER}":{JSON_VERSION},'.encode()

# A prefix is a topic of at most MAX_TOPIC_BYTES bytes, each written as up to three.
_MAX_PREFIX: Final = 3 * MAX_TOPIC_BYTES


def _escape_one(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match[0][0]


def escape_topic(topic: bytes) -> bytes:
    """*topic* as a single frame's prefix: each byte of ``% : SP {`` and the controls as ``%XX``.

    Escaping works byte by byte, so the escaped form of a topic prefix is a prefix of
    the escaped form of every topic that starts with it: subscribing to
    ``escape_topic(p)`` selects the single frames of the topics that start with ``p``.
    """
    if _ESCAPED.search(topic) is None:
        return topic
    return _ESCAPED.sub(_escape_one, topic)


def unescape_prefix(prefix: bytes) -> bytes | None:
    """The topic a single frame's *prefix* stands for, or None if it is no prefix.

    A prefix holds none of the bytes :func:`escape_topic` escapes, other than ``%``
    followed by two hex digits (either case), and unescapes to UTF-8 of at most
    :data:`MAX_TOPIC_BYTES`. Never raises.
    """
    if len(prefix) > _MAX_PREFIX or _NOT_IN_PREFIX.search(prefix) is not None:
        return None
    topic = _ESCAPE.sub(lambda match: bytes.fromhex(match[1].decode()), prefix)
    if len(topic) > MAX_TOPIC_BYTES:
        return None
    try:
        topic.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return topic


def encode_single_frame(topic: bytes, payload: bytes, *, json: bool = False) -> bytes:
    """The single frame for *topic* and *payload*: ``escape_topic(topic) + b": " + payload``.

    With *json*, the payload is a JSON record (it starts with ``{"zmqlog":1,``, as
    :func:`encode_json` writes it) and gains the key ``"topic"`` right after the marker.

    Raises:
        ValueError: *json* is set and the payload is no such record, or *topic* is
            not UTF-8.
    """
    if json:
        if not payload.startswith(_RECORD_START):
            raise ValueError(f"a JSON record payload starts with {_RECORD_START!r}")
        payload = payload[len(_RECORD_START) :]
    return frame_head(topic, json=json) + payload


def frame_head(topic: bytes, *, json: bool) -> bytes:
    """What precedes the payload in a single frame for *topic*: the prefix and ``": "``,
    and with *json* the start of the record up to its ``"topic"`` member and comma.

    A JSON record's frame is ``frame_head(topic, json=True)`` followed by the record
    :func:`encode_json` wrote, less its first :data:`RECORD_START_BYTES` bytes.

    Raises:
        ValueError: *json* is set and *topic* is not UTF-8.
    """
    head = escape_topic(topic) + FRAME_SEPARATOR
    if not json:
        return head
    member = encode_basestring(topic.decode("utf-8")).encode("utf-8")
    return b"".join((head, _RECORD_START, b'"topic":', member, b","))


RECORD_START_BYTES: Final = len(_RECORD_START)
"""The length of ``{"zmqlog":1,``, with which every record :func:`encode_json` writes starts."""


def decode_single_frame(frame: bytes) -> tuple[bytes | None, bytes]:
    """Split a one-frame message into ``(topic, payload)``; topic None if it has no prefix.

    The first rule that applies:

    1. A frame that starts with ``{`` is a payload without prefix (a JSON object, for
       instance rsyslog's ``omczmq`` with a JSON template and no topic).
    2. A frame whose bytes before the first ``": "`` are a prefix
       (:func:`unescape_prefix`) is that prefix's topic and the payload after it.
    3. Any other frame is a payload without prefix (``omczmq`` without its topic
       frame, or without topics).

    Never raises. What the payload holds (text, or a JSON record whose ``topic`` must
    equal a prefix's topic) is read as in the two-frame format.
    """
    if frame[:1] == b"{":
        return None, frame
    end = frame.find(FRAME_SEPARATOR, 0, _MAX_PREFIX + len(FRAME_SEPARATOR))
    if end < 0:
        return None, frame
    topic = unescape_prefix(frame[:end])
    if topic is None:
        return None, frame
    return topic, frame[end + len(FRAME_SEPARATOR) :]

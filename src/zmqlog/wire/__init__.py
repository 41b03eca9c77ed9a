"""The zmqlog wire format: what crosses the socket, and nothing else.

Every message is two ZeroMQ frames, ``[topic, payload]``, exactly as pyzmq's
``zmq.log.handlers.PUBHandler`` sends them:

* ``topic`` is ``<root_topic>.<LEVELNAME>[.<subtopic>]`` encoded as UTF-8, with no
  leading dot when the root topic is empty (``INFO``, ``myapp.WARNING.db.pool``).
* A subtopic is whatever precedes the first :data:`TOPIC_DELIM` (``"::"``) in
  ``str(record.msg)``; it is removed from the message text. A record without one
  takes its subtopic from a ``topic`` attribute, if it is a non-empty string
  (``log.info("opened", extra={"topic": "db.pool"})``). A dict message
  (structlog's event dict) is data, not markup: its ``topic`` key names the
  subtopic (see ``_events``).
* ``payload`` is the UTF-8 encoding of the record formatted with the formatter for
  its level (:data:`DEFAULT_FORMATS`).

With ``wire_format="json"`` the same two frames and the same topic carry, as the
payload, one JSON object holding the whole record: see :func:`encode_json` and the
specification in ``docs/wire-json.md``.

With ``single_frame=True`` a publisher sends each message as one frame,
``<escaped topic>: <payload>``, for peers that read one frame per message (rsyslog's
``imczmq``): see :func:`encode_single_frame` and :func:`decode_single_frame`.

This package is the contract another implementation (or another language) follows,
so it deliberately imports neither :mod:`zmq` nor :mod:`asyncio`: bytes in, values
out, testable on its own. The text format and the topics live in ``_text``, the JSON
format in ``_json`` (writing) and ``_jsondecode`` (reading), single frames in
``_frames``; this module is their one public face.
"""

from __future__ import annotations

from typing import Literal

from ._frames import (
    FRAME_SEPARATOR,
    decode_single_frame,
    encode_single_frame,
    escape_topic,
    unescape_prefix,
)
from ._json import (
    JSON_MARKER,
    JSON_VERSION,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    PublisherId,
    encode_json,
    new_publisher_id,
    snapshot_extras,
)
from ._jsondecode import check_json_record, decode_json, load_json_object, record_from_json
from ._text import (
    DEFAULT_FORMATS,
    MAX_TOPIC_BYTES,
    TOPIC_DELIM,
    TopicParts,
    default_formatters,
    encode_text,
    join_topic,
    parse_topic,
    record_from_text,
    split_subtopic,
)

__all__ = [
    "DEFAULT_FORMATS",
    "FRAME_SEPARATOR",
    "JSON_MARKER",
    "JSON_VERSION",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_TOPIC_BYTES",
    "TOPIC_DELIM",
    "PublisherId",
    "TopicParts",
    "WireFormat",
    "check_json_record",
    "decode_json",
    "decode_single_frame",
    "default_formatters",
    "encode_json",
    "encode_single_frame",
    "encode_text",
    "escape_topic",
    "join_topic",
    "load_json_object",
    "new_publisher_id",
    "parse_topic",
    "record_from_json",
    "record_from_text",
    "snapshot_extras",
    "split_subtopic",
    "unescape_prefix",
]

WireFormat = Literal["text", "json"]
"""What a publisher sends as the payload: pyzmq's formatted text, or a JSON record."""

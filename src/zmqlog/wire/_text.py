"""pyzmq's text wire format, and the topics both formats share.

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
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Final

from ._events import event_subtopic
from ._record import UNKNOWN_FILE, UNKNOWN_FUNCTION, UNKNOWN_ID, UNKNOWN_PROCESS, UNKNOWN_THREAD

__all__ = [
    "DEFAULT_FORMATS",
    "MAX_TOPIC_BYTES",
    "TOPIC_DELIM",
    "TopicParts",
    "default_formatters",
    "encode_text",
    "join_topic",
    "parse_topic",
    "record_from_text",
    "split_subtopic",
]

TOPIC_DELIM: Final = "::"
"""Separates a subtopic from the message text: ``log.info("db.pool::%d open", n)``."""

MAX_TOPIC_BYTES: Final = 64 << 10
"""The longest topic frame a zmqlog subscriber reads (64 KiB); a longer one is dropped
as invalid, in either format, before anything else is done with it."""

_PLAIN: Final = "%(message)s\n"
_DETAILED: Final = "%(levelname)s %(filename)s:%(lineno)d - %(message)s\n"

DEFAULT_FORMATS: Final[Mapping[int, str]] = {
    logging.DEBUG: _DETAILED,
    logging.INFO: _PLAIN,
    logging.WARNING: _DETAILED,
    logging.ERROR: "%(levelname)s %(filename)s:%(lineno)d - %(message)s - %(exc_info)s\n",
    logging.CRITICAL: _DETAILED,
}
"""The per-level format strings pyzmq's PUBHandler uses; ours are the same so the
payload bytes match."""


def default_formatters() -> dict[int, logging.Formatter | None]:
    """Return a fresh ``{levelno: Formatter}`` dict with pyzmq's default formats."""
    return {level: logging.Formatter(fmt) for level, fmt in DEFAULT_FORMATS.items()}


def split_subtopic(text: str) -> tuple[str, str]:
    """Split ``"sub.topic::message"`` into ``("sub.topic", "message")``.

    Text without :data:`TOPIC_DELIM` has no subtopic: ``("", text)``. Only the first
    delimiter counts; later ones stay in the message.
    """
    subtopic, delim, rest = text.partition(TOPIC_DELIM)
    if not delim:
        return "", text
    return subtopic, rest


def join_topic(root_topic: str, levelname: str, subtopic: str = "") -> str:
    """Build ``<root_topic>.<levelname>[.<subtopic>]``, skipping empty parts."""
    parts = [levelname]
    if root_topic:
        parts.insert(0, root_topic)
    if subtopic:
        parts.append(subtopic)
    return ".".join(parts)


def encode_text(
    record: logging.LogRecord,
    formatter: logging.Formatter,
    root_topic: str = "",
    *,
    owned: bool = False,
) -> tuple[bytes, bytes]:
    """Return the ``(topic, payload)`` frames pyzmq's PUBHandler sends for *record*.

    When ``str(record.msg)`` holds :data:`TOPIC_DELIM`, the text before it becomes the
    subtopic and the record is formatted with the rest as its message. Otherwise a
    non-empty string ``record.topic`` (set with ``extra={"topic": ...}``) is the
    subtopic. A dict message (structlog's event dict) is left to the formatter as it
    is: its ``topic`` key, if a non-empty string, is the subtopic, no ``::`` is
    looked for, and the payload gets a final newline if the formatter wrote none.
    The caller's record is not modified unless *owned* is true (then it is used as
    the scratch copy).

    Raises whatever *formatter* raises; a caller that must not fail catches it.
    """
    msg = record.msg
    event = False
    if type(msg) is not str and isinstance(msg, dict):
        event = True
        subtopic = event_subtopic(msg)
    else:
        subtopic, delim, rest = (msg if type(msg) is str else str(msg)).partition(TOPIC_DELIM)
        if delim:
            if not owned:
                record = copy.copy(record)
            record.msg = rest
        else:
            subtopic = ""
    if not subtopic:
        # A subtopic passed as data keeps the message text free of "::" markup.
        extra_topic = getattr(record, "topic", None)
        if type(extra_topic) is str:
            subtopic = extra_topic
    text = formatter.format(record)
    if event and not text.endswith("\n"):
        # pyzmq's payloads end with a newline; an event's renderer (structlog's)
        # leaves it to the handler, as a StreamHandler's terminator.
        text += "\n"
    payload = text.encode("utf-8", "backslashreplace")
    topic = join_topic(root_topic, record.levelname, subtopic)
    return topic.encode("utf-8", "replace"), payload


class TopicParts(tuple[str, str, str]):
    """A parsed topic: ``(root_topic, level, subtopic)``; each may be empty."""

    __slots__ = ()

    def __new__(cls, root_topic: str, level: str, subtopic: str) -> TopicParts:
        return super().__new__(cls, (root_topic, level, subtopic))

    @property
    def root_topic(self) -> str:
        """Everything before the level component."""
        return self[0]

    @property
    def level(self) -> str:
        """The level name (``"INFO"``, ``"Level 25"``, a custom name)."""
        return self[1]

    @property
    def subtopic(self) -> str:
        """Everything after the level component."""
        return self[2]


# The name logging gives a level without one ("Level 25", "Level -5"): ASCII digits only,
# as logging writes them.
_UNNAMED_LEVEL: Final = r"Level -?[0-9]+"
_CUSTOM_LEVEL: Final = re.compile(_UNNAMED_LEVEL)
# Digits beyond these cannot be a 64-bit level number, and int() of thousands of them
# is refused (int_max_str_digits) or slow.
_MAX_LEVEL_DIGITS: Final = 19
_INT64: Final = 1 << 63


def _known_level_names() -> frozenset[str]:
    mapping = getattr(logging, "getLevelNamesMapping", None)
    # Python 3.10 has no public mapping; a copy, as addLevelName may run meanwhile.
    names = mapping() if mapping is not None else logging._nameToLevel.copy()
    return frozenset(names)


# An unnamed level as the first component, and as a later one (its dot included).
_UNNAMED_FIRST: Final = re.compile(rf"{_UNNAMED_LEVEL}(?=\.|\Z)")
_UNNAMED_LATER: Final = re.compile(rf"\.{_UNNAMED_LEVEL}(?=\.|\Z)")


def _find_level(topic: str, names: frozenset[str]) -> tuple[int, int] | None:
    """The span of the first dot-separated component of *topic* that names a level.

    Every search runs in C over the topic (one ``str.find`` or two per name, one
    regular-expression search for ``"Level N"``), so the time is linear in the topic;
    splitting a topic of millions of dots into components would cost a string object
    per dot. A name holding a dot can never be one component, so it never matches.
    """
    size = len(topic)
    best: tuple[int, int] | None = None
    found = _UNNAMED_FIRST.match(topic)
    if found is not None:
        return found.span()
    for name in names:
        if "." in name:
            continue
        length = len(name)
        if topic.startswith(name) and (size == length or topic[length] == "."):
            return 0, length  # nothing can come earlier
        limit = size if best is None else best[0] + length
        inner = topic.find(f".{name}.", 0, limit)
        if inner >= 0:
            best = inner + 1, inner + 1 + length
        elif best is None and size > length and topic.endswith(f".{name}"):
            best = size - length, size
    found = _UNNAMED_LATER.search(topic, 0, size if best is None else best[0])
    if found is not None:
        return found.start() + 1, found.end()
    return best


def parse_topic(
    topic: str,
    root_topic: str | None = None,
    level_names: frozenset[str] | None = None,
) -> TopicParts:
    """Split a topic string into root topic, level name and subtopic.

    A topic does not say where the root topic ends (a root topic may itself contain
    dots), so the level is found as follows:

    1. If *root_topic* is given and the topic starts with it, the level is the
       component right after it.
    2. Otherwise the first component that is a level name known to :mod:`logging`
       (including names registered with :func:`logging.addLevelName`, and the
       ``"Level N"`` names of unnamed levels) is the level.
    3. Otherwise, like pyzmq's ``python -m zmq.log``, a one-component topic is the
       level, and in a longer one the second component is.

    *level_names* overrides the set of names step 2 recognises. Time and memory are
    linear in the length of *topic*, whatever it holds; it never raises.
    """
    if root_topic:
        prefix = root_topic + "."
        if topic.startswith(prefix):
            level, _, subtopic = topic[len(prefix) :].partition(".")
            return TopicParts(root_topic, level, subtopic)
    names = _known_level_names() if level_names is None else level_names
    span = _find_level(topic, names)
    if span is not None:
        start, end = span
        return TopicParts(topic[: max(start - 1, 0)], topic[start:end], topic[end + 1 :])
    first, dot, rest = topic.partition(".")
    if not dot:
        return TopicParts("", topic, "")
    level, _, subtopic = rest.partition(".")
    return TopicParts(first, level, subtopic)


def _level_number(level: str) -> int:
    """The number of the level named *level*; NOTSET for a name logging does not know."""
    mapping = getattr(logging, "getLevelNamesMapping", None)
    names: Mapping[str, int] = mapping() if mapping is not None else logging._nameToLevel
    number = names.get(level)
    if number is not None:
        return number
    if _CUSTOM_LEVEL.fullmatch(level) and len(level) - 6 - (level[6] == "-") <= _MAX_LEVEL_DIGITS:
        number = int(level[6:])
        if -_INT64 <= number < _INT64:
            return number
    return logging.NOTSET


def record_from_text(text: str, level: str, root_topic: str = "") -> logging.LogRecord:
    """Return a best-effort ``LogRecord`` for a text message. Never raises.

    A text payload is already formatted, so the record holds what can be known: the
    level from the topic (a name :mod:`logging` does not know gives ``NOTSET``, with
    *level* kept as ``levelname``), the text without its final newline as ``msg``
    (never %-formatted again: ``args`` is None), the root topic (or ``"root"``) as the
    logger name, and the current time as ``created``. Where the text came from is
    unknown, and the record says so rather than claiming this process: its fields
    hold the values :func:`record_from_json` gives a record that does not carry them
    (``"(unknown file)"``, line 0, ``"(unknown function)"``, process and thread 0,
    ``"(unknown process)"``, ``"(unknown thread)"``), so every formatter renders it.
    """
    msg = text[:-1] if text.endswith("\n") else text
    name, levelno = root_topic or "root", _level_number(level)
    record = logging.LogRecord(name, levelno, UNKNOWN_FILE, 0, msg, None, None, UNKNOWN_FUNCTION)
    record.__dict__.update(
        levelname=level,
        process=UNKNOWN_ID,
        processName=UNKNOWN_PROCESS,
        thread=UNKNOWN_ID,
        threadName=UNKNOWN_THREAD,
        taskName=None,
    )
    return record

"""What a queued record is: the record as logged, or pinned to the settings it was logged under.

A handler that renders later than it was called must still publish what the call
meant when it was made. A record whose arguments cannot change (str, numbers, dates,
None) is queued as it is. Any other record has its message merged into text right
away (:func:`snapshot`), so that a list mutated after the call changes nothing. And a
record logged while the drain renders with older settings than the handler's current
ones travels with the settings in force at the call (:class:`Pinned`).
"""

from __future__ import annotations

import copy
import datetime
import logging
from typing import Final

from zmqlog._render import RenderSettings
from zmqlog.wire import TOPIC_DELIM

__all__ = [
    "IMMUTABLE_ARG_TYPES",
    "LARGE_TEXT",
    "RECORD_OVERHEAD",
    "TEXT_TYPES",
    "Item",
    "Pinned",
    "charge",
    "has_fixed_text",
    "pin",
    "record_size",
    "snapshot",
]

TEXT_TYPES: Final = frozenset({str, bytes})
"""Argument types whose length counts in a record's size."""

RECORD_OVERHEAD: Final = 600
"""Bytes a queued record costs beyond its texts (595 measured with tracemalloc for
``log.info("request %d handled in %.3f ms", i, x)`` on CPython 3.11)."""

LARGE_TEXT: Final = 256
"""Characters of message and arguments above which a record's bytes are counted one by
one; smaller records are counted as :data:`RECORD_OVERHEAD` each."""

IMMUTABLE_ARG_TYPES: Final = frozenset(
    {
        str,
        int,
        float,
        bool,
        bytes,
        complex,
        type(None),
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
    }
)
"""Argument types whose values cannot change between the logging call and the drain."""


def has_fixed_text(record: logging.LogRecord) -> bool:
    """True if *record*'s message will render the same later as it would now."""
    args = record.args
    return type(record.msg) is str and (
        not args or (type(args) is tuple and all(type(a) in IMMUTABLE_ARG_TYPES for a in args))
    )


def record_size(record: logging.LogRecord) -> int:
    """The bytes *record* is counted as while queued: :data:`RECORD_OVERHEAD`, plus its
    message and its str and bytes arguments (a character counted as one byte)."""
    msg = record.msg
    size = RECORD_OVERHEAD + len(msg) if type(msg) is str else RECORD_OVERHEAD
    args = record.args
    if type(args) is tuple:
        for arg in args:
            if type(arg) in TEXT_TYPES:
                size += len(arg)  # type: ignore[arg-type]
    return size


def snapshot(record: logging.LogRecord) -> logging.LogRecord:
    """Return a copy of *record* whose message is fixed to its text right now.

    The subtopic is split off before the args are merged, exactly as pyzmq does, and
    kept in front of an explicit delimiter so the encoder finds the same split. The
    merge is the record's own ``getMessage()``, so a record factory's style is kept.
    """
    text = str(record.msg)
    subtopic, delim, rest = text.partition(TOPIC_DELIM)
    if not delim:
        subtopic, rest = "", text
    frozen = copy.copy(record)
    frozen.msg = rest
    frozen.msg = f"{subtopic}{TOPIC_DELIM}{frozen.getMessage()}"
    frozen.args = None
    return frozen


class Pinned:
    """A queued record with the settings to render it with.

    *owned* says the record is a copy made by :func:`snapshot`, which the drain may
    modify while rendering it; *size* is the bytes it counts as in the queue; *depth*
    how many records deep it was logged from the drain rendering another record on
    the same thread (by a formatter that logs, or a signal handler that ran meanwhile).
    """

    __slots__ = ("depth", "owned", "record", "settings", "size")

    def __init__(
        self,
        record: logging.LogRecord,
        settings: RenderSettings,
        owned: bool,
        depth: int = 0,
    ) -> None:
        self.record = record
        self.settings = settings
        self.owned = owned
        self.depth = depth
        self.size = record_size(record)


def pin(record: logging.LogRecord, settings: RenderSettings, depth: int = 0) -> Pinned:
    """*record* pinned to *settings*, its message fixed first if it could change."""
    if has_fixed_text(record):
        return Pinned(record, settings, False, depth)
    return Pinned(snapshot(record), settings, True, depth)


Item = logging.LogRecord | Pinned
"""What the queue holds: records as logged, rendered with the drain's current settings,
and pinned ones that say which settings apply. Large records are always pinned, so
that their size travels with them."""


def charge(item: Item) -> int:
    """The bytes *item* adds to the queue's count beyond :data:`RECORD_OVERHEAD`: those
    of a pinned record (the count of small ones is the queue's length)."""
    return item.size if type(item) is Pinned else 0

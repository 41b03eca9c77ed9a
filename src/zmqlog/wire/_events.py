"""Records whose message is a dict: structlog's event dicts, as data rather than text.

structlog's standard-library integration (``ProcessorFormatter.wrap_for_formatter``)
logs its event dict itself as the record's ``msg``, for the formatter to render.
Both wire formats keep it a dict:

* the text format hands it, untouched, to the level's formatter (a
  ``ProcessorFormatter`` renders it); no ``::`` subtopic is looked for in it;
* the JSON format writes it as fields: ``event`` is the message, ``exc_info`` the
  traceback, every other key a field under ``extra``.

Either way a subtopic is the event's ``topic`` key when that is a non-empty string
(``log.info("opened", topic="db.pool")``), else the record's ``topic`` attribute.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

__all__ = [
    "EVENT_KEY",
    "STRUCTLOG_ATTRS",
    "event_message",
    "event_subtopic",
    "exc_info_of",
]

EVENT_KEY: Final = "event"
"""The key of an event dict that holds its message (structlog's name for it)."""

STRUCTLOG_ATTRS: Final = frozenset({"_logger", "_name"})
"""Record attributes ``wrap_for_formatter`` adds for its ``ProcessorFormatter`` (the
structlog logger and the method name): plumbing, not fields, so never published."""

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def event_message(event: Mapping[Any, Any]) -> str:
    """The message of *event*: its ``event`` value as text, ``""`` without one.

    Raises what ``str()`` of that value raises.
    """
    if EVENT_KEY not in event:
        return ""
    message = event[EVENT_KEY]
    return message if type(message) is str else str(message)


def event_subtopic(event: Mapping[Any, Any]) -> str:
    """The subtopic *event* names: its ``topic`` value if a non-empty str, else ``""``."""
    topic = event.get("topic")
    return topic if type(topic) is str else ""


def exc_info_of(value: object) -> ExcInfo | None:
    """The exception an event's ``exc_info`` value means, as structlog reads it.

    An exception is itself (with its traceback), a 3-tuple of type, exception and
    traceback is taken as it is, any other true value means the exception being
    handled now (``sys.exc_info()``, if there is one); a false value means none.
    """
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3:
        kind, exc, tb = value
        if (
            isinstance(kind, type)
            and issubclass(kind, BaseException)
            and isinstance(exc, BaseException)
            and (tb is None or isinstance(tb, TracebackType))
        ):
            return kind, exc, tb
    if value:
        current = sys.exc_info()
        if current[0] is not None:
            return current
    return None

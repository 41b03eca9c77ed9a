"""Records rebuilt from a message: what both formats fill in where a message is silent.

A subscriber hands received messages to ordinary ``logging`` handlers, whose
formatters may name any attribute of a record (``%(process)d``, ``%(funcName)s``,
``{threadName:>10}``). A message does not always say (a text payload never does, a
JSON record from another program may carry only the required fields), so a rebuilt
record gets, for every field the message does not carry, a value of the type
``logging`` gives that field: the values ``logging`` itself uses when it cannot find
the caller (``"(unknown file)"``, line 0, ``"(unknown function)"``), 0 for the process
and thread ids (no real process or Python thread has id 0), and the same
parenthesised words for their names.
"""

from __future__ import annotations

import logging
from typing import Any, Final

__all__ = [
    "BASE_ATTRS",
    "UNKNOWN_FILE",
    "UNKNOWN_FUNCTION",
    "UNKNOWN_ID",
    "UNKNOWN_PROCESS",
    "UNKNOWN_THREAD",
    "build_record",
]

UNKNOWN_FILE: Final = "(unknown file)"
"""``pathname``, ``filename`` and ``module`` of a record whose source is not known
(what ``logging`` sets when it cannot find the caller)."""

UNKNOWN_FUNCTION: Final = "(unknown function)"
"""``funcName`` of a record whose function is not known (as ``logging`` has it)."""

UNKNOWN_ID: Final = 0
"""``process`` and ``thread`` of a record from an unknown process or thread."""

UNKNOWN_PROCESS: Final = "(unknown process)"
"""``processName`` of a record from an unknown process."""

UNKNOWN_THREAD: Final = "(unknown thread)"
"""``threadName`` of a record from an unknown thread."""

BASE_ATTRS: Final = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)
"""The attributes ``LogRecord()`` sets on every record, in this Python."""

# The attributes a rebuilt record is given (every one that LogRecord() sets, checked
# below, as a later Python may add one; then records are made by LogRecord() again).
_REBUILT_ATTRS: Final = frozenset(
    {
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "taskName",
    }
)
_REBUILD_IN_PLACE: Final = BASE_ATTRS <= _REBUILT_ATTRS
_new_object: Final = object.__new__


def build_record(attrs: dict[str, Any]) -> logging.LogRecord:
    """Return a ``LogRecord`` whose attributes are *attrs*, which it takes over.

    *attrs* holds every attribute in ``_REBUILT_ATTRS``. ``LogRecord()`` with these
    values would compute all of them and more (the time, the thread, the process),
    only to have them replaced, so the record is made without it; on a Python whose
    records have attributes this module does not know, ``LogRecord()`` sets those and
    *attrs* the rest.
    """
    if _REBUILD_IN_PLACE:
        record: logging.LogRecord = _new_object(logging.LogRecord)
        record.__dict__ = attrs
        return record
    record = logging.LogRecord(
        attrs["name"],
        attrs["levelno"],
        attrs["pathname"],
        attrs["lineno"],
        attrs["msg"],
        None,
        None,
        attrs["funcName"],
        attrs["stack_info"],
    )
    record.__dict__.update(attrs)
    return record

"""What a queued record is: the record as logged, or pinned to the settings it was logged under.

A handler that renders later than it was called must still publish what the call
meant when it was made. A record whose arguments cannot change (str, numbers, dates,
None) is queued as it is. Any other record has its message merged into text right
away (:func:`snapshot`), so that a list mutated after the call changes nothing; a
record whose message is a dict (structlog's event dict, which its formatter renders)
keeps a frozen copy of the dict instead (:func:`freeze_event`). And a record logged
while the drain renders with older settings than the handler's current ones travels
with the settings in force at the call (:class:`Pinned`).
"""

from __future__ import annotations

import copy
import datetime
import enum
import logging
import pathlib
import sys
from typing import Any, Final

from zmqlog._render import RenderSettings
from zmqlog.wire import MAX_JSON_DEPTH, TOPIC_DELIM
from zmqlog.wire._events import exc_info_of

__all__ = [
    "IMMUTABLE_ARG_TYPES",
    "LARGE_TEXT",
    "RECORD_OVERHEAD",
    "TEXT_TYPES",
    "Item",
    "Pinned",
    "Rendered",
    "WithExtras",
    "charge",
    "freeze_event",
    "has_fixed_text",
    "pin",
    "snapshot",
    "text_size",
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
    """True if *record*'s message will render the same later as it would now: a str,
    with no args or a tuple of immutable ones (an empty list or dict, which a record
    made by hand may carry, can be filled before it is rendered)."""
    args = record.args
    return type(record.msg) is str and (
        args is None or (type(args) is tuple and all(type(a) in IMMUTABLE_ARG_TYPES for a in args))
    )


def text_size(record: logging.LogRecord) -> int:
    """The bytes of *record*'s texts, which a large record counts while queued on top of
    the :data:`RECORD_OVERHEAD` every record counts: its message and its str and bytes
    arguments (a character counted as one byte); for a dict message, its str and bytes
    values."""
    msg = record.msg
    size = len(msg) if type(msg) is str else 0
    if isinstance(msg, dict):
        for value in msg.values():
            if type(value) in TEXT_TYPES:
                size += len(value)
    args = record.args
    if type(args) is tuple:
        for arg in args:
            if type(arg) in TEXT_TYPES:
                size += len(arg)  # type: ignore[arg-type]
    return size


class Rendered:
    """A value frozen as it rendered when it was logged: its ``repr()`` and ``str()``.

    It stands in, in a frozen event dict, for an object that may change later and that
    cannot be copied as it is. Renderers that write values with ``repr`` or ``str``
    (structlog's ``KeyValueRenderer``, ``ConsoleRenderer``, and ``JSONRenderer`` for
    what JSON cannot hold) write the same text for it as for the object at the call.
    """

    __slots__ = ("_repr", "_str")

    def __init__(self, value: object) -> None:
        self._repr = _safely(repr, value)
        # Most classes take str() from repr(): one call is enough.
        self._str = self._repr if type(value).__str__ is object.__str__ else _safely(str, value)

    def __repr__(self) -> str:
        return self._repr

    def __str__(self) -> str:
        return self._str

    def __format__(self, spec: str) -> str:
        return format(self._str, spec)


def _safely(render: Any, value: object) -> str:
    try:
        text = render(value)
    except Exception:
        return f"<unrepresentable {type(value).__qualname__}>"
    return text if type(text) is str else str.__str__(text)


# Values that cannot change once made (or, for exceptions, that the record's
# traceback is made from, as logging keeps them): kept as they are.
_IMMUTABLE: Final = (
    str,
    bytes,
    int,
    float,
    complex,
    type(None),
    datetime.date,
    datetime.time,
    datetime.timedelta,
    enum.Enum,
    pathlib.PurePath,
    range,
    BaseException,
)
# More of them, in modules zmqlog does not import: a value of one exists only once
# its module is imported, so they are looked up when an event is frozen.
_IMMUTABLE_ELSEWHERE: Final = (("decimal", "Decimal"), ("fractions", "Fraction"), ("uuid", "UUID"))


def _immutable_types() -> tuple[type, ...]:
    modules = sys.modules
    found = [getattr(modules.get(module), name, None) for module, name in _IMMUTABLE_ELSEWHERE]
    return _IMMUTABLE + tuple(kind for kind in found if isinstance(kind, type))


# Containers frozen per event before the rest is kept as Rendered: an event that
# refers to one structure many times must not explode.
_NODE_BUDGET: Final = 10_000


class _Freezer:
    """Freezes the values of one event; copies each container once, cycles included."""

    __slots__ = ("budget", "copies", "kept")

    def __init__(self) -> None:
        self.kept = _immutable_types()
        self.budget = _NODE_BUDGET
        # id() of an original container -> its copy. The originals outlive the
        # freezing (the event holds them), so their ids are not reused meanwhile.
        self.copies: dict[int, object] = {}

    def __call__(self, value: object, depth: int) -> object:
        """*value* as it is now, for good: immutable values themselves, the built-in
        containers copied with their items frozen, anything else :class:`Rendered`."""
        if isinstance(value, self.kept):
            return value
        kind = type(value)
        if kind is dict or kind is list or kind is tuple or kind is set or kind is frozenset:
            copied = self.copies.get(id(value))
            if copied is not None:
                return copied  # shared, or a cycle: the copy is shared the same way
            if depth < MAX_JSON_DEPTH and self.budget > 0:
                self.budget -= 1
                return self._copy(value, kind, depth + 1)
        return Rendered(value)

    def _copy(self, value: Any, kind: type, depth: int) -> object:
        copies = self.copies
        if kind is dict:
            # Registered before its items are frozen, so that an item referring back
            # to it gets the copy (and repr() shows the cycle as the original's does).
            copy_: dict[Any, Any] = {}
            copies[id(value)] = copy_
            for key, item in value.items():
                copy_[key] = self(item, depth)
            return copy_
        if kind is list:
            items: list[Any] = []
            copies[id(value)] = items
            items.extend([self(item, depth) for item in value])
            return items
        # Immutable containers are made from their frozen items; one that is part of
        # a cycle is reached again through a list or dict, which is copied once.
        made = kind(self(item, depth) for item in value)
        copies[id(value)] = made
        return made


def freeze_event(event: dict[Any, Any]) -> dict[Any, Any]:
    """A copy of the event dict *event* that later changes to its values cannot reach.

    Values that cannot change are kept (str, numbers, None, dates, UUIDs, enums,
    paths, exceptions); dicts, lists, tuples and sets are copied, their items frozen
    the same way, each copied once however often it is referred to (32 levels and
    10,000 containers at most); anything else, and what lies beyond those bounds,
    becomes :class:`Rendered`, its ``repr()`` and ``str()`` now. An ``exc_info``
    that is true but no exception (structlog's ``exc_info=True``) becomes the
    exception being handled now, as ``logging`` does for its own ``exc_info=True``:
    the formatter runs later, elsewhere.
    """
    freeze = _Freezer()
    kept = freeze.kept
    frozen = {
        key: value if isinstance(value, kept) else freeze(value, 1) for key, value in event.items()
    }
    if "exc_info" in event:
        value = event["exc_info"]
        if value and not isinstance(value, (BaseException, tuple)):
            # With no exception being handled, it stays as logged (and means none).
            value = exc_info_of(value) or value
        frozen["exc_info"] = value  # an exception or a tuple as it is: the traceback
    return frozen


def snapshot(record: logging.LogRecord) -> logging.LogRecord:
    """Return a copy of *record* whose message is fixed to its text right now.

    The subtopic is split off before the args are merged, exactly as pyzmq does, and
    kept in front of an explicit delimiter so the encoder finds the same split. The
    merge is the record's own ``getMessage()``, so a record factory's style is kept.
    A dict message stays a dict, frozen (:func:`freeze_event`), for the formatter.
    """
    msg = record.msg
    if isinstance(msg, dict):
        frozen = copy.copy(record)
        frozen.msg = freeze_event(msg)
        return frozen
    text = str(msg)
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
    modify while rendering it; *size* is the bytes of its texts, which it counts in the
    queue on top of the :data:`RECORD_OVERHEAD` every record counts; *depth*
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
        self.size = text_size(record)


def pin(record: logging.LogRecord, settings: RenderSettings, depth: int = 0) -> Pinned:
    """*record* pinned to *settings*, its message fixed first if it could change."""
    if has_fixed_text(record):
        return Pinned(record, settings, False, depth)
    return Pinned(snapshot(record), settings, True, depth)


class WithExtras:
    """A record of a JSON handler's, queued as logged but for this wrapper, which says
    that it carries attributes of its own (``extra``).

    A bare ``LogRecord`` in a JSON handler's queue has none, checked when it was
    logged, so the drain writes it from its attributes without building its
    ``__dict__``; a wrapped one takes the encoder's careful way, which sends its extras.
    It counts as a bare record does: by the queue's length, not by its bytes.
    """

    __slots__ = ("record",)

    def __init__(self, record: logging.LogRecord) -> None:
        self.record = record


Item = logging.LogRecord | Pinned | WithExtras
"""What the queue holds: records as logged, rendered with the drain's current settings
(in JSON mode, wrapped if they have extras), and pinned ones that say which settings
apply. Large records are always pinned, so that their size travels with them."""


def charge(item: Item) -> int:
    """The bytes *item* adds to the queue's count beyond :data:`RECORD_OVERHEAD`: those
    of a pinned record (the count of small ones is the queue's length)."""
    return item.size if type(item) is Pinned else 0

"""Rendering records into frames: the settings they are rendered with, and the encoder.

``AsyncPUBHandler`` renders records on its drain, later than they were logged. A record
must still come out with the root topic and formatter that were in force when it was
logged, as pyzmq's synchronous handler would send it. Rather than attach both to
every record (a tuple per record on the caller's path), the handler keeps one
immutable :class:`RenderSettings` and replaces it on every change. Records are queued
bare while the drain renders with the current settings, and pinned to the settings
they were logged under from a change until the drain has caught up with it
(:class:`Renderer` holds both: :attr:`~Renderer.current` and :attr:`~Renderer.drained`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from zmqlog.wire import (
    FRAME_SEPARATOR,
    TOPIC_DELIM,
    PublisherId,
    default_formatters,
    encode_json,
    encode_text,
    escape_topic,
    join_topic,
    new_publisher_id,
)
from zmqlog.wire._events import (
    EVENT_KEY,
    STRUCTLOG_ATTRS,
    event_message,
    event_subtopic,
    exc_info_of,
)
from zmqlog.wire._frames import RECORD_START_BYTES, frame_head
from zmqlog.wire._json import TypicalWriter

__all__ = [
    "DEFAULT_FORMATTER",
    "NOT_PLAIN",
    "TRUNCATED_FIELD",
    "Formatters",
    "RenderSettings",
    "Renderer",
    "is_plain",
    "truncate",
]

NOT_PLAIN: Final[tuple[object, bytes]] = (object(), b"")
"""A level whose records the drain must render with their formatter. Its first item
is no record's level name (not even None), so the identity check always fails."""

DEFAULT_FORMATTER: Final = logging.Formatter()
"""The formatter of a level without one, when the handler has none either."""

# JSON single frames' starts kept, by topic.
_HEADS: Final = 1024

# The drain's cache of message templates: how many, and the longest message kept.
_TEMPLATES: Final = 1024
_TEMPLATE_MAX: Final = 512

_TRUNCATED: Final = b"... [zmqlog: truncated %d bytes]\n"

_STANDARD_ATTRS: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def is_plain(fmt: logging.Formatter) -> bool:
    """True for a stock Formatter that renders exactly ``"%(message)s\\n"``."""
    style = getattr(fmt, "_style", None)
    return (
        type(fmt) is logging.Formatter
        and type(style) is logging.PercentStyle
        and getattr(style, "_fmt", None) == "%(message)s\n"
    )


def truncate(payload: bytes, limit: int) -> bytes:
    """Cut *payload* to about *limit* bytes on a UTF-8 boundary, saying how much went."""
    cut = payload[:limit]
    # Back off to the start of a character rather than split a multi-byte sequence.
    for back in range(min(3, len(cut))):
        if cut[len(cut) - 1 - back] & 0xC0 != 0x80:
            if cut[len(cut) - 1 - back] >= 0xC0:
                cut = cut[: len(cut) - 1 - back]
            break
    return cut + _TRUNCATED % (len(payload) - len(cut))


TRUNCATED_FIELD: Final = "zmqlog_truncated"
"""The extra field of a JSON record that was shrunk to fit ``max_payload``: what was cut."""


def _shrunk(record: logging.LogRecord, limit: int) -> logging.LogRecord:
    """A copy of *record* that fits *limit* bytes, saying what it lost.

    Its extras are left out (but for an ``extra={"topic": ...}`` subtopic) and its
    message, traceback and stack are cut; the copy's :data:`TRUNCATED_FIELD` extra
    names the extras dropped and how many characters each text lost.
    """
    msg = record.msg
    own = record.__dict__
    topic = own.get("topic")
    exc_info = record.exc_info
    dropped = [k for k in own if k not in _STANDARD_ATTRS and k != "topic"]
    if type(msg) is not str and isinstance(msg, dict):
        # An event dict: its fields go like extras, its exception and topic stay.
        text = event_message(msg)
        topic = event_subtopic(msg) or topic
        if not exc_info and "exc_info" in msg:
            exc_info = exc_info_of(msg["exc_info"])
        dropped = [k for k in dropped if k not in STRUCTLOG_ATTRS]
        dropped += (str(k) for k in msg if k not in (EVENT_KEY, "exc_info", "topic"))
    else:
        text = str(msg)
        if record.args:
            text = text % record.args
    attrs = {k: v for k, v in own.items() if k in _STANDARD_ATTRS}
    cut: dict[str, object] = {}
    if dropped:
        cut["extra"] = sorted(dropped)[:64]  # names are short, but there may be many
    if type(topic) is str and len(topic) <= 256:
        attrs["topic"] = topic
    share = limit // 4  # characters, up to 4 bytes each in UTF-8, with room for the rest
    marker = "... [zmqlog: truncated]"
    if len(text) > share:
        cut["message"] = len(text) - share
        text = text[:share] + marker
    # An explicit empty subtopic: the event's text holds no "::" markup to look for.
    attrs["msg"] = TOPIC_DELIM + text if isinstance(msg, dict) else text
    attrs["args"] = None
    if exc_info and not attrs.get("exc_text"):
        attrs["exc_text"] = DEFAULT_FORMATTER.formatException(exc_info)
    attrs["exc_info"] = None
    for key in ("exc_text", "stack_info"):
        value = attrs.get(key)
        if isinstance(value, str) and len(value) > share // 2:
            cut[key] = len(value) - share // 2
            attrs[key] = value[: share // 2] + marker
    attrs[TRUNCATED_FIELD] = cut
    return logging.makeLogRecord(attrs)


class RenderSettings:
    """One root topic and one set of per-level formatters, fixed for good.

    The formatter for a level is resolved on first use (levels without one of their own,
    such as 25, take the nearest lower level's), from a copy of the mapping taken here.
    *json* and *single_frame* say which payloads and frames they are for, which decides
    what the drain may render without a formatter (:attr:`fast`).
    """

    __slots__ = (
        "_default",
        "_formatters",
        "_json",
        "_resolved",
        "_single_frame",
        "_stock",
        "fast",
        "root_topic",
    )

    def __init__(
        self,
        root_topic: str,
        formatters: Mapping[int, logging.Formatter | None],
        default: logging.Formatter | None,
        *,
        json: bool = False,
        single_frame: bool = False,
    ) -> None:
        self.root_topic = root_topic
        self._formatters = dict(formatters)
        self._default = default or DEFAULT_FORMATTER
        self._json = json
        self._single_frame = single_frame
        self._resolved: dict[int, logging.Formatter] = {}
        self._stock: dict[int, bool] = {}
        self.fast: dict[int, tuple[object, bytes]] = {}
        """Per level number: ``(levelname, topic frame)`` when the drain may render its
        records without their formatter, else :data:`NOT_PLAIN`. In text mode that is
        when their payload is just their message and a newline (pyzmq's INFO format);
        with single frames the bytes are then what precedes the payload in the frame
        (the escaped topic and the separator). In JSON mode, with two frames, it is
        always: a formatter only renders tracebacks there, and the drain's shortcut
        (:class:`~zmqlog.wire._json.TypicalWriter`) takes no record that has one.
        Filled by :meth:`fast_entry`; only the drain reads it."""

    def formatter_for(self, levelno: int) -> logging.Formatter:
        """The formatter for records of *levelno*."""
        fmt = self._resolved.get(levelno)
        if fmt is None:
            fmt = self._resolve(levelno)
            # Bounded as the other per-level caches: level numbers come from the
            # records, which a relay may take from any publisher.
            if len(self._resolved) < 256:
                self._resolved[levelno] = fmt
        return fmt

    def is_stock(self, levelno: int) -> bool:
        """True if records of *levelno* are rendered by logging's own ``Formatter`` with
        a %-format, which runs none of the application's code (for a record whose
        message and arguments are plain: the drain's records are)."""
        stock = self._stock.get(levelno)
        if stock is None:
            fmt = self.formatter_for(levelno)
            stock = type(fmt) is logging.Formatter and type(fmt._style) is logging.PercentStyle
            if len(self._stock) < 256:
                self._stock[levelno] = stock
        return stock

    def _resolve(self, levelno: int) -> logging.Formatter:
        formatters = self._formatters
        if levelno in formatters:
            fmt = formatters[levelno]
        else:
            lower = [key for key in formatters if key <= levelno]
            if lower:
                fmt = formatters[max(lower)]
            elif formatters:
                fmt = formatters[min(formatters)]
            else:
                fmt = None
        return fmt or self._default

    def fast_entry(self, levelno: int) -> tuple[object, bytes]:
        """Work out and remember :attr:`fast`'s entry for *levelno*.

        The level name kept is the very string object ``logging`` puts on every record of
        that level, so the drain can compare by identity; a record that carries any
        other name (one rebuilt from elsewhere, a renamed level) takes the formatter path.
        """
        levelname = logging.getLevelName(levelno)
        if type(levelname) is str and (
            not self._single_frame if self._json else is_plain(self.formatter_for(levelno))
        ):
            topic = join_topic(self.root_topic, levelname).encode("utf-8", "replace")
            if self._single_frame:
                topic = escape_topic(topic) + FRAME_SEPARATOR
            entry: tuple[object, bytes] = (levelname, topic)
        else:
            entry = NOT_PLAIN
        if len(self.fast) < 256:
            self.fast[levelno] = entry
        return entry


class Formatters(dict[int, "logging.Formatter | None"]):
    """pyzmq's public ``formatters`` dict, telling its handler when it changes."""

    __slots__ = ("_changed",)

    def __init__(
        self, items: dict[int, logging.Formatter | None], changed: Callable[[], None]
    ) -> None:
        super().__init__(items)
        self._changed = changed

    def __setitem__(self, key: int, value: logging.Formatter | None) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: int) -> None:
        super().__delitem__(key)
        self._changed()

    # Every other way to change a dict, so no change goes unseen (even half of one).
    def update(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().update(*args, **kwargs)
        finally:
            self._changed()

    # typeshed types dict's |= through __or__'s overloads; this one only updates in place.
    def __ior__(self, other: Any) -> Formatters:  # type: ignore[override,misc]
        self.update(other)
        return self

    def pop(self, key: int, *default: Any) -> Any:
        if key not in self:
            return super().pop(key, *default)  # the default, or KeyError: nothing changed
        value = super().pop(key)
        self._changed()
        return value

    def popitem(self) -> tuple[int, logging.Formatter | None]:
        item = super().popitem()
        self._changed()
        return item

    def setdefault(self, key: int, default: logging.Formatter | None = None) -> Any:
        if key in self:
            return self[key]
        super().__setitem__(key, default)
        self._changed()
        return default

    def clear(self) -> None:
        super().clear()
        self._changed()


class Renderer:
    """Turns queued records into frames in the handler's wire format.

    It holds the settings the caller's side logs under (:attr:`current`, replaced by
    the handler on every change) and those the drain renders bare records with
    (:attr:`drained`), the drain's message templates, the payload limit, and in JSON
    mode the publisher's identity and the next sequence number. Only the drain, one
    round at a time, calls its methods: :meth:`encode` for ``(topic, payload)``,
    :meth:`encode_frame` for a single frame (``single_frame``).
    """

    __slots__ = (
        "current",
        "drained",
        "heads",
        "json",
        "max_payload",
        "publisher",
        "seq",
        "single_frame",
        "templates",
        "typical",
    )

    def __init__(
        self,
        settings: RenderSettings,
        *,
        json: bool,
        max_payload: int,
        single_frame: bool = False,
    ) -> None:
        self.current = settings
        """The settings records are logged under now."""
        self.drained = settings
        """The settings the drain renders records that were queued bare with."""
        self.json = json
        self.max_payload = max_payload
        self.single_frame = single_frame
        """Each message is one frame, ``<escaped topic>: <payload>``."""
        self.heads: dict[bytes, tuple[bytes, int]] = {}
        """JSON single frames' starts by topic (see :meth:`_head`)."""
        self.publisher: PublisherId = new_publisher_id()
        self.typical = TypicalWriter(self.publisher) if json else None
        """In JSON mode, the drain's writer of typical records' payloads."""
        self.seq = 0
        """The sequence number of the next JSON message ZeroMQ accepts."""
        self.templates: dict[str, str] = {}
        """Message templates (msg + "\\n", or "" when msg holds a subtopic) for the
        drain's direct rendering of pyzmq's INFO format (see :meth:`template`)."""

    def template(self, record: logging.LogRecord) -> str:
        """*record*'s message with pyzmq's INFO newline, or "" if it holds a subtopic.

        Remembered for messages up to _TEMPLATE_MAX characters, _TEMPLATES at most: text
        made at runtime (f-strings) is unique each time, so the cache starts over when
        full rather than hold on to it.
        """
        msg: str = record.msg
        template = "" if TOPIC_DELIM in msg else msg + "\n"
        if len(msg) <= _TEMPLATE_MAX:
            templates = self.templates
            if len(templates) >= _TEMPLATES:
                templates.clear()  # bounded: start over rather than stop learning
            templates[msg] = template
        return template

    def encode(
        self, record: logging.LogRecord, settings: RenderSettings, *, owned: bool
    ) -> tuple[bytes, bytes]:
        """Encode *record* with *settings*, within ``max_payload``.

        A JSON payload carries :attr:`seq` without using it up: the drain calls
        :meth:`accepted` once ZeroMQ took the message.
        """
        fmt, root_topic = settings.formatter_for(record.levelno), settings.root_topic
        limit = self.max_payload
        if not self.json:
            topic, payload = encode_text(record, fmt, root_topic, owned=owned)
            if len(payload) > limit:
                payload = truncate(payload, limit)
            return topic, payload
        publisher, seq = self.publisher, self.seq
        frames = encode_json(record, fmt, root_topic, publisher=publisher, seq=seq)
        if len(frames[1]) > limit:
            # Cutting JSON bytes would make them unreadable: shrink the record instead.
            frames = encode_json(
                _shrunk(record, limit), fmt, root_topic, publisher=publisher, seq=seq
            )
        return frames

    def encode_frame(
        self, record: logging.LogRecord, settings: RenderSettings, *, owned: bool
    ) -> bytes:
        """Encode *record* with *settings* as one frame, its payload within ``max_payload``.

        A JSON payload holds its topic (``"topic"``), counted in the limit, and carries
        :attr:`seq` without using it up, as in :meth:`encode`.
        """
        if not self.json:
            topic, payload = self.encode(record, settings, owned=owned)
            return escape_topic(topic) + FRAME_SEPARATOR + payload
        fmt, root_topic = settings.formatter_for(record.levelno), settings.root_topic
        publisher, seq = self.publisher, self.seq
        topic, payload = encode_json(record, fmt, root_topic, publisher=publisher, seq=seq)
        head, prefix = self._head(topic)
        # The topic key counts in the payload's limit: what the head adds to it.
        added = len(head) - prefix - RECORD_START_BYTES
        if len(payload) + added > self.max_payload:
            shrunk = _shrunk(record, max(self.max_payload - added, 0))
            topic, payload = encode_json(shrunk, fmt, root_topic, publisher=publisher, seq=seq)
            head, prefix = self._head(topic)
        return head + payload[RECORD_START_BYTES:]

    def _head(self, topic: bytes) -> tuple[bytes, int]:
        """A JSON frame's start for *topic* (:func:`~zmqlog.wire._frames.frame_head`)
        and the length of its prefix and separator, remembered for a few topics."""
        known = self.heads.get(topic)
        if known is None:
            head = frame_head(topic, json=True)
            known = head, len(escape_topic(topic)) + len(FRAME_SEPARATOR)
            if len(self.heads) >= _HEADS:
                self.heads.clear()  # bounded: a subtopic per record must not grow it
            self.heads[topic] = known
        return known

    def frames(
        self, record: logging.LogRecord, settings: RenderSettings, *, owned: bool
    ) -> tuple[bytes, ...]:
        """The frames of one message for *record*: ``(topic, payload)``, or one frame."""
        if self.single_frame:
            return (self.encode_frame(record, settings, owned=owned),)
        return self.encode(record, settings, owned=owned)

    def accepted(self) -> None:
        """ZeroMQ took a message encoded by :meth:`encode`: the next one gets a new number."""
        if self.json:
            self.seq += 1

    def drop_report(self, count: int) -> tuple[bytes, ...]:
        """The frames of zmqlog's WARNING that *count* records were lost.

        Rendered like any WARNING record; if the handler's formatter cannot render it
        (one that needs a field only the handler's filters add, say), in pyzmq's
        default WARNING format instead: the report must not be lost with the rest.
        """
        current = self.current
        try:
            return self.frames(_report(count), current, owned=True)
        except Exception:
            plain = _REPORT_SETTINGS.get((current.root_topic, self.single_frame))
            if plain is None:
                if len(_REPORT_SETTINGS) >= 64:
                    _REPORT_SETTINGS.clear()
                plain = _REPORT_SETTINGS[current.root_topic, self.single_frame] = RenderSettings(
                    current.root_topic,
                    default_formatters(),
                    None,
                    single_frame=self.single_frame,
                )
            return self.frames(_report(count), plain, owned=True)


def _report(count: int) -> logging.LogRecord:
    return logging.LogRecord(
        "zmqlog",
        logging.WARNING,
        __file__,
        0,
        "zmqlog::%d log record(s) dropped by this publisher; see its stats",
        (count,),
        None,
    )


# pyzmq's own formats, per root topic (and frame layout), for drop reports the
# handler's formatters refuse.
_REPORT_SETTINGS: dict[tuple[str, bool], RenderSettings] = {}

"""AsyncPUBHandler: a ``logging.Handler`` whose ``emit()`` only enqueues.

The caller's side (``emit``) and the socket's side (the drain task) meet at a
``collections.deque``: ``append`` and ``popleft`` are atomic in CPython, so any thread
may log while the event loop's thread drains. The drain task owns the socket; nothing
else touches it while the task runs.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Literal, NamedTuple, cast, get_args

import zmq
import zmq.asyncio

from zmqlog._aio import events, set_keepalive
from zmqlog._render import DEFAULT_FORMATTER, RenderSettings
from zmqlog._security import AuthorizedKeys, KeyPath, ServerSecurity
from zmqlog.exceptions import ClosedResourceError, UsageError
from zmqlog.wire import (
    TOPIC_DELIM,
    PublisherId,
    WireFormat,
    default_formatters,
    encode_json,
    encode_text,
    new_publisher_id,
    snapshot_extras,
)

__all__ = ["AsyncPUBHandler", "HandlerStats", "Overflow"]

# Records whose args are all of these exact types cannot change between emit() and
# the drain, so their formatting is deferred to the drain task. Anything else (a list,
# a dict, a user object, a non-str msg) is rendered to text inside emit().
_IMMUTABLE_ARG_TYPES: Final = frozenset(
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

# Records sent per drain step before the task yields to the loop: a backlog of
# 100,000 records must not freeze the loop for the whole of its flush.
_BATCH: Final = 1000

# The drain's cache of message templates: how many, and the longest message kept.
_TEMPLATES: Final = 1024
_TEMPLATE_MAX: Final = 512

_LogRecord: Final = logging.LogRecord
_SNDMORE_NOBLOCK: Final = zmq.SNDMORE | zmq.NOBLOCK

# The compiled send under pyzmq's Python wrapper: for a bytes frame the wrapper only
# adds checks we do not need, and costs as much again as the send itself.
_send: Final[Callable[..., Any]] = getattr(zmq.backend, "Socket", zmq.Socket).send


Overflow = Literal["drop_newest", "drop_oldest"]
"""What ``emit()`` does when the queue is full: drop the new record, or the oldest queued."""

_TRUNCATED: Final = b"... [zmqlog: truncated %d bytes]\n"


class HandlerStats(NamedTuple):
    """Counters of an :class:`AsyncPUBHandler` (and its :class:`LogPublisher`)."""

    queued: int
    """Records waiting in the queue now."""
    sent: int
    """Messages handed to ZeroMQ (including zmqlog's own drop reports)."""
    dropped: int
    """Records zmqlog lost: queue full, socket refused past its deadline, logged after
    close or in a forked child, or unsent when the handler closed. ZeroMQ's own drops
    at a subscriber's high-water mark are invisible here (see ``lossless``)."""
    errors: int
    """Records that could not be formatted (reported through ``handleError``)."""


# Handlers alive in this process, so a forked child can disable them: the child has a
# copy of the parent's queue and socket, and must use neither.
_live_handlers: weakref.WeakSet[AsyncPUBHandler] = weakref.WeakSet()


def _disable_in_forked_child() -> None:
    for handler in list(_live_handlers):
        handler._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_disable_in_forked_child)


def _truncate(payload: bytes, limit: int) -> bytes:
    """Cut *payload* to about *limit* bytes on a UTF-8 boundary, saying how much went."""
    cut = payload[:limit]
    # Back off to the start of a character rather than split a multi-byte sequence.
    for back in range(min(3, len(cut))):
        if cut[len(cut) - 1 - back] & 0xC0 != 0x80:
            if cut[len(cut) - 1 - back] >= 0xC0:
                cut = cut[: len(cut) - 1 - back]
            break
    return cut + _TRUNCATED % (len(payload) - len(cut))


_STANDARD_ATTRS: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _shrunk(record: logging.LogRecord, limit: int) -> logging.LogRecord:
    """A copy of *record* without extras and with its texts cut to fit *limit* bytes."""
    text = str(record.msg)
    if record.args:
        text = text % record.args
    attrs = {k: v for k, v in record.__dict__.items() if k in _STANDARD_ATTRS}
    share = limit // 4  # characters, up to 4 bytes each in UTF-8, with room for the rest
    marker = "... [zmqlog: truncated]"
    attrs["msg"] = text[:share] + marker if len(text) > share else text
    attrs["args"] = None
    if record.exc_info and not attrs.get("exc_text"):
        attrs["exc_text"] = DEFAULT_FORMATTER.formatException(record.exc_info)
    attrs["exc_info"] = None
    for key in ("exc_text", "stack_info"):
        value = attrs.get(key)
        if isinstance(value, str) and len(value) > share // 2:
            attrs[key] = value[: share // 2] + marker
    return logging.makeLogRecord(attrs)


class _Formatters(dict[int, "logging.Formatter | None"]):
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
    def __ior__(self, other: Any) -> _Formatters:  # type: ignore[override,misc]
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


def _snapshot(record: logging.LogRecord) -> logging.LogRecord:
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


class _Pinned:
    """A queued record with the settings to render it with: one logged while the drain
    task had not yet adopted the current settings, or a copy made by :func:`_snapshot`
    (*owned*: the drain may modify it)."""

    __slots__ = ("owned", "record", "settings")

    def __init__(self, record: logging.LogRecord, settings: RenderSettings, owned: bool) -> None:
        self.record = record
        self.settings = settings
        self.owned = owned


# What the queue holds: records as logged, to be rendered with the drain task's current
# settings, and pinned ones that say which settings apply.
_Item = logging.LogRecord | _Pinned


class AsyncPUBHandler(logging.Handler):
    """Publish log records on a ZeroMQ PUB/XPUB socket without blocking the caller.

    ``emit()`` hands the record to a queue and returns; a task on the asyncio event
    loop formats the records and sends them as ``[topic, payload]`` frames, byte for
    byte what :class:`zmq.log.handlers.PUBHandler` sends. ``emit()`` may be called from
    any thread, before any loop runs, or after it closed: it never blocks, never
    touches the socket and never raises into the caller.

    Args:
        interface_or_socket: an endpoint to bind (or connect, with ``bind=False``) a new
            XPUB socket to, or an existing PUB/XPUB socket (sync or ``zmq.asyncio``),
            which stays the caller's to close.
        context: the ZeroMQ context for a socket created from an endpoint; by default
            the handler creates one and terminates it on close.
        root_topic: the first component of every topic.
        bind: bind (default) or connect the socket created from an endpoint.
        sndhwm: the send high-water mark of a socket created from an endpoint, in
            messages per subscriber. pyzmq's default of 1,000 drops records in any burst.
        linger: seconds ZeroMQ may keep delivering queued messages after close.
        max_queue: records the queue holds before *overflow* applies; it bounds memory
            when the socket cannot keep up or no loop runs.
        overflow: ``"drop_newest"`` (default: keep the records that led up to a burst,
            usually the cause) or ``"drop_oldest"`` (keep the latest).
        lossless: set ``XPUB_NODROP`` so ZeroMQ refuses instead of silently dropping
            when a subscriber's buffer is full; the drain task then waits up to
            *send_timeout* per message before it counts a drop. One stalled subscriber
            then holds back every subscriber (head-of-line blocking).
        send_timeout: seconds the drain task waits for a refusing socket (lossless mode).
        heartbeat: seconds between ZeroMQ (ZMTP) heartbeats; None (default) disables
            them. They detect a dead peer within three intervals, but they also drop
            a *live* subscriber that stalls that long, with everything queued for it
            (seen in tests/scripts/stalled.py). Dead hosts are detected anyway by TCP
            keepalive, which zmqlog turns on, since the kernel answers it even for a
            stalled peer.
        max_payload: payload bytes above which a message is truncated, with a marker.
        flush_timeout: seconds ``close()`` lets a running drain task publish what is
            queued (``aclose()`` takes its own).
        curve_secret_key_file: the publisher's ``NAME.key_secret`` file: encrypt with
            CURVE. Without *authorized_keys*, any client key is accepted: the traffic is
            encrypted, but anyone who can connect can read it.
        authorized_keys: the subscribers allowed to connect: a directory of their
            ``.key`` files, or their Z85 public keys. Needs *curve_secret_key_file*.

    Key files are checked here: a bad one raises :class:`~zmqlog.KeyFileError`. Binding
    a TCP address other hosts can reach without CURVE logs a warning (once a process)
    on the ``zmqlog`` logger.
        wire_format: ``"text"`` (default) sends pyzmq's formatted text, byte for byte;
            ``"json"`` sends the whole record as JSON (see :func:`zmqlog.wire.encode_json`),
            with this handler's :attr:`publisher_id` and a sequence number that grows
            by one per message, so subscribers can count lost messages. The level's
            formatter then only renders tracebacks (``formatException``).

    The drain task starts on :meth:`start`, on the first ``emit()`` made on a thread
    whose event loop is running, or on :meth:`wait_for_subscribers`.
    """

    socket: zmq.Socket[Any]
    ctx: zmq.Context[Any]

    def __init__(
        self,
        interface_or_socket: str | zmq.Socket[bytes],
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        root_topic: str = "",
        *,
        bind: bool = True,
        sndhwm: int = 100_000,
        linger: float = 1.0,
        max_queue: int = 100_000,
        overflow: Overflow = "drop_newest",
        lossless: bool = False,
        send_timeout: float = 1.0,
        heartbeat: float | None = None,
        max_payload: int = 1 << 20,
        flush_timeout: float = 5.0,
        curve_secret_key_file: KeyPath | None = None,
        authorized_keys: AuthorizedKeys | None = None,
        wire_format: WireFormat = "text",
    ) -> None:
        # Key files are read first: a bad one must stop start-up before anything exists.
        security = ServerSecurity(curve_secret_key_file, authorized_keys)
        super().__init__()
        if not isinstance(max_queue, int) or max_queue < 1:
            raise UsageError(f"max_queue must be a positive number of records, not {max_queue!r}")
        if overflow not in get_args(Overflow):
            raise UsageError(
                f"overflow must be one of {', '.join(map(repr, get_args(Overflow)))}, "
                f"not {overflow!r}"
            )
        if max_payload < 1024:
            raise UsageError(f"max_payload must be at least 1024 bytes, not {max_payload!r}")
        self._max_queue = max_queue
        self._drop_oldest = overflow == "drop_oldest"
        self._send_timeout = send_timeout
        self._max_payload = max_payload
        if wire_format not in ("text", "json"):
            raise UsageError(f"wire_format must be 'text' or 'json', not {wire_format!r}")
        self._json = wire_format == "json"
        self._publisher_id = new_publisher_id()
        self._seq = 0
        # The root topic and formatters apply as they were when a record was logged.
        # Every change makes new settings. A record is queued bare while they are the
        # ones the drain task renders with (_drain_settings), and pinned to them until
        # the drain task reaches such a pinned record and adopts them.
        if isinstance(root_topic, bytes):
            root_topic = root_topic.decode("utf-8")
        self._root_topic = root_topic
        self._formatters = _Formatters(default_formatters(), self._settings_changed)
        self._settings = self._new_settings()
        self._drain_settings = self._settings
        # A subclass that overrides emit() must see every record: handle() then takes the
        # stdlib's way through it (see handle()).
        self._via_emit = type(self).emit is not AsyncPUBHandler.emit
        # Message templates (msg + "\n", or "" when msg holds a subtopic) for the drain's
        # direct rendering of pyzmq's INFO format (see _template()).
        self._templates: dict[str, str] = {}
        self._linger_ms = max(0, int(linger * 1000))
        self._queue: deque[_Item] = deque()
        self._closed = False
        self._socket_closed = False
        self._stopping = False
        self._stop_deadline = 0.0
        self._flush_timeout = flush_timeout
        # True while the drain task sleeps waiting for work: the only time emit()
        # has to wake it, so a burst of records costs one wake-up, not one each.
        self._idle = False
        # True while the drain task is idle or not running: the one flag emit() reads.
        self._wake_needed = True
        self._blocked = False
        self._pending: tuple[bytes, bytes] | None = None
        self._blocked_since = 0.0
        # True while the drain task runs synchronous code (formatting, sending): a
        # record logged on the loop's thread then comes from inside the handler's own
        # work (a formatter that logs, asyncio or pyzmq reporting), and queueing it
        # could feed itself forever.
        self._draining = False
        self._aclosing = False
        self._drained = threading.Event()  # set when a drain task ends
        # One renderer at a time: the drain task, or flush()/close() off the loop. Two
        # would send on one socket from two threads, and one of them would render with
        # the settings it read before the other adopted newer ones.
        self._renderer = threading.RLock()
        self._forked = False
        self._warned_fork = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscriptions = 0
        self._sub_waiters: list[tuple[int, asyncio.Future[int]]] = []
        self._sent = 0
        self._errors = 0
        # Guards the drop counters, which several threads change; taken only on a drop.
        # Re-entrant: a signal handler that logs may interrupt the thread holding it.
        self._drop_lock = threading.RLock()
        self._dropped = 0
        self._unreported = 0
        self._owns_socket = False
        self._owns_context = False
        self._security = security

        if isinstance(interface_or_socket, zmq.Socket):
            if self._security.enabled:
                raise UsageError(
                    "curve_secret_key_file applies to a socket AsyncPUBHandler makes from an "
                    "endpoint; set the CURVE options on your own socket before binding it"
                )
            sock = interface_or_socket
            sock_type = cast(int, sock.getsockopt(zmq.TYPE))
            if sock_type not in (zmq.PUB, zmq.XPUB):
                raise UsageError(
                    "AsyncPUBHandler needs a zmq.PUB or zmq.XPUB socket, not "
                    f"{zmq.SocketType(sock_type).name}; or pass an endpoint string "
                    "to let it make one"
                )
            self.socket = sock
            self.ctx = sock.context
        elif isinstance(interface_or_socket, str):
            self._owns_context = context is None
            self.ctx = zmq.asyncio.Context() if context is None else context
            self._owns_socket = True
            self.socket = self.ctx.socket(zmq.XPUB)
            try:
                self.socket.setsockopt(zmq.SNDHWM, sndhwm)
                self.socket.setsockopt(zmq.LINGER, self._linger_ms)
                if lossless:
                    self.socket.setsockopt(zmq.XPUB_NODROP, 1)
                set_keepalive(self.socket, heartbeat)
                self._security.apply(self.socket, interface_or_socket, bind=bind)
                if bind:
                    self.socket.bind(interface_or_socket)
                else:
                    self.socket.connect(interface_or_socket)
            except BaseException:
                self._close_socket()
                raise
        else:
            raise UsageError(
                "AsyncPUBHandler takes an endpoint string such as 'tcp://127.0.0.1:5555' "
                f"or a zmq PUB/XPUB socket, not {type(interface_or_socket).__name__}"
            )
        self._is_xpub = self.socket.getsockopt(zmq.TYPE) == zmq.XPUB
        if self._is_xpub:
            # Every (un)subscription, duplicates included, so subscribers can be counted.
            self.socket.setsockopt(zmq.XPUB_VERBOSER, 1)
        # All socket I/O goes through a plain (non-asyncio) view of the same socket:
        # sends that ZeroMQ accepts at once cost no future and no await.
        self._sync: zmq.Socket[bytes] = zmq.Socket.shadow(self.socket.underlying)
        self._pid = os.getpid()
        _live_handlers.add(self)

    # -- pyzmq-compatible surface -------------------------------------------------

    @property
    def formatters(self) -> dict[int, logging.Formatter | None]:
        """The formatter for each level, as in pyzmq (None: the handler's default)."""
        return self._formatters

    @formatters.setter
    def formatters(self, value: dict[int, logging.Formatter | None]) -> None:
        self._formatters = _Formatters(dict(value), self._settings_changed)
        self._settings_changed()

    @property
    def root_topic(self) -> str:
        """The first component of every topic ("" for none)."""
        return self._root_topic

    @root_topic.setter
    def root_topic(self, value: str) -> None:
        self.setRootTopic(value)

    def setRootTopic(self, root_topic: str | bytes) -> None:
        """Set the root topic; bytes are decoded as UTF-8, as pyzmq does."""
        if isinstance(root_topic, bytes):
            root_topic = root_topic.decode("utf-8")
        self._root_topic = root_topic
        self._settings_changed()

    def setFormatter(self, fmt: logging.Formatter | None, level: int = logging.NOTSET) -> None:
        """Set the formatter for one level, or for every level when *level* is NOTSET.

        Levels without a formatter of their own (custom levels such as 25) use the
        formatter of the nearest lower level that has one.
        """
        if level == logging.NOTSET:
            self.formatter = fmt
            for key in self.formatters:
                dict.__setitem__(self.formatters, key, fmt)
        else:
            dict.__setitem__(self.formatters, level, fmt)
        self._settings_changed()

    def formatter_for(self, levelno: int) -> logging.Formatter:
        """Return the formatter used for records of *levelno*."""
        return self._settings.formatter_for(levelno)

    def _new_settings(self) -> RenderSettings:
        return RenderSettings(
            self._root_topic, self._formatters, self.formatter, plain_allowed=not self._json
        )

    def _settings_changed(self) -> None:
        self._settings = self._new_settings()

    def format(self, record: logging.LogRecord) -> str:
        """Format *record* with the formatter for its level."""
        return self.formatter_for(record.levelno).format(record)

    def encode(self, record: logging.LogRecord) -> tuple[bytes, bytes]:
        """Return the ``(topic, payload)`` frames this handler publishes for *record*.

        In JSON mode the payload carries the next sequence number without using it up.
        """
        fmt = self.formatter_for(record.levelno)
        if self._json:
            publisher, seq = self._publisher_id, self._seq
            return encode_json(record, fmt, self._root_topic, publisher=publisher, seq=seq)
        return encode_text(record, fmt, self._root_topic)

    @property
    def wire_format(self) -> WireFormat:
        """``"text"`` or ``"json"``: what this handler's payloads hold."""
        return "json" if self._json else "text"

    @property
    def publisher_id(self) -> PublisherId:
        """Host, pid and the random id made with this handler, sent in JSON payloads."""
        return self._publisher_id

    # -- the caller's side ----------------------------------------------------------

    def handle(self, record: logging.LogRecord, _filter: bool = True) -> bool:
        """Filter *record* and queue it for the drain task, without the handler lock.

        The queue is thread-safe by construction, so the per-record lock that
        ``logging.Handler.handle`` takes would only add cost. The queueing itself is
        written here rather than in ``emit()``: one Python call fewer is about 1% of
        a logging call. (``_filter`` is positional: CPython 3.11 does not specialize
        calls to functions with keyword-only parameters, which costs ~50 ns a call.)
        """
        if _filter and self._via_emit:
            # A subclass's emit(): filter, lock and call it as logging does; its
            # super().emit() comes back here with _filter False.
            return bool(logging.Handler.handle(self, record))
        if _filter and self.filters:
            rv = self.filter(record)
            if not rv:
                return False
            if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may replace it
                record = rv
        # The caller's hot path: every line here is paid per log call.
        try:
            if self._closed or self._draining:
                self._emit_unusual(record)
                return True
            queue = self._queue
            if len(queue) >= self._max_queue and not self._make_room(queue):
                return True
            if self._json:
                record = snapshot_extras(record)  # extras travel too, as they are now
            args = record.args
            # Bare when nothing can change before the drain renders it; else pinned.
            if self._settings is not self._drain_settings or type(record.msg) is not str:
                queue.append(self._pinned(record))
            elif not args:
                queue.append(record)
            elif type(args) is tuple:
                for arg in args:
                    if type(arg) not in _IMMUTABLE_ARG_TYPES:
                        queue.append(self._pinned(record))
                        break
                else:
                    queue.append(record)
            else:
                queue.append(self._pinned(record))  # a mapping
            if self._wake_needed:
                self._wake_or_start()
        except Exception:
            self.handleError(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Queue *record* for the drain task and return at once; never raises.

        Records with immutable args (str, numbers, dates, None...) are queued as they
        are and formatted by the drain task; anything else is rendered to text here,
        so a later change to the args cannot change what is published. When the queue
        is full the *overflow* policy drops a record and counts it; a record logged
        after close, in a forked child, or by the handler's own work on the loop's
        thread is dropped and counted too.
        """
        # By class: a subclass's handle() may have the stdlib's signature.
        AsyncPUBHandler.handle(self, record, False)

    def _emit_unusual(self, record: logging.LogRecord) -> None:
        """emit() when closed, or while the drain task runs on some thread."""
        if self._closed or (self._draining and threading.get_ident() == self._loop_thread):
            self._drop(1)
            if self._forked:
                self._say_forked()
            return
        queue = self._queue
        if len(queue) >= self._max_queue and not self._make_room(queue):
            return
        if self._json:
            record = snapshot_extras(record)  # extras travel too, as they are now
        queue.append(self._pinned(record))
        if self._wake_needed:
            self._wake_or_start()

    def _make_room(self, queue: deque[_Item]) -> bool:
        """The queue is full: apply the overflow policy; True if the new record goes in."""
        if not self._drop_oldest:
            self._drop(1)
            return False
        try:
            queue.popleft()
        except IndexError:
            pass  # the drain task emptied it meanwhile
        else:
            self._drop(1)
        return True

    def _pinned(self, record: logging.LogRecord) -> _Pinned:
        """*record* with the settings in force now, copied if its text could change."""
        args = record.args
        if type(record.msg) is str and (
            not args or (type(args) is tuple and all(type(a) in _IMMUTABLE_ARG_TYPES for a in args))
        ):
            return _Pinned(record, self._settings, False)
        return _Pinned(_snapshot(record), self._settings, True)

    def _wake_or_start(self) -> None:
        if self._idle:
            self._wake_up()
        elif self._task is None and asyncio._get_running_loop() is not None:
            self.start()

    def _drop(self, count: int) -> None:
        with self._drop_lock:
            self._dropped += count
            self._unreported += count

    @property
    def stats(self) -> HandlerStats:
        """What the handler has queued, sent, dropped and failed to format so far."""
        return HandlerStats(
            queued=len(self._queue) + (self._pending is not None),
            sent=self._sent,
            dropped=self._dropped,
            errors=self._errors,
        )

    def _wake_up(self) -> None:
        self._idle = self._wake_needed = False
        self._signal()

    def _signal(self) -> bool:
        """Wake the drain task from any thread; False if its loop is gone."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return False
        if threading.get_ident() == self._loop_thread:
            wake.set()
            return True
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:
            return False  # the loop closed under us; records wait for close() or a new loop
        return True

    # -- the loop's side ------------------------------------------------------------

    def start(self) -> None:
        """Start the drain task on the running event loop; calling it again is a no-op.

        Raises:
            ClosedResourceError: the handler was closed.
            UsageError: the drain task is running on another, still open, event loop.
            RuntimeError: no event loop is running in this thread.
        """
        if self._closed:
            raise ClosedResourceError("this AsyncPUBHandler is closed; create a new one")
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done():
            if self._loop is loop:
                return
            if self._loop is not None and not self._loop.is_closed():
                raise UsageError(
                    "this AsyncPUBHandler already drains on another event loop; "
                    "use one handler per loop"
                )
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._drained.clear()
        self._stopping = False
        self._task = loop.create_task(self._drain(), name="zmqlog-drain")
        self._wake_needed = False

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake
        assert wake is not None
        sock = self._sync
        fd = cast(int, sock.getsockopt(zmq.FD))
        # ZeroMQ's FD only says "something changed, look at EVENTS"; each wake-up is
        # followed by reading EVENTS, which re-arms it.
        loop.add_reader(fd, wake.set)
        timer: asyncio.TimerHandle | None = None
        try:
            while True:
                wake.clear()
                if not self._renderer.acquire(blocking=False):
                    # flush() or close() on another thread is sending: never block the
                    # loop on it, look again shortly.
                    await asyncio.sleep(0.001)
                    continue
                try:
                    more = self._work()
                finally:
                    self._renderer.release()
                if more:
                    await asyncio.sleep(0)  # a backlog: let the loop breathe between batches
                    continue
                if self._blocked:
                    # An XPUB always reports POLLOUT, so wait for the FD (a subscriber
                    # read and freed room) or for the deadline instead.
                    now = time.monotonic()
                    deadline = self._blocked_since + self._send_timeout
                    if self._stopping:
                        deadline = min(deadline, self._stop_deadline)
                    if now >= deadline:
                        if self._stopping and now >= self._stop_deadline:
                            return  # the flush timeout is spent; close() counts the rest
                        self._give_up_pending()
                        continue
                    timer = loop.call_later(deadline - now, wake.set)
                else:
                    if self._stopping:
                        return  # everything queued went to the socket
                    self._idle = self._wake_needed = True
                    if self._queue:
                        self._idle = self._wake_needed = False
                        continue
                await wake.wait()
                self._idle = self._wake_needed = False
                if timer is not None:
                    timer.cancel()
                    timer = None
        except asyncio.CancelledError:
            # Cancelled (asyncio.run() ending, a timed-out close): send what the socket
            # takes without waiting, so a clean exit loses nothing it can avoid losing.
            self._send_all_now()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self._idle = False
            if not loop.is_closed():
                loop.remove_reader(fd)
            self._task = None
            self._wake_needed = True
            self._loop = None
            self._loop_thread = None
            if self._closed and not self._socket_closed and not self._aclosing:
                # close() was called while we ran: the socket is ours to close, and
                # terminating a context may wait out the linger, so not on the loop.
                self._close_off_loop()
            self._drained.set()

    def _work(self) -> bool:
        """One synchronous round of the drain task; True if a backlog remains."""
        self._draining = True
        try:
            more = self._send_batch()
            self._read_subscriptions()
            if not more and self._unreported and not self._blocked:
                self._report_drops()
        finally:
            self._draining = False
        return more

    def _send_batch(self) -> bool:
        """Send up to one batch of queued records; return True if more are waiting."""
        if self._socket_closed:
            return False
        queue = self._queue
        if self._pending is not None:
            if not self._send_frames(self._pending):
                return False
            self._pending = None
        sock = self._sync
        send = _send
        log_record = _LogRecord
        settings = self._drain_settings
        fast = settings.fast
        templates = self._templates
        limit = self._max_payload
        more, last, again = _SNDMORE_NOBLOCK, zmq.NOBLOCK, zmq.Again
        sent = 0
        try:
            for _ in range(_BATCH):
                try:
                    item = queue.popleft()
                except IndexError:
                    return False
                try:
                    if type(item) is log_record:
                        record = item
                        entry = fast.get(record.levelno)
                        if entry is None:
                            entry = settings.fast_entry(record.levelno)
                        template: str | None = ""
                        if (
                            entry[0] is record.levelname
                            and not (record.exc_info or record.exc_text or record.stack_info)
                            # extra={"topic": ...}; getattr, since reading __dict__ would
                            # build a dict for every record (CPython 3.11+ keeps a plain
                            # instance's attributes without one until it is asked for).
                            and getattr(record, "topic", None) is None
                        ):
                            template = templates.get(record.msg)
                            if template is None:
                                template = self._template(record)
                        if template:
                            # pyzmq's INFO format, "%(message)s\n", rendered directly: the
                            # same bytes Formatter.format makes, at a fraction of the cost.
                            args = record.args
                            text = template % args if args else template
                            try:
                                payload = text.encode()
                            except UnicodeEncodeError:  # lone surrogates
                                payload = text.encode("utf-8", "backslashreplace")
                            if len(payload) > limit:
                                payload = _truncate(payload, limit)
                            topic = entry[1]
                        else:
                            topic, payload = self._encode(record, settings, owned=False)
                    elif isinstance(item, _Pinned):
                        record = item.record
                        pinned = item.settings
                        if pinned is not settings and pinned is self._settings:
                            # The settings in force now: records queued bare from here
                            # on were logged under them.
                            settings = self._drain_settings = pinned
                            fast = settings.fast
                        topic, payload = self._encode(record, pinned, owned=item.owned)
                    else:
                        # A LogRecord subclass, whose getMessage() may differ: the
                        # level's formatter renders it.
                        record = item
                        topic, payload = self._encode(record, settings, owned=False)
                except Exception:
                    self._errors += 1
                    self.handleError(record)
                    continue
                try:
                    send(sock, topic, more)
                    send(sock, payload, last)  # never refused once the first part is taken
                except again:
                    self._pending = (topic, payload)
                    self._blocked = True
                    self._blocked_since = time.monotonic()
                    return False
                sent += 1
            self._blocked = False
            return bool(queue)
        finally:
            self._sent += sent

    def _template(self, record: logging.LogRecord) -> str:
        """*record*'s message with pyzmq's INFO newline, or "" if it holds a subtopic.

        Remembered for messages up to _TEMPLATE_MAX characters, _TEMPLATES at most: text
        made at runtime (f-strings) is unique each time, so the cache starts over when
        full rather than hold on to it.
        """
        msg: str = record.msg
        template = "" if TOPIC_DELIM in msg else msg + "\n"
        if len(msg) <= _TEMPLATE_MAX:
            templates = self._templates
            if len(templates) >= _TEMPLATES:
                templates.clear()  # bounded: start over rather than stop learning
            templates[msg] = template
        return template

    def _encode(
        self, record: logging.LogRecord, settings: RenderSettings, *, owned: bool
    ) -> tuple[bytes, bytes]:
        """Encode with *settings* in this handler's wire format, within max_payload."""
        fmt, root_topic = settings.formatter_for(record.levelno), settings.root_topic
        limit = self._max_payload
        if not self._json:
            topic, payload = encode_text(record, fmt, root_topic, owned=owned)
            if len(payload) > limit:
                payload = _truncate(payload, limit)
            return topic, payload
        seq = self._seq
        frames = encode_json(record, fmt, root_topic, publisher=self._publisher_id, seq=seq)
        if len(frames[1]) > limit:
            # Cutting JSON bytes would make them unreadable: shrink the record instead.
            frames = encode_json(
                _shrunk(record, limit), fmt, root_topic, publisher=self._publisher_id, seq=seq
            )
        self._seq = seq + 1
        return frames

    def _send_frames(self, frames: tuple[bytes, bytes]) -> bool:
        sock = self._sync
        try:
            _send(sock, frames[0], _SNDMORE_NOBLOCK)
            _send(sock, frames[1], zmq.NOBLOCK)
        except zmq.Again:
            if not self._blocked:
                self._blocked = True
                self._blocked_since = time.monotonic()
            return False
        self._blocked = False
        self._sent += 1
        return True

    def _give_up_pending(self) -> None:
        """The socket refused the held message for send_timeout: count it as dropped."""
        self._pending = None
        self._blocked = False
        self._drop(1)

    def _report_drops(self) -> None:
        """Publish one WARNING saying how many records were lost since the last one."""
        count = self._unreported
        if self._queue or self._pending is not None or self._socket_closed:
            return
        record = logging.LogRecord(
            "zmqlog",
            logging.WARNING,
            __file__,
            0,
            "zmqlog::%d log record(s) dropped by this publisher; see its stats",
            (count,),
            None,
        )
        topic, payload = self._encode(record, self._settings, owned=True)
        try:
            self._sync.send(topic, _SNDMORE_NOBLOCK)
            self._sync.send(payload, zmq.NOBLOCK)
        except zmq.Again:
            return  # try again after the next batch
        self._sent += 1
        with self._drop_lock:
            self._unreported -= count

    def _abandon_leftovers(self, why: str) -> None:
        """Count what is still queued as dropped, and say so on stderr."""
        left = len(self._queue) + (self._pending is not None)
        self._queue.clear()
        self._pending = None
        if not left:
            return
        self._drop(left)
        print(f"zmqlog: {left} log record(s) were not published: {why}", file=sys.stderr)

    def _read_subscriptions(self) -> None:
        sock = self._sync
        if not self._is_xpub:
            events(sock)  # re-arms the FD
            return
        changed = False
        while events(sock) & zmq.POLLIN:
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if frame[:1] == b"\x01":
                self._subscriptions += 1
                changed = True
            elif frame[:1] == b"\x00" and self._subscriptions:
                self._subscriptions -= 1
                changed = True
        if changed:
            self._notify_subscription_waiters()

    def _notify_subscription_waiters(self) -> None:
        count = self._subscriptions
        for wanted, future in self._sub_waiters:
            if count >= wanted and not future.done():
                future.set_result(count)

    @property
    def subscriptions(self) -> int:
        """Subscriptions currently active on an XPUB socket.

        A subscriber counts once per topic it subscribes to; one that subscribes to
        everything (``""``) counts once.
        """
        return self._subscriptions

    async def wait_for_subscribers(self, n: int = 1, timeout: float | None = 10.0) -> int:
        """Wait until at least *n* subscriptions are active; return how many are.

        This is the cure for ZeroMQ's slow joiner: a record published before a
        subscriber's subscription arrives is not sent to it. Needs an XPUB socket
        (the default when the handler makes its own).

        Raises:
            TimeoutError: fewer than *n* arrived within *timeout* seconds.
            UsageError: the socket is a plain PUB socket, which cannot see subscribers.
        """
        if not self._is_xpub:
            raise UsageError(
                "wait_for_subscribers() needs an XPUB socket to see subscriptions; "
                "give AsyncPUBHandler an endpoint or a zmq.XPUB socket"
            )
        if n < 0:
            raise UsageError(f"n must be 0 or more, not {n}")
        self.start()
        if self._subscriptions >= n:
            return self._subscriptions
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiter = (n, future)
        self._sub_waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"{self._subscriptions} of {n} subscription(s) arrived within {timeout} s; "
                "check that the subscribers connect to this publisher's endpoint"
            ) from None
        finally:
            self._sub_waiters.remove(waiter)

    # -- shutdown -------------------------------------------------------------------

    async def aclose(self, timeout: float | None = None) -> None:
        """Publish what is queued, then close the socket; safe to call twice.

        Waits at most *timeout* seconds (default: the handler's ``flush_timeout``) for
        the socket to take the queued records; what it does not take is counted as
        dropped and reported on stderr. Records logged after this starts are dropped.
        """
        timeout = self._flush_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        if not self._closed and self._task is None and (self._queue or self._pending):
            self.start()  # records logged before the loop ran: publish them now
        self._closed = True
        task = self._task
        if task is not None and self._loop is not loop:
            self.close()  # the drain task runs on another loop; it closes the socket
            return
        if task is not None:
            self._aclosing = True
            self._begin_stop(timeout)
            if self._wake is not None:
                self._wake.set()
            try:
                # The drain task returns by itself once the queue is empty or the
                # deadline passed; shielded so a cancelled caller cannot cut it short.
                await asyncio.shield(task)
            except asyncio.CancelledError:
                self._aclosing = False
                if task.done():
                    self._close_off_loop()
                else:
                    task.cancel()  # its cancellation path sends what it can and closes
                raise
            finally:
                self._aclosing = False
        if not self._socket_closed:
            self._send_all_now()
            self._abandon_leftovers("the socket did not take them before close")
            self._close_socket(term_context=False)
            if self._owns_context:
                # term() waits out the linger while ZeroMQ delivers what is queued.
                await asyncio.to_thread(self.ctx.term)

    def flush(self) -> None:
        """Publish queued records now when no drain task is running.

        Blocks for at most ``flush_timeout`` seconds while the socket refuses (only
        in lossless mode). With the drain task alive the records are already on
        their way, and waiting here could block the event loop, so this returns.
        """
        if self._task is None and not self._socket_closed:
            self._flush_blocking(self._flush_timeout)

    def close(self) -> None:
        """Close the handler, as ``logging.shutdown()`` does at exit; safe to call twice.

        With no drain task running, queued records are sent here (waiting at most
        ``flush_timeout`` seconds for a refusing socket) and the socket is closed.
        With the task running on this thread's loop, it is told to flush and close
        the socket, and this returns at once; on another thread's loop, this waits
        (at most ``flush_timeout`` seconds) for it to finish.
        """
        self._closed = True
        task, loop = self._task, self._loop
        signalled = False
        if task is not None and loop is not None and not loop.is_closed():
            self._begin_stop(self._flush_timeout)
            on_loop_thread = threading.get_ident() == self._loop_thread
            signalled = self._signal()
            if signalled and not on_loop_thread:
                self._drained.wait(self._flush_timeout + 1.0)
        if not signalled and not self._socket_closed:  # no drain task will run again
            self._flush_blocking(self._flush_timeout)
            self._abandon_leftovers("the socket did not take them before close")
            self._close_socket()
        super().close()

    def _close_off_loop(self) -> None:
        """Close the socket from the loop without waiting for the context's linger."""
        self._abandon_leftovers("the socket did not take them within the flush timeout")
        self._close_socket(term_context=False)
        if self._owns_context:
            # term() may wait out the linger: not on the event loop's thread.
            threading.Thread(target=self.ctx.term, name="zmqlog-term", daemon=True).start()

    def _begin_stop(self, timeout: float) -> None:
        self._stop_deadline = time.monotonic() + timeout
        self._stopping = True

    def _send_all_now(self) -> None:
        if not self._renderer.acquire(timeout=self._flush_timeout):
            return  # another thread's flush() holds the socket; it sends these too
        try:
            self._blocked = False
            while self._send_batch():
                pass
        finally:
            self._renderer.release()

    def _flush_blocking(self, timeout: float) -> None:
        """Send everything queued, waiting (no loop runs) while the socket refuses."""
        deadline = time.monotonic() + timeout
        pause = 0.001
        while True:
            self._send_all_now()
            remaining = deadline - time.monotonic()
            if not self._blocked or remaining <= 0:
                return
            # No loop and no usable POLLOUT on XPUB: back off and try again.
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)

    def _after_fork(self) -> None:
        """In a forked child: never touch the parent's socket; drop and say so."""
        self._forked = True
        self._closed = True
        self._socket_closed = True  # the parent's socket: leave it alone
        self._queue.clear()  # the parent publishes these
        self._pending = None
        self._task = None
        self._loop = None
        self._wake = None
        self._idle = False
        self._wake_needed = True
        self._drop_lock = threading.RLock()  # another thread may have held it at fork
        self._drained = threading.Event()
        self._renderer = threading.RLock()

    def _say_forked(self) -> None:
        if self._warned_fork:
            return
        self._warned_fork = True
        print(
            f"zmqlog: an AsyncPUBHandler made in process {self._pid} is disabled in forked "
            f"child {os.getpid()}; its records are dropped. Create a new handler "
            "(or LogPublisher) in the child.",
            file=sys.stderr,
        )

    def _close_socket(self, *, term_context: bool = True) -> None:
        if self._socket_closed:
            return
        self._socket_closed = True
        for _, future in self._sub_waiters:
            if not future.done():
                future.cancel()
        if self._owns_socket:
            self.socket.close(linger=self._linger_ms)
        self._security.release()
        if self._owns_context and term_context:
            self.ctx.term()

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} root_topic={self._root_topic!r} ({level})>"

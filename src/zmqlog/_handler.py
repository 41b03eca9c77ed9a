"""AsyncPUBHandler: a ``logging.Handler`` whose ``emit()`` only enqueues.

The handler is the thin stdlib and pyzmq surface over four parts, each in its own
module: the bounded record queue with its counters (:mod:`zmqlog._queue`), what a
queued record is (:mod:`zmqlog._records`) and how it is rendered
(:mod:`zmqlog._render`), the socket and its subscriptions (:mod:`zmqlog._pubsocket`),
and the drain that moves records from one to the other (:mod:`zmqlog._drain`), run by
a task on the event loop or by a thread (:mod:`zmqlog._runners`).
"""

from __future__ import annotations

import asyncio
import enum
import gc
import logging
import os
import sys
import threading
import warnings
import weakref
from typing import Any, Final

import zmq

from zmqlog._drain import Drain
from zmqlog._options import check_level, check_publisher, check_root_topic, number
from zmqlog._pubsocket import PublisherSocket
from zmqlog._queue import HandlerStats, Overflow
from zmqlog._records import (
    IMMUTABLE_ARG_TYPES,
    LARGE_TEXT,
    Item,
    WithExtras,
    has_fixed_text,
    pin,
    text_size,
)
from zmqlog._render import Formatters, Renderer, RenderSettings
from zmqlog._runners import Scheduler
from zmqlog._security import AuthorizedKeys, KeyPath
from zmqlog.exceptions import ClosedResourceError, UsageError
from zmqlog.wire import (
    PublisherId,
    WireFormat,
    default_formatters,
    encode_json,
    encode_single_frame,
    encode_text,
    snapshot_extras,
)
from zmqlog.wire._json import has_extras
from zmqlog.wire._record import BASE_ATTRS

__all__ = ["AsyncPUBHandler", "HandlerStats", "Overflow"]


class _State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # no new records; what is queued is being sent
    CLOSED = "closed"  # the socket is closed
    FORKED = "forked"  # a copy in a forked child: disabled


_OPEN: Final = _State.OPEN

# The immutable argument types but the texts, whose lengths count in a record's size.
_PLAIN_ARG_TYPES: Final = IMMUTABLE_ARG_TYPES - {str, bytes}

# What the caller's size count is set to for a record that cannot be queued bare:
# past the bound, so that one comparison tells both.
_NOT_BARE: Final = LARGE_TEXT + 1

# How many attributes a fresh LogRecord has in this Python.
_FRESH_ATTRS: Final = len(BASE_ATTRS)


def _fresh_referents() -> int:
    """What ``len(gc.get_referents(record))`` is for a fresh record, where that tells
    it apart from a record with extras; -1 where it does not.

    Where CPython keeps a record's attributes inline (3.11 on) until something reads
    ``__dict__``, the referents of a record are its attribute values and its type, and
    asking for them is about half the cost of ``record.__dict__``, which builds the
    dict and keeps it alive as long as the queued record. A record given extras by
    ``Logger.makeRecord`` has its dict built: its referents are then the dict and the
    type (3.11, 3.12), or its values, more than a fresh record's (3.13, where a built
    dict may keep them inline). Where attributes always live in a dict (3.10), a fresh
    record has two referents too, and the count says nothing.
    """
    fresh = len(gc.get_referents(logging.LogRecord("", 0, "", 0, "", None, None)))
    return fresh if fresh == _FRESH_ATTRS + 1 else -1


_FRESH_REFERENTS: Final = _fresh_referents()
_referents: Final = gc.get_referents

# How many records deep a record logged from the drain's own work (a formatter that
# logs, a signal handler that interrupts one) is still published; deeper, it is
# dropped and counted. A formatter that logs for every record it formats then adds
# three records to each, and stops there; a signal handler's record is lost only if
# its signal lands inside a formatter four times in a row (in a stress test of a
# signal every millisecond, two levels still lost about 1 record in 1,000).
_MAX_DEPTH: Final = 3

# Handlers alive in this process, so a forked child can disable them: the child has a
# copy of the parent's queue and socket, and must use neither.
_live_handlers: weakref.WeakSet[AsyncPUBHandler] = weakref.WeakSet()


def _disable_in_forked_child() -> None:
    for handler in list(_live_handlers):
        handler._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_disable_in_forked_child)


class _ErrorReporter:
    """Calls the handler's ``handleError`` without keeping the handler alive."""

    __slots__ = ("_handler",)

    def __init__(self, handler: AsyncPUBHandler) -> None:
        self._handler = weakref.ref(handler)

    def __call__(self, record: logging.LogRecord) -> None:
        handler: logging.Handler | None = self._handler()
        if handler is None:  # collected while its drain sends the last records
            handler = _FALLBACK
        handler.handleError(record)


_FALLBACK: Final[logging.Handler] = logging.Handler()


def _collect_unclosed(scheduler: Scheduler, timeout: float, name: str) -> None:
    """An AsyncPUBHandler was garbage-collected without close(): warn, then close it.

    Runs from the garbage collector, on any thread (the event loop's too), so the
    closing itself, which may wait, runs on a thread of its own.
    """
    try:
        threading.Thread(
            target=scheduler.close, args=(timeout,), name="zmqlog-close", daemon=True
        ).start()
    except RuntimeError:  # no new threads at interpreter shutdown: close without waiting
        scheduler.closing = True
        scheduler.queue.close()
        scheduler.socket.close()
    # Last: with warnings turned into errors, this raises.
    warnings.warn(
        f"{name} was garbage-collected without close(); its queued records are sent "
        "in the background. Close handlers (handler.close(), 'await handler.aclose()', "
        "or 'async with LogPublisher(...)') to bound when that happens.",
        ResourceWarning,
        stacklevel=2,
    )


class AsyncPUBHandler(logging.Handler):
    """Publish log records on a ZeroMQ socket without blocking the caller.

    ``emit()`` hands the record to a queue and returns; the drain renders the records
    and sends them as ``[topic, payload]`` frames, byte for byte what
    :class:`zmq.log.handlers.PUBHandler` sends (or as single frames, with
    *single_frame*). In an asyncio program the drain is a
    task on the event loop; when no loop runs (no loop was ever started, or the loop
    that drained has stopped or closed), a daemon thread publishes instead, within
    milliseconds, with no call from the program; a loop task that starts takes over.
    ``emit()`` may be called from any thread, before any loop runs, or after it
    closed: it never blocks, never touches the socket and never raises into the caller.

    Args:
        interface_or_socket: an endpoint (``str`` or ``bytes``) to bind (or connect,
            with ``bind=False``) a new XPUB socket to, or an existing socket that sends
            (PUB, XPUB, PUSH, PAIR or DEALER; sync or ``zmq.asyncio``), which stays the
            caller's to close.
        context: the ZeroMQ context for a socket created from an endpoint; by default
            the handler creates one and terminates it on close.
        root_topic: the first component of every topic.
        bind: bind (default) or connect the socket created from an endpoint.
        sndhwm: the send high-water mark of a socket created from an endpoint, in
            messages per subscriber. pyzmq's default of 1,000 drops records in any burst.
        linger: seconds ZeroMQ may keep delivering queued messages after close.
        max_queue: records the queue holds before *overflow* applies; it bounds memory
            when the socket cannot keep up.
        max_queue_bytes: bytes the queued records may take before *overflow* applies
            (64 MiB): each record counts 600 bytes, and one of more than 256
            characters of message and str arguments its characters on top. A queue
            of typical records meets *max_queue* first (at about 57 MiB); one of
            large messages meets this.
        overflow: ``"drop_newest"`` (default: keep the records that led up to a burst,
            usually the cause) or ``"drop_oldest"`` (keep the latest).
        lossless: set ``XPUB_NODROP`` so ZeroMQ refuses instead of silently dropping
            when a subscriber's buffer is full; the drain then waits up to
            *send_timeout* per message before it counts a drop. One stalled subscriber
            then holds back every subscriber (head-of-line blocking).
        send_timeout: seconds the drain waits for a socket that refuses a message
            (lossless mode; or a PUSH, PAIR or DEALER socket without a peer).
        heartbeat: seconds between ZeroMQ (ZMTP) heartbeats; None (default) disables
            them. They detect a dead peer within three intervals, but they also drop
            a *live* subscriber that stalls that long, with everything queued for it
            (seen in tests/scripts/stalled.py). Dead hosts are detected anyway by TCP
            keepalive, which zmqlog turns on, since the kernel answers it even for a
            stalled peer.
        max_payload: payload bytes above which a message is truncated, with a marker.
        flush_timeout: seconds ``close()`` (and ``flush()``) may spend publishing what
            is queued (``aclose()`` takes its own).
        curve_secret_key_file: the publisher's ``NAME.key_secret`` file: encrypt with
            CURVE, the publisher being the CURVE server. Without *authorized_keys*, any
            client key is accepted: the traffic is encrypted, but anyone who can connect
            can read it.
        authorized_keys: the subscribers allowed to connect: a directory of their
            ``.key`` files, or their Z85 public keys. Needs *curve_secret_key_file*.
        curve_server_key_file: the ``NAME.key`` file of the CURVE server this
            publisher connects to (``bind=False``): a ``zmqlog proxy`` frontend with
            ``--frontend-secret-key``, or a ``LogSubscriber(bind=True)`` with a key pair
            of its own. The publisher is then the CURVE client; *curve_secret_key_file*
            is its own key pair, which the server's allow-list admits (without one, a
            throwaway pair, which only a server without an allow-list accepts).
        wire_format: ``"text"`` (default) sends pyzmq's formatted text, byte for byte;
            ``"json"`` sends the whole record as JSON (see :func:`zmqlog.wire.encode_json`),
            with this handler's :attr:`publisher_id` and a sequence number that grows
            by one per message ZeroMQ takes, so subscribers can count lost messages.
            The level's formatter then only renders tracebacks (``formatException``).
        single_frame: send each record as one frame, ``<topic>: <payload>`` (the
            topic with ``% : SP {`` and control bytes escaped as ``%XX``; a JSON
            payload also carries its ``"topic"``), for peers that read one frame
            per message, such as rsyslog's ``imczmq`` (see ``docs/wire-json.md``).
            ZeroMQ's prefix subscriptions select these frames as they select the
            default two, and zmqlog's subscriber and ``zmqlog tail`` read both;
            pyzmq's subscribers read only the default. With single frames
            *max_payload* counts the JSON payload's topic key too.

    Key files are checked here: a bad one raises :class:`~zmqlog.KeyFileError`. Binding
    a TCP address other hosts can reach without CURVE logs a warning (once a process)
    on the ``zmqlog`` logger. A handler that is garbage-collected without being closed
    warns with ``ResourceWarning`` and closes in the background.
    """

    ctx: zmq.Context[Any]
    """Its context (pyzmq's ``PUBHandler.ctx``)."""

    # Until __init__ has built everything, the handler counts as closed: a constructor
    # that fails leaves an object that logging.shutdown() may still flush and close.
    _state: _State = _State.CLOSED

    def __init__(
        self,
        interface_or_socket: str | bytes | zmq.Socket[Any],
        context: zmq.Context[Any] | None = None,
        root_topic: str | bytes = "",
        *,
        bind: bool = True,
        sndhwm: int = 100_000,
        linger: float = 1.0,
        max_queue: int = 100_000,
        max_queue_bytes: int = 64 << 20,
        overflow: Overflow = "drop_newest",
        lossless: bool = False,
        send_timeout: float = 1.0,
        heartbeat: float | None = None,
        max_payload: int = 1 << 20,
        flush_timeout: float = 5.0,
        curve_secret_key_file: KeyPath | None = None,
        authorized_keys: AuthorizedKeys | None = None,
        curve_server_key_file: KeyPath | None = None,
        wire_format: WireFormat = "text",
        single_frame: bool = False,
    ) -> None:
        # Everything is checked before anything exists: a bad argument leaves nothing
        # behind (not even a handler registered with logging), key files included.
        checked = check_publisher(
            interface_or_socket,
            root_topic=root_topic,
            sndhwm=sndhwm,
            linger=linger,
            max_queue=max_queue,
            max_queue_bytes=max_queue_bytes,
            overflow=overflow,
            send_timeout=send_timeout,
            heartbeat=heartbeat,
            max_payload=max_payload,
            flush_timeout=flush_timeout,
            curve_secret_key_file=curve_secret_key_file,
            authorized_keys=authorized_keys,
            curve_server_key_file=curve_server_key_file,
            wire_format=wire_format,
            single_frame=single_frame,
        )
        queue, root_topic = checked.queue, checked.root_topic
        if isinstance(checked.target, zmq.Socket):
            socket = PublisherSocket.wrap(checked.target, linger_ms=checked.linger_ms)
        else:
            socket = PublisherSocket.create(
                checked.target,
                context,
                bind=bind,
                sndhwm=sndhwm,
                linger_ms=checked.linger_ms,
                lossless=lossless,
                heartbeat=heartbeat,
                security=checked.security,
            )
        super().__init__()
        self._json = checked.json
        self._single = single_frame
        self._queue = queue
        self._flush_timeout = float(flush_timeout)
        self._socket = socket
        self.ctx = socket.context
        # The root topic and formatters apply as they were when a record was logged:
        # every change makes new settings (see zmqlog._render).
        self._root_topic = root_topic
        self._formatters = Formatters(default_formatters(), self._settings_changed)
        self._renderer = Renderer(
            self._new_settings(),
            json=self._json,
            max_payload=max_payload,
            single_frame=single_frame,
        )
        self._drain = Drain(
            queue,
            socket,
            self._renderer,
            send_timeout=send_timeout,
            report_error=_ErrorReporter(self),
        )
        self._scheduler = Scheduler(self._drain, queue, socket)
        # A subclass that overrides emit() must see every record: handle() then takes the
        # stdlib's way through it (see handle()).
        self._via_emit = type(self).emit is not AsyncPUBHandler.emit
        self._pid = os.getpid()
        self._warned_fork = False
        self._finalizer = weakref.finalize(
            self, _collect_unclosed, self._scheduler, self._flush_timeout, repr(self)
        )
        self._finalizer.atexit = False  # at exit, logging.shutdown() closes it
        self._state = _OPEN
        _live_handlers.add(self)

    # -- pyzmq-compatible surface -------------------------------------------------

    @property
    def socket(self) -> zmq.Socket[Any]:
        """The socket records are published on (pyzmq's ``PUBHandler.socket``).

        A socket the handler made is made again, on the same endpoint, if a peer
        floods it with subscriptions; read this attribute rather than keep it.
        """
        return self._socket.socket

    @property
    def formatters(self) -> dict[int, logging.Formatter | None]:
        """The formatter for each level, as in pyzmq (None: the handler's default)."""
        return self._formatters

    @formatters.setter
    def formatters(self, value: dict[int, logging.Formatter | None]) -> None:
        self._formatters = Formatters(dict(value), self._settings_changed)
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
        self._root_topic = check_root_topic(root_topic)
        self._settings_changed()

    def setFormatter(
        self, fmt: logging.Formatter | None, level: int | str = logging.NOTSET
    ) -> None:
        """Set the formatter for one level (a number or a name such as ``"WARNING"``),
        or for every level when *level* is NOTSET.

        Levels without a formatter of their own (custom levels such as 25) use the
        formatter of the nearest lower level that has one.
        """
        level = check_level(level)
        if level == logging.NOTSET:
            self.formatter = fmt
            for key in self.formatters:
                dict.__setitem__(self.formatters, key, fmt)
        else:
            dict.__setitem__(self.formatters, level, fmt)
        self._settings_changed()

    def formatter_for(self, levelno: int) -> logging.Formatter:
        """Return the formatter used for records of *levelno*."""
        return self._renderer.current.formatter_for(levelno)

    def _new_settings(self) -> RenderSettings:
        return RenderSettings(
            self._root_topic,
            self._formatters,
            self.formatter,
            json=self._json,
            single_frame=self._single,
        )

    def _settings_changed(self) -> None:
        renderer = getattr(self, "_renderer", None)
        if renderer is not None:  # not while __init__ builds the formatters dict
            renderer.current = self._new_settings()

    def format(self, record: logging.LogRecord) -> str:
        """Format *record* with the formatter for its level."""
        return self.formatter_for(record.levelno).format(record)

    def encode(self, record: logging.LogRecord) -> tuple[bytes, ...]:
        """Return the frames this handler publishes for *record*: ``(topic, payload)``,
        or one frame with ``single_frame=True``.

        In JSON mode the payload carries the next sequence number without using it up.
        """
        fmt = self.formatter_for(record.levelno)
        if self._json:
            renderer = self._renderer
            publisher, seq = renderer.publisher, renderer.seq
            frames = encode_json(record, fmt, self._root_topic, publisher=publisher, seq=seq)
        else:
            frames = encode_text(record, fmt, self._root_topic)
        if self._single:
            return (encode_single_frame(*frames, json=self._json),)
        return frames

    @property
    def wire_format(self) -> WireFormat:
        """``"text"`` or ``"json"``: what this handler's payloads hold."""
        return "json" if self._json else "text"

    @property
    def single_frame(self) -> bool:
        """True if each record is sent as one frame (``<topic>: <payload>``)."""
        return self._single

    @property
    def publisher_id(self) -> PublisherId:
        """Host, pid and the random id made with this handler, sent in JSON payloads."""
        return self._renderer.publisher

    # -- the caller's side ----------------------------------------------------------

    def handle(self, record: logging.LogRecord, _filter: bool = True) -> bool:
        """Filter *record* and queue it for the drain, without the handler lock.

        The queue is thread-safe by construction, so the per-record lock that
        ``logging.Handler.handle`` takes would only add cost. The queueing itself is
        written here rather than in ``emit()``: one Python call fewer is about 1% of
        a logging call. (``_filter`` is positional: CPython 3.11 does not specialize
        calls to functions with keyword-only parameters, which costs ~50 ns a call.)
        """
        if _filter:
            if self._via_emit:
                # A subclass's emit(): filter, lock and call it as logging does; its
                # super().emit() comes back here with _filter False.
                return bool(logging.Handler.handle(self, record))
            if self.filters:
                rv = self.filter(record)
                if not rv:
                    return False
                if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may replace it
                    record = rv
        # The caller's hot path: every line here is paid per log call.
        queue = self._queue
        try:
            if (queue.closed or queue.consumer_thread is not None) and self._refused(record):
                return True
            items = queue.items
            if len(items) >= queue.max_items and not queue.make_room():
                return True
            # Extras travel too, as they are now, and a record that has them is queued
            # wrapped, for the drain's careful way. A record with as many referents as
            # a fresh one, or no more attributes, has none: counted here, without the
            # call. (Only a filter that deletes one of logging's attributes and adds
            # one of its own would pass for fresh: the drain's shortcut declines the
            # record for the missing one, and its extra is read when it is sent.)
            item: Item = record
            if (
                self._json
                and len(_referents(record)) != _FRESH_REFERENTS
                and len(record.__dict__) > _FRESH_ATTRS
                and has_extras(record)  # not only what a Formatter adds
            ):
                record = snapshot_extras(record)
                item = WithExtras(record)
            renderer = self._renderer
            current = renderer.current
            msg = record.msg
            # Bare when nothing can change before the drain renders it, and small: the
            # common case, appended here. Anything else is pinned (a large record then
            # carries its size, and the queue counts its bytes).
            if current is renderer.drained and type(msg) is str:
                args = record.args
                text = len(msg)
                if type(args) is tuple:
                    for arg in args:
                        kind = type(arg)
                        if kind in _PLAIN_ARG_TYPES:
                            continue  # a number, None, a date...: fixed, and short
                        if kind is str or kind is bytes:
                            text += len(arg)  # type: ignore[arg-type]
                        else:
                            text = _NOT_BARE  # mutable: its text is fixed now
                            break
                elif args is not None:
                    # A mapping, or what a record made by hand carries (a list, even an
                    # empty one, which may be filled before the drain formats it).
                    text = _NOT_BARE
                if text <= LARGE_TEXT and not queue.nbytes:
                    items.append(item)
                    if queue.wake_needed:
                        self._scheduler.wake()
                    return True
            self._queue_pinned(record, current, item)
        except Exception:
            queue.fail()
            self.handleError(record)
            return True
        if queue.wake_needed:
            self._scheduler.wake()
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Queue *record* for the drain and return at once; never raises.

        Records with immutable args (str, numbers, dates, None...) are queued as they
        are and formatted by the drain; anything else is rendered to text here, so a
        later change to the args cannot change what is published. When the queue is
        full the *overflow* policy drops a record and counts it; a record logged after
        close, in a forked child, or by the drain's own work is dropped and counted too.
        """
        # By class: a subclass's handle() may have the stdlib's signature.
        AsyncPUBHandler.handle(self, record, False)

    def _refused(self, record: logging.LogRecord) -> bool:
        """Whether *record* is not for the caller's hot path: True if it was dropped
        (and counted), because the handler is closed or the record comes from a record
        the drain's own work logged, or queued here, because the drain's work logged it.
        """
        queue = self._queue
        if not queue.closed:
            if queue.consumer_thread != threading.get_ident():
                return False  # logged on another thread while a round runs: queue it
            depth = queue.render_depth
            if depth < _MAX_DEPTH:
                # Logged on this thread while the drain runs a formatter: by it, or by a
                # signal handler that interrupted it. Queued, marked one level deeper;
                # past _MAX_DEPTH levels it is dropped: no formatter can feed itself.
                self._queue_nested(record, depth + 1)
                return True
            # Counted, but not reported: the report's rendering would log again.
            queue.drop(report=False)
            return True
        queue.drop()
        if self._state is _State.FORKED and not self._warned_fork:
            self._warned_fork = True
            print(
                f"zmqlog: an AsyncPUBHandler made in process {self._pid} is disabled in "
                f"forked child {os.getpid()}; its records are dropped. Create a new handler "
                "(or LogPublisher) in the child.",
                file=sys.stderr,
            )
        return True

    def _queue_pinned(
        self, record: logging.LogRecord, settings: RenderSettings, bare: Item
    ) -> None:
        """The caller's path for any record but a small bare one: pinned to *settings*,
        its message fixed if it could change, and counted by its bytes if large.
        *bare* is what is queued if it need not be pinned: *record*, or the record
        wrapped in :class:`WithExtras`."""
        queue = self._queue
        if (
            has_fixed_text(record)
            and text_size(record) <= LARGE_TEXT
            and settings is self._renderer.drained
        ):
            # Small and bare after all (only large records were queued before it).
            if queue.over(0) and not queue.make_room():
                return
            queue.items.append(bare)
            return
        item = pin(record, settings)
        size = item.size
        if queue.over(size) and not queue.make_room(size):
            return
        queue.nbytes += size
        queue.items.append(item)

    def _queue_nested(self, record: logging.LogRecord, depth: int) -> None:
        queue = self._queue
        if len(queue.items) >= queue.max_items and not queue.make_room():
            return
        if self._json:
            record = snapshot_extras(record)
        item = pin(record, self._renderer.current, depth)
        if queue.over(item.size) and not queue.make_room(item.size):
            return
        queue.nbytes += item.size
        queue.items.append(item)  # the drain is running: it takes this one too

    @property
    def stats(self) -> HandlerStats:
        """What the handler has queued, sent, dropped and failed to format so far.

        Read between two rounds of the drain, so that every record logged is in
        exactly one counter.
        """
        drain = self._drain
        if not drain.acquire(timeout=1.0):
            # Asked from inside a round (a formatter), or a round that takes this long:
            # near enough.
            return self._queue.stats(drain.in_flight)
        try:
            return self._queue.stats(drain.in_flight)
        finally:
            drain.release()

    # -- the drain ------------------------------------------------------------------

    def start(self) -> None:
        """Run the drain as a task on the running event loop; again is a no-op.

        There is no need to call this: the first record logged on a thread whose loop
        runs starts the task, and records logged with no loop running are published
        by a thread. It is for a program whose records all come from other threads
        while its loop runs, to have them sent from the loop rather than the thread.

        Raises:
            ClosedResourceError: the handler was closed.
            UsageError: the drain is running on another event loop that still runs.
            RuntimeError: no event loop is running in this thread.
        """
        if self._state is not _OPEN:
            raise ClosedResourceError("this AsyncPUBHandler is closed; create a new one")
        loop = asyncio.get_running_loop()
        scheduler = self._scheduler
        runner = scheduler.loop_runner
        if runner is not None and runner.loop is not loop and runner.alive():
            raise UsageError(
                "this AsyncPUBHandler already drains on another event loop; "
                "use one handler per loop"
            )
        scheduler.start_loop(loop)

    @property
    def subscriptions(self) -> int:
        """Subscriptions currently active on an XPUB socket.

        A subscriber counts once per topic it subscribes to; one that subscribes to
        everything (``""``) counts once.
        """
        return self._socket.subscriptions

    async def wait_for_subscribers(self, n: int = 1, timeout: float | None = 10.0) -> int:
        """Wait until at least *n* subscriptions are active; return how many are.

        This is the cure for ZeroMQ's slow joiner: a record published before a
        subscriber's subscription arrives is not sent to it. Needs an XPUB socket
        (the default when the handler makes its own).

        Raises:
            TimeoutError: fewer than *n* arrived within *timeout* seconds.
            UsageError: the socket has no subscriptions to see (a PUB, PUSH, PAIR or
                DEALER socket), or *n* or *timeout* is negative.
            ClosedResourceError: the handler closed, before or while this waited.
        """
        socket = self._socket
        if not socket.is_xpub:
            raise UsageError(
                f"wait_for_subscribers() needs an XPUB socket, and this handler publishes "
                f"on a {socket.kind_name} socket, which has no subscriptions to wait for; "
                "give AsyncPUBHandler an endpoint (it makes an XPUB) or a zmq.XPUB socket"
            )
        if number("n", n, integer=True) < 0:
            raise UsageError(f"n must be 0 or more, not {n}")
        if timeout is not None:
            number("timeout", timeout)
        self.start()
        return await socket.wait_for(n, timeout)

    # -- shutdown -------------------------------------------------------------------

    async def aclose(self, timeout: float | None = None) -> None:
        """Publish what is queued, then close the socket; safe to call twice.

        Waits at most *timeout* seconds (default: the handler's ``flush_timeout``) for
        the socket to take the queued records; what it does not take is counted as
        dropped and reported on stderr. Records logged after this starts are dropped.
        The loop never blocks: whatever must wait, waits in a worker thread.
        """
        if timeout is None:
            timeout = self._flush_timeout
        else:
            number("timeout", timeout)
        if self._state is not _OPEN:
            runner = self._scheduler.loop_runner
            if self._state is _State.CLOSING and runner is not None:
                # close() on this loop told the task to close the socket: wait for it.
                await asyncio.to_thread(runner.done.wait, timeout + 1.0)
            return
        self._begin_close()
        await self._scheduler.aclose(timeout)
        self._end_close()

    def flush(self) -> None:
        """Publish queued records now, waiting (at most ``flush_timeout``) while the
        socket refuses; never raises.

        On the thread of the loop whose task runs the drain this returns at once: the
        records are already on their way, and waiting could block the loop.
        """
        if self._state is not _OPEN:
            return
        runner = self._scheduler.loop_runner
        if runner is not None and runner.thread == threading.get_ident() and runner.alive():
            return
        try:
            self._scheduler.flush(self._flush_timeout)
        except Exception as error:  # flush() runs at exit: it must not raise
            print(f"zmqlog: flush failed: {error!r}", file=sys.stderr)

    def close(self) -> None:
        """Close the handler, as ``logging.shutdown()`` does at exit; safe to call twice.

        Queued records are sent first (waiting at most ``flush_timeout`` seconds for a
        refusing socket); what the socket did not take is counted as dropped and
        reported on stderr; then the socket is closed. On the thread of the loop whose
        task runs the drain, this only tells the task to do all that, and returns.
        Never raises.
        """
        if self._state is _OPEN:
            self._begin_close()
            try:
                self._scheduler.close(self._flush_timeout)
            except Exception as error:  # close() runs at exit: it must not raise
                print(f"zmqlog: closing the handler failed: {error!r}", file=sys.stderr)
            self._end_close()
        super().close()

    def _begin_close(self) -> None:
        self._state = _State.CLOSING
        self._finalizer.detach()
        self._queue.close()
        self._scheduler.closing = True

    def _end_close(self) -> None:
        if self._socket.closed:
            self._state = _State.CLOSED

    def _after_fork(self) -> None:
        """In a forked child: never touch the parent's socket; drop and say so."""
        self._state = _State.FORKED
        self._finalizer.detach()
        self._queue.after_fork()
        self._drain.after_fork()
        self._socket.after_fork()
        self._scheduler.after_fork()

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} root_topic={self._root_topic!r} ({level})>"

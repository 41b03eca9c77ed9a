"""Drain: the protocol that moves records from the queue onto the socket, written once.

One *round* is synchronous: it renders and sends up to a batch of queued records with
non-blocking sends, reads the subscriptions waiting on the socket, and, once it has
caught up after losses, publishes a report of them. A round never waits; when the
socket refuses a message (lossless mode, or a PUSH/PAIR/DEALER socket without a
peer), the message is held as *pending* and the round ends *blocked*, and whoever
runs the rounds waits for the socket or for the deadline (:meth:`Drain.deadline`).

Who runs the rounds is not this module's business: an asyncio task on the program's
event loop, a thread when no loop runs, or ``flush()``/``close()`` on the caller's
thread (see :mod:`zmqlog._runners`). Whoever it is holds the drain for the round
(:meth:`Drain.acquire`): ZeroMQ sockets are not thread-safe, records must be rendered
in order, and a message's two frames must follow each other.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final, cast

import zmq

from zmqlog._pubsocket import PublisherSocket
from zmqlog._queue import RecordQueue
from zmqlog._records import Item, Pinned, WithExtras
from zmqlog._render import Renderer, truncate

__all__ = ["BATCH", "Drain", "Send", "pyzmq_send"]

BATCH: Final = 1000
"""Records sent per round: a backlog of 100,000 records must not hold the loop (or the
socket's lock) for the whole of its flush."""

_FLUSH_BATCH: Final = 100
"""Records per round while a flush runs against its deadline, which it checks between
rounds: a slow formatter must not carry it far past ``flush_timeout``."""

# The depth a drop report is rendered at: past the deepest any record is published at.
_REPORT_DEPTH: Final = 1 << 30

# A round looks at the clock every _CHUNK records and ends after _ROUND_TIME seconds.
_CHUNK: Final = 16
_ROUND_TIME: Final = 0.005

_LogRecord: Final = logging.LogRecord
_SNDMORE_NOBLOCK: Final = zmq.SNDMORE | zmq.NOBLOCK

Send = Callable[[zmq.Socket[Any], bytes | bytearray, int], None]
"""Send one frame on a socket, as pyzmq's ``Socket.send`` does: a copy of it."""

pyzmq_send: Final[Send] = getattr(zmq.backend, "Socket", zmq.Socket).send
"""pyzmq's compiled send, under its Python wrapper: for a bytes frame the wrapper only
adds checks the drain does not need, and costs as much again as the send itself."""

# Not failures: the socket is full (Again), or a signal interrupted the call.
_RETRY: Final = (zmq.Again, zmq.error.InterruptedSystemCall)


class Drain:
    """Sends queued records in rounds; holds what the socket has not taken yet.

    Args:
        queue: the records, their overflow policy and the counters.
        socket: where they go.
        renderer: how they become frames.
        send_timeout: seconds a refused message is held before it is dropped.
        report_error: called with a record that could not be rendered (the handler's
            ``handleError``).
    """

    __slots__ = (
        "_blocked_since",
        "_flushing",
        "_lock",
        "_queue",
        "_renderer",
        "_report_error",
        "_rest",
        "_send_timeout",
        "_single",
        "_socket",
        "deferred",
        "failure",
        "owner",
        "pending",
        "rounds",
        "stop_deadline",
    )

    def __init__(
        self,
        queue: RecordQueue[Item],
        socket: PublisherSocket,
        renderer: Renderer,
        *,
        send_timeout: float,
        report_error: Callable[[logging.LogRecord], object],
    ) -> None:
        self._queue = queue
        self._socket = socket
        self._renderer = renderer
        self._send_timeout = send_timeout
        self._report_error = report_error
        # An RLock only to know, atomically, whether this thread holds it (a signal
        # handler may run between any two steps of the thread it interrupts): it is
        # never taken twice (see acquire()).
        self._lock = threading.RLock()
        self._flushing: set[int] = set()  # threads inside flush(), waiting or sending
        self.owner: int | None = None
        """The thread holding the drain, if any."""
        self.deferred: Callable[[], object] | None = None
        """Work that had to wait until the drain is released: a close() asked for, from
        a signal handler or a formatter, by the very thread that holds it."""
        self.pending: tuple[bytes, ...] | None = None
        """The message the socket refused last (its one or two frames), sent before
        anything else."""
        self._single = renderer.single_frame
        self._rest: bytes | None = None
        self._blocked_since: float | None = None
        self.stop_deadline: float | None = None
        """When set, the time by which the drain must be done: the handler is closing."""
        self.failure: zmq.ZMQError | None = None
        """The error that made the socket unusable (closed by its owner, context
        terminated), after which every record is dropped and counted."""
        self.rounds = 0
        """Rounds run so far: how a watcher tells that a drain makes progress."""

    # -- holding the drain ------------------------------------------------------------

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the drain for a round; False if it is busy, or if this thread holds it.

        Not re-entrant on purpose: a signal handler or a formatter that flushes while
        this thread is between a message's two frames must not send a message in the
        middle of it. Such a nested caller gets False, and the records are sent by the
        outer round anyway.
        """
        lock = self._lock
        if lock._is_owned():  # type: ignore[attr-defined]
            return False
        if not lock.acquire(blocking, timeout):
            return False
        self.owner = threading.get_ident()
        return True

    def held_here(self) -> bool:
        """Whether the calling thread holds the drain (it is inside a round or a flush
        that a signal handler or a formatter interrupted)."""
        return bool(self._lock._is_owned())  # type: ignore[attr-defined]

    def release(self) -> None:
        """Let go of the drain, then do what was deferred until then."""
        self.owner = None
        self._lock.release()
        deferred = self.deferred
        if deferred is not None:
            self.deferred = None
            deferred()

    # -- the state of the pending message --------------------------------------------

    @property
    def blocked(self) -> bool:
        """True while the socket refuses the pending message."""
        return self._blocked_since is not None

    @property
    def in_flight(self) -> int:
        """Records out of the queue but not yet taken by ZeroMQ."""
        return (self.pending is not None) + (self._rest is not None)

    def deadline(self) -> float | None:
        """When a blocked drain stops waiting: the pending message's send timeout, or
        the stop deadline if sooner. None when not blocked."""
        since = self._blocked_since
        if since is None:
            return None
        deadline = since + self._send_timeout
        stop = self.stop_deadline
        return deadline if stop is None or deadline < stop else stop

    def expire(self, now: float, timeout: float = 0.0) -> bool:
        """Past the deadline: drop the pending message, and say whether to stop.

        Takes the drain for this (waiting at most *timeout* seconds; 0 does not wait):
        the pending message may only be dropped by whoever holds it. Returns True when
        the stop deadline has passed (whoever runs the rounds then stops and leaves the
        rest to be counted), False when the drain may go on, or is busy elsewhere.
        """
        if not self.acquire(timeout > 0, timeout if timeout > 0 else -1):
            return False
        try:
            stop = self.stop_deadline
            if stop is not None and now >= stop:
                return True
            since = self._blocked_since
            if since is not None and now >= since + self._send_timeout:
                self.pending = None
                self._blocked_since = None
                self._queue.drop()
            return False
        finally:
            self.release()

    # -- one round --------------------------------------------------------------------

    def round(self, send: Send, limit: int = BATCH) -> bool:
        """Run one round of up to *limit* records (the caller holds the drain); True if
        a backlog remains."""
        self.rounds += 1
        if self.failure is not None:
            self._count_lost()
            return False
        if self._socket.closed:
            return False  # closed by a closer that gave up waiting for this round
        try:
            more = self._send_batch(send, limit)
            more = self._socket.read_subscriptions() or more
            if not more and self._queue.unreported and self._blocked_since is None:
                self._report_drops(send)
        except _RETRY:
            more = True
        except zmq.ZMQError as error:
            self._fail(error)
            return False
        return more

    def flush(self, deadline: float, send: Send) -> None:
        """Send everything queued, waiting on this thread while the socket refuses.

        Gives up at *deadline* (``time.monotonic()``), leaving what is left queued, and
        returns at once if this thread holds the drain already (a flush from a signal
        handler or a formatter: the round in progress sends the records). Never runs
        on an event loop's thread: it may sleep.
        """
        me = threading.get_ident()
        if me in self._flushing:
            return  # a signal handler that flushes while this thread flushes: it is
        self._flushing.add(me)
        try:
            self._flush(deadline, send)
        finally:
            self._flushing.discard(me)

    def _flush(self, deadline: float, send: Send) -> None:
        pause = 0.001
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.acquire(timeout=remaining):
                return  # out of time, or nested, or another thread is sending these
            try:
                while self.round(send, _FLUSH_BATCH):
                    if time.monotonic() >= deadline:
                        return
                until = self.deadline()
            finally:
                self.release()
            now = time.monotonic()
            if until is None or now >= deadline:
                return
            if now >= until:
                if self.expire(now, timeout=max(0.0, deadline - now)):
                    return  # the stop deadline passed: the closer counts the rest
                continue
            # XPUB always reports POLLOUT, so there is nothing to wait on: back off.
            time.sleep(min(pause, until - now, deadline - now))
            pause = min(pause * 2, 0.05)

    def abandon(self, why: str) -> int:
        """Count what is still queued or held as dropped, say so on stderr, return it."""
        left = self._count_lost()
        if left:
            print(f"zmqlog: {left} log record(s) were not published: {why}", file=sys.stderr)
        return left

    def after_fork(self) -> None:
        """In a forked child: forget the parent's pending message and its lock."""
        self._lock = threading.RLock()
        self._flushing = set()
        self.owner = None
        self.deferred = None
        self.pending = None
        self._rest = None
        self._blocked_since = None

    # -- the parts of a round ---------------------------------------------------------

    def _send_batch(self, send: Send, limit: int) -> bool:
        """Send up to *limit* queued records; return True if more are waiting.

        A record is one message of two frames, topic and payload; with single frames
        (``single_frame=True``), of one: the topic's prefix joined to the payload,
        which ZeroMQ takes whole or not at all (so such a message is never half sent).
        """
        queue = self._queue
        sock = self._socket.sync
        renderer = self._renderer
        single = self._single
        rest = self._rest
        if rest is not None:
            # A message whose first frame went out before an interruption: finish it.
            send(sock, rest, zmq.NOBLOCK)
            self._rest = None
            queue.sent += 1
            renderer.accepted()
        if self.pending is not None:
            if not self._send_frames(send, self.pending):
                return False
            self.pending = None
            queue.sent += 1
        items = queue.items
        log_record = _LogRecord
        settings = renderer.drained
        fast = settings.fast
        templates = renderer.templates
        json = renderer.json
        typical = renderer.typical
        maximum = renderer.max_payload
        more, last, again = _SNDMORE_NOBLOCK, zmq.NOBLOCK, zmq.Again
        # Set only while the drain runs code of the application's (a formatter of its
        # own, a record class's getMessage(), its handleError): a record logged from
        # there comes from the drain's own work. pyzmq's formats and logging's stock
        # Formatter run none, so a signal handler that logs meanwhile is not mistaken
        # for the drain logging.
        me = threading.get_ident()
        clock = time.perf_counter
        sent = freed = 0
        topic = b""
        try:
            # In chunks, to look at the clock between them: a round stops after a few
            # milliseconds, so that a slow formatter, or a thread that keeps the GIL
            # from this one, cannot hold the loop (or the drain) for long.
            stop_at = clock() + _ROUND_TIME
            for _ in range(-(-limit // _CHUNK)):
                if clock() > stop_at:
                    return bool(items)
                for _ in range(_CHUNK):
                    try:
                        item = items.popleft()
                    except IndexError:
                        return False
                    try:
                        # bytes, or the JSON writer's buffer (valid until its next
                        # payload): whatever keeps it past the send keeps a copy.
                        rendered: bytes | bytearray | None = None
                        if type(item) is log_record:
                            record = item
                            entry = fast.get(record.levelno)
                            if entry is None:
                                entry = settings.fast_entry(record.levelno)
                            if entry[0] is record.levelname:
                                if typical is not None:
                                    # JSON: a typical record's payload, written directly.
                                    # A bare record has no extras (see WithExtras), so no
                                    # extra={"topic": ...} to look for, but where a filter
                                    # took one of logging's attributes, which the writer
                                    # declines. It declines a traceback or stack too.
                                    rendered = typical.payload(record, renderer.seq)
                                    if rendered is not None and len(rendered) > maximum:
                                        rendered = None  # shrunk by the formatter path
                                elif (
                                    # extra={"topic": ...}; getattr, since reading __dict__
                                    # would build a dict for every record (CPython 3.11+
                                    # keeps a plain instance's attributes without one until
                                    # it is asked for).
                                    getattr(record, "topic", None) is None
                                    and not (
                                        record.exc_info or record.exc_text or record.stack_info
                                    )
                                ):
                                    template = templates.get(record.msg)
                                    if template is None:
                                        template = renderer.template(record)
                                    if template:
                                        # pyzmq's INFO format, "%(message)s\n", rendered
                                        # directly: the same bytes Formatter.format makes,
                                        # at a fraction of the cost.
                                        args = record.args
                                        text = template % args if args else template
                                        try:
                                            rendered = text.encode()
                                        except UnicodeEncodeError:  # lone surrogates
                                            rendered = text.encode("utf-8", "backslashreplace")
                                        if len(rendered) > maximum:
                                            rendered = truncate(rendered, maximum)
                                        if single:
                                            # the escaped topic and ": "
                                            rendered = entry[1] + rendered
                            if rendered is not None:
                                topic, payload = entry[1], rendered
                            else:
                                render_with, owned = settings, False
                                # JSON's careful way may run the application's code:
                                # the repr of a value no check at the call saw (an extra
                                # on a record that lost one of logging's attributes).
                                if json or not settings.is_stock(record.levelno):
                                    queue.consumer_thread = me
                        elif isinstance(item, Pinned):
                            record = item.record
                            freed += item.size
                            render_with, owned = item.settings, item.owned
                            if render_with is not settings and render_with is renderer.current:
                                # The settings in force now: records queued bare from here
                                # on were logged under them.
                                settings = renderer.drained = render_with
                                fast = settings.fast
                            if json or not render_with.is_stock(record.levelno):
                                queue.consumer_thread = me
                                queue.render_depth = item.depth
                        elif type(item) is WithExtras:
                            # JSON: a record with extras, for the careful way.
                            record = item.record
                            render_with, owned = settings, False
                            queue.consumer_thread = me
                        else:
                            # A LogRecord subclass, whose getMessage() may differ: the
                            # level's formatter renders it.
                            record = cast("logging.LogRecord", item)
                            render_with, owned = settings, False
                            queue.consumer_thread = me
                        if rendered is None:
                            if single:
                                payload = renderer.encode_frame(record, render_with, owned=owned)
                            else:
                                topic, payload = renderer.encode(record, render_with, owned=owned)
                            queue.consumer_thread = None
                            queue.render_depth = 0
                    except Exception:
                        queue.fail()
                        queue.consumer_thread = me
                        self._report_error(record)
                        queue.consumer_thread = None
                        queue.render_depth = 0
                        continue
                    except BaseException:
                        # Interrupted while rendering (a signal handler's KeyboardInterrupt):
                        # the record, taken from the queue, is lost: counted, and reported.
                        queue.drop()
                        raise
                    if single:
                        try:
                            send(sock, payload, last)
                        except again:
                            self.pending = (bytes(payload),)
                            self._blocked_since = time.monotonic()
                            return False
                        except BaseException:
                            self.pending = (bytes(payload),)  # sent or counted later, as below
                            raise
                        sent += 1
                        if json:
                            renderer.seq += 1
                        continue
                    try:
                        send(sock, topic, more)
                    except again:
                        self.pending = (topic, bytes(payload))
                        self._blocked_since = time.monotonic()
                        return False
                    except BaseException:
                        # Failed or interrupted before ZeroMQ took any of it: held, so that
                        # it is sent or counted like any refused message.
                        self.pending = (topic, bytes(payload))
                        raise
                    try:
                        send(sock, payload, last)  # never refused once the first part is taken
                    except zmq.ZMQError:
                        queue.drop()  # half sent on a socket that failed: lost, and counted
                        raise
                    except BaseException:
                        self._rest = bytes(payload)  # interrupted between the frames: next round
                        raise
                    sent += 1
                    if json:
                        renderer.seq += 1
            self._blocked_since = None
            return bool(items)
        finally:
            queue.consumer_thread = None
            queue.render_depth = 0
            queue.sent += sent
            if freed:
                queue.nbytes -= freed

    def _send_frames(self, send: Send, frames: tuple[bytes, ...]) -> bool:
        """Send held *frames* (one or two); False if the socket still refuses them."""
        sock = self._socket.sync
        try:
            send(sock, frames[0], _SNDMORE_NOBLOCK if len(frames) > 1 else zmq.NOBLOCK)
        except zmq.Again:
            if self._blocked_since is None:
                self._blocked_since = time.monotonic()
            return False
        if len(frames) == 1:
            self._blocked_since = None
            self._renderer.accepted()
            return True
        try:
            send(sock, frames[1], zmq.NOBLOCK)
        except zmq.ZMQError:
            self.pending = None
            self._queue.drop()
            raise
        except BaseException:
            self.pending = None
            self._rest = frames[1]
            raise
        self._blocked_since = None
        self._renderer.accepted()
        return True

    def _report_drops(self, send: Send) -> None:
        """Publish one WARNING saying how many records were lost since the last one."""
        queue = self._queue
        count = queue.unreported
        if queue.items or self.pending is not None or self._socket.closed:
            return
        # The WARNING formatter may be the application's, and log: what it logs is as
        # deep as can be, so dropped (and not reported, or reports would feed reports).
        queue.consumer_thread = threading.get_ident()
        queue.render_depth = _REPORT_DEPTH
        try:
            frames = self._renderer.drop_report(count)
        finally:
            queue.consumer_thread = None
            queue.render_depth = 0
        sock = self._socket.sync
        try:
            send(sock, frames[0], _SNDMORE_NOBLOCK if len(frames) > 1 else zmq.NOBLOCK)
        except zmq.Again:
            return  # try again after the next batch; the sequence number is not used up
        if len(frames) > 1:
            send(sock, frames[1], zmq.NOBLOCK)
        queue.sent += 1
        self._renderer.accepted()
        queue.reported(count)

    def _fail(self, error: zmq.ZMQError) -> None:
        """The socket cannot be used any more: say so once, count every record, and
        close the socket if the handler made it (its context's ``term()`` waits for
        that)."""
        self.failure = error
        self._queue.close()
        lost = self._count_lost()
        self._socket.close(force=True)
        lost_text = f"{lost} queued log record(s) were not published, and " if lost else ""
        print(
            f"zmqlog: the handler's socket failed ({error}); {lost_text}records logged "
            "from now on are dropped and counted",
            file=sys.stderr,
        )

    def _count_lost(self) -> int:
        held = (self.pending is not None) + (self._rest is not None)
        self.pending = None
        self._rest = None
        self._blocked_since = None
        if held:
            self._queue.drop(held)
        return self._queue.abandon() + held

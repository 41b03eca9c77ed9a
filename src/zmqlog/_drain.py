"""Drain: the protocol that moves records from the queue onto the socket, written once.

One *round* is synchronous: it renders and sends up to a batch of queued records with
non-blocking sends, reads the subscriptions waiting on the socket, and, once it has
caught up after losses, publishes a report of them. A round never waits; when the
socket refuses a message (lossless mode, or a PUSH/PAIR/DEALER socket without a
peer), the message is held as *pending* and the round ends *blocked*, and whoever
runs the rounds waits for the socket or for the deadline (:meth:`Drain.deadline`).

Who runs the rounds is not this module's business: an asyncio task on the program's
event loop, a thread when no loop runs, or ``flush()``/``close()`` on the caller's
thread (see :mod:`zmqlog._runners`). Whoever it is holds :attr:`Drain.lock` for the
round: ZeroMQ sockets are not thread-safe, and records must be rendered in order.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import zmq

from zmqlog._pubsocket import PublisherSocket
from zmqlog._queue import RecordQueue
from zmqlog._records import Item, Pinned
from zmqlog._render import Renderer, truncate

__all__ = ["BATCH", "Drain"]

BATCH: Final = 1000
"""Records sent per round: a backlog of 100,000 records must not hold the loop (or the
socket's lock) for the whole of its flush."""

_LogRecord: Final = logging.LogRecord
_SNDMORE_NOBLOCK: Final = zmq.SNDMORE | zmq.NOBLOCK

# The compiled send under pyzmq's Python wrapper: for a bytes frame the wrapper only
# adds checks we do not need, and costs as much again as the send itself.
_send: Final[Callable[..., Any]] = getattr(zmq.backend, "Socket", zmq.Socket).send

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
        "_queue",
        "_renderer",
        "_report_error",
        "_send_timeout",
        "_single",
        "_socket",
        "failure",
        "lock",
        "pending",
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
        self.lock = threading.RLock()
        """Held by whoever runs a round: one renderer at a time. Re-entrant, so that a
        close() made from inside a round (a formatter, a signal handler) cannot hang."""
        self.pending: tuple[bytes, ...] | None = None
        """The message the socket refused last (its one or two frames), sent before
        anything else."""
        # One test per round: the two-frame loop stays as it was, with none per record.
        self._single = renderer.single_frame
        self._blocked_since: float | None = None
        self.stop_deadline: float | None = None
        """When set, the time by which the drain must be done: the handler is closing."""
        self.failure: zmq.ZMQError | None = None
        """The error that made the socket unusable (closed by its owner, context
        terminated), after which every record is dropped and counted."""

    @property
    def blocked(self) -> bool:
        """True while the socket refuses the pending message."""
        return self._blocked_since is not None

    @property
    def in_flight(self) -> int:
        """Records out of the queue but not yet taken by ZeroMQ."""
        return self.pending is not None

    def deadline(self) -> float | None:
        """When a blocked drain stops waiting: the pending message's send timeout, or
        the stop deadline if sooner. None when not blocked."""
        since = self._blocked_since
        if since is None:
            return None
        deadline = since + self._send_timeout
        stop = self.stop_deadline
        return deadline if stop is None or deadline < stop else stop

    def expire(self, now: float) -> bool:
        """Past the deadline: drop the pending message, and say whether to stop.

        Returns True when the stop deadline has passed (whoever runs the rounds then
        stops and leaves the rest to be counted), False when the drain may go on.
        """
        stop = self.stop_deadline
        if stop is not None and now >= stop:
            return True
        since = self._blocked_since
        if since is not None and now >= since + self._send_timeout:
            self.pending = None
            self._blocked_since = None
            self._queue.drop()
        return False

    # -- one round --------------------------------------------------------------------

    def round(self) -> bool:
        """Run one round (the caller holds :attr:`lock`); True if a backlog remains."""
        queue = self._queue
        queue.consumer_thread = threading.get_ident()
        try:
            if self.failure is not None:
                self._count_lost()
                return False
            if self._socket.closed:
                return False  # closed by a closer that gave up waiting for this round
            try:
                more = self._send_singles() if self._single else self._send_batch()
                more = self._socket.read_subscriptions() or more
                if not more and queue.unreported and self._blocked_since is None:
                    self._report_drops()
            except _RETRY:
                more = True
            except zmq.ZMQError as error:
                self._fail(error)
                return False
            return more
        finally:
            queue.consumer_thread = None

    def run_now(self) -> None:
        """Run rounds until the queue is empty or the socket refuses; never waits."""
        with self.lock:
            while self.round():
                pass

    def flush(self, deadline: float) -> None:
        """Send everything queued, waiting on this thread while the socket refuses.

        Gives up at *deadline* (``time.monotonic()``), leaving what is left queued.
        Never runs on an event loop's thread: it may sleep.
        """
        pause = 0.001
        while True:
            remaining = deadline - time.monotonic()
            if not self.lock.acquire(timeout=max(remaining, 0)):
                return  # another thread is sending; it sends these too
            try:
                while self.round():
                    pass
                until = self.deadline()
            finally:
                self.lock.release()
            now = time.monotonic()
            if until is None or now >= deadline:
                return
            if now >= until:
                with self.lock:
                    if self.expire(now):
                        return  # the stop deadline passed: the closer counts the rest
                continue
            # XPUB always reports POLLOUT, so there is nothing to wait on: back off.
            time.sleep(min(pause, until - now, deadline - now))
            pause = min(pause * 2, 0.05)

    def abandon(self, why: str) -> int:
        """Count what is still queued or held as dropped, say so on stderr, return it."""
        held = self.pending is not None
        self.pending = None
        self._blocked_since = None
        if held:
            self._queue.drop()
        left = self._queue.abandon() + held
        if left:
            print(f"zmqlog: {left} log record(s) were not published: {why}", file=sys.stderr)
        return left

    def after_fork(self) -> None:
        """In a forked child: forget the parent's pending message and its lock."""
        self.lock = threading.RLock()
        self.pending = None
        self._blocked_since = None

    # -- the parts of a round ---------------------------------------------------------

    def _send_batch(self) -> bool:
        """Send up to one batch of queued records; return True if more are waiting."""
        queue = self._queue
        if self.pending is not None:
            if not self._send_frames(self.pending):
                return False
            self.pending = None
            self._queue.sent += 1
        renderer = self._renderer
        items = queue.items
        sock = self._socket.sync
        send = _send
        log_record = _LogRecord
        settings = renderer.drained
        fast = settings.fast
        templates = renderer.templates
        json = renderer.json
        limit = renderer.max_payload
        more, last, again = _SNDMORE_NOBLOCK, zmq.NOBLOCK, zmq.Again
        sent = freed = 0
        try:
            for _ in range(BATCH):
                try:
                    item = items.popleft()
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
                                template = renderer.template(record)
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
                                payload = truncate(payload, limit)
                            topic = entry[1]
                        else:
                            topic, payload = renderer.encode(record, settings, owned=False)
                    elif isinstance(item, Pinned):
                        record = item.record
                        freed += item.size
                        pinned = item.settings
                        if pinned is not settings and pinned is renderer.current:
                            # The settings in force now: records queued bare from here
                            # on were logged under them.
                            settings = renderer.drained = pinned
                            fast = settings.fast
                        topic, payload = renderer.encode(record, pinned, owned=item.owned)
                    else:
                        # A LogRecord subclass, whose getMessage() may differ: the
                        # level's formatter renders it.
                        record = item
                        topic, payload = renderer.encode(record, settings, owned=False)
                except Exception:
                    queue.fail()
                    self._report_error(record)
                    continue
                try:
                    send(sock, topic, more)
                except again:
                    self.pending = (topic, payload)
                    self._blocked_since = time.monotonic()
                    return False
                except BaseException:
                    # Failed or interrupted before ZeroMQ took any of it: held, so that
                    # it is sent or counted like any refused message.
                    self.pending = (topic, payload)
                    raise
                send(sock, payload, last)  # never refused once the first part is taken
                sent += 1
                if json:
                    renderer.seq += 1
            self._blocked_since = None
            return bool(items)
        finally:
            queue.sent += sent
            if freed:
                queue.nbytes -= freed

    def _send_singles(self) -> bool:
        """:meth:`_send_batch` for single frames (``single_frame=True``).

        The same loop, record for record, but for the send: one frame, the topic's
        prefix joined to the payload. Two loops rather than a test per record keep
        the default two-frame path as fast as it was.
        """
        queue = self._queue
        if self.pending is not None:
            if not self._send_frames(self.pending):
                return False
            self.pending = None
            self._queue.sent += 1
        renderer = self._renderer
        items = queue.items
        sock = self._socket.sync
        send = _send
        log_record = _LogRecord
        settings = renderer.drained
        fast = settings.fast
        templates = renderer.templates
        json = renderer.json
        limit = renderer.max_payload
        last, again = zmq.NOBLOCK, zmq.Again
        sent = freed = 0
        try:
            for _ in range(BATCH):
                try:
                    item = items.popleft()
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
                            and getattr(record, "topic", None) is None  # see _send_batch
                        ):
                            template = templates.get(record.msg)
                            if template is None:
                                template = renderer.template(record)
                        if template:
                            args = record.args
                            text = template % args if args else template
                            try:
                                payload = text.encode()
                            except UnicodeEncodeError:  # lone surrogates
                                payload = text.encode("utf-8", "backslashreplace")
                            if len(payload) > limit:
                                payload = truncate(payload, limit)
                            frame = entry[1] + payload  # the escaped topic and ": "
                        else:
                            frame = renderer.encode_frame(record, settings, owned=False)
                    elif isinstance(item, Pinned):
                        record = item.record
                        freed += item.size
                        pinned = item.settings
                        if pinned is not settings and pinned is renderer.current:
                            settings = renderer.drained = pinned
                            fast = settings.fast
                        frame = renderer.encode_frame(record, pinned, owned=item.owned)
                    else:
                        record = item
                        frame = renderer.encode_frame(record, settings, owned=False)
                except Exception:
                    queue.fail()
                    self._report_error(record)
                    continue
                try:
                    send(sock, frame, last)
                except again:
                    self.pending = (frame,)
                    self._blocked_since = time.monotonic()
                    return False
                except BaseException:
                    self.pending = (frame,)
                    raise
                sent += 1
                if json:
                    renderer.seq += 1
            self._blocked_since = None
            return bool(items)
        finally:
            queue.sent += sent
            if freed:
                queue.nbytes -= freed

    def _send_frames(self, frames: tuple[bytes, ...]) -> bool:
        """Send held *frames*; False if the socket still refuses them."""
        if not self._offer(frames):
            if self._blocked_since is None:
                self._blocked_since = time.monotonic()
            return False
        self._blocked_since = None
        self._renderer.accepted()
        return True

    def _offer(self, frames: tuple[bytes, ...]) -> bool:
        """Send one message of one or two frames; False if the socket refuses it."""
        sock = self._socket.sync
        try:
            _send(sock, frames[0], _SNDMORE_NOBLOCK if len(frames) > 1 else zmq.NOBLOCK)
        except zmq.Again:
            return False
        if len(frames) > 1:
            _send(sock, frames[1], zmq.NOBLOCK)  # never refused once the first is taken
        return True

    def _report_drops(self) -> None:
        """Publish one WARNING saying how many records were lost since the last one."""
        queue = self._queue
        count = queue.unreported
        if queue.items or self.pending is not None or self._socket.closed:
            return
        if not self._offer(self._renderer.drop_report(count)):
            return  # try again after the next batch; the sequence number is not used up
        queue.sent += 1
        self._renderer.accepted()
        queue.reported(count)

    def _fail(self, error: zmq.ZMQError) -> None:
        """The socket cannot be used any more: say so once, and count every record."""
        self.failure = error
        self._queue.close()
        lost = self._count_lost()
        print(
            f"zmqlog: the handler's socket failed ({error}); {lost} queued log record(s) "
            "were not published, and later ones are dropped and counted",
            file=sys.stderr,
        )

    def _count_lost(self) -> int:
        held = self.pending is not None
        self.pending = None
        self._blocked_since = None
        if held:
            self._queue.drop()
        return self._queue.abandon() + held

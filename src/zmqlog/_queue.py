"""RecordQueue: the bounded hand-off between the threads that log and the drain.

This is the state the two sides of a handler share, kept in one small object in the
manner of anyio's memory object streams: the caller's side (``AsyncPUBHandler.handle``)
appends records, the drain pops them from the other end, and the overflow policy and
the counters sit beside the buffer. ``deque.append`` and ``deque.popleft`` are atomic in
CPython, so neither side locks to hand a record over; the counters that several threads
change (records lost, records that failed) take a lock, and only when something is lost.

No zmq and no asyncio here: the queue is tested on its own.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Final, Generic, Literal, NamedTuple, TypeVar, get_args

from zmqlog.exceptions import UsageError

__all__ = ["HandlerStats", "Overflow", "RecordQueue", "check_overflow"]

T = TypeVar("T")

Overflow = Literal["drop_newest", "drop_oldest"]
"""What ``emit()`` does when the queue is full: drop the new record, or the oldest queued."""

_POLICIES: Final = get_args(Overflow)


def check_overflow(overflow: object) -> Overflow:
    """Return *overflow* if it names a policy; raise :class:`UsageError` naming them if not."""
    if overflow not in _POLICIES:
        raise UsageError(
            f"overflow must be one of {', '.join(map(repr, _POLICIES))}, not {overflow!r}"
        )
    return overflow  # type: ignore[return-value]


class HandlerStats(NamedTuple):
    """Counters of an :class:`AsyncPUBHandler` (and its :class:`LogPublisher`).

    Every record logged to the handler is in exactly one of them, so at any moment
    ``queued + sent + dropped + errors`` is the number of records logged, plus the
    drop reports zmqlog itself sent (counted in ``sent``).
    """

    queued: int
    """Records waiting to be sent now (including one the socket has not yet taken)."""
    sent: int
    """Messages handed to ZeroMQ (including zmqlog's own drop reports)."""
    dropped: int
    """Records zmqlog lost: queue full, socket refused past its deadline or failed,
    logged after close or in a forked child, or unsent when the handler closed.
    ZeroMQ's own drops at a subscriber's high-water mark are invisible here (see
    ``lossless``), and so are messages ZeroMQ accepted but could not deliver within
    ``linger`` of the close."""
    errors: int
    """Records that could not be formatted or encoded (reported through ``handleError``)."""


class RecordQueue(Generic[T]):
    """A bounded FIFO of records with an overflow policy and the handler's counters.

    The caller's side reads :attr:`closed`, :attr:`consumer_thread`, :attr:`items`,
    :attr:`max_items` and :attr:`wake_needed` directly (each attribute read is paid
    per logging call), appends to :attr:`items`, and calls :meth:`make_room` when the
    queue is full. The drain pops from :attr:`items`, counts what it sent in
    :attr:`sent` (only one drain round runs at a time, so it needs no lock), and sets
    :attr:`wake_needed` when it stops looking at the queue by itself.
    """

    __slots__ = (
        "_charge",
        "_drop_oldest",
        "_lock",
        "_per_item",
        "closed",
        "consumer_thread",
        "dropped",
        "errors",
        "items",
        "max_bytes",
        "max_items",
        "nbytes",
        "render_depth",
        "sent",
        "unreported",
        "wake_needed",
    )

    def __init__(
        self,
        max_items: int,
        overflow: Overflow = "drop_newest",
        *,
        max_bytes: int = 1 << 62,
        per_item: int = 0,
        charge: Callable[[T], int] = lambda item: 0,
    ) -> None:
        if type(max_items) is not int or max_items < 1:
            raise UsageError(f"max_queue must be a positive number of records, not {max_items!r}")
        if type(max_bytes) is not int or max_bytes < 1:
            raise UsageError(
                f"max_queue_bytes must be a positive number of bytes, not {max_bytes!r}"
            )
        self.items: deque[T] = deque()
        """The records, oldest first."""
        self.max_items = max_items
        """How many records :attr:`items` holds before the overflow policy applies."""
        self.max_bytes = max_bytes
        """The bytes the records may take before the overflow policy applies: each
        counts *per_item*, and those that cost more their *charge* on top."""
        self.nbytes = 0
        """The charges of the records in :attr:`items`: added by the caller's side,
        taken off by the drain after it pops them."""
        self._per_item = per_item
        self._charge = charge
        self._drop_oldest = check_overflow(overflow) == "drop_oldest"
        self.closed = False
        """True once no record may be added: each one offered is dropped and counted."""
        self.consumer_thread: int | None = None
        """The thread on which the drain runs the application's code right now (a
        formatter, a ``handleError``), if any: a record logged on that thread meanwhile
        comes from that code, or from a signal handler that interrupted it."""
        self.render_depth = 0
        """While the drain runs a formatter: how deep the record it renders was logged
        from inside the drain's own work (0: by the application). Past a bound, what
        is logged from there is dropped, so that a formatter that logs cannot feed the
        drain forever."""
        self.wake_needed = True
        """True while no drain will look at :attr:`items` without being told to."""
        self.sent = 0
        self.dropped = 0
        self.unreported = 0
        """Drops not yet reported to subscribers (see :meth:`reported`)."""
        self.errors = 0
        # Re-entrant: a signal handler that logs may interrupt the thread holding it.
        self._lock = threading.RLock()

    def over(self, charge: int) -> bool:
        """True if one more record, of *charge*, would pass the byte bound."""
        return (len(self.items) + 1) * self._per_item + self.nbytes + charge > self.max_bytes

    def make_room(self, charge: int = 0) -> bool:
        """The queue is full, in records or (for one of *charge* more) in bytes: apply
        the overflow policy. True if the new record goes in.

        drop_oldest drops as many of the oldest as it takes; a record bigger than the
        whole byte bound still goes into an empty queue (it exists already: holding
        it until it is sent costs nothing more).
        """
        if not self._drop_oldest:
            self.drop()
            return False
        items = self.items
        while items and (len(items) >= self.max_items or self.over(charge)):
            try:
                oldest = items.popleft()
            except IndexError:
                break  # the drain emptied it meanwhile
            self.nbytes -= self._charge(oldest)
            self.drop()
        return True

    def drop(self, count: int = 1, *, report: bool = True) -> None:
        """Count *count* records as lost; *report* them to subscribers too, unless a
        report could cause more (records dropped while one is rendered)."""
        with self._lock:
            self.dropped += count
            if report:
                self.unreported += count

    def fail(self, count: int = 1) -> None:
        """Count *count* records that could not be formatted or encoded."""
        with self._lock:
            self.errors += count

    def reported(self, count: int) -> None:
        """*count* drops were reported to the subscribers."""
        with self._lock:
            self.unreported -= count

    def abandon(self) -> int:
        """Drop every queued record, count them, and return how many there were."""
        count = 0
        items = self.items
        while True:
            try:
                items.popleft()
            except IndexError:
                break
            count += 1
        self.nbytes = 0
        if count:
            self.drop(count)
        return count

    def close(self) -> None:
        """Accept no more records; those offered from now on are dropped and counted."""
        self.closed = True

    def after_fork(self) -> None:
        """In a forked child: forget the parent's records (the parent sends them) and
        any lock a vanished thread may have held."""
        self.items.clear()
        self.nbytes = 0
        self.closed = True
        self.consumer_thread = None
        self._lock = threading.RLock()

    def stats(self, in_flight: int = 0) -> HandlerStats:
        """The counters now; *in_flight* records left the queue but were not sent yet."""
        return HandlerStats(
            queued=len(self.items) + in_flight,
            sent=self.sent,
            dropped=self.dropped,
            errors=self.errors,
        )

"""Who runs the drain (a loop task, or a thread when no loop runs), and how it stops.

In an asyncio program the drain's rounds run in a task on the loop (:class:`LoopRunner`):
sends are non-blocking, and the task awaits only the socket's file descriptor, a
deadline or new records, so the loop never waits for logging. In a program with no
event loop (a script, a WSGI worker, a thread pool, a test suite), or once the loop
that drained has stopped or closed, a daemon thread runs them (:class:`ThreadRunner`).

:class:`Scheduler` decides between the two. The caller's side asks it to act only
when the queue says so (:attr:`RecordQueue.wake_needed`): when the drain sleeps, has
handed control back to its loop, or has ended. It then wakes the loop task if its
loop still runs, starts a task if the calling thread runs a loop, and otherwise wakes
(or starts) the thread. A loop task that starts takes over from the thread, which
steps back after its current round; both hold the drain for every round, so exactly
one of them renders and sends at any moment, and since both pop the one queue in
order, nothing is lost or sent twice across a hand-over.

A loop can stop for good at any moment, with the task asleep or between two rounds
(``loop.run_until_complete()`` returning, ``loop.stop()``), and nothing tells the task.
So whenever the task has work it may not get to, the thread *watches*: it looks every
100 ms whether the task's loop still runs, and takes over when it does not.

Nothing here refers to the handler, so that a handler nobody closed can be garbage
collected (and warn) while its records are still being sent.
"""

from __future__ import annotations

import asyncio
import functools
import select
import socket as stdlib_socket
import threading
import time
import weakref
from typing import Final, cast

import zmq

from zmqlog import _gilsend
from zmqlog._drain import BATCH, Drain, Send, pyzmq_send
from zmqlog._pubsocket import PublisherSocket
from zmqlog._queue import RecordQueue
from zmqlog._records import Item

__all__ = ["THREAD_SEND", "LoopRunner", "Scheduler", "ThreadRunner"]

THREAD_SEND: Final[Send] = _gilsend.make() or pyzmq_send
"""The send of every drain that does not run on an event loop: one that keeps the GIL
(see :mod:`zmqlog._gilsend`), or pyzmq's where that cannot be had."""

# How long the loop task waits before it tries the drain again when another thread is
# sending: never block the loop on it.
_LOCK_RETRY: Final = 0.001
# How long the thread waits for the drain before it looks at its orders again.
_LOCK_WAIT: Final = 0.05
# How often the thread looks whether a loop task with work to do still has a loop.
_WATCH: Final = 0.1
# The thread's back-off while an XPUB socket refuses (it always reports POLLOUT, so
# there is nothing to wait on): from 1 ms, doubling, up to 50 ms.
_FIRST_PAUSE: Final = 0.001
_LONGEST_PAUSE: Final = 0.05
# A round of more than this per record shows another thread taking the GIL at each
# send; the loop task then keeps the GIL for this long.
_CONVOY: Final = 50e-6
_CONVOY_HOLD: Final = 1.0
# What a cancelled loop task may still spend sending before it lets its loop end.
_CANCEL_BUDGET: Final = 0.25


class LoopRunner:
    """Runs the drain's rounds in a task on one asyncio event loop."""

    __slots__ = (
        "_drain",
        "_queue",
        "_scheduler",
        "_socket",
        "_wake",
        "cancelled",
        "closes",
        "done",
        "fd",
        "idle",
        "loop",
        "stopping",
        "task",
        "thread",
    )

    def __init__(self, scheduler: Scheduler, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduler = scheduler
        self._drain = scheduler.drain
        self._queue = scheduler.queue
        self._socket = scheduler.socket
        self.loop = loop
        self.thread = threading.get_ident()
        self._wake = asyncio.Event()
        self.idle = False
        """True while the task waits for records: the only time a record must wake it."""
        self.stopping = False
        """Set by a closer: finish sending (until the drain's stop deadline) and end."""
        self.closes = False
        """Set by a closer that cannot wait: close the socket on the way out."""
        self.cancelled = False
        """True once the task was cancelled: its loop is ending (``asyncio.run()``
        returning) or was told to stop draining."""
        self.fd: int | None = None
        """The socket's file descriptor while the loop watches it."""
        self.done = threading.Event()
        """Set when the task has ended, for closers on other threads."""
        self.task = loop.create_task(self._run(), name="zmqlog-drain")
        # A loop may close with this task pending (or stop and be dropped): the task
        # then ends when it is collected, or never; the thread has taken over by then.
        # That is by design, so asyncio need not report it as "destroyed but pending".
        try:
            self.task._log_destroy_pending = False  # type: ignore[attr-defined]
        except AttributeError:
            pass

    def alive(self) -> bool:
        """True while the task can still run: its loop is running and it has not ended."""
        loop = self.loop
        return not self.task.done() and loop.is_running() and not loop.is_closed()

    def wake(self) -> bool:
        """Make the task look at the queue, from any thread; False if its loop is gone."""
        if threading.get_ident() == self.thread:
            self._wake.set()
            return True
        try:
            self.loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:
            return False  # the loop closed under us
        return True

    def detach(self) -> None:
        """For a closer, when the task's loop does not run: leave nothing of ours
        registered with that loop (its FD reader), and cancel the task, which ends at
        once if the loop runs again."""
        loop, fd = self.loop, self.fd
        self.fd = None
        if fd is not None and not loop.is_closed():
            try:
                loop.remove_reader(fd)
            except Exception:  # a loop not meant to be touched from here; best effort
                pass
        if not self.task.done() and not loop.is_closed():
            self.task.cancel()

    async def _run(self) -> None:
        loop, wake, drain, queue, socket, scheduler = (
            self.loop,
            self._wake,
            self._drain,
            self._queue,
            self._socket,
            self._scheduler,
        )
        # pyzmq's send, the fastest while this thread has the GIL to itself. Another
        # thread busy running Python (logging in a loop, say) takes the GIL for 5 ms each
        # time a send lets go of it; a round that shows that switches to the send that
        # keeps the GIL, for a while (see zmqlog._gilsend).
        send = pyzmq_send
        convoy_until = 0.0
        # ZeroMQ's FD only says "something changed, look at EVENTS"; each round reads
        # EVENTS, which re-arms it.
        generation = socket.generation
        self.fd = fd = cast(int, socket.sync.getsockopt(zmq.FD))
        loop.add_reader(fd, wake.set)
        timer: asyncio.TimerHandle | None = None
        try:
            while scheduler.loop_runner is self and not socket.closed:
                wake.clear()
                if socket.generation != generation:
                    # The socket was made again (a subscription flood): watch the new one.
                    loop.remove_reader(fd)
                    generation = socket.generation
                    self.fd = fd = cast(int, socket.sync.getsockopt(zmq.FD))
                    loop.add_reader(fd, wake.set)
                if not drain.acquire(blocking=False):
                    # flush(), close() or the thread is sending: look again shortly.
                    queue.wake_needed = True
                    await asyncio.sleep(_LOCK_RETRY)
                    continue
                started, sent = time.perf_counter(), queue.sent
                try:
                    more = drain.round(send)
                    deadline = drain.deadline()
                finally:
                    drain.release()
                took, sent = time.perf_counter() - started, queue.sent - sent
                if sent >= 8 and took > sent * _CONVOY:
                    send, convoy_until = THREAD_SEND, started + _CONVOY_HOLD
                elif send is not pyzmq_send and started > convoy_until:
                    send = pyzmq_send
                if more:
                    # A backlog: let the loop breathe between rounds. The loop may stop
                    # for good meanwhile, with this task pending: the first record logged
                    # checks that it still runs, and the thread watches.
                    queue.wake_needed = True
                    scheduler.watch()
                    await asyncio.sleep(0)
                    queue.wake_needed = False
                    continue
                if deadline is not None:
                    # The socket refuses: wait for its FD (a subscriber read and freed
                    # room) or for the deadline.
                    now = time.monotonic()
                    if now >= deadline:
                        if drain.expire(now):
                            return  # the stop deadline passed; the closer counts the rest
                        continue
                    timer = loop.call_later(deadline - now, wake.set)
                    queue.wake_needed = True
                    scheduler.watch()
                elif self.stopping:
                    return  # everything queued went to the socket
                else:
                    self.idle = queue.wake_needed = True
                    if queue.items:  # logged between the round and now
                        self.idle = queue.wake_needed = False
                        continue
                await wake.wait()
                self.idle = queue.wake_needed = False
                if timer is not None:
                    timer.cancel()
                    timer = None
        except asyncio.CancelledError:
            # Cancelled (asyncio.run() ending, a timed-out close): send what the socket
            # takes of what is queued now, without waiting and within a bound (threads
            # may go on logging), so that a clean exit loses nothing it can keep.
            self.cancelled = True
            self._send_what_is_queued()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self.idle = False
            fd, self.fd = self.fd, None
            if fd is not None and not loop.is_closed():
                loop.remove_reader(fd)
            scheduler.loop_ended(self)
            self.done.set()

    def _send_what_is_queued(self) -> None:
        drain, queue = self._drain, self._queue
        if not drain.acquire(timeout=_LOCK_RETRY * 10):
            return  # another thread is sending: the thread goes on with them
        try:
            deadline = time.monotonic() + _CANCEL_BUDGET
            for _ in range(len(queue.items) // BATCH + 1):
                if not drain.round(pyzmq_send) or time.monotonic() >= deadline:
                    break
        finally:
            drain.release()


class ThreadRunner:
    """Runs the drain's rounds on a daemon thread, for as long as no loop task does,
    and watches a loop task that has work it may not get to."""

    __slots__ = (
        "_drain",
        "_queue",
        "_reader",
        "_scheduler",
        "_send",
        "_socket",
        "_writer",
        "idle",
        "stopping",
        "thread",
        "watching",
    )

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._drain = scheduler.drain
        self._queue = scheduler.queue
        self._socket = scheduler.socket
        self._send = THREAD_SEND
        # Woken through a socket pair, so that the thread can wait for a record and for
        # its ZeroMQ socket's FD at once. A byte is written only when it sleeps.
        self._reader, self._writer = stdlib_socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self.idle = False
        """True while the thread waits (for records, or for a loop task to need it)."""
        self.watching = False
        """True while it waits with a timeout, watching a loop task with work to do."""
        self.stopping = False
        # A daemon: logging.shutdown(), at exit, closes the handler and joins the thread
        # (a plain thread would be waited for before that, forever).
        self.thread = threading.Thread(target=self._run, name="zmqlog-drain", daemon=True)
        self.thread.start()

    def wake(self) -> None:
        """Make the thread look at the queue and its orders (from any thread)."""
        try:
            self._writer.send(b"\0")
        except OSError:
            pass  # a wake-up is waiting already (or the thread has ended)

    def stop(self, timeout: float) -> bool:
        """End the thread after its current round; False if it did not end in *timeout*."""
        self.stopping = True
        self.wake()
        if self.thread is threading.current_thread():
            return True  # a formatter or signal handler on the drain thread closes
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _wait(self, timeout: float | None, fd: int | None) -> None:
        """Sleep until woken, until the socket's FD says something changed, or *timeout*."""
        watched: list[int] = [self._reader.fileno()] if fd is None else [self._reader.fileno(), fd]
        try:
            select.select(watched, [], [], timeout)
        except (OSError, ValueError):
            pass  # the socket was closed meanwhile: look at the orders again
        try:
            while self._reader.recv(4096):
                pass
        except OSError:
            pass

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._reader.close()
            self._writer.close()
            self._scheduler.thread_ended(self)

    def _loop(self) -> None:
        drain, queue, socket, scheduler, send = (
            self._drain,
            self._queue,
            self._socket,
            self._scheduler,
            self._send,
        )
        pause = _FIRST_PAUSE
        generation, fd = -1, None
        while not self.stopping:
            if scheduler.loop_alive():
                # A loop task drains now. While it has work, look every 100 ms that its
                # loop still runs; else sleep until told otherwise.
                busy = bool(queue.items) or drain.in_flight > 0
                self.watching = busy
                self.idle = True
                self._wait(_WATCH if busy else None, None)
                self.idle = self.watching = False
                continue
            if not drain.acquire(timeout=_LOCK_WAIT):
                continue  # flush() or close() is sending, or a loop task: look again
            try:
                more = drain.round(send)
                deadline = drain.deadline()
            finally:
                drain.release()
            if more:
                continue
            if socket.closed:
                fd = None
            elif socket.generation != generation:
                generation = socket.generation
                fd = cast(int, socket.sync.getsockopt(zmq.FD))
            if deadline is not None:
                now = time.monotonic()
                if now >= deadline:
                    if drain.expire(now, timeout=_LOCK_WAIT):
                        return
                    continue
                if socket.is_xpub:
                    self._wait(min(pause, deadline - now), None)
                    pause = min(pause * 2, _LONGEST_PAUSE)
                else:
                    self._wait(deadline - now, fd)  # a PUSH, PAIR or DEALER shows POLLOUT
                continue
            pause = _FIRST_PAUSE
            self.idle = queue.wake_needed = True
            if queue.items:  # logged between the round and now
                self.idle = queue.wake_needed = False
                continue
            # Records, or the socket's FD (subscriptions, a context being terminated).
            self._wait(None, fd)
            self.idle = queue.wake_needed = False


class Scheduler:
    """Starts, wakes and stops the drain's runners; the one place that chooses between them.

    Args:
        drain: the protocol the runners run.
        queue: the records (the runners set its ``wake_needed`` flag).
        socket: what the drain sends on.
    """

    __slots__ = (
        "_ended",
        "_lock",
        "closing",
        "drain",
        "loop_runner",
        "orphaned",
        "queue",
        "socket",
        "thread_runner",
    )

    def __init__(self, drain: Drain, queue: RecordQueue[Item], socket: PublisherSocket) -> None:
        self.drain = drain
        self.queue = queue
        self.socket = socket
        self.loop_runner: LoopRunner | None = None
        self.thread_runner: ThreadRunner | None = None
        self.closing = False
        """Set once the handler closes: no new runner starts."""
        self.orphaned: float | None = None
        """The deadline of a close that gave up waiting for the thread's round: the
        thread finishes it when that round ends."""
        self._lock = threading.RLock()  # one decision at a time on who runs
        # The loop that last cancelled the drain's task: it is shutting down (the end of
        # asyncio.run()), and a task started there now would never run.
        self._ended: weakref.ref[asyncio.AbstractEventLoop] | None = None

    # -- who runs -----------------------------------------------------------------------

    def loop_alive(self) -> bool:
        """True while a loop task runs the drain."""
        runner = self.loop_runner
        return runner is not None and runner.alive()

    def wake(self) -> None:
        """Make sure a runner will look at the queue: called by the caller's side when
        the queue's ``wake_needed`` flag is set. Never raises, never blocks."""
        self.queue.wake_needed = False  # first: the rest of a burst need not come here
        runner = self.loop_runner
        if runner is not None and runner.alive():
            if runner.idle:
                runner.wake()
            self.watch()  # the loop may stop before the task gets to these records
            return
        loop = asyncio._get_running_loop()
        ended = self._ended
        if loop is not None and not self.closing and (ended is None or ended() is not loop):
            self.start_loop(loop)
            self.watch()
        else:
            self._wake_thread()

    def watch(self) -> None:
        """A loop task has work it may not get to: have the thread watch it."""
        thread = self.thread_runner
        if thread is not None and (thread.watching or not thread.idle):
            return
        self._wake_thread()

    def _wake_thread(self) -> None:
        try:
            with self._lock:
                if self.closing:
                    return
                thread = self.thread_runner
                if thread is None or not thread.thread.is_alive():
                    self.thread_runner = ThreadRunner(self)
                elif thread.idle:
                    thread.wake()
        except (RuntimeError, OSError):
            # No thread can start (the interpreter is shutting down, no file descriptor
            # left): the records wait for close(), which logging.shutdown() calls.
            self.queue.wake_needed = True

    def start_loop(self, loop: asyncio.AbstractEventLoop) -> LoopRunner:
        """Run the drain in a task on *loop* (the running one) from now on."""
        with self._lock:
            runner = self.loop_runner
            if runner is not None and runner.loop is loop and not runner.task.done():
                return runner
            runner = self.loop_runner = LoopRunner(self, loop)
            self.queue.wake_needed = False
            return runner

    def loop_ended(self, runner: LoopRunner) -> None:
        """A loop task ended: close the socket if a closer asked it to, or hand the
        records it could not send to the thread."""
        with self._lock:
            if self.loop_runner is not runner:
                return
            self.loop_runner = None
            self.queue.wake_needed = True
            if runner.cancelled:
                self._ended = weakref.ref(runner.loop)
            if runner.closes:
                if not self.socket.closed:
                    self.close_without_waiting()
                return
            if self.queue.items or self.drain.in_flight:
                # Never a new task here: this loop may be shutting down.
                self._wake_thread()

    def thread_ended(self, runner: ThreadRunner) -> None:
        """The thread ended: finish a close that gave up waiting for it."""
        with self._lock:
            if self.thread_runner is runner:
                self.thread_runner = None
            deadline, self.orphaned = self.orphaned, None
        if deadline is not None:
            self._finish_close(deadline)

    def flush(self, timeout: float) -> None:
        """Send what is queued from this thread, waiting (at most *timeout*) while the
        socket refuses. Not for an event loop's thread."""
        self.drain.flush(time.monotonic() + timeout, THREAD_SEND)

    # -- the end ------------------------------------------------------------------------

    def close(self, timeout: float) -> None:
        """Stop the runners, send what is queued within *timeout*, close the socket.

        Waits (at most about *timeout*), except where it must not: on the thread of the
        loop whose task runs the drain (the task closes the socket on its way out), and
        in a signal handler or formatter on the thread that holds the drain (the close
        is finished when that thread lets go of it).
        """
        self.closing = True
        self.queue.close()
        drain = self.drain
        deadline = time.monotonic() + timeout
        drain.stop_deadline = deadline
        me = threading.get_ident()
        runner = self.loop_runner
        if runner is not None and runner.alive():
            runner.stopping = True
            if me == runner.thread:
                # This thread runs the loop, so it must not wait; but the task may never
                # run again (a shutdown hook, a SIGTERM handler that stops the loop next,
                # a dictConfig reload that binds the same endpoint at once). So send now
                # what the socket takes and close, as aclose() does, unless this is a
                # formatter or signal handler inside the task's own round.
                runner.closes = True
                if drain.acquire(blocking=False):
                    try:
                        self._send_now(deadline)
                    finally:
                        drain.release()
                    runner.detach()
                    self.close_without_waiting()
                else:
                    runner.wake()
                return
            runner.wake()
            runner.done.wait(timeout + 1.0)
        elif runner is not None:
            runner.detach()  # a loop that stopped: leave nothing registered with it
        if not self.stop_thread(timeout + 1.0):
            # The thread is stuck in a round (a formatter that blocks): it holds the
            # socket, and finishes this close when the round ends.
            self.orphaned = deadline
            return
        if drain.held_here():
            drain.deferred = functools.partial(self._finish_close, deadline)
            return
        self._finish_close(deadline)

    def _send_now(self, deadline: float) -> None:
        """Send, without waiting, what the socket takes of what is queued, until
        *deadline* at the latest (the caller holds the drain)."""
        while self.drain.round(pyzmq_send):
            if time.monotonic() >= deadline:
                break

    def _finish_close(self, deadline: float) -> None:
        drain, socket = self.drain, self.socket
        if not socket.closed:
            drain.flush(deadline, THREAD_SEND)
            if drain.acquire(timeout=1.0):
                try:
                    drain.abandon("the socket did not take them before close")
                finally:
                    drain.release()
            else:
                self.queue.abandon()
            socket.close(deadline)
        socket.term_context()

    def close_without_waiting(self) -> None:
        """Count what is left, close the socket, and terminate the context on a thread
        of its own: for a closer on an event loop's thread, which must not wait."""
        thread = self.thread_runner
        if thread is not None:
            thread.stopping = True
            thread.wake()
        drain = self.drain
        if not drain.acquire(timeout=_LOCK_RETRY * 10):
            # Someone is mid-round: the socket is theirs until it ends.
            self.orphaned = drain.stop_deadline or time.monotonic()
            if thread is None or not thread.thread.is_alive():
                threading.Thread(
                    target=self._finish_close,
                    args=(self.orphaned,),
                    name="zmqlog-close",
                    daemon=True,
                ).start()
            return
        try:
            drain.abandon("the socket did not take them within the flush timeout")
        finally:
            drain.release()
        self.socket.close(drain.stop_deadline)
        # Terminating the context waits out the linger: not on the event loop's thread.
        threading.Thread(target=self.socket.term_context, name="zmqlog-term", daemon=True).start()

    async def aclose(self, timeout: float) -> None:
        """:meth:`close` for a coroutine: the loop never waits, and a task that runs
        the drain on this loop sends what is queued before the socket closes."""
        self.closing = True
        self.queue.close()
        runner = self.loop_runner
        if runner is None or runner.loop is not asyncio.get_running_loop() or not runner.alive():
            # The drain runs on a thread or on another loop, or not at all: close the
            # waiting way, off this loop.
            await asyncio.to_thread(self.close, timeout)
            return
        drain = self.drain
        deadline = drain.stop_deadline = time.monotonic() + timeout
        runner.stopping = True
        runner.wake()
        try:
            # The task returns by itself once the queue is empty or the deadline passed;
            # shielded so that a cancelled caller cannot cut it short.
            await asyncio.shield(runner.task)
        except asyncio.CancelledError:
            if runner.task.done():
                if not self.socket.closed:
                    self.close_without_waiting()
            else:
                runner.closes = True  # on its way out, the task closes the socket
                runner.task.cancel()  # its cancellation path sends what it can
            raise
        thread = self.thread_runner
        if thread is not None:
            thread.stopping = True
            thread.wake()
        if self.socket.closed:
            await asyncio.to_thread(self.socket.term_context)
        elif drain.acquire(blocking=False):
            try:
                self._send_now(deadline)
                drain.abandon("the socket did not take them before close")
            finally:
                drain.release()
            self.socket.close(deadline)
            await asyncio.to_thread(self.socket.term_context)
        else:
            await asyncio.to_thread(self._finish_close, deadline)

    def stop_thread(self, timeout: float) -> bool:
        """Stop the drain thread, if any; False if it did not end within *timeout*."""
        thread = self.thread_runner
        if thread is None:
            return True
        stopped = thread.stop(timeout)
        if stopped and thread.thread is not threading.current_thread():
            self.thread_runner = None
        return stopped

    def after_fork(self) -> None:
        """In a forked child: no runner of the parent's exists here."""
        self.loop_runner = None
        self.thread_runner = None
        self.closing = True
        self.orphaned = None
        self._lock = threading.RLock()

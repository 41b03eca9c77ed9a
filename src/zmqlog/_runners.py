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
steps back after its current round; both hold the drain's lock for every round, so
exactly one of them renders and sends at any moment, and since both pop the one
queue in order, nothing is lost or sent twice across a hand-over.

Nothing here refers to the handler, so that a handler nobody closed can be garbage
collected (and warn) while its records are still being sent.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from typing import Final, cast

import zmq

from zmqlog._drain import Drain
from zmqlog._pubsocket import PublisherSocket
from zmqlog._queue import RecordQueue
from zmqlog._records import Item

__all__ = ["LoopRunner", "Scheduler", "ThreadRunner"]

# How long the loop task waits before it tries the lock again when another thread is
# sending: never block the loop on it.
_LOCK_RETRY: Final = 0.001
# The thread's back-off while the socket refuses (an XPUB always reports POLLOUT, so
# there is nothing to wait on): from 1 ms, doubling, up to 50 ms.
_FIRST_PAUSE: Final = 0.001
_LONGEST_PAUSE: Final = 0.05


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
        self.done = threading.Event()
        """Set when the task has ended, for closers on other threads."""
        self.task = loop.create_task(self._run(), name="zmqlog-drain")
        # A loop may close with this task pending (or stop and be dropped): the task
        # then ends when it is collected, handing its records to the thread. That is
        # by design, so asyncio need not report it as "destroyed but pending".
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

    async def _run(self) -> None:
        loop, wake, drain, queue, socket = (
            self.loop,
            self._wake,
            self._drain,
            self._queue,
            self._socket,
        )
        # ZeroMQ's FD only says "something changed, look at EVENTS"; each round reads
        # EVENTS, which re-arms it.
        generation = socket.generation
        fd = cast(int, socket.sync.getsockopt(zmq.FD))
        loop.add_reader(fd, wake.set)
        timer: asyncio.TimerHandle | None = None
        try:
            while self._scheduler.loop_runner is self:
                wake.clear()
                if socket.generation != generation and not socket.closed:
                    # The socket was made again (a subscription flood): watch the new one.
                    loop.remove_reader(fd)
                    generation = socket.generation
                    fd = cast(int, socket.sync.getsockopt(zmq.FD))
                    loop.add_reader(fd, wake.set)
                if not drain.lock.acquire(blocking=False):
                    # flush(), close() or the thread is sending: look again shortly.
                    queue.wake_needed = True
                    await asyncio.sleep(_LOCK_RETRY)
                    continue
                try:
                    more = drain.round()
                    deadline = drain.deadline()
                finally:
                    drain.lock.release()
                if more:
                    # A backlog: let the loop breathe between rounds. The first record
                    # logged meanwhile checks that this loop still runs (it may stop
                    # for good, with this task pending, and leave the queue to nobody).
                    queue.wake_needed = True
                    await asyncio.sleep(0)
                    queue.wake_needed = False
                    continue
                if deadline is not None:
                    # The socket refuses: wait for its FD (a subscriber read and freed
                    # room) or for the deadline.
                    now = time.monotonic()
                    if now >= deadline:
                        with drain.lock:
                            if drain.expire(now):
                                return  # the stop deadline passed; the closer counts the rest
                        continue
                    timer = loop.call_later(deadline - now, wake.set)
                    queue.wake_needed = True
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
            # takes without waiting, so that a clean exit loses nothing it can keep.
            self.cancelled = True
            if drain.lock.acquire(timeout=_LOCK_RETRY * 10):
                try:
                    while drain.round():
                        pass
                finally:
                    drain.lock.release()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self.idle = False
            if not loop.is_closed():
                loop.remove_reader(fd)
            self._scheduler.loop_ended(self)
            self.done.set()


class ThreadRunner:
    """Runs the drain's rounds on a daemon thread, for as long as no loop task does."""

    __slots__ = ("_drain", "_event", "_queue", "_scheduler", "idle", "stopping", "thread")

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._drain = scheduler.drain
        self._queue = scheduler.queue
        self._event = threading.Event()
        self.idle = False
        """True while the thread waits for records: the only time a record must wake it."""
        self.stopping = False
        # A daemon: logging.shutdown(), at exit, closes the handler and joins the thread
        # (a plain thread would be waited for before that, forever).
        self.thread = threading.Thread(target=self._run, name="zmqlog-drain", daemon=True)
        self.thread.start()

    def wake(self) -> None:
        """Make the thread look at the queue (from any thread)."""
        self._event.set()

    def stop(self, timeout: float) -> bool:
        """End the thread after its current round; False if it did not end in *timeout*."""
        self.stopping = True
        self._event.set()
        if self.thread is threading.current_thread():
            return True  # a formatter or signal handler on the drain thread closes
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _run(self) -> None:
        drain, queue, event, scheduler = self._drain, self._queue, self._event, self._scheduler
        pause = _FIRST_PAUSE
        while not self.stopping:
            event.clear()
            if scheduler.loop_alive():
                # A loop task drains now: step back until it ends. (The queue's flag is
                # the loop task's to manage.)
                scheduler.wake_loop()
                self.idle = True
                event.wait()
                self.idle = False
                continue
            with drain.lock:
                more = drain.round()
                deadline = drain.deadline()
            if more:
                continue
            if deadline is not None:
                now = time.monotonic()
                if now >= deadline:
                    with drain.lock:
                        if drain.expire(now):
                            return
                    continue
                event.wait(min(pause, deadline - now))
                pause = min(pause * 2, _LONGEST_PAUSE)
                continue
            pause = _FIRST_PAUSE
            self.idle = queue.wake_needed = True
            if queue.items:  # logged between the round and now
                self.idle = queue.wake_needed = False
                continue
            event.wait()
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
        """Set once the handler closes: no new runner starts, and the last one to end
        closes the socket."""
        self._lock = threading.RLock()  # one decision at a time on who runs
        # The loop that last cancelled the drain's task: it is shutting down (the end of
        # asyncio.run()), and a task started there now would never run.
        self._ended: weakref.ref[asyncio.AbstractEventLoop] | None = None

    def loop_alive(self) -> bool:
        """True while a loop task runs the drain."""
        runner = self.loop_runner
        return runner is not None and runner.alive()

    def wake_loop(self) -> None:
        runner = self.loop_runner
        if runner is not None:
            runner.wake()

    def wake(self) -> None:
        """Make sure a runner will look at the queue: called by the caller's side when
        the queue's ``wake_needed`` flag is set. Never raises, never blocks."""
        self.queue.wake_needed = False  # first: the rest of a burst need not come here
        runner = self.loop_runner
        if runner is not None and runner.alive():
            if runner.idle:
                runner.wake()
            return  # busy, or resumes by itself
        loop = asyncio._get_running_loop()
        ended = self._ended
        if loop is not None and not self.closing and (ended is None or ended() is not loop):
            self.start_loop(loop)
        else:
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
        except RuntimeError:
            # No thread can start (the interpreter is shutting down): the records wait
            # for close(), which logging.shutdown() calls.
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
        """A loop task ended: close the socket if the handler closes, or hand the
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
            if self.queue.items or self.drain.pending is not None:
                # Never a new task here: this loop may be shutting down.
                self._wake_thread()

    def close_without_waiting(self) -> None:
        """Count what is left, close the socket, and terminate the context on a thread
        of its own: for a closer on an event loop's thread, which must not wait."""
        drain = self.drain
        if drain.lock.acquire(timeout=_LOCK_RETRY * 10):
            try:
                drain.abandon("the socket did not take them within the flush timeout")
            finally:
                drain.lock.release()
        self.socket.close(self.drain.stop_deadline)
        # Terminating the context waits out the linger: not on the event loop's thread.
        threading.Thread(target=self.socket.term_context, name="zmqlog-term", daemon=True).start()

    def close(self, timeout: float) -> None:
        """Stop the runners, send what is queued within *timeout*, close the socket.

        Waits (at most about *timeout*); returns at once when called on the thread of
        the loop whose task runs the drain, which then closes the socket on its way out.
        """
        self.closing = True
        self.queue.close()
        drain, socket = self.drain, self.socket
        deadline = time.monotonic() + timeout
        drain.stop_deadline = deadline
        runner = self.loop_runner
        if runner is not None and runner.alive():
            runner.stopping = True
            if threading.get_ident() == runner.thread:
                runner.closes = True
                runner.wake()
                return
            runner.wake()
            runner.done.wait(timeout + 1.0)
        if not self.stop_thread(timeout + 1.0):
            # The drain thread is stuck in a round (a formatter that blocks): it still
            # holds the socket, so count what is left and leave the socket to it.
            self.queue.abandon()
            return
        if socket.closed:
            return
        drain.flush(deadline)
        if drain.lock.acquire(timeout=1.0):
            try:
                drain.abandon("the socket did not take them before close")
            finally:
                drain.lock.release()
        socket.close(deadline)
        socket.term_context()

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
        drain.stop_deadline = time.monotonic() + timeout
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
        if not self.socket.closed:
            self.stop_thread(0.1)
            with drain.lock:
                drain.run_now()
                drain.abandon("the socket did not take them before close")
            self.socket.close(drain.stop_deadline)
            await asyncio.to_thread(self.socket.term_context)

    def stop_thread(self, timeout: float) -> bool:
        """Stop the drain thread, if any; False if it did not end within *timeout*."""
        thread = self.thread_runner
        if thread is None:
            return True
        stopped = thread.stop(timeout)
        if stopped:
            self.thread_runner = None
        return stopped

    def after_fork(self) -> None:
        """In a forked child: no runner of the parent's exists here."""
        self.loop_runner = None
        self.thread_runner = None
        self.closing = True
        self._lock = threading.RLock()

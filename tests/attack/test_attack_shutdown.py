"""ATTACK (adversarial review): closing, flushing and re-entry from signals and formatters.

Each test reproduces one fault the review found (fixed since; see ``_helpers``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time

import pytest
import zmq

from tests.attack._helpers import TCP, receive_all, subscriber_of, wait_until
from tests.conftest import held_drain
from zmqlog import AsyncPUBHandler


def test_close_on_the_loop_thread_ends_the_drain_thread(logger: logging.Logger) -> None:
    """A handler that drained on its thread before the loop took over, closed from a
    coroutine: its drain thread ends too."""
    handler = AsyncPUBHandler("inproc://attack-close-on-loop")
    logger.addHandler(handler)
    logger.info("no loop yet: the drain thread starts")
    handler.flush()
    runner = handler._scheduler.thread_runner
    assert runner is not None

    async def main() -> None:
        logger.info("on the loop: the task takes over")
        await asyncio.sleep(0.01)
        handler.close()
        await asyncio.sleep(0.05)

    asyncio.run(main())
    assert handler._socket.closed
    assert wait_until(lambda: not runner.thread.is_alive()), "the drain thread outlived close()"


def test_a_cancelled_aclose_ends_the_drain_thread(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """aclose() cancelled while it waits for the task to send the backlog still leaves no
    thread behind."""
    handler = AsyncPUBHandler(TCP, flush_timeout=0.3)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    logger.info("no loop yet: the drain thread starts")
    handler.flush()
    runner = handler._scheduler.thread_runner
    assert runner is not None

    async def main() -> None:
        for i in range(3000):
            logger.info("r %d", i)
        closing = asyncio.create_task(handler.aclose())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing

    try:
        asyncio.run(main())
        assert wait_until(lambda: handler._socket.closed)
        assert wait_until(lambda: not runner.thread.is_alive()), (
            "the drain thread outlived aclose()"
        )
    finally:
        sub.close(linger=0)


@pytest.mark.timeout(30, method="thread")
def test_close_from_a_signal_handler_during_flush_sends_everything_and_closes(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """SIGTERM-style handlers call close() (or logging.shutdown()); one that lands while
    the main thread is in flush() still sends what is queued and closes the socket."""
    handler = AsyncPUBHandler(TCP, flush_timeout=0.2)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    logger.info("starts the drain thread")
    handler.flush()
    runner = handler._scheduler.thread_runner
    assert runner is not None

    class SignalsOnce(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            if record.msg == "the signal lands here":
                signal.raise_signal(signal.SIGALRM)  # as if it arrived during this round
            return super().format(record)

    handler.setFormatter(SignalsOnce("%(message)s"))
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: handler.close())
    try:
        with held_drain(handler):
            for i in range(100):
                logger.info("the signal lands here" if i == 50 else f"r {i}")
            assert wait_until(lambda: not runner.idle)  # the thread waits for the lock
            handler.flush()  # this thread renders; the signal handler closes mid-round
        handler.close()
        received = receive_all(sub)
    finally:
        signal.signal(signal.SIGALRM, previous)
        sub.close(linger=0)
        socket_was_closed = handler._socket.closed
        handler._socket.close()  # so that the fault leaks nothing into later tests
        handler._socket.term_context()
    assert socket_was_closed
    assert handler.stats.dropped == 0, handler.stats
    assert len(received) == 101


@pytest.mark.timeout(30, method="thread")
def test_flush_from_a_signal_handler_never_garbles_messages(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """Every message a subscriber receives is [topic, payload], even when a signal handler
    flushes while the main thread is flushing."""
    handler = AsyncPUBHandler(TCP, sndhwm=0)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: handler.flush())
    signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
    logged = 0
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            for _ in range(200):
                logger.info("m %d", logged)
                logged += 1
            handler.flush()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    handler.flush()
    try:
        received = receive_all(sub)
    finally:
        sub.close(linger=0)
    garbled = [m for m in received if len(m) != 2]
    assert garbled == [], f"{len(garbled)} of {len(received)} messages garbled, e.g. {garbled[:2]}"


def test_close_from_a_formatter_on_the_drain_thread_loses_nothing(
    context: zmq.Context[zmq.Socket[bytes]],
    logger: logging.Logger,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A formatter that closes the handler (a fatal-error hook) while the drain thread
    renders: every queued record goes out in order, and no socket failure is reported."""
    handler = AsyncPUBHandler(TCP)
    sub = subscriber_of(context, handler)

    class ClosesAtFive(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            if record.getMessage() == "r 5":
                handler.close()
            return super().format(record)

    handler.setFormatter(ClosesAtFive("%(message)s"))
    logger.addHandler(handler)
    with held_drain(handler):  # queued first, then the drain thread renders them
        for i in range(10):
            logger.info("r %d", i)
    try:
        assert wait_until(lambda: handler._socket.closed)
        payloads = [m[1] for m in receive_all(sub)]
    finally:
        sub.close(linger=0)
    assert "the handler's socket failed" not in capsys.readouterr().err
    assert payloads == [f"r {i}".encode() for i in range(10)]


class _Slow(logging.Formatter):
    """A formatter far too slow to render 200 records within a 0.1 s flush_timeout."""

    def __init__(self) -> None:
        super().__init__("%(message)s")
        self.rendered = 0

    def format(self, record: logging.LogRecord) -> str:
        self.rendered += 1
        threading.Event().wait(0.02)  # 200 records: 4 s
        return super().format(record)


def test_flush_gives_up_at_flush_timeout_when_rendering_is_slow(logger: logging.Logger) -> None:
    """flush_timeout bounds what flush() (and so logging.shutdown()) spends publishing:
    with a formatter far too slow for the queue, flush() stops at its deadline."""
    slow = _Slow()
    handler = AsyncPUBHandler("inproc://attack-slow-flush", flush_timeout=0.1)
    handler.setFormatter(slow)
    logger.addHandler(handler)
    with held_drain(handler):  # the drain thread waits: flush() renders on this thread
        for i in range(200):
            logger.info("r %d", i)
        handler.flush()
    assert slow.rendered < 200, "flush() rendered the whole queue, far past its flush_timeout"


def test_close_during_a_slow_round_still_closes_the_socket(logger: logging.Logger) -> None:
    """close() while the drain thread is in a long round returns at its timeout; the
    socket (and the handler's own context) is still closed once that round ends."""
    slow = _Slow()
    handler = AsyncPUBHandler("inproc://attack-slow-close", flush_timeout=0.1)
    handler.setFormatter(slow)
    logger.addHandler(handler)
    with held_drain(handler):
        for i in range(200):
            logger.info("r %d", i)
    assert wait_until(lambda: slow.rendered > 0)  # the drain thread is in its round
    handler.close()
    runner = handler._scheduler.thread_runner  # None if the round ended within close()
    try:
        assert runner is None or wait_until(lambda: not runner.thread.is_alive(), 8)
        assert wait_until(lambda: handler._socket.closed, 8), "nobody closes the socket"
    finally:
        handler._socket.close()  # what close() should have done
        handler._socket.term_context()


def test_terminating_the_callers_context_does_not_wait_for_the_handler(
    logger: logging.Logger,
) -> None:
    """A handler made from an endpoint on the program's own context: the program's
    ctx.term() at exit returns, the handler having closed the socket it made."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    handler = AsyncPUBHandler(TCP, context=ctx)
    logger.addHandler(handler)
    logger.info("one")
    handler.flush()
    term = threading.Thread(target=ctx.term, daemon=True)
    term.start()
    try:
        logger.info("logged while the context terminates")
        term.join(2)
        assert not term.is_alive(), "ctx.term() waits for the handler's socket"
    finally:
        handler.close()
        term.join(5)

"""Logging before the loop runs and after it closed: no raise, no hang, nothing lost."""

from __future__ import annotations

import asyncio
import logging

import zmq

from zmqlog import AsyncPUBHandler


def test_records_from_before_and_after_the_loop_are_published(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """Queued with no loop, drained by the loop, and flushed by close() after it."""
    handler = AsyncPUBHandler("tcp://127.0.0.1:*", context)
    endpoint = handler.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    logger.addHandler(handler)
    sub = context.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.connect(endpoint)

    logger.info("before the loop")  # no loop yet: queued

    async def service() -> None:
        await handler.wait_for_subscribers(1, timeout=5)
        logger.info("inside the loop")

    asyncio.run(service())
    logger.info("after the loop")  # the loop is closed: queued again
    handler.close()  # no loop: sends at once, then closes
    texts = []
    while sub.poll(2000):
        texts.append(sub.recv_multipart()[1])
    sub.close(linger=0)
    # The first record may go out before the subscription arrived (ZeroMQ's slow
    # joiner); the others are sent after it and must arrive.
    assert texts[-2:] == [b"inside the loop\n", b"after the loop\n"]


def test_logging_with_no_loop_and_closing_does_not_hang(logger: logging.Logger) -> None:
    """With nobody listening and no loop ever started, close() still returns."""
    handler = AsyncPUBHandler("tcp://127.0.0.1:*", linger=0.1)
    logger.addHandler(handler)
    for i in range(1000):
        logger.info("nobody hears %d", i)
    logger.removeHandler(handler)
    handler.close()
    assert handler._socket.closed


def test_asyncio_run_ending_without_close_keeps_the_handler_usable(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """When asyncio.run() cancels the drain task, a later loop starts a new one."""
    handler = AsyncPUBHandler("inproc://twice", context)
    logger.addHandler(handler)

    async def service() -> bool:
        logger.info("starts the drain task")
        await asyncio.sleep(0)
        return handler._scheduler.loop_alive()

    assert asyncio.run(service())
    assert handler._scheduler.loop_runner is None
    assert asyncio.run(service())
    handler.close()

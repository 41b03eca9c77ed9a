"""LogPublisher and LogSubscriber together, over real sockets on loopback."""

from __future__ import annotations

import logging

import anyio
import pytest
import zmq

from zmqlog import LogPublisher, LogSubscriber, UsageError

TCP = "tcp://127.0.0.1:*"


async def receive_texts(sub: LogSubscriber, count: int, limit: float = 20.0) -> list[str]:
    texts: list[str] = []
    with anyio.fail_after(limit):
        async for message in sub:
            texts.append(message.text)
            if len(texts) == count:
                break
    return texts


async def test_immediate_exit_after_10000_records_delivers_all_in_order(
    logger: logging.Logger,
) -> None:
    """Leaving the block right after logging publishes everything still queued."""
    n = 10_000
    async with LogPublisher(TCP, logger=logger) as pub:
        sub = LogSubscriber(pub.endpoint)
        await sub.__aenter__()
        await pub.wait_for_subscribers(1, timeout=5)
        for i in range(n):
            logger.info("record %d", i)
    try:
        texts = await receive_texts(sub, n)
    finally:
        await sub.aclose()
    assert texts == [f"record {i}\n" for i in range(n)]


async def test_message_fields_come_from_topic_and_payload(logger: logging.Logger) -> None:
    """A subscriber sees root topic, level, subtopic and text separately."""
    async with (
        LogPublisher(TCP, logger=logger, root_topic="svc") as pub,
        LogSubscriber(pub.endpoint) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.warning("db.pool::%d connections", 3)
        with anyio.fail_after(5):
            message = await sub.receive()
    assert message.topic == "svc.WARNING.db.pool"
    assert (message.root_topic, message.level, message.subtopic) == ("svc", "WARNING", "db.pool")
    assert message.text.endswith(" - 3 connections\n")


async def test_topic_filter_selects_levels(logger: logging.Logger) -> None:
    """Subscribing to a topic prefix filters on the publisher's side."""
    async with (
        LogPublisher(TCP, logger=logger, root_topic="svc") as pub,
        LogSubscriber(pub.endpoint, topics=["svc.ERROR"]) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("not for you")
        logger.error("for you")
        with anyio.fail_after(5):
            message = await sub.receive()
    assert message.level == "ERROR"
    assert "for you" in message.text


async def test_level_and_logger_name(logger: logging.Logger) -> None:
    """The publisher attaches to a logger given by name, at the level given."""
    async with LogPublisher(TCP, logger=logger.name, level="WARNING") as pub:
        assert pub.handler in logger.handlers
        assert pub.handler.level == logging.WARNING
    assert pub.handler not in logger.handlers


async def test_publisher_connects_to_a_binding_subscriber(logger: logging.Logger) -> None:
    """With bind=False many publishers can connect to one subscriber."""
    async with (
        LogSubscriber(TCP, bind=True) as sub,
        LogPublisher(sub.endpoints[0], logger=logger, bind=False) as pub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("hello collector")
        texts = await receive_texts(sub, 1, limit=5)
    assert texts == ["hello collector\n"]


async def test_inproc_with_a_shared_context(
    logger: logging.Logger, context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    """inproc:// works when publisher and subscriber share a context."""
    endpoint = "inproc://shared"
    async with (
        LogPublisher(endpoint, logger=logger, context=context) as pub,
        LogSubscriber(endpoint, context=context) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("in process")
        assert await receive_texts(sub, 1, limit=5) == ["in process\n"]


async def test_entering_twice_names_the_fix(logger: logging.Logger) -> None:
    """A publisher is single-use, and the error says to create a new one."""
    pub = LogPublisher(TCP, logger=logger)
    async with pub:
        with pytest.raises(UsageError, match="create a new one"):
            await pub.__aenter__()


async def test_closing_twice_is_harmless(logger: logging.Logger) -> None:
    """aclose() after the block has exited does nothing."""
    async with LogPublisher(TCP, logger=logger) as pub:
        pass
    await pub.aclose()


def test_handler_before_entering_names_the_fix() -> None:
    """Asking for the handler too early explains how to open the publisher."""
    with pytest.raises(UsageError, match="async with"):
        _ = LogPublisher(TCP).handler


def test_endpoint_must_be_a_string() -> None:
    """A wrong endpoint type fails at construction with an example of a right one."""
    with pytest.raises(UsageError, match="tcp://"):
        LogPublisher(5555)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_round_trip_under_anyio(logger: logging.Logger) -> None:
    """The publisher and subscriber work in a program driven by anyio on asyncio."""
    async with LogPublisher(TCP, logger=logger) as pub, LogSubscriber(pub.endpoint) as sub:
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("via anyio")
        assert await receive_texts(sub, 1, limit=5) == ["via anyio\n"]

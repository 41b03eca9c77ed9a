"""AsyncPUBHandler on its own: what emit() promises the caller, and pyzmq's surface."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import zmq

from tests.conftest import make_record
from zmqlog import AsyncPUBHandler, ClosedResourceError, LogSubscriber, UsageError
from zmqlog.wire import DEFAULT_FORMATS

ENDPOINT = "inproc://handler-tests"


@pytest.fixture
def handler(context: zmq.Context[zmq.Socket[bytes]]) -> Iterator[AsyncPUBHandler]:
    h = AsyncPUBHandler(ENDPOINT, context, root_topic="app")
    yield h
    h.close()


@pytest.fixture
async def subscriber(
    context: zmq.Context[zmq.Socket[bytes]], handler: AsyncPUBHandler
) -> AsyncIterator[LogSubscriber]:
    async with LogSubscriber(ENDPOINT, context=context) as sub:
        await handler.wait_for_subscribers(1, timeout=5)
        yield sub


async def next_text(sub: LogSubscriber) -> str:
    return (await asyncio.wait_for(sub.receive(), 5)).text


def test_emit_without_a_running_loop_returns_at_once(
    handler: AsyncPUBHandler, logger: logging.Logger
) -> None:
    """With no event loop, emit() queues the record and neither raises nor blocks."""
    logger.addHandler(handler)
    for i in range(100):
        logger.info("queued %d", i)
    assert len(handler._queue) == 100


async def test_published_text_is_the_message_at_logging_time(
    handler: AsyncPUBHandler, subscriber: LogSubscriber, logger: logging.Logger
) -> None:
    """A mutable argument changed right after the call does not change what is sent."""
    logger.addHandler(handler)
    items = [1, 2]
    logger.info("items %s", items)
    items.append(3)
    mapping = {"a": 1}
    logger.info("mapping %(a)s", mapping)
    mapping["a"] = 2
    assert await next_text(subscriber) == "items [1, 2]\n"
    assert await next_text(subscriber) == "mapping 1\n"


async def test_text_that_is_not_valid_unicode_is_published_escaped(
    handler: AsyncPUBHandler, subscriber: LogSubscriber, logger: logging.Logger
) -> None:
    """A lone surrogate (a badly decoded file name, say) is escaped, not lost."""
    logger.addHandler(handler)
    logger.info("opened %s", "caf\udce9.txt")
    logger.info("done")
    assert await next_text(subscriber) == "opened caf\\udce9.txt\n"
    assert await next_text(subscriber) == "done\n"


async def test_custom_level_is_published(
    handler: AsyncPUBHandler, subscriber: LogSubscriber, logger: logging.Logger
) -> None:
    """An unnamed level such as 25 uses the formatter of the nearest lower level."""
    logger.addHandler(handler)
    logger.log(25, "between info and warning")
    message = await asyncio.wait_for(subscriber.receive(), 5)
    assert (message.topic, message.text) == ("app.Level 25", "between info and warning\n")


def test_formatter_for_unknown_level_falls_back_to_nearest_lower(
    handler: AsyncPUBHandler,
) -> None:
    """Levels between and below the defaults resolve without KeyError."""
    assert handler.formatter_for(25) is handler.formatters[logging.INFO]
    assert handler.formatter_for(5) is handler.formatters[logging.DEBUG]
    assert handler.formatter_for(99) is handler.formatters[logging.CRITICAL]


def test_set_formatter_without_level_sets_every_level(handler: AsyncPUBHandler) -> None:
    """setFormatter(fmt) replaces every per-level formatter, as in pyzmq."""
    fmt = logging.Formatter("%(message)s")
    handler.setFormatter(fmt)
    assert set(handler.formatters.values()) == {fmt}
    assert handler.formatter_for(25) is fmt


def test_set_formatter_for_one_level(handler: AsyncPUBHandler) -> None:
    """setFormatter(fmt, level) changes only that level."""
    fmt = logging.Formatter("%(message)s!")
    handler.setFormatter(fmt, logging.ERROR)
    assert handler.formatters[logging.ERROR] is fmt
    info = handler.formatters[logging.INFO]
    assert info is not None
    assert info._fmt == DEFAULT_FORMATS[logging.INFO]


def test_root_topic_accepts_bytes(handler: AsyncPUBHandler) -> None:
    """Like pyzmq, a bytes root topic is decoded."""
    handler.setRootTopic(b"raw")
    assert handler.root_topic == "raw"
    handler.root_topic = "again"
    assert handler.encode(make_record("x"))[0] == b"again.INFO"


def test_bad_arguments_are_reported_not_raised(
    handler: AsyncPUBHandler, logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record whose args do not fit its message goes to handleError, not the caller."""
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    logger.addHandler(handler)
    logger.info("%d", [1])  # a list is rendered at once, and %d cannot take it
    assert [r.msg for r in reported] == ["%d"]


def test_records_after_close_are_not_queued(
    handler: AsyncPUBHandler, logger: logging.Logger
) -> None:
    """emit() after close() is a silent no-op for the caller."""
    logger.addHandler(handler)
    handler.close()
    logger.info("too late")
    assert len(handler._queue) == 0


def test_close_twice_is_harmless(handler: AsyncPUBHandler) -> None:
    """close() is idempotent."""
    handler.close()
    handler.close()


async def test_start_after_close_names_the_fix(handler: AsyncPUBHandler) -> None:
    """A closed handler cannot be restarted, and says so."""
    handler.close()
    with pytest.raises(ClosedResourceError, match="create a new one"):
        handler.start()


def test_rejects_a_socket_that_cannot_publish(context: zmq.Context[zmq.Socket[bytes]]) -> None:
    """Only PUB and XPUB sockets make sense for a publishing handler."""
    sock = context.socket(zmq.SUB)
    with pytest.raises(UsageError, match=r"PUB or zmq\.XPUB"):
        AsyncPUBHandler(sock)
    sock.close(linger=0)


def test_rejects_something_that_is_not_an_endpoint() -> None:
    """A wrong argument type gets a message, not an AttributeError later."""
    with pytest.raises(UsageError, match="endpoint string"):
        AsyncPUBHandler(5555)  # type: ignore[arg-type]


def test_bind_errors_pass_through_unchanged(context: zmq.Context[zmq.Socket[bytes]]) -> None:
    """ZeroMQ's own error for a bad endpoint reaches the caller as zmq.ZMQError."""
    with pytest.raises(zmq.ZMQError):
        AsyncPUBHandler("nonsense://x", context)


async def test_wait_for_subscribers_needs_xpub(context: zmq.Context[zmq.Socket[bytes]]) -> None:
    """A plain PUB socket cannot see subscribers; the error says what to use."""
    sock = context.socket(zmq.PUB)
    handler = AsyncPUBHandler(sock)
    try:
        with pytest.raises(UsageError, match="XPUB"):
            await handler.wait_for_subscribers(1, timeout=0.1)
    finally:
        await handler.aclose()
        sock.close(linger=0)


async def test_wait_for_subscribers_times_out(handler: AsyncPUBHandler) -> None:
    """Without subscribers the wait ends with TimeoutError after the timeout."""
    with pytest.raises(TimeoutError, match="0 of 1"):
        await handler.wait_for_subscribers(1, timeout=0.05)


async def test_subscriptions_are_counted_and_uncounted(
    context: zmq.Context[zmq.Socket[bytes]], handler: AsyncPUBHandler
) -> None:
    """Each subscriber adds a subscription and removes it when it leaves."""
    async with (
        LogSubscriber(ENDPOINT, context=context),
        LogSubscriber(ENDPOINT, context=context),
    ):
        assert await handler.wait_for_subscribers(2, timeout=5) == 2
    # Nothing signals an unsubscription, so look a bounded number of times while
    # the drain task reads them off the socket.
    for _ in range(500):
        if handler.subscriptions == 0:
            break
        await asyncio.sleep(0.01)
    assert handler.subscriptions == 0

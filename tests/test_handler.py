"""AsyncPUBHandler on its own: what emit() promises the caller, and pyzmq's surface."""

from __future__ import annotations

import asyncio
import logging
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import zmq

from tests.conftest import held_drain, make_record
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


def test_emit_without_a_running_loop_only_queues(
    handler: AsyncPUBHandler, logger: logging.Logger
) -> None:
    """With no event loop, emit() queues the record (for the drain thread) and neither
    raises nor blocks, even while the drain cannot send."""
    logger.addHandler(handler)
    with held_drain(handler):
        for i in range(100):
            logger.info("queued %d", i)
        assert handler.stats == (100, 0, 0, 0)


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


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def __repr__(self) -> str:
        return f"Counter({self.n})"


class _TypeAndMessage(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{type(record.msg).__name__} {record.msg}\n"


async def test_a_dict_message_is_published_as_it_was_at_logging_time(
    handler: AsyncPUBHandler, subscriber: LogSubscriber, logger: logging.Logger
) -> None:
    """A dict message (structlog's event dict) is frozen at the call, not stringified:
    values changed afterwards, even inside objects or self-referencing lists, change
    nothing, and the formatter still gets a dict."""
    logger.addHandler(handler)
    handler.setFormatter(_TypeAndMessage())
    loop: list[object] = [1]
    loop.append(loop)
    counter = _Counter()
    event = {"event": "x", "items": [1, {"a": 2}], "counter": counter, "loop": loop}
    logger.info(event)
    expected = f"dict {event}\n"
    event["items"][1]["a"] = 3  # type: ignore[index]
    loop.append(2)
    counter.n = 5
    logger.warning(event)
    assert await next_text(subscriber) == expected
    assert await next_text(subscriber) == f"dict {event}\n"


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


async def test_a_record_without_a_level_name_is_reported_not_published(
    handler: AsyncPUBHandler,
    subscriber: LogSubscriber,
    logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record whose levelname was set to None has no topic: it goes to handleError."""
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    logger.addHandler(handler)
    record = make_record("nameless", level=logging.WARNING)
    record.levelname = None  # type: ignore[assignment]
    logger.handle(record)
    logger.info("named")
    assert await next_text(subscriber) == "named\n"
    assert [r.msg for r in reported] == ["nameless"]
    assert handler.stats.errors == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda fs, fmt: fs.update({logging.INFO: fmt}),
        lambda fs, fmt: fs.setdefault(logging.INFO + 1, fmt),
        lambda fs, fmt: fs.__ior__({logging.INFO: fmt}),
    ],
    ids=["update", "setdefault", "in-place or"],
)
async def test_any_change_to_the_formatters_dict_applies(
    handler: AsyncPUBHandler,
    subscriber: LogSubscriber,
    logger: logging.Logger,
    change: Callable[[dict[int, logging.Formatter | None], logging.Formatter], object],
) -> None:
    """pyzmq reads ``formatters`` live: every dict method that changes it is seen."""
    logger.addHandler(handler)
    logger.info("before")
    change(handler.formatters, logging.Formatter("CHANGED %(message)s\n"))
    logger.log(logging.INFO + 1, "after")
    assert await next_text(subscriber) == "before\n"
    assert await next_text(subscriber) == "CHANGED after\n"


class _Tagging(AsyncPUBHandler):
    def emit(self, record: logging.LogRecord) -> None:
        record.topic = "tagged"
        super().emit(record)


class _CountingTagging(_Tagging):
    handled = 0

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        self.handled += 1
        return super().handle(record)


@pytest.mark.parametrize("cls", [_Tagging, _CountingTagging])
async def test_a_subclass_that_overrides_emit_sees_every_record(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger, cls: type[AsyncPUBHandler]
) -> None:
    """Overriding emit() to reshape records, as pyzmq's PUBHandler invites, works, with
    or without a handle() override of its own."""
    handler = cls("inproc://tagging", context)
    logger.addHandler(handler)
    async with LogSubscriber("inproc://tagging", context=context) as sub:
        await handler.wait_for_subscribers(1, timeout=5)
        logger.info("through the logger")
        handler.emit(make_record("directly"))
        first, second = [await asyncio.wait_for(sub.receive(), 5) for _ in range(2)]
    await handler.aclose()
    assert (first.topic, first.text) == ("INFO.tagged", "through the logger\n")
    assert (second.topic, second.text) == ("INFO.tagged", "directly\n")


def test_emit_works_under_a_subclass_that_overrides_handle(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """A handle() override with the stdlib's signature does not break emit()."""

    class Counting(AsyncPUBHandler):
        handled = 0

        def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
            self.handled += 1
            return super().handle(record)

    handler = Counting("inproc://counting", context)
    with held_drain(handler):
        handler.emit(make_record("queued"))
        handler.handle(make_record("queued too"))
        assert (handler.stats.queued, handler.stats.errors, handler.handled) == (2, 0, 1)
    handler.close()


async def test_text_made_at_runtime_is_not_kept_after_it_is_sent(
    handler: AsyncPUBHandler, subscriber: LogSubscriber, logger: logging.Logger
) -> None:
    """Messages built with f-strings are unique: the handler remembers none of them."""
    logger.addHandler(handler)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(50):
            logger.info(f"{i} {'x' * 100_000}")  # noqa: G004 - the case under test
        for _ in range(50):
            await next_text(subscriber)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1_000_000  # 50 messages of 100 kB would be 5 MB


def test_records_after_close_are_not_queued(
    handler: AsyncPUBHandler, logger: logging.Logger
) -> None:
    """emit() after close() is a silent no-op for the caller (the record is counted)."""
    logger.addHandler(handler)
    handler.close()
    logger.info("too late")
    assert handler.stats == (0, 0, 1, 0)


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


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class _BrokenMapping(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("cannot list my items")


@pytest.mark.parametrize("wire_format", ["text", "json"])
def test_a_record_that_fails_in_emit_is_counted_as_an_error(
    context: zmq.Context[zmq.Socket[bytes]],
    logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    wire_format: str,
) -> None:
    """A message whose __str__ raises (and, in JSON mode, an extra that cannot be read)
    goes to handleError and into stats.errors: every record logged is in a counter."""
    handler = AsyncPUBHandler("inproc://fails-in-emit", context, wire_format=wire_format)  # type: ignore[arg-type]
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    logger.addHandler(handler)
    with held_drain(handler):
        logger.info(_Unprintable())
        failures = 1
        if wire_format == "json":
            logger.info("with a bad extra", extra={"data": _BrokenMapping(a=1)})
            failures = 2
        logger.info("fine")
        assert handler.stats == (1, 0, 0, failures)
    assert len(reported) == failures
    handler.close()

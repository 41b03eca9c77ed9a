"""ATTACK round 3: wrong arguments that ended in a traceback from deep inside (ZeroMQ, a
codec, a timer) instead of a ``TypeError`` or ``UsageError`` naming the option."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from zmqlog import AsyncPUBHandler, LogPublisher, LogSubscriber, UsageError

TCP = "tcp://127.0.0.1:*"

BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"root_topic": b"\xff"}, UsageError, "root_topic .* is not valid UTF-8"),
    ({"sndhwm": 2**40}, UsageError, "sndhwm must be at most"),
    ({"linger": 1e300}, UsageError, "linger must be at most"),
    ({"heartbeat": 3000}, UsageError, "heartbeat must be at most"),
    ({"flush_timeout": float("inf")}, UsageError, "flush_timeout must be at most"),
    ({"send_timeout": 1e300}, UsageError, "send_timeout must be at most"),
    ({"bind": None}, TypeError, "bind must be True or False"),
    ({"bind": "no"}, TypeError, "bind must be True or False"),
    ({"lossless": "yes"}, TypeError, "lossless must be True or False"),
    ({"context": 5}, TypeError, "context must be a zmq.Context or None"),
]


def _discard(handler: AsyncPUBHandler) -> None:
    """Close a handler made with a value it should have refused, even if close() fails."""
    handler.close()
    handler._socket.close(force=True)
    handler._socket.term_context()


IDS = [f"{next(iter(k))}={next(iter(k.values()))!r}" for k, *_ in BAD]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD, ids=IDS)
def test_the_handler_names_the_option(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """A value ZeroMQ cannot take (or that means nothing) is refused by name."""
    with pytest.raises(error, match=message):
        _discard(AsyncPUBHandler(TCP, **kwargs))


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD, ids=IDS)
def test_the_publisher_names_the_option_where_it_is_made(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """LogPublisher refuses the same values in its constructor, not at ``async with``."""
    with pytest.raises(error, match=message):
        LogPublisher(TCP, **kwargs)


@pytest.mark.parametrize("make", [AsyncPUBHandler, LogPublisher], ids=["handler", "publisher"])
def test_an_endpoint_of_undecodable_bytes_is_a_usage_error(make: Any) -> None:
    """pyzmq takes a bytes endpoint; one that is not UTF-8 is named, not a UnicodeDecodeError."""
    with pytest.raises(UsageError, match=r"endpoint .* is not valid UTF-8"):
        make(b"tcp://127.0.0.1:\xff")


def test_aclose_with_an_infinite_timeout_is_refused_before_it_starts_closing(
    logger: logging.Logger,
) -> None:
    """``aclose(timeout=math.inf)`` ("as long as it takes") is refused by name, and the
    handler can still be closed: no OverflowError from a timer halfway through."""
    handler = AsyncPUBHandler(TCP)

    async def main() -> None:
        with pytest.raises(UsageError, match="timeout must be at most"):
            await handler.aclose(float("inf"))
        await handler.aclose()

    try:
        asyncio.run(main())
        closed = handler._socket.closed
    finally:
        _discard(handler)
    assert closed


def test_the_subscriber_refuses_a_heartbeat_zeromq_cannot_take() -> None:
    """The subscriber takes heartbeats up to 715,827 s, but ZeroMQ's HEARTBEAT_TTL (three
    intervals) holds at most 6,553 s: open() fails with a bare ZMQError EINVAL."""
    with pytest.raises(UsageError, match="heartbeat"):
        LogSubscriber(TCP, heartbeat=3000)


def test_the_subscriber_refuses_a_bind_that_is_no_bool() -> None:
    """``bind="false"`` (a string from a configuration file) would bind."""
    with pytest.raises(TypeError, match="bind must be True or False"):
        LogSubscriber(TCP, bind="false")  # type: ignore[arg-type]


def test_set_root_topic_names_undecodable_bytes() -> None:
    """``setRootTopic(b"\\xff")``: a UnicodeDecodeError from the codec, not zmqlog's error."""
    handler = AsyncPUBHandler(TCP)
    try:
        with pytest.raises(UsageError, match="root_topic"):
            handler.setRootTopic(b"\xff")
    finally:
        handler.close()


def test_set_formatter_with_a_level_name_is_not_silently_ignored() -> None:
    """``logging`` takes level names (``setLevel("WARNING")``), so users pass one here too:
    the formatter was filed under the key ``"WARNING"``, which no record looks up, and
    WARNING records kept pyzmq's format. Either use it for WARNING or refuse the name."""
    handler = AsyncPUBHandler(TCP)
    mine = logging.Formatter("mine %(message)s")
    try:
        try:
            handler.setFormatter(mine, level="WARNING")  # type: ignore[arg-type]
        except (TypeError, UsageError):
            return  # refused by name: as good
        assert handler.formatter_for(logging.WARNING) is mine
    finally:
        handler.close()


def test_receiving_on_another_loop_than_the_one_that_opened_is_an_error() -> None:
    """Opened in one ``asyncio.run()`` and read in the next: its socket is watched by the
    first loop, closed, so receive() never wakes. It should say so, not hang."""

    async def opened() -> LogSubscriber:
        sub = LogSubscriber("tcp://127.0.0.1:1")
        sub.open()
        return sub

    sub = asyncio.run(opened())

    async def read() -> None:
        try:
            with pytest.raises((UsageError, RuntimeError)):
                await asyncio.wait_for(sub.receive(), 1)
        finally:
            await sub.aclose()

    asyncio.run(read())

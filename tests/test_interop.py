"""Interoperation with pyzmq's own PUBHandler and SUB sockets, both ways."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import anyio
import pytest
import zmq
import zmq.asyncio
from zmq.log.handlers import PUBHandler

from tests.conftest import make_record
from zmqlog import AsyncPUBHandler, LogPublisher, LogSubscriber


async def wait_for_subscription(xpub: zmq.Socket[bytes]) -> None:
    """Wait (bounded, off the loop) until an XPUB socket has seen one subscription."""
    assert await asyncio.to_thread(xpub.poll, 5000), "no subscription within 5 s"
    assert xpub.recv()[:1] == b"\x01"


@pytest.mark.parametrize("root_topic", ["", "legacy", "dotted.root"])
async def test_pyzmq_pubhandler_to_log_subscriber(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger, root_topic: str
) -> None:
    """Records published by pyzmq's PUBHandler arrive parsed at our subscriber."""
    xpub = context.socket(zmq.XPUB)  # XPUB so the test can see the subscription arrive
    xpub.bind("tcp://127.0.0.1:*")
    handler = PUBHandler(xpub, root_topic=root_topic)
    logger.addHandler(handler)
    async with LogSubscriber(xpub.last_endpoint.decode(), context=context) as sub:
        await wait_for_subscription(xpub)
        logger.info("plain")
        logger.warning("db.pool::with subtopic %d", 5)
        with anyio.fail_after(5):
            first = await sub.receive()
            second = await sub.receive()
    logger.removeHandler(handler)
    xpub.close(linger=0)
    assert (first.root_topic, first.level, first.subtopic, first.text) == (
        root_topic,
        "INFO",
        "",
        "plain\n",
    )
    assert (second.root_topic, second.level, second.subtopic) == (root_topic, "WARNING", "db.pool")
    assert second.text.endswith(" - with subtopic 5\n")


async def test_log_publisher_to_plain_pyzmq_sub(logger: logging.Logger) -> None:
    """A plain pyzmq SUB socket receives our frames unchanged."""
    ctx = zmq.asyncio.Context()
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"")
    try:
        async with LogPublisher("tcp://127.0.0.1:*", logger=logger, root_topic="svc") as pub:
            sub.connect(pub.endpoint)
            await pub.wait_for_subscribers(1, timeout=5)
            logger.info("hello %s", "pyzmq")
            logger.error("disk::full")
            with anyio.fail_after(5):
                frames = [await sub.recv_multipart(), await sub.recv_multipart()]
    finally:
        sub.close(linger=0)
        ctx.term()
    assert frames[0] == [b"svc.INFO", b"hello pyzmq\n"]
    assert frames[1][0] == b"svc.ERROR.disk"
    assert frames[1][1].startswith(b"ERROR ")
    assert frames[1][1].endswith(b" - full - None\n")


class _Capture:
    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []

    def send_multipart(self, frames: list[bytes]) -> None:
        self.sent.append(frames)


class _Shape:
    """A msg object whose text changes after the call: both handlers render at emit time."""

    def __init__(self) -> None:
        self.value = "before"

    def __str__(self) -> str:
        return f"shape::{self.value}"


class _BraceRecord(logging.LogRecord):
    """A record factory's record with str.format-style messages, as some programs install."""

    def getMessage(self) -> str:
        return str(self.msg).format(*self.args) if self.args else str(self.msg)


def _brace_record(msg: str, *args: object) -> logging.LogRecord:
    return _BraceRecord("app", logging.INFO, __file__, 42, msg, args or None, None, "func")


def _records() -> list[logging.LogRecord]:
    try:
        raise KeyError("k")
    except KeyError:
        exc = sys.exc_info()
    return [
        make_record("plain"),
        make_record("über::ünïcode %s", "☃"),
        make_record("args %d %s", 1, "x", level=logging.DEBUG),
        make_record("::empty subtopic", level=logging.WARNING),
        make_record("oops %s", "now", level=logging.ERROR, exc_info=exc),
        make_record(_Shape(), level=logging.CRITICAL),
        make_record("list %s", [1, 2]),
        make_record("100%% of %s", "ünïcode"),
        make_record("50% raw: no args, no formatting"),
        make_record("tuple arg %s", (1, 2)),
        _brace_record("braces {} and {:.1f}", "fixed", 2.25),
        _brace_record("cart::braces {}", [1, 2]),
    ]


async def test_handler_frames_equal_pyzmq_through_the_whole_pipeline(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """Through emit(), the queue and the drain, every frame is what pyzmq would send.

    The root topic and a per-level formatter change between records, as they may
    in a running program.
    """
    theirs_sock = context.socket(zmq.PUB)
    theirs: Any = PUBHandler(theirs_sock)
    theirs_sock.close(linger=0)
    theirs.socket = _Capture()
    ours = AsyncPUBHandler("inproc://pipeline", context)
    settings = [("", None), ("root", None), ("root", logging.Formatter("%(name)s: %(message)s"))]
    expected: list[list[bytes]] = []
    async with LogSubscriber("inproc://pipeline", context=context) as sub:
        await ours.wait_for_subscribers(1, timeout=5)
        for root_topic, info_formatter in settings:
            for handler in (theirs, ours):
                handler.root_topic = root_topic
                if info_formatter is not None:
                    handler.setFormatter(info_formatter, logging.INFO)
            for record in _records():
                theirs.emit(record)
                ours.emit(record)
        expected = theirs.socket.sent
        received = []
        with anyio.fail_after(5):
            for _ in expected:
                message = await sub.receive()
                received.append([message.topic.encode(), message.payload])
    await ours.aclose()
    assert received == expected

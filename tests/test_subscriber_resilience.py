"""The subscriber outlives bad input and vanishing publishers."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import anyio
import pytest
import zmq

from zmqlog import ClosedResourceError, LogPublisher, LogSubscriber

SCRIPT = Path(__file__).parent / "scripts" / "exit_paths.py"


async def test_malformed_messages_are_counted_and_skipped(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """Three frames are dropped as invalid; the next good message still arrives. (One
    frame without a prefix is text on the empty topic, as rsyslog's omczmq sends it.)"""
    xpub = context.socket(zmq.XPUB)
    xpub.bind("inproc://malformed")
    async with LogSubscriber("inproc://malformed", context=context) as sub:
        assert await asyncio.to_thread(xpub.poll, 5000)
        xpub.recv()
        xpub.send(b"one frame only")
        xpub.send_multipart([b"INFO", b"two", b"three"])
        xpub.send_multipart([b"INFO", b"\xff\xfe not utf-8\n"])
        xpub.send_multipart([b"INFO", b"fine\n"])
        with anyio.fail_after(5):
            single = await sub.receive()
            odd = await sub.receive()
            fine = await sub.receive()
    xpub.close(linger=0)
    assert (single.topic, single.text) == ("", "one frame only")
    assert odd.text == "\ufffd\ufffd not utf-8\n"
    assert fine.text == "fine\n"
    assert sub.stats.invalid == 1
    assert sub.stats.received == 3


async def test_an_oversized_message_costs_only_that_message(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """Past max_message_size ZeroMQ drops the connection; it comes back and works."""
    xpub = context.socket(zmq.XPUB)
    xpub.setsockopt(zmq.XPUB_VERBOSER, 1)
    xpub.bind("tcp://127.0.0.1:*")
    endpoint = xpub.last_endpoint.decode()
    async with LogSubscriber(endpoint, context=context, max_message_size=64 * 1024) as sub:
        assert await asyncio.to_thread(xpub.poll, 5000)
        assert xpub.recv() == b"\x01"
        xpub.send_multipart([b"INFO", b"x" * (1 << 20)])
        # The subscriber refuses it, drops the connection (an unsubscription) and
        # connects again (a subscription), in either order.
        seen = []
        for _ in range(2):
            assert await asyncio.to_thread(xpub.poll, 5000)
            seen.append(xpub.recv())
        assert sorted(seen) == [b"\x00", b"\x01"]
        xpub.send_multipart([b"INFO", b"after the big one\n"])
        with anyio.fail_after(5):
            message = await sub.receive()
    xpub.close(linger=0)
    assert message.text == "after the big one\n"


async def test_subscriber_survives_a_killed_publisher_and_hears_its_successor(
    tmp_path: Path, logger: logging.Logger
) -> None:
    """A publisher killed mid-stream, then a new one on the same endpoint: still heard."""
    endpoint = f"ipc://{tmp_path}/restart.log"
    async with LogSubscriber(endpoint, bind=True) as sub:
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(SCRIPT), endpoint, "100000", "async-with"
        )
        with anyio.fail_after(10):
            first = await sub.receive()  # the child is publishing
        child.send_signal(signal.SIGKILL)
        await child.wait()
        async with LogPublisher(endpoint, logger=logger, bind=False) as pub:
            await pub.wait_for_subscribers(1, timeout=5)
            logger.info("the successor speaks")
            with anyio.fail_after(10):
                while (message := await sub.receive()).text.startswith("exit "):
                    pass  # what the killed child had already sent
    assert first.text.startswith("exit ")
    assert message.text == "the successor speaks\n"


async def test_closing_wakes_a_waiting_receiver(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """A task blocked in receive() gets ClosedResourceError when the subscriber closes."""
    sub = LogSubscriber("inproc://nobody", context=context)
    await sub.__aenter__()
    waiting = asyncio.create_task(sub.receive())
    await asyncio.sleep(0)  # let it start waiting on the socket
    await sub.aclose()
    with anyio.fail_after(5), pytest.raises(ClosedResourceError):
        await waiting

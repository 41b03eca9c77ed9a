"""ATTACK round 3: one peer of a ``zmqlog proxy`` cuts everyone else off.

The proxy's XSUB frontend keeps every subscription made behind it and sends them all
again each time it reconnects to a publisher. A publisher drops a connection that sends
a subscription frame over 4 KiB, and starts its socket over past 1 MiB of
subscriptions; so one subscription that a publisher refuses comes back with every
reconnection, and no record gets through the proxy while its sender stays connected.
On the other side, one publisher's message over a subscriber's ``max_message_size`` makes
every subscriber of the proxy drop its connection to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
import zmq

from tests.proxying import RunningProxy, running_proxy
from zmqlog import LogPublisher, LogSubscriber


@asynccontextmanager
async def _through_proxy(
    logger: logging.Logger, options: tuple[str, ...] = ()
) -> AsyncIterator[tuple[RunningProxy, LogSubscriber, LogPublisher]]:
    """A proxy (started with *options*), a subscriber behind it and a publisher of
    *logger*'s records before it, once the publisher has heard the subscription."""
    async with (
        running_proxy(options=options) as proxy,
        LogSubscriber(proxy.backend, topics="app") as sub,
        LogPublisher(proxy.frontend, bind=False, root_topic="app", logger=logger) as pub,
    ):
        await pub.wait_for_subscribers(1, timeout=10)
        yield proxy, sub, pub


@contextmanager
def _attacker(kind: int, endpoint: str) -> Iterator[zmq.Socket[bytes]]:
    """A raw socket of *kind* connected to *endpoint*, closed with its context after."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(kind)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        yield sock
    finally:
        sock.close(linger=0)
        ctx.term()


async def _delivered(logger: logging.Logger, sub: LogSubscriber, count: int) -> int:
    """How many of *count* records logged now reach *sub* (0.1 s allowed for each)."""
    delivered = 0
    for i in range(count):
        logger.info("after the attack %d", i)
        try:
            message = await asyncio.wait_for(sub.receive(), 0.1)
        except asyncio.TimeoutError:
            continue
        delivered += message.text.startswith("after the attack")
    return delivered


async def _delivered_after(
    logger: logging.Logger,
    attack: Callable[[zmq.Socket[bytes]], None],
    count: int = 20,
    options: tuple[str, ...] = (),
) -> int:
    """Records of *count* that reach a subscriber through the proxy (started with
    *options*) after *attack* subscribed on a second backend connection."""
    async with _through_proxy(logger, options) as (proxy, sub, pub):
        with _attacker(zmq.SUB, proxy.backend) as attacker:
            attack(attacker)
            # Where the attack works, the publisher loses the proxy's subscription
            # within a few reconnections; where it does not, this waits 2 s for nothing.
            for _ in range(200):
                if pub.handler.subscriptions == 0:
                    break
                await asyncio.sleep(0.01)
            return await _delivered(logger, sub, count)


@pytest.mark.timeout(30)
async def test_one_long_subscription_does_not_cut_the_proxy_off(logger: logging.Logger) -> None:
    """A subscriber subscribes to an 8 KiB prefix: the other subscribers go on
    receiving every record."""
    delivered = await _delivered_after(logger, lambda sock: sock.subscribe(b"A" * 8192))
    assert delivered == 20


@pytest.mark.timeout(30)
@pytest.mark.xfail(
    strict=True,
    reason="subscriptions over 1 MiB behind the proxy make every publisher start its "
    "socket over, and the proxy sends them all again at each reconnection (known: "
    "--subscribe-all is the remedy for untrusted subscribers)",
)
async def test_many_subscriptions_do_not_cut_the_proxy_off(logger: logging.Logger) -> None:
    """A subscriber makes 300 distinct subscriptions of 4,000 bytes (1.2 MB, each one
    short enough to pass): the other subscribers go on receiving every record."""
    delivered = await _delivered_after(logger, _flood_of_subscriptions)
    assert delivered == 20


def _flood_of_subscriptions(sock: zmq.Socket[bytes]) -> None:
    for k in range(300):
        sock.subscribe(b"%06d" % k + b"A" * 3994)


@pytest.mark.timeout(30)
async def test_a_proxy_that_subscribes_to_all_keeps_subscriptions_from_publishers(
    logger: logging.Logger,
) -> None:
    """``zmqlog proxy --subscribe-all``: the same 1.2 MB of subscriptions stay at the
    proxy, and every record still reaches the other subscriber."""
    delivered = await _delivered_after(
        logger, _flood_of_subscriptions, options=("--subscribe-all",)
    )
    assert delivered == 20


@pytest.mark.timeout(30)
async def test_one_publishers_huge_message_does_not_cut_the_subscribers_off(
    logger: logging.Logger,
) -> None:
    """A publisher sends one 5 MiB message (over LogSubscriber's 4 MiB default): the
    other publishers' records still reach every subscriber, none lost."""
    async with _through_proxy(logger) as (proxy, sub, _):
        with _attacker(zmq.XPUB, proxy.frontend) as attacker:
            assert attacker.poll(5000, zmq.POLLIN)  # the proxy's subscription arrived
            attacker.send_multipart([b"app.INFO", b"x" * (5 << 20)])
            delivered = await _delivered(logger, sub, 10)
    assert delivered == 10

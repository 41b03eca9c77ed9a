"""``zmqlog demo``: a small asyncio service publishing logs while a subscriber prints them."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from typing import TextIO

import zmq

from zmqlog._endpoints import endpoint_error
from zmqlog._publisher import LogPublisher
from zmqlog._subscriber import LogSubscriber

__all__ = ["run_demo"]


def _query_database() -> None:
    raise ConnectionError("database went away")


async def _service(logger: logging.Logger, requests: int) -> None:
    """Pretend to handle requests, logging as a real service would."""
    rng = random.Random(7)
    logger.info("service started, handling %d requests", requests)
    for i in range(requests):
        elapsed = rng.uniform(0.2, 40.0)
        if elapsed > 35:
            logger.warning("http.slow::request %d took %.1f ms", i, elapsed)
        else:
            logger.info("http::request %d handled in %.1f ms", i, elapsed)
        await asyncio.sleep(0.05)
    try:
        _query_database()
    except ConnectionError:
        logger.exception("db::lost the connection, retrying")
    logger.info("service stopping")


async def _demo(
    endpoint: str, requests: int, out: TextIO, context: zmq.Context[zmq.Socket[bytes]]
) -> int:
    logger = logging.getLogger("zmqlog.demo")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    # One context for both ends, so that an inproc:// endpoint works too.
    async with LogPublisher(endpoint, root_topic="demo", logger=logger, context=context) as pub:
        print(f"publishing on {pub.endpoint}; subscriber output follows", file=out)
        async with LogSubscriber(pub.endpoint, context=context) as sub:
            await pub.wait_for_subscribers(1, timeout=10)
            service = asyncio.create_task(_service(logger, requests))
            expected = requests + 3  # start, the exception, stop
            shown = 0
            async for message in sub:
                # A payload ends in a newline, except when a traceback follows it.
                text = message.text.rstrip("\n")
                print(f"[{message.level:<7}] {message.topic:<24} | {text}", file=out)
                shown += 1
                if shown == expected:
                    break
            await service
    print(f"demo done: {shown} records published and received", file=out)
    return 0


def run_demo(
    endpoint: str = "tcp://127.0.0.1:*",
    requests: int = 20,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the demo to completion and return the process exit code.

    A failure is one line on *err* (default: stderr) and exit code 1: an endpoint
    that cannot be bound, or a subscriber that could not reach it within 10 s.
    """
    err = err or sys.stderr
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        return asyncio.run(_demo(endpoint, requests, out or sys.stdout, context))
    except zmq.ZMQError as error:
        print(f"zmqlog demo: {endpoint_error('bind to', error, [endpoint])}", file=err)
    except TimeoutError:
        print(
            f"zmqlog demo: the subscriber did not reach {endpoint} within 10 s; "
            "try the default endpoint (a free port on 127.0.0.1)",
            file=err,
        )
    finally:
        context.destroy(linger=0)
    return 1

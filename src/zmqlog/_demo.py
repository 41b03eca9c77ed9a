"""``zmqlog demo``: a small asyncio service publishing logs while a subscriber prints them."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from typing import TextIO

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


async def _demo(endpoint: str, requests: int, out: TextIO) -> int:
    logger = logging.getLogger("zmqlog.demo")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    async with LogPublisher(endpoint, root_topic="demo", logger=logger) as pub:
        print(f"publishing on {pub.endpoint}; subscriber output follows", file=out)
        async with LogSubscriber(pub.endpoint) as sub:
            await pub.wait_for_subscribers(1, timeout=10)
            service = asyncio.create_task(_service(logger, requests))
            expected = requests + 3  # start, the exception, stop
            shown = 0
            async for message in sub:
                print(
                    f"[{message.level:<7}] {message.topic:<24} | {message.text}", end="", file=out
                )
                shown += 1
                if shown == expected:
                    break
            await service
    print(f"demo done: {shown} records published and received", file=out)
    return 0


def run_demo(
    endpoint: str = "tcp://127.0.0.1:*", requests: int = 20, out: TextIO | None = None
) -> int:
    """Run the demo to completion and return the process exit code."""
    return asyncio.run(_demo(endpoint, requests, out or sys.stdout))

"""pyzmq's own viewer, `python -m zmq.log`, shows what a LogPublisher publishes."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import anyio

from zmqlog import LogPublisher


async def test_python_m_zmq_log_shows_log_publisher_records(logger: logging.Logger) -> None:
    """Each record is a `topic | text` line in pyzmq's watcher, subtopics included."""
    async with LogPublisher("tcp://127.0.0.1:*", root_topic="svc", logger=logger) as pub:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "zmq.log",
            pub.endpoint,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # it prints; we read as it does
        )
        assert proc.stdout is not None
        try:
            await pub.wait_for_subscribers(1, timeout=20)
            logger.info("order %d shipped", 42)
            logger.warning("payments::card declined")
            with anyio.fail_after(20):
                first = (await proc.stdout.readline()).decode()
                second = (await proc.stdout.readline()).decode()
        finally:
            # The watcher has no --count: it runs until stopped.
            proc.kill()
            await proc.communicate()
    assert first == "svc.INFO | order 42 shipped\n"
    assert second.startswith("svc.WARNING.payments | WARNING test_pyzmq_watcher.py:")
    assert second.endswith(" - card declined\n")

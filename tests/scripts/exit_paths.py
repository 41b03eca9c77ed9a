"""A service that logs N records and leaves in one of several ways.

Usage: exit_paths.py ENDPOINT N MODE, where MODE is
  async-with     leave ``async with LogPublisher`` normally
  run-returns    attach an AsyncPUBHandler and let asyncio.run() return without closing
  shutdown       no event loop at all; logging.shutdown() at interpreter exit flushes
  cancelled      the task inside ``async with LogPublisher`` is cancelled
The process connects to the test's bound subscriber and waits for the subscription
before logging, so every record is owed to the subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import zmq

import zmqlog

log = logging.getLogger("exit")
log.setLevel(logging.INFO)
log.propagate = False


def log_all(n: int) -> None:
    for i in range(n):
        log.info("exit %d", i)


async def with_publisher(endpoint: str, n: int) -> None:
    async with zmqlog.LogPublisher(endpoint, logger=log, bind=False) as pub:
        await pub.wait_for_subscribers(1, timeout=10)
        log_all(n)


async def run_returns(endpoint: str, n: int) -> None:
    handler = zmqlog.AsyncPUBHandler(endpoint, bind=False)
    log.addHandler(handler)
    await handler.wait_for_subscribers(1, timeout=10)
    log_all(n)
    # return without closing: asyncio.run() cancels the drain task, and
    # logging.shutdown() at exit closes the handler


def shutdown(endpoint: str, n: int) -> None:
    handler = zmqlog.AsyncPUBHandler(endpoint, bind=False)
    log.addHandler(handler)
    # No loop will ever run here; wait for the subscription the synchronous way.
    assert handler.socket.poll(10_000, zmq.POLLIN), "no subscriber"
    log_all(n)
    logging.shutdown()


async def cancelled(endpoint: str, n: int) -> None:
    ready = asyncio.Event()

    async def service() -> None:
        async with zmqlog.LogPublisher(endpoint, logger=log, bind=False) as pub:
            await pub.wait_for_subscribers(1, timeout=10)
            log_all(n)
            ready.set()
            await asyncio.Event().wait()  # runs until cancelled

    task = asyncio.create_task(service())
    await ready.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main() -> None:
    endpoint, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "async-with":
        asyncio.run(with_publisher(endpoint, n))
    elif mode == "run-returns":
        asyncio.run(run_returns(endpoint, n))
    elif mode == "shutdown":
        shutdown(endpoint, n)
    elif mode == "cancelled":
        asyncio.run(cancelled(endpoint, n))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()

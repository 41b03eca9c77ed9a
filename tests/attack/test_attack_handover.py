"""ATTACK (adversarial review): hand-overs between the loop task and the drain thread.

Each test reproduces one fault the review found (fixed since; see ``_helpers``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

import zmq

from tests.attack._helpers import TCP, wait_until
from zmqlog import AsyncPUBHandler


def test_records_are_published_after_a_loop_stops_with_a_wakeup_pending(
    logger: logging.Logger,
) -> None:
    """A thread logs while the loop runs (its wake-up is queued on the loop) and the loop
    stops right after: records logged from then on, with no loop, are still published by
    the drain thread, by themselves."""
    handler = AsyncPUBHandler("inproc://attack-wakeup-pending")
    logger.addHandler(handler)
    loop = asyncio.new_event_loop()

    async def body() -> None:
        logger.info("on the loop")  # starts the drain task
        await asyncio.sleep(0.05)  # it sends the record and waits for the next
        worker = threading.Thread(target=logger.info, args=("from a thread",))
        worker.start()
        worker.join()  # its wake-up of the task is queued; then body returns

    try:
        loop.run_until_complete(body())  # the loop stops before the task wakes
        for i in range(10):
            logger.info("no loop runs now %d", i)
        assert wait_until(lambda: handler.stats.queued == 0), handler.stats
    finally:
        loop.close()
        handler.close()


def test_a_backlog_left_by_a_closed_loop_is_published_without_another_record(
    logger: logging.Logger,
) -> None:
    """Issue 11: when the loop that drained has closed, the thread publishes what is
    queued, with no call from the program (here: no further record either)."""
    handler = AsyncPUBHandler("inproc://attack-closed-loop")
    logger.addHandler(handler)
    loop = asyncio.new_event_loop()

    async def burst() -> None:
        await asyncio.sleep(0)
        for i in range(3000):
            logger.info("r %d", i)

    try:
        loop.run_until_complete(burst())
        loop.close()
        assert wait_until(lambda: handler.stats.queued == 0), handler.stats
    finally:
        handler.close()


def test_asyncio_run_returns_while_other_threads_keep_logging(logger: logging.Logger) -> None:
    """asyncio.run() ends promptly although a thread logs faster than the drain sends:
    the cancelled drain task hands the rest to the thread instead of sending it all."""
    handler = AsyncPUBHandler("inproc://attack-teardown", max_queue=2000)

    class Slow(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            threading.Event().wait(0.0002)  # a formatter with some real work
            return super().format(record)

    handler.setFormatter(Slow("%(message)s"))
    logger.addHandler(handler)
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            logger.info("background")

    producer = threading.Thread(target=produce)

    async def main() -> None:
        logger.info("in main")  # the drain runs as a task on this loop
        producer.start()
        await asyncio.sleep(0.05)

    timer = threading.Timer(3.0, stop.set)  # bounds the test if asyncio.run() hangs
    timer.start()
    try:
        asyncio.run(main())
        assert producer.is_alive(), "asyncio.run() only returned once the producer stopped"
    finally:
        stop.set()
        timer.cancel()
        producer.join(10)
        handler.close()


def test_close_with_a_stopped_loop_leaves_no_reader_on_that_loop(logger: logging.Logger) -> None:
    """After close(), the handler's socket FD is not registered on the loop that drained:
    an unrelated reader that later gets the same FD number still hears its data."""
    handler = AsyncPUBHandler(TCP)
    logger.addHandler(handler)
    loop = asyncio.new_event_loop()

    async def log_once() -> None:
        logger.info("on the loop")
        await asyncio.sleep(0.01)

    loop.run_until_complete(log_once())  # loop stopped, not closed; its task waits
    fd = int(handler._socket.sync.getsockopt(zmq.FD))
    handler.close()
    read_end, write_end = os.pipe()
    os.dup2(read_end, fd)  # the closed number, reused by the program's own pipe
    heard = asyncio.Event()

    async def listen() -> bool:
        loop.add_reader(fd, heard.set)
        os.write(write_end, b"x")
        try:
            await asyncio.wait_for(heard.wait(), 2)
        except asyncio.TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)
        return True

    try:
        assert loop.run_until_complete(listen()), "a reader on the reused FD went deaf"
    finally:
        loop.close()
        for end in (fd, read_end, write_end):
            os.close(end)

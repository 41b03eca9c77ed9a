"""Bursts, threads and stalled subscribers: nothing lost that could be kept, memory bounded."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import anyio
import pytest
import zmq
import zmq.asyncio

from zmqlog import LogPublisher, LogSubscriber

TCP = "tcp://127.0.0.1:*"
SCRIPTS = Path(__file__).parent / "scripts"


async def collect(sub: LogSubscriber, count: int, limit: float = 60) -> list[str]:
    texts: list[str] = []
    with anyio.fail_after(limit):
        while len(texts) < count:
            texts.append((await sub.receive()).text)
    return texts


async def test_burst_of_100000_reaches_a_subscriber_that_keeps_up(
    logger: logging.Logger,
) -> None:
    """The default high-water marks let a 100,000-record burst through intact."""
    n = 100_000
    async with LogPublisher(TCP, logger=logger) as pub, LogSubscriber(pub.endpoint) as sub:
        await pub.wait_for_subscribers(1, timeout=5)
        for i in range(n):
            logger.info("burst %d", i)
        texts = await collect(sub, n)
        assert pub.stats.dropped == 0
    assert texts == [f"burst {i}\n" for i in range(n)]


@pytest.mark.parametrize(("threads", "per_thread"), [(4, 2_500), (8, 10_000)])
async def test_threads_logging_at_once_deliver_every_record_once_in_order(
    logger: logging.Logger, threads: int, per_thread: int
) -> None:
    """Concurrent emit() from foreign threads while the loop runs: every record exactly
    once, each thread's records in the order it logged them."""
    async with LogPublisher(TCP, logger=logger) as pub, LogSubscriber(pub.endpoint) as sub:
        await pub.wait_for_subscribers(1, timeout=5)
        barrier = threading.Barrier(threads)

        def work(t: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                logger.info("%d %d", t, i)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        texts = await collect(sub, threads * per_thread)
        for worker in workers:
            await asyncio.to_thread(worker.join)
    seen: dict[int, list[int]] = {t: [] for t in range(threads)}
    for text in texts:
        t, i = map(int, text.split())
        seen[t].append(i)
    assert seen == {t: list(range(per_thread)) for t in range(threads)}


def run_stalled(n: int, mode: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "stalled.py"), str(n), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


@pytest.mark.timeout(150)
def test_stalled_subscriber_in_lossless_mode_bounds_memory_and_counts_every_loss() -> None:
    """400,000 records at a subscriber that reads nothing until the end: 13 times what
    the queue (20,000) and the high-water marks (10,000 and 1,000) hold.

    Memory stays bounded by the queue and the high-water marks, and every record is
    either received or counted as dropped: nothing disappears unaccounted.
    """
    n = 400_000
    report = run_stalled(n, "lossless")
    final = report["stats_final"]
    assert isinstance(final, dict)
    growth = float(report["rss_peak_mib"]) - float(report["rss_before_mib"])  # type: ignore[arg-type]
    # An unbounded queue would hold ~400,000 LogRecords (about 600 bytes each: 230 MiB).
    assert growth < 100
    assert final["dropped"] > 0
    assert report["received"] + final["dropped"] == n  # type: ignore[operator]
    assert final["sent"] == report["received"] + report["reports"]  # type: ignore[operator]


@pytest.mark.timeout(100)
def test_stalled_subscriber_in_default_mode_bounds_memory() -> None:
    """Without lossless mode ZeroMQ drops at the high-water mark; memory stays flat."""
    report = run_stalled(300_000, "default")
    growth = float(report["rss_peak_mib"]) - float(report["rss_before_mib"])  # type: ignore[arg-type]
    assert growth < 50
    assert report["received"] < 300_000  # the stall really did lose records at ZeroMQ


async def test_lossless_mode_loses_nothing_to_a_slow_subscriber(logger: logging.Logger) -> None:
    """With tiny buffers and a subscriber slower than the logger, every record arrives."""
    n = 5_000
    ctx = zmq.asyncio.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 10)
    sub.subscribe(b"")
    try:
        async with LogPublisher(
            "inproc://slow", logger=logger, context=ctx, lossless=True, sndhwm=10, send_timeout=10
        ) as pub:
            sub.connect("inproc://slow")
            await pub.wait_for_subscribers(1, timeout=5)
            for i in range(n):
                logger.info("slow %d", i)
            received = []
            with anyio.fail_after(30):
                while len(received) < n:
                    received.append((await sub.recv_multipart())[1])
                    if len(received) % 100 == 0:
                        await asyncio.sleep(0.001)  # the slow part: a consumer that dawdles
            assert pub.stats.dropped == 0
    finally:
        sub.close(linger=0)
        ctx.term()
    assert received == [f"slow {i}\n".encode() for i in range(n)]


async def test_lossless_mode_honours_its_deadlines(logger: logging.Logger) -> None:
    """A subscriber that never reads: held records are dropped after send_timeout, and
    close() returns within its flush timeout, having counted the rest."""
    n = 40
    ctx = zmq.asyncio.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 5)
    sub.subscribe(b"")
    try:
        pub = LogPublisher(
            "inproc://stalled",
            logger=logger,
            context=ctx,
            lossless=True,
            sndhwm=5,
            send_timeout=0.05,
            flush_timeout=0.2,
        )
        async with pub:
            sub.connect("inproc://stalled")
            await pub.wait_for_subscribers(1, timeout=5)
            for i in range(n):
                logger.info("stuck %d", i)
            # Bounded look: there is no event for "the drain gave up on a record".
            for _ in range(200):
                if pub.stats.dropped:
                    break
                await asyncio.sleep(0.01)
            assert pub.stats.dropped >= 1
        with anyio.fail_after(5):  # the exit above was bounded; now read what got through
            received = 0
            while await sub.poll(200):
                await sub.recv_multipart()
                received += 1
    finally:
        sub.close(linger=0)
        ctx.term()
    stats = pub.stats
    assert stats.queued == 0
    assert received == stats.sent
    assert stats.sent + stats.dropped >= n  # reports of drops may add to sent

"""Log many records while a subscriber never reads; print stats and memory as JSON.

Run by tests/test_load.py in its own process, so its memory reading is
not muddled by the test runner's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
import time

import zmq
import zmq.asyncio

import zmqlog


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


async def main(n: int, lossless: bool) -> None:
    log = logging.getLogger("stalled")
    log.propagate = False
    log.setLevel(logging.INFO)
    ctx = zmq.asyncio.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 1000)
    sub.subscribe(b"")
    async with zmqlog.LogPublisher(
        "tcp://127.0.0.1:*",
        logger=log,
        lossless=lossless,
        send_timeout=0.05,
        max_queue=20_000,
        sndhwm=10_000,
        flush_timeout=20,
    ) as pub:
        sub.connect(pub.endpoint)
        await pub.wait_for_subscribers(1, timeout=10)
        before = rss_mib()
        slowest = 0.0
        for chunk in range(n // 1000):
            for i in range(1000):
                t0 = time.perf_counter()
                log.info("record %d", chunk * 1000 + i)
                slowest = max(slowest, time.perf_counter() - t0)
            await asyncio.sleep(0)
        peak = rss_mib()
        logged_stats = pub.stats
        # Now the subscriber wakes up and reads everything that reached it, while
        # the publisher flushes what it still holds.
        received = 0
        reports = 0
        closed = asyncio.Event()
        # The same socket, for reads that do not go through the loop: one await per
        # message made the reading most of this script's time (about 20 us a message
        # through zmq.asyncio, against 3 us read directly).
        direct: zmq.Socket[bytes] = zmq.Socket.shadow(sub.underlying)

        async def read_all() -> None:
            # Lossless: until every message the publisher counted as sent is in, once it
            # has closed; under load a busy machine can pause delivery for seconds, so a
            # quiet spell is no sign of the end, and only a long silence ends the wait
            # (the test then reports what went missing). Default mode: ZeroMQ dropped
            # some of what it took, so "sent" never all arrives; a quiet second ends it.
            nonlocal received, reports
            silence = 30_000 if lossless else 1000
            while not (closed.is_set() and received + reports >= pub.stats.sent):
                if not await sub.poll(silence if closed.is_set() else 1000):
                    if closed.is_set():
                        return
                    continue
                # What is there, a bounded number at a time: between two polls the
                # publisher's flush runs.
                for _ in range(1000):
                    try:
                        topic, _ = direct.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if topic.endswith(b".zmqlog"):
                        reports += 1  # zmqlog's own "records were dropped" warnings
                    else:
                        received += 1

        reader = asyncio.create_task(read_all())
        await pub.aclose()
        closed.set()
        await reader
        final = pub.stats
    sub.close(linger=0)
    ctx.term()
    print(
        json.dumps(
            {
                "n": n,
                "rss_before_mib": before,
                "rss_peak_mib": peak,
                "slowest_emit_s": slowest,
                "stats_while_stalled": logged_stats._asdict(),
                "stats_final": final._asdict(),
                "received": received,
                "reports": reports,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] == "lossless"))

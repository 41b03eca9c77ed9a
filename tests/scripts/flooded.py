"""A service whose publisher a hostile peer floods; print memory, loop lag and liveness.

Usage: flooded.py MODE SECONDS (see peer_attack.py for the modes). Run by
tests/test_hostile_peers.py in its own process, so that its memory reading is its own.
While the peer floods, the service logs ten records a second and a ticker measures
how late the event loop wakes it; afterwards an honest subscriber must still get a
record published after the attack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
import time
from pathlib import Path

import zmq
import zmq.asyncio

import zmqlog

ATTACKER = Path(__file__).with_name("peer_attack.py")


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


async def main(mode: str, seconds: float) -> None:
    log = logging.getLogger("flooded")
    log.propagate = False
    log.setLevel(logging.INFO)
    async with zmqlog.LogPublisher("tcp://127.0.0.1:*", logger=log) as pub:
        lag = held = 0.0

        async def ticker() -> None:
            # How late the loop wakes this task; and, of that, how much the loop's
            # thread spent running (code holding the loop), as opposed to waiting for a
            # CPU the machine's other processes had (the attacker's among them).
            nonlocal lag, held
            while True:
                wall, cpu = time.perf_counter(), time.thread_time()
                await asyncio.sleep(0.001)
                late = time.perf_counter() - wall - 0.001
                lag = max(lag, late)
                held = max(held, min(late, time.thread_time() - cpu))

        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        before = peak = rss_mib()
        attack = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ATTACKER),
            pub.endpoint,
            mode,
            str(seconds),
            stdout=asyncio.subprocess.PIPE,
        )
        while attack.returncode is None:
            log.info("service still running")
            peak = max(peak, rss_mib())
            try:
                await asyncio.wait_for(attack.wait(), 0.1)
            except asyncio.TimeoutError:
                pass
        assert attack.stdout is not None
        out = await attack.stdout.read()
        # What the publisher does after the peer left (ZeroMQ cleans up its state) counts.
        for _ in range(10):
            await asyncio.sleep(0.05)
            peak = max(peak, rss_mib())
        tick.cancel()
        # An honest subscriber still gets what is published now.
        ctx = zmq.asyncio.Context()
        sub = ctx.socket(zmq.SUB)
        sub.subscribe(b"")
        sub.connect(pub.endpoint)
        delivered = False
        for _ in range(200):  # bounded probe: ZeroMQ's slow joiner (and reconnection)
            log.info("after the attack")
            if await sub.poll(50):
                delivered = True
                break
        sub.close(linger=0)
        ctx.term()
        resets = pub.handler._socket.resets
    print(
        json.dumps(
            {
                "mode": mode,
                "attacker": json.loads(out or b"{}"),
                "rss_growth_mib": peak - before,
                "max_lag_s": lag,
                "max_held_s": held,
                "delivered_after": delivered,
                "socket_resets": resets,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))

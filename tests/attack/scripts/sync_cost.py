"""ATTACK (adversarial review): what a synchronous program pays per record, and whether
the drain thread keeps up. Not a test; run by hand::

    python tests/attack/scripts/sync_cost.py [REPEATS [CASE ...]]

Each case logs 200,000 ``logger.info("request %d handled in %.3f ms", i, 0.123)``
calls with no event loop, while a SUB socket in another process counts what arrives.
Reports, per case, the best and median wall time per call and the best CPU time of the
calling thread (``time.thread_time``), the messages received, and for zmqlog how long
after the last call the queue was empty and its stats.
"""

from __future__ import annotations

import gc
import logging
import statistics
import subprocess
import sys
import time
from typing import Any

import zmq
from zmq.log.handlers import PUBHandler

from zmqlog import AsyncPUBHandler

N = 200_000
COUNTER = """
import sys, zmq
sub = zmq.Context().socket(zmq.SUB)
sub.setsockopt(zmq.RCVHWM, 0)
sub.subscribe(b"")
sub.connect(sys.argv[1])
print("ready", flush=True)
n = 0
while sub.poll(3000):
    sub.recv_multipart()
    n += 1
print(n, flush=True)
"""


def run(kind: str) -> tuple[float, float, int | None, str]:
    log = logging.getLogger(f"cost.{kind}.{time.monotonic()}")
    log.setLevel(logging.INFO)
    log.propagate = False
    ctx: zmq.Context[Any] = zmq.Context()
    handler: logging.Handler
    endpoint = None
    if kind == "null":
        handler = logging.NullHandler()
    elif kind == "zmqlog":
        handler = AsyncPUBHandler("tcp://127.0.0.1:*", sndhwm=0)
        endpoint = handler.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    else:
        sock = ctx.socket(zmq.PUB)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.bind("tcp://127.0.0.1:*")
        handler = PUBHandler(sock)
        endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    counter = None
    if endpoint:
        counter = subprocess.Popen(
            [sys.executable, "-c", COUNTER, endpoint], stdout=subprocess.PIPE, text=True
        )
        assert counter.stdout is not None
        counter.stdout.readline()
        if isinstance(handler, AsyncPUBHandler):
            assert handler.socket.poll(5000)
        else:
            time.sleep(0.5)  # pyzmq's PUB cannot see the subscription arrive
    log.addHandler(handler)
    gc.collect()
    gc.disable()
    wall, cpu = time.perf_counter(), time.thread_time()
    for i in range(N):
        log.info("request %d handled in %.3f ms", i, 0.123)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    gc.enable()
    extra = ""
    if isinstance(handler, AsyncPUBHandler):
        start = time.perf_counter()
        while handler.stats.queued:
            time.sleep(0.001)
        stats = handler.stats
        extra = f"empty {1e3 * (time.perf_counter() - start):.0f} ms after, dropped {stats.dropped}"
    received = None
    if counter is not None:
        assert counter.stdout is not None
        received = int(counter.stdout.readline())
        counter.wait()
    handler.close()
    ctx.destroy(linger=1000)
    return wall / N * 1e9, cpu / N * 1e9, received, extra


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for kind in sys.argv[2:] or ("null", "zmqlog", "pyzmq"):
        results = [run(kind) for _ in range(repeats)]
        walls = [r[0] for r in results]
        print(
            f"{kind:7s} wall ns/call best {min(walls):.0f} median {statistics.median(walls):.0f}; "
            f"CPU ns/call best {min(r[1] for r in results):.0f}; "
            f"received {[r[2] for r in results]}"
            + (f"; per run: {[r[3] for r in results]}" if results[0][3] else "")
        )


if __name__ == "__main__":
    main()

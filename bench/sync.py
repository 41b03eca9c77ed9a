"""A synchronous program's logging: zmqlog's drain thread against pyzmq's PUBHandler.

Usage::

    python bench/sync.py [--n N] [--repeats R] [--latency-samples S] [--json]

A program with no event loop logs ``logger.info("request %d handled in %.3f ms", i, x)``
``N`` times in a tight loop on one thread. With pyzmq's ``PUBHandler`` every call formats
and sends on that thread; with zmqlog's ``AsyncPUBHandler`` the call only queues and
zmqlog's drain thread formats and sends. A separate process (``bench/counter.py``)
counts what arrives. Reported per case (medians of the repeats):

* caller ns/rec: time inside the logging calls, per record;
* e2e rec/s: records delivered per second, from the first call to the last arrival;
* delivered: the share of the N records that arrived.

Then, for zmqlog only, the wake-up latency: a record logged while the drain thread is
idle, timed from the call to its arrival at a SUB socket in the same process
(median and 99th percentile of ``S`` samples, one every 5 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import threading
import time
from typing import Any

import zmq
from _common import (
    DURATION_ARG,
    MESSAGE,
    PROBE_TOPIC,
    CounterProc,
    environment,
    fmt_num,
    free_tcp_port,
    fresh_logger,
    load_zmqlog,
    median,
)
from zmq.log.handlers import PUBHandler

CASES = ("null", "pyzmq", "zmqlog-text")


def _make(case: str, zmqlog: Any, sock: zmq.Socket[bytes] | None) -> logging.Handler:
    """The handler for *case*, on *sock* (which the probes have already gone through)."""
    if case == "null" or sock is None:
        return logging.NullHandler()
    if case == "pyzmq":
        return PUBHandler(sock)
    handler: logging.Handler = zmqlog.AsyncPUBHandler(sock)
    return handler


def _log_all(logger: logging.Logger, n: int) -> float:
    """Log *n* records in a tight loop; return the seconds spent in the calls."""
    start = time.perf_counter()
    for i in range(n):
        logger.info(MESSAGE, i, DURATION_ARG)
    return time.perf_counter() - start


async def _run_case(case: str, zmqlog: Any, n: int) -> dict[str, Any]:
    endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    counter: CounterProc | None = None
    sock: zmq.Socket[bytes] | None = None
    if case != "null":
        # Probes go out on the socket before any handler has it: one thread at a time.
        sock = zmq.Context.instance().socket(zmq.XPUB)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.bind(endpoint)
        counter = await CounterProc.start(endpoint, expect=n, rcvhwm=100_000)
        probing: zmq.Socket[bytes] = sock
        await counter.wait_probe(lambda: probing.send_multipart([PROBE_TOPIC, b""]))
    handler = _make(case, zmqlog, sock)
    logger = fresh_logger(f"bench.sync.{case}")
    logger.addHandler(handler)
    try:
        # The measured program: a thread with no event loop, as a script or a worker is.
        result: dict[str, float] = {}
        started = time.monotonic()
        worker = threading.Thread(target=lambda: result.update(caller=_log_all(logger, n)))
        worker.start()
        await asyncio.to_thread(worker.join)
        delivered = None
        e2e = None
        if counter is not None:
            seen = await counter.finish(expect=n)
            delivered = seen.count / n
            e2e = seen.count / (seen.last - started) if seen.count else None
        return {"caller_ns": result["caller"] / n * 1e9, "e2e": e2e, "delivered": delivered}
    finally:
        logger.removeHandler(handler)
        handler.close()
        if counter is not None:
            await counter.close()
        if sock is not None:
            sock.close(linger=0)


def _latency(zmqlog: Any, samples: int) -> tuple[float, float]:
    """Median and p99 seconds from a call to its record's arrival, the drain idle."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    handler = zmqlog.AsyncPUBHandler("inproc://bench-sync-latency", ctx)
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.connect("inproc://bench-sync-latency")
    record = logging.LogRecord("bench", logging.INFO, __file__, 0, "ping", None, None)
    try:
        while True:  # past the slow joiner
            handler.handle(record)
            if sub.poll(10):
                sub.recv_multipart()
                break
        times = []
        for _ in range(samples):
            time.sleep(0.005)  # let the drain thread go idle: the case being measured
            start = time.perf_counter()
            handler.handle(record)
            sub.recv_multipart()
            times.append(time.perf_counter() - start)
    finally:
        handler.close()
        sub.close(linger=0)
        ctx.term()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=400)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    zmqlog, reason = load_zmqlog()
    runs: dict[str, list[dict[str, Any]]] = {case: [] for case in args.cases}
    for _ in range(args.repeats):  # interleaved, so that drift affects every case alike
        for case in args.cases:
            if case.startswith("zmqlog") and zmqlog is None:
                continue
            runs[case].append(await _run_case(case, zmqlog, args.n))
    rows = {
        case: {
            key: median([run[key] for run in found]) for key in ("caller_ns", "e2e", "delivered")
        }
        for case, found in runs.items()
        if found
    }
    # On a thread of its own: this one runs the benchmark's event loop.
    latency = (
        await asyncio.to_thread(_latency, zmqlog, args.latency_samples)
        if zmqlog is not None
        else None
    )
    if args.json:
        print(
            json.dumps(
                {
                    "environment": environment(zmqlog),
                    "n": args.n,
                    "repeats": args.repeats,
                    "cases": rows,
                    "runs": runs,
                    "latency_s": latency,
                    "skipped": reason,
                }
            )
        )
        return 0
    null = rows.get("null", {}).get("caller_ns")
    pyzmq = rows.get("pyzmq", {}).get("e2e")
    print(f"{'case':<14}{'caller ns/rec':>15}{'x null':>8}{'e2e rec/s':>12}{'x pyzmq':>9}"
          f"{'delivered':>11}")  # fmt: skip
    for case, row in rows.items():
        caller, e2e, delivered = row["caller_ns"], row["e2e"], row["delivered"]
        print(
            f"{case:<14}{fmt_num(caller, ',.0f', 15)}"
            f"{fmt_num(caller / null if null and caller else None, '.2f', 8)}"
            f"{fmt_num(e2e, ',.0f', 12)}"
            f"{fmt_num(e2e / pyzmq if pyzmq and e2e else None, '.2f', 9)}"
            f"{fmt_num(100 * delivered if delivered is not None else None, '.1f', 10)}%"
        )
    if latency is not None:
        print(
            f"zmqlog drain thread, a record logged while it is idle, call to arrival: "
            f"median {latency[0] * 1e6:,.0f} us, p99 {latency[1] * 1e6:,.0f} us"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

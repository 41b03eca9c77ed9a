"""Event-loop lag benchmark: how much does logging delay other asyncio tasks?

Usage::

    python bench/loop_lag.py [--rate 20000] [--duration 3] [--repeats 1]
                             [--cases CASE ...] [--json]

A *ticker* task sleeps ``asyncio.sleep(0.001)`` in a loop and records how much
later than 1 ms it actually woke up.  Meanwhile a *service* task logs
``--rate`` records per second for ``--duration`` seconds, paced: every ~1 ms
tick it logs however many records are due by then (about 20 at 20,000/s), so
a slow tick is caught up on the next one, as a real service's backlog would.
A subscriber in another process (``bench/counter.py``) receives everything,
so sends pay their real cost (a PUB socket with no subscriber drops for free).

Cases:

``null``    ``logging.NullHandler``: the ticker's lag from timer granularity alone.
``pyzmq``   pyzmq's ``PUBHandler`` on a PUB socket (sends in the caller).
``zmqlog``  ``zmqlog.LogPublisher`` (text wire format; sends from its own task).

Reported per case: the ticker's lag p50 / p99 / max in milliseconds, the
number of ticks, the achieved logging rate and the fraction delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from types import ModuleType
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

CASES = ("null", "pyzmq", "zmqlog")
TICK = 0.001


class Skipped(Exception):
    """The case cannot run here (zmqlog missing)."""


@dataclass
class LagResult:
    """One run: lag statistics of the ticker plus what the service achieved."""

    p50_ms: float
    p99_ms: float
    max_ms: float
    ticks: int
    records: int
    seconds: float
    delivered: int | None

    @property
    def rate(self) -> float:
        """Records actually logged per second."""
        return self.records / self.seconds

    @property
    def delivered_fraction(self) -> float | None:
        """Share of logged records the subscriber counted."""
        if self.delivered is None:
            return None
        return self.delivered / self.records if self.records else 0.0


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


async def ticker(stop: asyncio.Event, lags: list[float]) -> None:
    """Sleep 1 ms at a time; record how late each wake-up was (seconds)."""
    perf = time.perf_counter
    while not stop.is_set():
        t0 = perf()
        await asyncio.sleep(TICK)
        lags.append(perf() - t0 - TICK)


async def service(logger: logging.Logger, rate: float, duration: float) -> tuple[int, float]:
    """Log ``rate`` records/s for ``duration`` s in ~1 ms ticks; return (records, seconds)."""
    perf = time.perf_counter
    t0 = perf()
    sent = 0
    while True:
        elapsed = perf() - t0
        if elapsed >= duration:
            break
        due = int(elapsed * rate)
        for i in range(sent, due):
            logger.info(MESSAGE, i, DURATION_ARG)
        sent = max(sent, due)
        await asyncio.sleep(TICK)
    return sent, perf() - t0


async def measure(
    logger: logging.Logger, rate: float, duration: float
) -> tuple[list[float], int, float]:
    """Run ticker and service together; return (lags, records, seconds)."""
    stop = asyncio.Event()
    lags: list[float] = []
    tick_task = asyncio.ensure_future(ticker(stop, lags))
    try:
        records, seconds = await service(logger, rate, duration)
    finally:
        stop.set()
        await tick_task
    return lags, records, seconds


def _result(lags: list[float], records: int, seconds: float, delivered: int | None) -> LagResult:
    ordered = sorted(lag * 1e3 for lag in lags)
    if not ordered:
        ordered = [0.0]
    return LagResult(
        p50_ms=_percentile(ordered, 0.50),
        p99_ms=_percentile(ordered, 0.99),
        max_ms=ordered[-1],
        ticks=len(lags),
        records=records,
        seconds=seconds,
        delivered=delivered,
    )


RunFn = Callable[[float, float], Awaitable[LagResult]]


async def run_null(rate: float, duration: float) -> LagResult:
    """``NullHandler``: the lag floor (timer granularity, ``logging`` itself)."""
    logger = fresh_logger("zmqlog.bench.lag.null")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        lags, records, seconds = await measure(logger, rate, duration)
    finally:
        logger.removeHandler(handler)
        handler.close()
    return _result(lags, records, seconds, None)


async def run_pyzmq(rate: float, duration: float) -> LagResult:
    """pyzmq's ``PUBHandler`` on a PUB socket with pyzmq's defaults."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.linger = 0
    counter: CounterProc | None = None
    logger = fresh_logger("zmqlog.bench.lag.pyzmq")
    try:
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        counter = await CounterProc.start(f"tcp://127.0.0.1:{port}")
        await counter.wait_probe(lambda: sock.send_multipart([PROBE_TOPIC, b""]))
        handler = PUBHandler(sock)
        logger.addHandler(handler)
        try:
            lags, records, seconds = await measure(logger, rate, duration)
        finally:
            logger.removeHandler(handler)
            handler.close()
        counted = await counter.finish(expect=records)
        return _result(lags, records, seconds, counted.count)
    finally:
        if counter is not None:
            await counter.close()
        sock.close(linger=0)
        ctx.term()


def _zmqlog_runner(module: ModuleType | None, reason: str) -> RunFn:
    async def run(rate: float, duration: float) -> LagResult:
        """``zmqlog.LogPublisher``: ``emit`` enqueues, a task sends."""
        if module is None:
            raise Skipped(reason)
        logger = fresh_logger("zmqlog.bench.lag.zmqlog")
        endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
        counter: CounterProc | None = None
        try:
            async with module.LogPublisher(endpoint, logger=logger) as pub:
                counter = await CounterProc.start(endpoint)
                await pub.wait_for_subscribers(1, timeout=10.0)
                lags, records, seconds = await measure(logger, rate, duration)
            counted = await counter.finish(expect=records)
            return _result(lags, records, seconds, counted.count)
        finally:
            if counter is not None:
                await counter.close()
            for handler in list(logger.handlers):
                logger.removeHandler(handler)

    return run


@dataclass
class CaseReport:
    """All runs of one case."""

    name: str
    status: str = "ok"
    reason: str = ""
    runs: list[LagResult] = field(default_factory=list)

    def medians(self) -> dict[str, float | None]:
        """Median of each statistic over the runs."""
        return {
            "p50_ms": median([r.p50_ms for r in self.runs]),
            "p99_ms": median([r.p99_ms for r in self.runs]),
            "max_ms": median([r.max_ms for r in self.runs]),
            "ticks": median([float(r.ticks) for r in self.runs]),
            "rate": median([r.rate for r in self.runs]),
            "delivered_fraction": median([r.delivered_fraction for r in self.runs]),
        }


async def benchmark(args: argparse.Namespace) -> list[CaseReport]:
    """Run each selected case ``repeats`` times, rotating the order."""
    module, reason = load_zmqlog()
    runners: dict[str, RunFn] = {
        "null": run_null,
        "pyzmq": run_pyzmq,
        "zmqlog": _zmqlog_runner(module, reason),
    }
    names = list(dict.fromkeys(args.cases))
    reports = {name: CaseReport(name) for name in names}
    for rep in range(args.repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            report = reports[name]
            if report.status != "ok":
                continue
            gc.collect()
            try:
                report.runs.append(await runners[name](args.rate, args.duration))
            except Skipped as exc:
                report.status, report.reason = "skipped", str(exc)
            except Exception as exc:
                report.status, report.reason = "error", f"{type(exc).__name__}: {exc}"
    return [reports[name] for name in names]


def render_table(reports: list[CaseReport], args: argparse.Namespace) -> str:
    """Human-readable medians."""
    header = (
        f"{'case':<8} {'lag p50 ms':>10} {'p99 ms':>8} {'max ms':>8} {'ticks':>6} "
        f"{'rec/s':>8} {'delivered':>9}"
    )
    lines = [
        f"event-loop lag: {args.rate:,.0f} records/s for {args.duration:g} s, "
        f"ticker sleeps {TICK * 1e3:g} ms, repeats={args.repeats} (medians)",
        header,
        "-" * len(header),
    ]
    for report in reports:
        if report.status != "ok":
            lines.append(f"{report.name:<8} {report.status}: {report.reason}")
            continue
        m = report.medians()
        frac = m["delivered_fraction"]
        lines.append(
            f"{report.name:<8} {fmt_num(m['p50_ms'], '.3f', 10)} {fmt_num(m['p99_ms'], '.3f', 8)} "
            f"{fmt_num(m['max_ms'], '.3f', 8)} {fmt_num(m['ticks'], '.0f', 6)} "
            f"{fmt_num(m['rate'], ',.0f', 8)} "
            f"{fmt_num(None if frac is None else frac * 100, '.1f', 8)}"
            f"{'' if frac is None else '%'}"
        )
    lines.append("lag = actual sleep(0.001) duration minus 1 ms, for every tick of the ticker task")
    return "\n".join(lines)


def render_json(reports: list[CaseReport], args: argparse.Namespace) -> str:
    """Machine-readable results."""
    module, _ = load_zmqlog()
    cases: dict[str, Any] = {}
    for report in reports:
        entry: dict[str, Any] = {"status": report.status, "reason": report.reason}
        if report.status == "ok":
            entry["median"] = report.medians()
            entry["runs"] = [asdict(r) for r in report.runs]
            entry["p99_stdev_ms"] = (
                statistics.stdev([r.p99_ms for r in report.runs]) if len(report.runs) > 1 else None
            )
        cases[report.name] = entry
    return json.dumps(
        {
            "benchmark": "loop_lag",
            "config": {
                "rate": args.rate,
                "duration": args.duration,
                "repeats": args.repeats,
                "tick_s": TICK,
            },
            "environment": environment(module),
            "cases": cases,
        },
        indent=2,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line interface (see the module docstring)."""
    parser = argparse.ArgumentParser(description="zmqlog event-loop lag benchmark")
    parser.add_argument("--rate", type=float, default=20_000, help="records per second")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--repeats", type=int, default=1, help="runs per case")
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=CASES,
        default=list(CASES),
        metavar="CASE",
        help=f"subset of: {', '.join(CASES)}",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.repeats < 1:
        parser.error("--rate and --duration must be > 0, --repeats >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if any case errored."""
    args = parse_args(argv)
    reports = asyncio.run(benchmark(args))
    print(render_json(reports, args) if args.json else render_table(reports, args))
    return 1 if any(r.status == "error" for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())

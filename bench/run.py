"""Publisher-side benchmark: zmqlog versus pyzmq's PUBHandler and friends.

Usage::

    python bench/run.py [--n N] [--repeats R] [--cases CASE ...] [--json] [--pin]

Every case runs the same asyncio workload: ``N`` calls of
``logger.info("request %d handled in %.3f ms", i, 0.123)`` on a dedicated
logger (``propagate=False``, level INFO), in chunks of 1,000 with
``await asyncio.sleep(0)`` between chunks so that an asyncio-native handler
gets a chance to run, exactly as it would inside a real service.  A separate
process (``bench/counter.py``) counts what arrives on a plain pyzmq SUB socket.

Cases:

``null``         ``logging.NullHandler``: the cost of ``logging`` itself (the floor).
``pyzmq``        ``zmq.log.handlers.PUBHandler`` on a PUB socket bound to 127.0.0.1.
``queue+pyzmq``  stdlib ``QueueHandler`` + ``QueueListener`` feeding a ``PUBHandler``.
``raw``          ``send_multipart`` of pre-formatted frames, no ``logging`` at all.
``zmqlog-text``  ``zmqlog.LogPublisher`` with its default (PUBHandler-compatible) wire format.
``zmqlog-json``  ``zmqlog.LogPublisher(wire_format="json")``.

See ``bench/README.md`` for what each reported number means.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import logging.handlers
import queue
import sys
import time
import tracemalloc
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
    CounterResult,
    Pinning,
    environment,
    fmt_num,
    free_tcp_port,
    fresh_logger,
    load_zmqlog,
    median,
    ratio,
)
from zmq.log.handlers import PUBHandler

CASES = ("null", "pyzmq", "queue+pyzmq", "raw", "zmqlog-text", "zmqlog-json")
CHUNK = 1_000
# What times the caller's loops: the clock, or with --caller-clock thread the logging
# thread's CPU time, which leaves out the time it was not running.
CALLER_CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,
    "thread": time.thread_time,
}
RAW_FRAMES = [b"INFO", b"request 1 handled in 0.123 ms\n"]


class Skipped(Exception):
    """A case cannot run in this environment (e.g. zmqlog or a feature missing)."""


@dataclass
class Options:
    """Knobs shared by all cases of one benchmark invocation."""

    sub_rcvhwm: int
    pyzmq_sndhwm: int
    idle: float
    clock: Callable[[], float] = time.perf_counter  # what times the caller's loops
    pinning: Pinning | None = None  # --pin: where the threads and the subscriber run

    @property
    def subscriber_cpus(self) -> frozenset[int] | None:
        """The CPUs the counting subscriber may use (None: any)."""
        return None if self.pinning is None else self.pinning.rest


@dataclass
class RunResult:
    """Raw measurements of one run of one case.

    Timestamps ``t_first``, ``t_loop_end`` and ``last_arrival`` are
    ``time.monotonic()`` values, comparable with the counter process's stamps.
    """

    n: int
    caller_s: float
    t_first: float
    t_loop_end: float
    close_s: float | None
    delivered: int | None = None
    last_arrival: float | None = None
    peak_mem_bytes: int | None = None

    @property
    def caller_ns(self) -> float:
        """Mean time spent inside the logging call, per record."""
        return self.caller_s / self.n * 1e9

    @property
    def throughput(self) -> float:
        """Records per second from the first logging call to the last arrival.

        For ``null`` nothing is delivered, so this is the producer's own rate
        (first call to end of the loop): the ceiling any transport could reach.
        """
        if self.delivered is None:
            return self.n / (self.t_loop_end - self.t_first)
        if not self.delivered or self.last_arrival is None:
            return 0.0
        return self.delivered / (self.last_arrival - self.t_first)

    @property
    def delivered_fraction(self) -> float | None:
        """Share of the N records the subscriber counted (None for ``null``)."""
        return None if self.delivered is None else self.delivered / self.n


class MemProbe:
    """Peak Python-heap growth during the measured section, via ``tracemalloc``.

    Why tracemalloc, and why in a separate pass: ``resource.getrusage``'s
    ``ru_maxrss`` is a process-lifetime high-water mark, so in a single process
    running the cases one after another a case can only show memory if it
    beats every earlier case's peak: the numbers would depend on case order.
    ``tracemalloc.reset_peak()`` gives a clean per-case peak, and it sees what
    actually grows with load in these designs (LogRecords piling up in a
    queue, formatted payloads waiting for a writer).  It does not see libzmq's
    own buffers, which are bounded by the HWM (1,000 messages by default).
    Tracing slows every Python allocation several-fold, so the memory pass is
    an extra, untimed run per case; its timings are discarded.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._base = 0

    def start(self) -> None:
        """Mark the beginning of the measured section."""
        if self.enabled:
            tracemalloc.reset_peak()
            self._base = tracemalloc.get_traced_memory()[0]

    def stop(self) -> int | None:
        """Return the peak growth in bytes since :meth:`start` (None if disabled)."""
        if not self.enabled:
            return None
        return max(0, tracemalloc.get_traced_memory()[1] - self._base)


async def produce_logging(
    logger: logging.Logger, n: int, opts: Options
) -> tuple[float, float, float]:
    """Log ``n`` records in chunks; return (caller seconds, first-call stamp, end stamp).

    Only the loops of ``logger.info`` calls are timed (``perf_counter`` around
    each chunk), so the ``sleep(0)`` yields, during which an asyncio handler
    may do its background work, are not charged to the caller. With ``--pin`` the
    threads are pinned first: the case has made its sockets, and so its threads.
    """
    if opts.pinning is not None:
        opts.pinning.apply()
    perf = opts.clock
    caller = 0.0
    t_first = time.monotonic()
    for start in range(0, n, CHUNK):
        t0 = perf()
        for i in range(start, min(start + CHUNK, n)):
            logger.info(MESSAGE, i, DURATION_ARG)
        caller += perf() - t0
        await asyncio.sleep(0)
    return caller, t_first, time.monotonic()


async def produce_raw(sock: zmq.Socket[bytes], n: int, opts: Options) -> tuple[float, float, float]:
    """Same shape as :func:`produce_logging`, but sends pre-formatted frames."""
    if opts.pinning is not None:
        opts.pinning.apply()
    perf = opts.clock
    frames = RAW_FRAMES
    caller = 0.0
    t_first = time.monotonic()
    for start in range(0, n, CHUNK):
        t0 = perf()
        for _ in range(start, min(start + CHUNK, n)):
            sock.send_multipart(frames)
        caller += perf() - t0
        await asyncio.sleep(0)
    return caller, t_first, time.monotonic()


def _apply_counter(result: RunResult, counted: CounterResult) -> RunResult:
    result.delivered = counted.count
    result.last_arrival = counted.last if counted.count else None
    return result


async def run_null(
    ctx: zmq.Context[zmq.Socket[bytes]], n: int, opts: Options, mem: MemProbe
) -> RunResult:
    """``logging.NullHandler``: everything ``logging`` does, then nothing."""
    return await _log_through(logging.NullHandler(), "zmqlog.bench.null", n, opts, mem)


async def _log_through(
    handler: logging.Handler, logger_name: str, n: int, opts: Options, mem: MemProbe
) -> RunResult:
    """Run the workload through *handler* on a fresh logger; time its close()."""
    logger = fresh_logger(logger_name)
    logger.addHandler(handler)
    try:
        mem.start()
        caller, t_first, t_end = await produce_logging(logger, n, opts)
        t0 = time.perf_counter()
        handler.close()
        close_s = time.perf_counter() - t0
        peak = mem.stop()
    finally:
        logger.removeHandler(handler)
    return RunResult(n, caller, t_first, t_end, close_s, peak_mem_bytes=peak)


async def _with_pub_socket(
    ctx: zmq.Context[zmq.Socket[bytes]],
    n: int,
    opts: Options,
    body: Callable[[zmq.Socket[bytes]], Awaitable[RunResult]],
) -> RunResult:
    """Bind a PUB socket, start a counter, wait for its subscription, run ``body``.

    The socket is closed with linger 0 only after the counter has reported, so
    closing never discards messages that were still queued for delivery.
    """
    sock: zmq.Socket[bytes] = ctx.socket(zmq.PUB)
    sock.linger = 0
    sock.sndhwm = opts.pyzmq_sndhwm
    counter: CounterProc | None = None
    try:
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        counter = await CounterProc.start(
            f"tcp://127.0.0.1:{port}",
            expect=n,
            rcvhwm=opts.sub_rcvhwm,
            idle=opts.idle,
            cpus=opts.subscriber_cpus,
        )
        await counter.wait_probe(lambda: sock.send_multipart([PROBE_TOPIC, b""]))
        result = await body(sock)
        return _apply_counter(result, await counter.finish(timeout=60.0 + n / 10_000))
    finally:
        if counter is not None:
            await counter.close()
        sock.close(linger=0)


async def run_pyzmq(
    ctx: zmq.Context[zmq.Socket[bytes]], n: int, opts: Options, mem: MemProbe
) -> RunResult:
    """pyzmq's ``PUBHandler`` formatting and sending in the caller's thread.

    ``PUBHandler.close()`` does not flush or close the socket (the caller owns
    it), so its close time is the cost of ``logging.Handler.close`` only.
    """

    async def body(sock: zmq.Socket[bytes]) -> RunResult:
        return await _log_through(PUBHandler(sock), "zmqlog.bench.pyzmq", n, opts, mem)

    return await _with_pub_socket(ctx, n, opts, body)


async def run_queue_pyzmq(
    ctx: zmq.Context[zmq.Socket[bytes]], n: int, opts: Options, mem: MemProbe
) -> RunResult:
    """The stdlib's recipe for non-blocking handlers, in front of ``PUBHandler``.

    Uses ``queue.SimpleQueue`` (unbounded, C-implemented), the fastest queue
    ``QueueHandler`` accepts, so the baseline is not handicapped.  Closing
    means ``QueueListener.stop()``, which waits until the listener thread has
    drained the whole backlog through ``PUBHandler``.  The probe messages are
    sent before the listener thread starts, so the socket is never shared
    between threads.
    """

    async def body(sock: zmq.Socket[bytes]) -> RunResult:
        logger = fresh_logger("zmqlog.bench.queue_pyzmq")
        pub_handler = PUBHandler(sock)
        records: queue.SimpleQueue[Any] = queue.SimpleQueue()
        queue_handler = logging.handlers.QueueHandler(records)
        listener = logging.handlers.QueueListener(records, pub_handler)
        logger.addHandler(queue_handler)
        listener.start()
        stopped = False
        try:
            mem.start()
            caller, t_first, t_end = await produce_logging(logger, n, opts)
            t0 = time.perf_counter()
            listener.stop()
            stopped = True
            queue_handler.close()
            pub_handler.close()
            close_s = time.perf_counter() - t0
            peak = mem.stop()
        finally:
            logger.removeHandler(queue_handler)
            if not stopped:
                listener.stop()
        return RunResult(n, caller, t_first, t_end, close_s, peak_mem_bytes=peak)

    return await _with_pub_socket(ctx, n, opts, body)


async def run_raw(
    ctx: zmq.Context[zmq.Socket[bytes]], n: int, opts: Options, mem: MemProbe
) -> RunResult:
    """The transport ceiling: pre-formatted frames straight into ``send_multipart``."""

    async def body(sock: zmq.Socket[bytes]) -> RunResult:
        mem.start()
        caller, t_first, t_end = await produce_raw(sock, n, opts)
        peak = mem.stop()
        return RunResult(n, caller, t_first, t_end, None, peak_mem_bytes=peak)

    return await _with_pub_socket(ctx, n, opts, body)


def _zmqlog_runner(
    module: ModuleType | None, reason: str, wire_format: str | None
) -> Callable[[zmq.Context[zmq.Socket[bytes]], int, Options, MemProbe], Awaitable[RunResult]]:
    """Build the runner for a zmqlog case (``wire_format=None`` means the default)."""

    async def run(
        ctx: zmq.Context[zmq.Socket[bytes]], n: int, opts: Options, mem: MemProbe
    ) -> RunResult:
        if module is None:
            raise Skipped(reason)
        logger = fresh_logger(f"zmqlog.bench.zmqlog_{wire_format or 'default'}")
        endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
        kwargs: dict[str, Any] = {"root_topic": "", "logger": logger, "bind": True}
        if wire_format is not None:
            kwargs["wire_format"] = wire_format
        try:
            pub: Any = module.LogPublisher(endpoint, **kwargs)
        except TypeError as exc:
            if "wire_format" in str(exc):
                raise Skipped(f"wire_format={wire_format!r} not available") from None
            raise
        counter: CounterProc | None = None
        try:
            async with pub:
                counter = await CounterProc.start(
                    endpoint,
                    expect=n,
                    rcvhwm=opts.sub_rcvhwm,
                    idle=opts.idle,
                    cpus=opts.subscriber_cpus,
                )
                await pub.wait_for_subscribers(1, timeout=10.0)
                mem.start()
                caller, t_first, t_end = await produce_logging(logger, n, opts)
                t_close = time.perf_counter()
            close_s = time.perf_counter() - t_close
            peak = mem.stop()
            result = RunResult(n, caller, t_first, t_end, close_s, peak_mem_bytes=peak)
            return _apply_counter(result, await counter.finish(timeout=60.0 + n / 10_000))
        finally:
            if counter is not None:
                await counter.close()
            for handler in list(logger.handlers):  # in case exit did not detach it
                logger.removeHandler(handler)

    return run


@dataclass
class CaseReport:
    """All runs of one case plus its status."""

    name: str
    status: str = "ok"  # "ok", "skipped" or "error"
    reason: str = ""
    runs: list[RunResult] = field(default_factory=list)
    peak_mem_bytes: int | None = None

    def medians(self) -> dict[str, float | None]:
        """Median of every per-run metric (peak memory comes from its own pass)."""
        return {
            "caller_ns": median([r.caller_ns for r in self.runs]),
            "throughput": median([r.throughput for r in self.runs]),
            "delivered_fraction": median([r.delivered_fraction for r in self.runs]),
            "close_ms": median([None if r.close_s is None else r.close_s * 1e3 for r in self.runs]),
            "peak_mem_mib": None if self.peak_mem_bytes is None else self.peak_mem_bytes / 2**20,
        }

    def spread(self) -> dict[str, float | None]:
        """(max - min) / median of caller cost and throughput over the repeats, in %."""

        def rel(values: list[float]) -> float | None:
            mid = median(values)
            if len(values) < 2 or not mid:
                return None
            return (max(values) - min(values)) / mid * 100

        return {
            "caller_ns_pct": rel([r.caller_ns for r in self.runs]),
            "throughput_pct": rel([r.throughput for r in self.runs]),
        }


RunFn = Callable[[zmq.Context[zmq.Socket[bytes]], int, Options, MemProbe], Awaitable[RunResult]]


async def _attempt(
    report: CaseReport,
    fn: RunFn,
    ctx: zmq.Context[zmq.Socket[bytes]],
    n: int,
    opts: Options,
    mem: MemProbe,
) -> RunResult | None:
    """Run once; on failure mark the report skipped/errored and return None."""
    gc.collect()
    try:
        return await fn(ctx, n, opts, mem)
    except Skipped as exc:
        report.status, report.reason = "skipped", str(exc)
    except Exception as exc:
        report.status, report.reason = "error", f"{type(exc).__name__}: {exc}"
    return None


async def benchmark(args: argparse.Namespace) -> list[CaseReport]:
    """Warm up, then run the selected cases ``repeats`` times, then the memory pass."""
    module, reason = load_zmqlog()
    runners: dict[str, RunFn] = {
        "null": run_null,
        "pyzmq": run_pyzmq,
        "queue+pyzmq": run_queue_pyzmq,
        "raw": run_raw,
        "zmqlog-text": _zmqlog_runner(module, reason, None),
        "zmqlog-json": _zmqlog_runner(module, reason, "json"),
    }
    opts = Options(
        sub_rcvhwm=args.sub_rcvhwm,
        pyzmq_sndhwm=args.pyzmq_sndhwm,
        idle=args.idle,
        clock=CALLER_CLOCKS[args.caller_clock],
        pinning=args.pinning,
    )
    names: list[str] = list(dict.fromkeys(args.cases))
    reports = {name: CaseReport(name) for name in names}
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    no_mem = MemProbe(enabled=False)
    try:
        if args.warmup:
            for name in names:
                await _attempt(reports[name], runners[name], ctx, args.warmup, opts, no_mem)
        for rep in range(args.repeats):
            # Rotate the order each repeat so no case always runs first/last.
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                report = reports[name]
                if report.status != "ok":
                    continue
                result = await _attempt(report, runners[name], ctx, args.n, opts, no_mem)
                if result is not None:
                    report.runs.append(result)
                    if not args.json:
                        print(f"  {name:<12} run {rep + 1}/{args.repeats} done", file=sys.stderr)
        if args.memory:
            mem = MemProbe(enabled=True)
            for name in names:
                report = reports[name]
                if report.status != "ok":
                    continue
                tracemalloc.start()
                try:
                    result = await _attempt(report, runners[name], ctx, args.n, opts, mem)
                finally:
                    tracemalloc.stop()
                if result is not None:
                    report.peak_mem_bytes = result.peak_mem_bytes
    finally:
        ctx.term()
    return [reports[name] for name in names]


def render_table(reports: list[CaseReport], args: argparse.Namespace) -> str:
    """Human-readable table of medians and ratios."""
    meds = {r.name: r.medians() for r in reports if r.status == "ok"}
    null = meds.get("null", {})
    pyzmq = meds.get("pyzmq", {})
    header = (
        f"{'case':<12} {'caller ns/rec':>13} {'+-%':>4} {'x null':>7} {'x pyzmq':>7} "
        f"{'e2e rec/s':>11} {'+-%':>4} {'x null':>7} {'x pyzmq':>7} {'delivered':>9} "
        f"{'close ms':>9} {'peak MiB':>8}"
    )
    lines = [
        f"N={args.n} records/run, repeats={args.repeats} (medians), chunk={CHUNK}, "
        f"subscriber RCVHWM={args.sub_rcvhwm}, pyzmq/raw PUB SNDHWM={args.pyzmq_sndhwm}, "
        f"caller clock: {args.caller_clock}",
        "pinned: " + ("no" if args.pinning is None else args.pinning.describe()),
        header,
        "-" * len(header),
    ]
    for report in reports:
        if report.status != "ok":
            lines.append(f"{report.name:<12} {report.status}: {report.reason}")
            continue
        m = meds[report.name]
        spread = report.spread()
        frac = m["delivered_fraction"]
        lines.append(
            f"{report.name:<12} "
            f"{fmt_num(m['caller_ns'], ',.0f', 13)} "
            f"{fmt_num(spread['caller_ns_pct'], '.0f', 4)} "
            f"{fmt_num(ratio(m['caller_ns'], null.get('caller_ns')), '.2f', 7)} "
            f"{fmt_num(ratio(m['caller_ns'], pyzmq.get('caller_ns')), '.2f', 7)} "
            f"{fmt_num(m['throughput'], ',.0f', 11)} "
            f"{fmt_num(spread['throughput_pct'], '.0f', 4)} "
            f"{fmt_num(ratio(m['throughput'], null.get('throughput')), '.2f', 7)} "
            f"{fmt_num(ratio(m['throughput'], pyzmq.get('throughput')), '.2f', 7)} "
            f"{fmt_num(None if frac is None else frac * 100, '.1f', 8)}"
            f"{'%' if frac is not None else ' '} "
            f"{fmt_num(m['close_ms'], ',.2f', 9)} "
            f"{fmt_num(m['peak_mem_mib'], '.1f', 8)}"
        )
    lines += [
        "caller = time inside logger.info per record; e2e = delivered records / "
        "(last arrival - first call);",
        "+-% = (max - min) / median over the repeats; null's e2e is its own loop rate "
        "(the ceiling);",
        "close = handler close / async-with exit; peak MiB = tracemalloc peak in a "
        "separate untimed pass",
    ]
    return "\n".join(lines)


def render_json(reports: list[CaseReport], args: argparse.Namespace) -> str:
    """Machine-readable results: config, environment, medians, ratios and raw runs."""
    module, _ = load_zmqlog()
    meds = {r.name: r.medians() for r in reports if r.status == "ok"}
    out: dict[str, Any] = {
        "benchmark": "publisher",
        "config": {
            "n": args.n,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "chunk": CHUNK,
            "sub_rcvhwm": args.sub_rcvhwm,
            "pyzmq_sndhwm": args.pyzmq_sndhwm,
            "idle_s": args.idle,
            "memory_pass": args.memory,
            "caller_clock": args.caller_clock,
            "pinning": None
            if args.pinning is None
            else {"caller": sorted(args.pinning.caller), "rest": sorted(args.pinning.rest)},
        },
        "environment": environment(module),
        "cases": {},
    }
    for report in reports:
        entry: dict[str, Any] = {"status": report.status, "reason": report.reason}
        if report.status == "ok":
            m = meds[report.name]
            entry["median"] = m
            entry["spread_pct"] = report.spread()
            entry["ratios"] = {
                f"{metric}_vs_{ref}": ratio(m[metric], meds.get(ref, {}).get(metric))
                for metric in ("caller_ns", "throughput")
                for ref in ("null", "pyzmq")
            }
            entry["runs"] = [
                {**asdict(r), "caller_ns": r.caller_ns, "throughput": r.throughput}
                for r in report.runs
            ]
        out["cases"][report.name] = entry
    return json.dumps(out, indent=2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line interface (see the module docstring)."""
    parser = argparse.ArgumentParser(description="zmqlog publisher-side benchmark")
    parser.add_argument("--n", type=int, default=200_000, help="records per run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=CASES,
        default=list(CASES),
        metavar="CASE",
        help=f"subset of: {', '.join(CASES)}",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--warmup",
        type=int,
        default=2_000,
        help="records in one untimed warm-up run per case (0: none)",
    )
    parser.add_argument(
        "--no-memory",
        dest="memory",
        action="store_false",
        help="skip the extra tracemalloc pass that measures peak memory",
    )
    parser.add_argument(
        "--sub-rcvhwm",
        type=int,
        default=1000,
        help="receive HWM of the counting subscriber (zmq's default is 1000)",
    )
    parser.add_argument(
        "--pyzmq-sndhwm",
        type=int,
        default=1000,
        help="send HWM of the PUB socket in the pyzmq, queue+pyzmq and raw cases "
        "(pyzmq's default is 1000; zmqlog's LogPublisher defaults to 100000)",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=1.0,
        help="seconds without arrivals, after the publisher is done, before counting stops",
    )
    parser.add_argument(
        "--caller-clock",
        choices=sorted(CALLER_CLOCKS),
        default="wall",
        help="what times the logging calls: the clock (wall, the default) or the logging "
        "thread's CPU time (thread), which leaves out the time it was not running",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run the logging thread alone on one CPU, and every other thread and the "
        "subscriber on the others (Linux, 2 CPUs or more), so that the caller's time is "
        "the handler's and not the scheduler's",
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--n and --repeats must be >= 1, --warmup >= 0")
    args.pinning = None
    if args.pin:
        try:
            args.pinning = Pinning.for_this_process()
        except ValueError as exc:
            parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if any case errored (skips are fine)."""
    args = parse_args(argv)
    reports = asyncio.run(benchmark(args))
    print(render_json(reports, args) if args.json else render_table(reports, args))
    return 1 if any(r.status == "error" for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Subscriber-side benchmark: decoded messages/s of zmqlog's ``LogSubscriber``.

Usage::

    python bench/subscriber.py [--n N] [--repeats R] [--cases CASE ...] [--json]

A raw pyzmq XPUB socket in another process (``bench/feeder.py``) sends ``N``
pre-encoded ``[topic, payload]`` messages.  The subscriber in this process
connects first; the feeder sends everything into its unlimited send queue and
says ``sent``; only then does the timed section start, so the numbers measure
how fast *this* side can receive and decode, not how fast the feeder produces.

Cases:

``raw-sync``     blocking ``recv_multipart`` loop on a plain SUB socket (the floor),
                 on the text frames (a 4-byte topic and a ~30-byte payload).
``raw-sync-json``  the same loop on the JSON frames (~540-byte payloads), the floor
                 for the ``zmqlog-json`` cases: bigger frames cost libzmq more.
``raw-async``    ``await recv_multipart()`` on a ``zmq.asyncio`` SUB socket.
``zmqlog-text``  ``async for m in LogSubscriber(...)`` on PUBHandler-format frames.
``zmqlog-json``  same with ``wire_format="json"`` on frames made by ``zmqlog.wire``
                 (skipped with a note until both exist).
``zmqlog-json-record``  the same, reading each message's ``.record`` (the
                 ``logging.LogRecord`` rebuilt) as a consumer that forwards does.

Every subscriber uses a receive HWM of 100,000 messages (zmqlog's default) so
the raw cases queue exactly as much as ``LogSubscriber`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import logging
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import zmq
import zmq.asyncio
from _common import (
    BENCH_DIR,
    DURATION_ARG,
    MESSAGE,
    environment,
    fmt_num,
    load_zmqlog,
    median,
    ratio,
    reap,
)

CASES = (
    "raw-sync",
    "raw-sync-json",
    "raw-async",
    "zmqlog-text",
    "zmqlog-json",
    "zmqlog-json-record",
)
FEEDER_SCRIPT = BENCH_DIR / "feeder.py"
SUB_RCVHWM = 100_000
DISTINCT = 1_000  # distinct messages the feeder cycles through


class Skipped(Exception):
    """The case cannot run with this zmqlog version."""


def _records() -> list[logging.LogRecord]:
    """The same kind of records ``run.py`` logs, with distinct arguments."""
    return [
        logging.LogRecord(
            "zmqlog.bench", logging.INFO, __file__, 1, MESSAGE, (i, DURATION_ARG), None
        )
        for i in range(DISTINCT)
    ]


def _wire(module: ModuleType | None) -> ModuleType | None:
    """``zmqlog.wire`` if zmqlog is importable and has it, else None."""
    if module is None:
        return None
    try:
        return importlib.import_module(f"{module.__name__}.wire")
    except ImportError:
        return None


def text_frames(module: ModuleType | None) -> list[list[bytes]]:
    """PUBHandler-format frames, via ``zmqlog.wire.encode_text`` when available."""
    encode = getattr(_wire(module), "encode_text", None)
    if encode is None:  # same bytes as PUBHandler: topic "INFO", payload "<message>\n"
        return [[b"INFO", (r.getMessage() + "\n").encode("utf-8")] for r in _records()]
    formatter = logging.Formatter("%(message)s\n")
    return [list(encode(r, formatter)) for r in _records()]


def json_frames(module: ModuleType | None) -> list[list[bytes]]:
    """JSON-format frames made by zmqlog's own encoder, or :class:`Skipped`."""
    if module is None:
        raise Skipped("zmqlog not importable")
    wire = _wire(module)
    encode = getattr(wire, "encode_json", None)
    if wire is None or encode is None:
        raise Skipped("zmqlog.wire has no encode_json(); cannot make JSON frames")
    publisher = wire.new_publisher_id()
    return [
        list(encode(r, None, "", publisher=publisher, seq=seq)) for seq, r in enumerate(_records())
    ]


@dataclass
class RunResult:
    """One timed drain: ``received`` messages in ``seconds``."""

    n: int
    received: int
    seconds: float

    @property
    def rate(self) -> float:
        """Decoded messages per second."""
        return self.received / self.seconds if self.seconds > 0 else 0.0


class Feeder:
    """The ``feeder.py`` child process (see its docstring for the protocol)."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.endpoint = f"tcp://127.0.0.1:{port}"

    @classmethod
    async def start(cls, frames_file: Path, n: int) -> Feeder:
        """Spawn the feeder and read the port it bound."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(FEEDER_SCRIPT),
            "--frames",
            str(frames_file),
            "--n",
            str(n),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            line = await cls._line(proc, 10.0)
        except BaseException:
            await cls._stop(proc)
            raise
        if not line.startswith("port "):
            await cls._stop(proc)
            raise RuntimeError(f"feeder said {line!r}")
        return cls(proc, int(line.split()[1]))

    @staticmethod
    async def _line(proc: asyncio.subprocess.Process, timeout: float) -> str:
        assert proc.stdout is not None
        raw = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not raw:
            raise RuntimeError("feeder exited early")
        return raw.decode().strip()

    async def wait_sent(self, timeout: float) -> None:
        """Wait until the feeder has queued every message."""
        line = await self._line(self.proc, timeout)
        if line != "sent":
            raise RuntimeError(f"feeder said {line!r}")

    async def close(self) -> None:
        """Ask the feeder to close, and make sure it is gone."""
        await self._stop(self.proc)

    @staticmethod
    async def _stop(proc: asyncio.subprocess.Process) -> None:
        if proc.stdin is not None and not proc.stdin.is_closing():
            try:
                proc.stdin.write(b"close\n")
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            proc.stdin.close()
        await reap(proc)


Consume = Callable[[str, Feeder, int], Awaitable[RunResult]]


def _sent_timeout(n: int) -> float:
    return 10.0 + n / 20_000


async def consume_raw_sync(endpoint: str, feeder: Feeder, n: int) -> RunResult:
    """Blocking ``recv_multipart`` loop: nothing but libzmq and pyzmq."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    try:
        sock.linger = 0
        sock.rcvhwm = SUB_RCVHWM
        sock.rcvtimeo = 2_000  # a stall raises zmq.Again instead of hanging
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(endpoint)
        await feeder.wait_sent(_sent_timeout(n))
        recv = sock.recv_multipart
        t0 = time.perf_counter()
        for _ in range(n):
            recv()
        return RunResult(n, n, time.perf_counter() - t0)
    finally:
        sock.close(linger=0)
        ctx.term()


async def consume_raw_async(endpoint: str, feeder: Feeder, n: int) -> RunResult:
    """``await recv_multipart()`` on a ``zmq.asyncio`` socket: pyzmq's asyncio floor."""
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.SUB)
    received = 0

    async def drain() -> None:
        nonlocal received
        recv = sock.recv_multipart
        for _ in range(n):
            await recv()
            received += 1

    try:
        sock.linger = 0
        sock.rcvhwm = SUB_RCVHWM
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(endpoint)
        await feeder.wait_sent(_sent_timeout(n))
        t0 = time.perf_counter()
        await _bounded(drain(), n, lambda: received)
        return RunResult(n, received, time.perf_counter() - t0)
    finally:
        sock.close(linger=0)
        ctx.term()


async def _bounded(coro: Awaitable[None], n: int, progress: Callable[[], int]) -> None:
    """Await ``coro`` but give up once progress stalls for 2 s (reports a partial count)."""
    task = asyncio.ensure_future(coro)
    last, last_change = -1, time.monotonic()
    try:
        while not task.done():
            done, _ = await asyncio.wait({task}, timeout=0.25)
            if done:
                break
            now, current = time.monotonic(), progress()
            if current != last:
                last, last_change = current, now
            elif now - last_change > 2.0:
                break
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
    if not task.cancelled():
        task.result()  # re-raise a failure from the consumer


def _zmqlog_consumer(
    module: ModuleType | None, wire_format: str | None, *, record: bool = False
) -> Consume:
    """``async for`` over a ``LogSubscriber`` (``wire_format=None``: the default).

    With *record*, each message's ``.record`` is read too, and the first one's
    message checked: the cost of a consumer that hands records to ``logging``.
    """

    async def consume(endpoint: str, feeder: Feeder, n: int) -> RunResult:
        if module is None:
            raise Skipped("zmqlog not importable")
        kwargs: dict[str, Any] = {"rcvhwm": SUB_RCVHWM}
        if wire_format is not None:
            kwargs["wire_format"] = wire_format
        try:
            sub: Any = module.LogSubscriber(endpoint, **kwargs)
        except TypeError as exc:
            if "wire_format" in str(exc):
                raise Skipped(f"LogSubscriber has no wire_format={wire_format!r}") from None
            if "rcvhwm" not in str(exc):
                raise
            del kwargs["rcvhwm"]  # an older LogSubscriber: use its default
            sub = module.LogSubscriber(endpoint, **kwargs)
        received = 0
        first_text: list[str] = []

        async def drain() -> None:
            nonlocal received
            async for message in sub:
                if record:
                    rebuilt = message.record
                    if not received:
                        first_text.append(str(rebuilt.msg))
                elif not received:
                    first_text.append(message.text)
                received += 1
                if received >= n:
                    break

        async with sub:
            await feeder.wait_sent(_sent_timeout(n))
            t0 = time.perf_counter()
            await _bounded(drain(), n, lambda: received)
            seconds = time.perf_counter() - t0
        expected = MESSAGE % (0, DURATION_ARG)
        if first_text and expected not in first_text[0]:
            raise RuntimeError(f"decoded text {first_text[0]!r} lacks {expected!r}")
        return RunResult(n, received, seconds)

    return consume


@dataclass
class CaseReport:
    """All runs of one case."""

    name: str
    status: str = "ok"
    reason: str = ""
    runs: list[RunResult] = field(default_factory=list)

    def median_rate(self) -> float | None:
        """Median decoded messages/s over the runs."""
        return median([r.rate for r in self.runs])


async def benchmark(args: argparse.Namespace) -> list[CaseReport]:
    """Run every selected case ``repeats`` times (plus one small warm-up run)."""
    module, reason = load_zmqlog()
    consumers: dict[str, Consume] = {
        "raw-sync": consume_raw_sync,
        "raw-sync-json": consume_raw_sync,
        "raw-async": consume_raw_async,
        "zmqlog-text": _zmqlog_consumer(module, None),
        "zmqlog-json": _zmqlog_consumer(module, "json"),
        "zmqlog-json-record": _zmqlog_consumer(module, "json", record=True),
    }
    names = list(dict.fromkeys(args.cases))
    reports = {name: CaseReport(name) for name in names}
    for name in names:
        if name.startswith("zmqlog") and module is None:
            reports[name].status, reports[name].reason = "skipped", reason
    with tempfile.TemporaryDirectory(prefix="zmqlog-bench-") as tmp:
        frame_files: dict[str, Path] = {}
        for kind, make in (("text", text_frames), ("json", json_frames)):
            path = Path(tmp) / f"{kind}.pickle"
            try:
                path.write_bytes(pickle.dumps(make(module)))
                frame_files[kind] = path
            except Skipped as exc:
                for name in names:
                    if "-json" in name and reports[name].status == "ok":
                        reports[name].status, reports[name].reason = "skipped", str(exc)
        # (n, timed) per round: an optional small warm-up round, then the repeats.
        plan = [(args.warmup, False)] if args.warmup else []
        plan += [(args.n, True)] * args.repeats
        for rep, (n, timed) in enumerate(plan):
            # Rotate the order each round so no case always runs first/last.
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                report = reports[name]
                if report.status != "ok":
                    continue
                frames = frame_files["json" if "-json" in name else "text"]
                result = await _attempt(report, consumers[name], frames, n)
                if result is not None and timed:
                    report.runs.append(result)
    return [reports[name] for name in names]


async def _attempt(report: CaseReport, consume: Consume, frames: Path, n: int) -> RunResult | None:
    """One run with its own feeder; failures mark the report instead of raising."""
    gc.collect()
    feeder: Feeder | None = None
    try:
        feeder = await Feeder.start(frames, n)
        return await consume(feeder.endpoint, feeder, n)
    except Skipped as exc:
        report.status, report.reason = "skipped", str(exc)
    except Exception as exc:
        report.status, report.reason = "error", f"{type(exc).__name__}: {exc}"
    finally:
        if feeder is not None:
            await feeder.close()
    return None


def render_table(reports: list[CaseReport], args: argparse.Namespace) -> str:
    """Human-readable medians."""
    rates = {r.name: r.median_rate() for r in reports if r.status == "ok"}
    header = (
        f"{'case':<18} {'msgs/s':>11} {'us/msg':>7} {'x raw-sync':>10} "
        f"{'x raw-sync-json':>15} {'x raw-async':>11} {'received':>9}"
    )
    lines = [
        f"subscriber side: N={args.n} messages/run, repeats={args.repeats} (medians), "
        f"RCVHWM={SUB_RCVHWM}",
        header,
        "-" * len(header),
    ]
    for report in reports:
        if report.status != "ok":
            lines.append(f"{report.name:<18} {report.status}: {report.reason}")
            continue
        rate = rates[report.name]
        got = median([r.received / r.n for r in report.runs])
        lines.append(
            f"{report.name:<18} {fmt_num(rate, ',.0f', 11)} "
            f"{fmt_num(None if not rate else 1e6 / rate, '.2f', 7)} "
            f"{fmt_num(ratio(rate, rates.get('raw-sync')), '.2f', 10)} "
            f"{fmt_num(ratio(rate, rates.get('raw-sync-json')), '.2f', 15)} "
            f"{fmt_num(ratio(rate, rates.get('raw-async')), '.2f', 11)} "
            f"{fmt_num(None if got is None else got * 100, '.1f', 8)}%"
        )
    return "\n".join(lines)


def render_json(reports: list[CaseReport], args: argparse.Namespace) -> str:
    """Machine-readable results."""
    module, _ = load_zmqlog()
    rates = {r.name: r.median_rate() for r in reports if r.status == "ok"}
    cases: dict[str, Any] = {}
    for report in reports:
        entry: dict[str, Any] = {"status": report.status, "reason": report.reason}
        if report.status == "ok":
            entry["median_rate"] = rates[report.name]
            entry["rate_vs_raw_sync"] = ratio(rates[report.name], rates.get("raw-sync"))
            entry["rate_vs_raw_sync_json"] = ratio(rates[report.name], rates.get("raw-sync-json"))
            entry["rate_vs_raw_async"] = ratio(rates[report.name], rates.get("raw-async"))
            entry["runs"] = [
                {"n": r.n, "received": r.received, "seconds": r.seconds, "rate": r.rate}
                for r in report.runs
            ]
            entry["rate_stdev"] = (
                statistics.stdev([r.rate for r in report.runs]) if len(report.runs) > 1 else None
            )
        cases[report.name] = entry
    return json.dumps(
        {
            "benchmark": "subscriber",
            "config": {"n": args.n, "repeats": args.repeats, "rcvhwm": SUB_RCVHWM},
            "environment": environment(module),
            "cases": cases,
        },
        indent=2,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line interface (see the module docstring)."""
    parser = argparse.ArgumentParser(description="zmqlog subscriber-side benchmark")
    parser.add_argument("--n", type=int, default=200_000, help="messages per run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case")
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=CASES,
        default=list(CASES),
        metavar="CASE",
        help=f"subset of: {', '.join(CASES)}",
    )
    parser.add_argument("--warmup", type=int, default=2_000, help="messages in a warm-up run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--n and --repeats must be >= 1, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if any case errored."""
    args = parse_args(argv)
    reports = asyncio.run(benchmark(args))
    print(render_json(reports, args) if args.json else render_table(reports, args))
    return 1 if any(r.status == "error" for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())

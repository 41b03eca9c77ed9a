"""Helpers shared by the zmqlog benchmarks (``run.py``, ``subscriber.py``, ``loop_lag.py``).

Kept dependency-free (stdlib + pyzmq) so the baselines run even while zmqlog
itself is missing or broken; zmqlog is only ever reached through
:func:`load_zmqlog`, which turns an import failure into a "skipped" reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import platform
import socket
import statistics
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import zmq

BENCH_DIR = Path(__file__).resolve().parent
COUNTER_SCRIPT = BENCH_DIR / "counter.py"

#: The message format and arguments every logging case emits.
MESSAGE = "request %d handled in %.3f ms"
DURATION_ARG = 0.123
#: First frame of the probe messages used to synchronise with the counter.  It
#: starts with "~", which no PUBHandler/zmqlog topic (root topic or level) uses.
PROBE_TOPIC = b"~bench-probe"


def load_zmqlog() -> tuple[ModuleType | None, str]:
    """Import zmqlog if possible.

    Returns ``(module, "")`` or ``(None, reason)``.  The module is used through
    ``Any`` on purpose: the benchmark must keep running against in-progress
    versions of the API (e.g. before ``wire_format`` exists), so static typing
    against one particular version would be wrong here.
    """
    try:
        return importlib.import_module("zmqlog"), ""
    except Exception as exc:  # any failure to import means "not available yet"
        return None, f"zmqlog not importable ({type(exc).__name__}: {exc})"


def free_tcp_port() -> int:
    """Return a currently unused TCP port on 127.0.0.1.

    Needed for zmqlog, whose ``LogPublisher`` binds an endpoint string itself.
    The port could in theory be taken between this call and the bind; on an
    otherwise idle loopback that race is negligible for a benchmark.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fresh_logger(name: str) -> logging.Logger:
    """Return a dedicated INFO logger with no handlers that does not propagate."""
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.disabled = False
    return logger


@dataclass
class CounterResult:
    """What the out-of-process counter saw (stamps are ``time.monotonic()``)."""

    count: int
    first: float
    last: float
    probed: bool


class CounterProc:
    """Handle on a running ``counter.py`` child process (see its docstring)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self._probe_line: asyncio.Task[bytes] | None = None

    @classmethod
    async def start(
        cls,
        endpoint: str,
        *,
        expect: int = 0,
        rcvhwm: int = 1000,
        idle: float = 1.0,
        max_wait: float = 300.0,
        cpus: frozenset[int] | None = None,
    ) -> CounterProc:
        """Spawn the counter, connected to ``endpoint``; on *cpus* only, if given."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(COUNTER_SCRIPT),
            "--connect",
            endpoint,
            "--expect",
            str(expect),
            "--probe-topic",
            PROBE_TOPIC.decode("utf8"),
            "--idle",
            str(idle),
            "--rcvhwm",
            str(rcvhwm),
            "--max-wait",
            str(max_wait),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        if cpus is not None:
            # Set from here, once it runs: it inherits the affinity of the thread that
            # spawned it, which --pin gives the logging thread's CPU.
            os.sched_setaffinity(proc.pid, cpus)
        return cls(proc)

    async def _readline(self) -> bytes:
        assert self._proc.stdout is not None
        return await self._proc.stdout.readline()

    async def wait_probe(self, send_probe: Callable[[], object], timeout: float = 10.0) -> None:
        """Send probes every 2 ms until the counter reports it received one.

        This proves the subscription is active on the PUB side, so no record of
        the measured run is dropped because the subscriber was still joining.
        """
        line_task = asyncio.ensure_future(self._readline())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while not line_task.done():
                if loop.time() > deadline:
                    raise TimeoutError("counter never saw a probe message")
                send_probe()
                await asyncio.wait({line_task}, timeout=0.002)
            line = line_task.result()
        finally:
            if not line_task.done():
                line_task.cancel()
        if line.strip() != b"probe":
            raise RuntimeError(f"unexpected line from counter: {line!r}")

    async def finish(self, expect: int | None = None, timeout: float = 60.0) -> CounterResult:
        """Tell the counter the publisher is done and collect its result."""
        assert self._proc.stdin is not None
        msg = "done\n" if expect is None else f"done {expect}\n"
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._proc.stdin.write(msg.encode("ascii"))
            await self._proc.stdin.drain()
        line = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("counter did not report in time")
            line = await asyncio.wait_for(self._readline(), remaining)
            if not line:
                raise RuntimeError("counter exited without a result")
            if line.startswith(b"{"):
                break
        data: dict[str, Any] = json.loads(line)
        await self.close()
        return CounterResult(
            count=int(data["count"]),
            first=float(data["first"]),
            last=float(data["last"]),
            probed=bool(data["probed"]),
        )

    async def close(self) -> None:
        """Make sure the child is gone (kill it if it has not exited within 5 s)."""
        proc = self._proc
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        await reap(proc)


@dataclass(frozen=True)
class Pinning:
    """Where ``run.py --pin`` runs things: the logging thread alone on one CPU, every
    other thread of the benchmark (ZeroMQ's I/O threads among them) and the counting
    subscriber on the others.

    On a machine with few CPUs the subscriber, which the benchmark adds, competes with
    the logging thread for a CPU whenever records flow: the caller's time then counts
    the scheduler's choices, and a ``NullHandler``, which sends nothing, never pays
    them. Pinned, the caller's figure is the handler's own cost. Linux only
    (``os.sched_setaffinity`` on thread ids).
    """

    caller: frozenset[int]
    rest: frozenset[int]

    @classmethod
    def for_this_process(cls) -> Pinning:
        """The first CPU this process may use for the logging thread, the rest for the
        others; ValueError if there are fewer than two, or no affinity API."""
        if not hasattr(os, "sched_setaffinity") or not os.path.isdir("/proc/self/task"):
            raise ValueError("--pin needs Linux (os.sched_setaffinity and /proc/self/task)")
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise ValueError(f"--pin needs at least 2 CPUs; this process may use {len(cpus)}")
        return cls(frozenset(cpus[:1]), frozenset(cpus[1:]))

    def apply(self) -> None:
        """Pin the calling thread to :attr:`caller` and every other thread of this
        process, as it is now, to :attr:`rest`. Called before each measured loop, after
        the case has made its sockets (and so its threads)."""
        me = threading.get_native_id()
        for entry in os.listdir("/proc/self/task"):
            tid = int(entry)
            try:
                os.sched_setaffinity(tid, self.caller if tid == me else self.rest)
            except ProcessLookupError:
                continue  # the thread ended meanwhile

    def describe(self) -> str:
        """The layout in words, for the report."""
        return (
            f"logging thread on CPU {_cpu_list(self.caller)}, "
            f"other threads and the subscriber on {_cpu_list(self.rest)}"
        )


def _cpu_list(cpus: frozenset[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


async def reap(proc: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    """Wait up to *grace* seconds for a child to exit by itself, then kill it."""
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except asyncio.TimeoutError:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def median(values: Sequence[float | None]) -> float | None:
    """Median of the non-None values, or None if there are none."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference`` or None when either side is missing or zero."""
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


def environment(zmqlog_module: ModuleType | None) -> dict[str, Any]:
    """Versions and machine facts that make a result reproducible."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "zmqlog": getattr(zmqlog_module, "__version__", None) if zmqlog_module else None,
    }


def fmt_num(value: float | None, spec: str, width: int) -> str:
    """Format ``value`` with ``spec`` right-aligned in ``width``; '-' when missing."""
    text = "-" if value is None else format(value, spec)
    return text.rjust(width)

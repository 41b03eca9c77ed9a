"""A `zmqlog proxy` subprocess for tests, with its endpoints read from its output."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import NamedTuple

import anyio


class RunningProxy(NamedTuple):
    proc: asyncio.subprocess.Process
    frontend: str
    backend: str


@asynccontextmanager
async def running_proxy(
    frontend: str = "tcp://127.0.0.1:*",
    backend: str = "tcp://127.0.0.1:*",
    options: Sequence[str] = (),
) -> AsyncIterator[RunningProxy]:
    """Start `zmqlog proxy`, wait (bounded) for its endpoint lines; kill it on the way out.

    *options* are more command-line arguments, such as the CURVE flags.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zmqlog",
        "proxy",
        "--frontend",
        frontend,
        "--backend",
        backend,
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        with anyio.fail_after(20):
            first = (await proc.stdout.readline()).decode().split()
            second = (await proc.stdout.readline()).decode().split()
        assert (first[:1], second[:1]) == (["frontend"], ["backend"]), (first, second)
        yield RunningProxy(proc, first[1], second[1])
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


_SUMMARY = re.compile(
    r"(?P<succeeded>\d+) succeeded, (?P<refused>\d+) refused \((?P<unauthorized>\d+) "
    r"unauthorized key, (?P<mismatched>\d+) mechanism mismatch, (?P<undecryptable>\d+) "
    r"undecryptable, (?P<malformed>\d+) malformed\), (?P<abandoned>\d+) abandoned"
    r"(?:, (?P<in_progress>\d+) still in progress)?"
)


def handshake_counts(err: str, side: str) -> dict[str, int]:
    """The proxy's exit report for one side's handshakes, as numbers."""
    line = re.search(rf"^zmqlog proxy: {side} handshakes: (.*)$", err, re.MULTILINE)
    assert line, err
    match = _SUMMARY.fullmatch(line[1])
    assert match, line[1]
    return {name: int(value or 0) for name, value in match.groupdict().items()}

"""Fan-in: three publisher processes, one `zmqlog proxy`, two subscribers."""

from __future__ import annotations

import asyncio
import re
import sys
from collections import defaultdict
from pathlib import Path

import anyio

from tests.proxying import running_proxy
from zmqlog import LogSubscriber

ROOT = Path(__file__).resolve().parent.parent
WORKERS = ("w1", "w2", "w3")
JOBS = 200
_JOB = re.compile(r"(w\d) finished job (\d+)")


async def collect(sub: LogSubscriber, expected: int) -> dict[str, list[int]]:
    """Receive *expected* job messages; return the job numbers seen per worker, in order."""
    seen: dict[str, list[int]] = defaultdict(list)
    received = 0
    while received < expected:
        message = await sub.receive()
        match = _JOB.search(message.text)
        if match:
            seen[match[1]].append(int(match[2]))
            received += 1
    return dict(seen)


async def test_every_subscriber_gets_every_record_of_every_publisher_in_order() -> None:
    """Each subscriber behind the proxy receives all jobs of all 3 workers, each in order."""
    # Two subscribers on distinct topic prefixes: through the proxy a publisher counts
    # one subscription per distinct prefix, so each worker can wait for both.
    async with (
        running_proxy() as proxy,
        LogSubscriber(proxy.backend, topics=[""]) as everything,
        LogSubscriber(proxy.backend, topics=["w"]) as workers,
    ):
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "examples" / "fanin_worker.py"),
                "--frontend",
                proxy.frontend,
                "--name",
                name,
                "--jobs",
                str(JOBS),
                "--subscribers",
                "2",
                "--interval",
                "0",
                stderr=asyncio.subprocess.PIPE,
            )
            for name in WORKERS
        ]
        try:
            with anyio.fail_after(30):
                results = await asyncio.gather(
                    collect(everything, JOBS * len(WORKERS)),
                    collect(workers, JOBS * len(WORKERS)),
                )
                errors = [(await proc.communicate())[1] for proc in procs]
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    assert [proc.returncode for proc in procs] == [0, 0, 0], errors
    expected = {name: list(range(JOBS)) for name in WORKERS}
    assert results == [expected, expected]

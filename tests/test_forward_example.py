"""examples/forward_to_file.py writes what publishers send into a rotating file."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import anyio

from zmqlog import LogPublisher

ROOT = Path(__file__).resolve().parent.parent


async def forward(
    pub: LogPublisher, log_file: Path, count: int, log: Callable[[], None]
) -> list[str]:
    """Run the example for *count* records, call *log* once it listens; return the file."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "forward_to_file.py"),
        "--endpoint",
        pub.endpoint,
        "--file",
        str(log_file),
        "--count",
        str(count),
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await pub.wait_for_subscribers(1, timeout=20)
        log()
        with anyio.fail_after(20):
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err
    return (await anyio.Path(log_file).read_text(encoding="utf-8")).splitlines()


async def test_forwarded_records_land_in_the_file(logger: logging.Logger, tmp_path: Path) -> None:
    """Each received record becomes one line with its level and root topic as logger name."""

    def log() -> None:
        logger.info("order %d shipped", 7)
        logger.error("payments::card declined")

    async with LogPublisher("tcp://127.0.0.1:*", root_topic="shop", logger=logger) as pub:
        first, second = await forward(pub, tmp_path / "remote.log", 2, log)
    assert first.endswith(" INFO     shop: order 7 shipped")
    assert " ERROR    shop: ERROR test_forward_example.py:" in second
    assert second.endswith("- card declined - None")  # pyzmq's ERROR format adds exc_info


async def test_json_publishers_arrive_with_their_own_records(
    logger: logging.Logger, tmp_path: Path
) -> None:
    """From a JSON publisher the file shows the sender's logger name and plain message."""
    async with LogPublisher(
        "tcp://127.0.0.1:*", root_topic="shop", logger=logger, wire_format="json"
    ) as pub:
        (line,) = await forward(
            pub,
            tmp_path / "remote.log",
            1,
            lambda: logger.warning("payments::card %s declined", "x"),
        )
    assert line.endswith(f" WARNING  {logger.name}: card x declined")

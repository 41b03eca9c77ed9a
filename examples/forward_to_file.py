"""Write the log records other processes publish into a local rotating log file.

::

    python examples/forward_to_file.py --endpoint tcp://127.0.0.1:5555 --file remote.log

The subscriber runs on the event loop; the file is written by a ``QueueListener``
thread, so a slow disk never stalls the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import logging.handlers
import queue
from pathlib import Path

import zmqlog


def as_record(message: zmqlog.LogMessage) -> logging.LogRecord:
    """Rebuild a LogRecord from a text message: level and names come from its topic."""
    # Once structured records land, `await sub.forward(handler)` replaces this function:
    # it hands over the sender's own record (time, file, line, exception and all).
    levelno = logging.getLevelName(message.level)
    return logging.makeLogRecord(
        {
            "name": message.root_topic or "remote",
            "levelname": message.level,
            "levelno": levelno if isinstance(levelno, int) else logging.INFO,
            "msg": message.text.rstrip("\n"),
            "topic": message.subtopic,
        }
    )


async def main(endpoint: str, path: Path, max_bytes: int, backups: int, count: int) -> None:
    to_file = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s"))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, to_file)
    listener.start()
    try:
        async with zmqlog.LogSubscriber(endpoint) as sub:
            seen = 0
            async for message in sub:
                records.put(as_record(message))
                seen += 1
                if seen == count:
                    break
    finally:
        await asyncio.to_thread(listener.stop)  # writes what is queued, joins the thread
        to_file.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    parser.add_argument("--file", type=Path, default=Path("remote.log"))
    parser.add_argument("--max-bytes", type=int, default=1_000_000)
    parser.add_argument("--backups", type=int, default=3)
    parser.add_argument("--count", type=int, default=0, help="stop after N records (0: never)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.endpoint, args.file, args.max_bytes, args.backups, args.count))

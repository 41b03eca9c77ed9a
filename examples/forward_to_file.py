"""Write the log records other processes publish into a local rotating log file.

::

    python examples/forward_to_file.py --endpoint tcp://127.0.0.1:5555 --file remote.log

The subscriber runs on the event loop and hands each record to a ``QueueHandler``; the
file is written by a ``QueueListener`` thread, so a slow disk never stalls the loop.
Publishers using ``wire_format="json"`` arrive with their own records intact.
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


async def main(endpoint: str, path: Path, max_bytes: int, backups: int, count: int) -> None:
    to_file = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s"))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, to_file)
    listener.start()
    into_queue = logging.handlers.QueueHandler(records)
    try:
        async with zmqlog.LogSubscriber(endpoint) as sub:
            if not count:
                await sub.forward(into_queue)  # every record, until Ctrl-C
            for _ in range(count):
                # The sender's own record for JSON publishers (time, file, line,
                # traceback); for text ones a record built from topic and text.
                into_queue.handle((await sub.receive()).record)
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

"""Print the log records published by ``examples/service.py`` (or any pyzmq PUBHandler).

::

    python examples/subscriber.py --endpoint tcp://127.0.0.1:5555 --topic shop.WARNING
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import zmqlog


async def main(endpoint: str, topic: str, count: int) -> None:
    async with zmqlog.LogSubscriber(endpoint, topics=[topic]) as sub:
        seen = 0
        async for message in sub:
            print(f"{message.level:<8} {message.subtopic or '-':<10} {message.text.rstrip()}")
            seen += 1
            if seen == count:
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    parser.add_argument("--topic", default="", help="topic prefix to subscribe to")
    parser.add_argument("--count", type=int, default=0, help="stop after N messages (0: never)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.endpoint, args.topic, args.count))

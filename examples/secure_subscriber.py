"""Print the encrypted logs of ``examples/secure_service.py``.

::

    python examples/secure_subscriber.py --keys-dir keys --name alice \\
        --endpoint tcp://127.0.0.1:5556

It pins the service's public key (``KEYS_DIR/server.key``), so an impostor on that
endpoint is refused, and proves who it is with ``KEYS_DIR/authorized/NAME.key_secret``.
A subscriber the service does not admit receives nothing: ZeroMQ retries quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

import zmqlog


async def main(endpoint: str, keys_dir: Path, name: str, count: int) -> None:
    async with zmqlog.LogSubscriber(
        endpoint,
        curve_server_key_file=keys_dir / "server.key",
        curve_secret_key_file=keys_dir / "authorized" / f"{name}.key_secret",
    ) as sub:
        seen = 0
        async for message in sub:
            print(f"{message.level:<8} {message.subtopic or '-':<10} {message.text.rstrip()}")
            seen += 1
            if seen == count:
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5556")
    parser.add_argument("--keys-dir", type=Path, default=Path("keys"))
    parser.add_argument("--name", default="alice", help="this subscriber's key pair name")
    parser.add_argument("--count", type=int, default=0, help="stop after N messages (0: never)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.endpoint, args.keys_dir, args.name, args.count))

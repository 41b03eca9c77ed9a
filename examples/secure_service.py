"""A service that publishes its logs encrypted, to listed subscribers only.

Create the keys once: the service's pair, and a pair per subscriber in a folder whose
``.key`` files (public keys) the service admits::

    zmqlog keys keys server
    zmqlog keys keys/authorized alice

Then run the service, and watch it from another terminal with
``examples/secure_subscriber.py``::

    python examples/secure_service.py --keys-dir keys --endpoint tcp://127.0.0.1:5556
    python examples/secure_subscriber.py --keys-dir keys --name alice \\
        --endpoint tcp://127.0.0.1:5556

On real hosts the service keeps ``server.key_secret`` and the ``authorized`` folder
of public keys; each subscriber keeps ``server.key`` and its own ``NAME.key_secret``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

import zmqlog

log = logging.getLogger("shop")


async def main(endpoint: str, keys_dir: Path, seconds: float) -> None:
    logging.basicConfig(level=logging.INFO)  # local console output, as usual
    async with zmqlog.LogPublisher(
        endpoint,
        root_topic="shop",
        logger=log,
        curve_secret_key_file=keys_dir / "server.key_secret",
        authorized_keys=keys_dir / "authorized",
    ):
        log.info("service up, publishing encrypted logs on %s", endpoint)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        order_id = 0
        while loop.time() < deadline:
            order_id += 1
            log.info("orders::order %d paid with card ending %04d", order_id, 1000 + order_id)
            await asyncio.sleep(0.2)
        log.info("service shutting down after %d orders", order_id)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5556")
    parser.add_argument("--keys-dir", type=Path, default=Path("keys"))
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.endpoint, args.keys_dir, args.seconds))

"""A small asyncio service that publishes its logs with zmqlog.

Run it, then watch it from another terminal with ``python examples/subscriber.py``
(or pyzmq's own ``python -m zmq.log tcp://127.0.0.1:5555``)::

    python examples/service.py --endpoint tcp://127.0.0.1:5555 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import logging

import zmqlog

log = logging.getLogger("shop")


async def handle_order(order_id: int) -> None:
    await asyncio.sleep(0.01)  # stands in for real work
    if order_id % 7 == 0:
        log.warning("payments::order %d needs a manual check", order_id)
    else:
        log.info("orders::order %d shipped", order_id)


async def main(endpoint: str, seconds: float) -> None:
    logging.basicConfig(level=logging.INFO)  # local console output, as usual
    async with zmqlog.LogPublisher(endpoint, root_topic="shop", logger=log):
        log.info("service up, publishing logs on %s", endpoint)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        order_id = 0
        while loop.time() < deadline:
            order_id += 1
            await handle_order(order_id)
            await asyncio.sleep(0.2)
        log.info("service shutting down after %d orders", order_id)
    # Leaving the block published everything still queued and closed the socket.


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.endpoint, args.seconds))

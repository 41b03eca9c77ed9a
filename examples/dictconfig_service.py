"""An asyncio service whose logging, zmqlog included, comes from a JSON dictConfig file.

::

    python examples/dictconfig_service.py --config examples/logging.json --seconds 10
    zmqlog tail tcp://127.0.0.1:5555        # in another terminal

``logging.config.dictConfig`` creates the ``AsyncPUBHandler`` (and binds its socket)
before any event loop runs. Nothing else is needed to start it: the first record
logged on a thread whose loop is running starts its drain task. A service that logs
only from other threads calls ``handler.start()`` once from the loop instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.config
from pathlib import Path

import zmqlog

log = logging.getLogger("shop")


def configure(config_file: Path, endpoint: str | None = None) -> None:
    """Configure logging from *config_file*, optionally publishing on *endpoint*."""
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if endpoint is not None:
        config["handlers"]["zmq"]["interface_or_socket"] = endpoint
    logging.config.dictConfig(config)


def zmq_handlers(logger: logging.Logger) -> list[zmqlog.AsyncPUBHandler]:
    """The zmqlog handlers dictConfig attached to *logger*."""
    return [h for h in logger.handlers if isinstance(h, zmqlog.AsyncPUBHandler)]


async def main(seconds: float, subscribers: int) -> None:
    for handler in zmq_handlers(log):
        if subscribers:
            await handler.wait_for_subscribers(subscribers, timeout=10)
    log.info("service up")  # logged on the loop: this alone starts the drain task
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    order = 0
    while True:
        order += 1
        log.info("orders::order %d shipped", order)
        if loop.time() >= deadline:
            break
        await asyncio.sleep(0.2)
    log.warning("service stopping after %d orders", order)
    # A bounded flush while the loop still runs; logging.shutdown() at exit would
    # otherwise send what the socket takes without waiting.
    for handler in zmq_handlers(log):
        log.removeHandler(handler)
        await handler.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path(__file__).with_name("logging.json"))
    parser.add_argument("--endpoint", help="publish here instead of the file's endpoint")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--subscribers", type=int, default=0, help="wait for N subscriptions before starting"
    )
    args = parser.parse_args()
    configure(args.config, args.endpoint)
    asyncio.run(main(args.seconds, args.subscribers))

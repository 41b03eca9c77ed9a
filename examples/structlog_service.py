"""An asyncio service that logs with structlog and publishes its events with zmqlog.

structlog's standard-library integration, as structlog documents it: its processors
end with ``ProcessorFormatter.wrap_for_formatter``, and every handler renders the
events with a ``ProcessorFormatter`` of its own, zmqlog's ``AsyncPUBHandler`` like any
other. Run it, and watch it from another terminal with ``zmqlog tail``::

    python examples/structlog_service.py --endpoint tcp://127.0.0.1:5555 --seconds 30
    zmqlog tail tcp://127.0.0.1:5555

With ``--json`` the events travel as JSON records instead: the event is the message,
the other keys are fields (``zmqlog tail --json`` shows them under ``extra``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import structlog
from structlog.stdlib import ProcessorFormatter

import zmqlog
from zmqlog.wire import WireFormat

log = structlog.stdlib.get_logger("shop")


def configure_structlog() -> None:
    """What runs at the call: context, level, logger name and time go into the event."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def json_lines() -> ProcessorFormatter:
    """The events as JSON lines, tracebacks included: what zmqlog publishes in text mode."""
    return ProcessorFormatter(
        processors=[
            ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    )


async def charge(order_id: int) -> None:
    await asyncio.sleep(0.01)  # stands in for real work
    if order_id % 7 == 0:
        raise TimeoutError("the payment gateway did not answer")


async def handle_order(order_id: int) -> None:
    structlog.contextvars.bind_contextvars(order=order_id)  # in every event of this task
    try:
        await charge(order_id)
    except TimeoutError:
        # topic= names the subtopic: shop.ERROR.payments
        log.exception("charge failed", topic="payments", amount="9.90")
    else:
        log.info("order shipped", topic="orders", items=order_id % 3 + 1)


async def main(endpoint: str, seconds: float, wire_format: WireFormat) -> None:
    configure_structlog()
    logging.getLogger("shop").setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stderr)  # local output, rendered for people
    renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    console.setFormatter(ProcessorFormatter(processor=renderer))
    logging.getLogger().addHandler(console)
    async with zmqlog.LogPublisher(
        endpoint, root_topic="shop", logger="shop", wire_format=wire_format
    ) as pub:
        # In JSON mode the formatter only renders tracebacks; the event travels as fields.
        pub.handler.setFormatter(json_lines())
        log.info("service up", endpoint=endpoint)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        order_id = 0
        while loop.time() < deadline:
            order_id += 1
            await asyncio.create_task(handle_order(order_id))  # a context of its own
            await asyncio.sleep(0.1)
        log.info("service shutting down", orders=order_id)
    # Leaving the block published everything still queued and closed the socket.


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="publish JSON records")
    args = parser.parse_args()
    asyncio.run(main(args.endpoint, args.seconds, "json" if args.json else "text"))

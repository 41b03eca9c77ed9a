"""structlog's standard-library integration, with the real structlog, in both wire formats.

structlog is configured as its documentation shows: ``wrap_for_formatter`` as the last
processor, and a ``ProcessorFormatter`` on the handler. The loggers are made with
``structlog.wrap_logger`` rather than ``structlog.configure``, so that no test changes
structlog's global configuration.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
import io
import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog
from structlog.stdlib import BoundLogger, ProcessorFormatter

from zmqlog import LogMessage, LogPublisher, LogSubscriber

TCP = "tcp://127.0.0.1:*"

# What structlog's docs put before wrap_for_formatter: they run at the call.
SHARED = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]

# Renderers that format exceptions, as structlog's docs configure them.
RENDERERS: dict[str, Callable[[], list[Any]]] = {
    "json": lambda: [
        ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ],
    "console": lambda: [
        ProcessorFormatter.remove_processors_meta,
        structlog.dev.ConsoleRenderer(colors=False),
    ],
    "key-value": lambda: [
        ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        structlog.processors.KeyValueRenderer(sort_keys=True),
    ],
}


def structlog_logger(logger: logging.Logger) -> Any:
    """A structlog BoundLogger over *logger*, wrapping its events for ProcessorFormatter."""
    return structlog.wrap_logger(
        logger,
        processors=[*SHARED, ProcessorFormatter.wrap_for_formatter],
        wrapper_class=BoundLogger,
    )


class Color(enum.Enum):
    RED = "red"


class Basket:
    """A mutable object with a repr, changed after it was logged."""

    def __init__(self) -> None:
        self.items = ["apple"]

    def __repr__(self) -> str:
        return f"Basket({self.items})"


def log_everything(log: Any) -> None:
    """Events of every kind, their arguments changed right after each call."""
    items: list[object] = [1, {"sku": "A-1"}]
    basket = Basket()
    nested: dict[str, Any] = {"a": [1, (2, 3)]}
    log.info(
        "order shipped",
        order=42,
        items=items,
        basket=basket,
        nested=nested,
        pair=(1, "b"),
        when=datetime.datetime(2026, 12, 2, 9, 30, tzinfo=datetime.timezone.utc),
        amount=decimal.Decimal("9.90"),
        text='é ☃ 😀 "q" tab\t',
        topic="orders",
    )
    items.append(3)
    items[1]["sku"] = "B-2"  # type: ignore[index]
    basket.items.append("pear")
    nested["a"].append(4)
    log.warning("payments::card declined", card="x")
    try:
        {}["missing"]
    except KeyError:
        log.exception("lookup failed", order=43)
        log.error("retrying", attempt=2, exc_info=True)  # noqa: G201  # the other way in
    log.debug("bye", empty={}, none=None)


EVENTS = 5


async def receive(sub: LogSubscriber, count: int) -> list[LogMessage]:
    with anyio.fail_after(10):
        return [await sub.receive() for _ in range(count)]


@dataclass
class Twins:
    """One stdlib logger with a StreamHandler and a zmqlog publisher sharing a formatter."""

    log: Any
    stream: io.StringIO
    publisher: LogPublisher
    subscriber: LogSubscriber


@pytest.fixture
async def twins(request: pytest.FixtureRequest, logger: logging.Logger) -> AsyncIterator[Twins]:
    wire_format, formatter = request.param
    stream = io.StringIO()
    local = logging.StreamHandler(stream)
    local.setFormatter(formatter)
    logger.addHandler(local)
    async with (
        LogPublisher(TCP, root_topic="shop", logger=logger, wire_format=wire_format) as pub,
        LogSubscriber(pub.endpoint) as sub,
    ):
        pub.handler.setFormatter(formatter)
        await pub.wait_for_subscribers(1, timeout=5)
        yield Twins(structlog_logger(logger), stream, pub, sub)


def _text(renderer: str) -> Any:
    return pytest.param(("text", ProcessorFormatter(processors=RENDERERS[renderer]())), id=renderer)


@pytest.mark.parametrize("twins", [_text(name) for name in RENDERERS], indirect=True)
async def test_text_payloads_are_what_the_formatter_writes_to_a_stream(twins: Twins) -> None:
    """Each payload is the StreamHandler's line, byte for byte, tracebacks included, and
    shows the arguments as they were at the call."""
    log_everything(twins.log)
    messages = await receive(twins.subscriber, EVENTS)
    payloads = [message.payload for message in messages]
    # The stream's lines are the payloads, one after another (a traceback spans lines).
    assert b"".join(payloads) == twins.stream.getvalue().encode()
    assert [payload.count(b"\n") >= 1 and payload.endswith(b"\n") for payload in payloads] == [
        True
    ] * EVENTS
    assert b"Basket(['apple'])" in payloads[0]
    assert b"B-2" not in payloads[0]
    assert [b"KeyError" in payload for payload in payloads] == [
        False, False, True, True, False,
    ]  # fmt: skip
    assert [message.topic for message in messages] == [
        "shop.INFO.orders",
        "shop.WARNING",
        "shop.ERROR",
        "shop.ERROR",
        "shop.DEBUG",
    ]


@pytest.mark.parametrize(
    "twins",
    [pytest.param(("text", ProcessorFormatter(processor=structlog.processors.JSONRenderer())))],
    indirect=True,
)
async def test_the_configuration_from_the_issue_publishes(twins: Twins) -> None:
    """ProcessorFormatter(processor=JSONRenderer()) in text mode: the rendered event."""
    twins.log.info("order shipped", order=42)
    (message,) = await receive(twins.subscriber, 1)
    assert message.payload == twins.stream.getvalue().encode()
    assert b'"order": 42' in message.payload


@pytest.mark.parametrize("twins", [_text("json")], indirect=True)
async def test_stdlib_records_through_the_same_formatter_are_sent_as_pyzmq_sends_them(
    twins: Twins, logger: logging.Logger
) -> None:
    """A record logged with logging itself is rendered too; its payload is the formatter's
    output, with no newline added, as pyzmq's PUBHandler sends it."""
    logger.warning("plain %s", "stdlib")
    (message,) = await receive(twins.subscriber, 1)
    assert message.payload + b"\n" == twins.stream.getvalue().encode()
    assert b'"event": "plain stdlib"' in message.payload


def _type_names(_: object, __: str, event: dict[str, Any]) -> str:
    """A renderer that writes the type of each value it gets, as a serializer sees them."""
    return " ".join(f"{key}:{type(value).__name__}" for key, value in sorted(event.items()))


@pytest.mark.parametrize(
    "twins", [pytest.param(("text", ProcessorFormatter(processor=_type_names)))], indirect=True
)
async def test_immutable_values_reach_the_formatter_as_themselves(twins: Twins) -> None:
    """Dates, decimals, UUIDs, enums stay what they are (orjson, say, serializes them
    natively); containers are copies of the same types; other objects stand in."""
    twins.log.info(
        "typed",
        when=datetime.date(2026, 12, 2),
        amount=decimal.Decimal("9.90"),
        id=uuid.UUID(int=7),
        level_enum=Color.RED,
        pair=(1, 2),
        tags={"a"},
        basket=Basket(),
    )
    (message,) = await receive(twins.subscriber, 1)
    assert message.payload == twins.stream.getvalue().replace("Basket", "Rendered").encode()
    assert message.payload.decode().split() == [
        "amount:Decimal", "basket:Rendered", "event:str", "id:UUID", "level:str",
        "level_enum:Color", "logger:str", "pair:tuple", "tags:set", "timestamp:str",
        "when:date",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "twins",
    [pytest.param(("json", ProcessorFormatter(processors=RENDERERS["json"]())), id="json")],
    indirect=True,
)
async def test_json_records_carry_the_event_as_message_and_fields(twins: Twins) -> None:
    """In JSON mode the event is the message, its keys are fields and attributes of the
    rebuilt record (as they were at the call), and exceptions are the traceback."""
    log_everything(twins.log)
    info, warning, exception, error, debug = await receive(twins.subscriber, EVENTS)
    record = info.record
    assert (info.topic, record.getMessage(), record.order) == (
        "shop.INFO.orders",
        "order shipped",
        42,
    )
    assert record.items == [1, {"sku": "A-1"}]
    assert record.basket == "Basket(['apple'])"
    assert record.nested == {"a": [1, [2, 3]]}
    assert record.pair == [1, "b"]
    assert record.when == "datetime.datetime(2026, 12, 2, 9, 30, tzinfo=datetime.timezone.utc)"
    assert record.amount == "Decimal('9.90')"
    assert record.text == 'é ☃ 😀 "q" tab\t'
    assert (record.level, record.logger) == ("info", twins.publisher.logger.name)
    assert record.timestamp.endswith("Z")
    assert record.exc_text is None
    assert info.fields is not None
    assert set(info.fields["extra"]) == {
        "order", "items", "basket", "nested", "pair", "when", "amount", "text", "topic",
        "level", "logger", "timestamp",
    }  # fmt: skip
    # "::" in an event is text: its subtopic is data (topic=...).
    assert (warning.topic, warning.record.getMessage()) == (
        "shop.WARNING",
        "payments::card declined",
    )
    for failed in (exception, error):
        assert failed.record.exc_text is not None
        assert failed.record.exc_text.endswith("KeyError: 'missing'")
    assert (exception.record.order, error.record.attempt) == (43, 2)
    assert (debug.record.getMessage(), debug.record.empty, debug.record.none) == ("bye", {}, None)
    rendered = logging.Formatter("%(levelname)s %(message)s").format(error.record)
    assert rendered.startswith("ERROR retrying\nTraceback (most recent call last):")


@pytest.mark.parametrize(
    "twins",
    [pytest.param(("json", ProcessorFormatter(processors=RENDERERS["json"]())), id="json")],
    indirect=True,
)
async def test_json_records_leave_structlogs_plumbing_behind(twins: Twins) -> None:
    """The logger object and method name wrap_for_formatter attaches are not fields."""
    twins.log.info("hello")
    (message,) = await receive(twins.subscriber, 1)
    assert message.fields is not None
    assert not {"_logger", "_name", "_record", "_from_structlog"} & set(message.fields["extra"])


# -- examples/structlog_service.py ---------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("wire_format", ["text", "json"])
async def test_the_example_service_publishes_its_events(wire_format: str, tmp_path: Path) -> None:
    """The example runs on its own; its events arrive as JSON lines, or as JSON records."""
    endpoint = f"ipc://{tmp_path}/shop.log"
    args = ["--json"] if wire_format == "json" else []
    async with LogSubscriber(endpoint) as sub:  # connected first: ipc:// retries
        service = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "examples" / "structlog_service.py"),
            "--endpoint",
            endpoint,
            "--seconds",
            "1.5",
            *args,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            messages: list[LogMessage] = []
            with anyio.fail_after(20):
                while not messages or "service shutting down" not in messages[-1].text:
                    messages.append(await sub.receive())
            _, err = await asyncio.wait_for(service.communicate(), 15)
        finally:
            if service.returncode is None:
                service.kill()
                await service.wait()
    assert service.returncode == 0, err.decode()
    failed = [m for m in messages if m.topic == "shop.ERROR.payments"]
    shipped = [m for m in messages if m.topic == "shop.INFO.orders"]
    assert failed, [m.topic for m in messages]
    assert shipped
    if wire_format == "text":
        event = json.loads(failed[0].payload)
        assert (event["event"], event["level"], event["topic"]) == (
            "charge failed",
            "error",
            "payments",
        )
        assert event["exception"].endswith("TimeoutError: the payment gateway did not answer")
        assert json.loads(shipped[0].payload)["order"] % 7 != 0
    else:
        record = failed[0].record
        assert (record.getMessage(), record.level, record.order % 7) == (
            "charge failed",
            "error",
            0,
        )
        assert record.exc_text.endswith("TimeoutError: the payment gateway did not answer")

"""single_frame=True end to end: publishers, subscribers, zmqlog tail and dictConfig."""

from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import os
import sys
from collections.abc import AsyncIterator

import anyio
import pytest
import zmq
import zmq.asyncio

from tests.conftest import held_drain
from zmqlog import AsyncPUBHandler, LogMessage, LogPublisher, LogSubscriber, wire
from zmqlog._drain import pyzmq_send

TCP = "tcp://127.0.0.1:*"
FORMAT = "%(name)s %(levelname)s %(pathname)s %(lineno)d %(funcName)s %(message)s"


async def receive(sub: LogSubscriber, count: int) -> list[LogMessage]:
    with anyio.fail_after(10):
        return [await sub.receive() for _ in range(count)]


@pytest.fixture
async def raw_sub() -> AsyncIterator[zmq.asyncio.Socket]:
    """A plain SUB socket subscribed to everything: what the wire carries, frame by frame."""
    context = zmq.asyncio.Context()
    sock = context.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.subscribe(b"")
    yield sock
    sock.close(linger=0)
    context.term()


async def recv(sock: zmq.asyncio.Socket) -> list[bytes]:
    with anyio.fail_after(10):
        return await sock.recv_multipart()


def log_awkward(logger: logging.Logger) -> None:
    logger.info("order %d shipped", 42)
    logger.warning("payments::card %s declined", "x", extra={"order": 42})
    logger.info("Failed: std::vector is full")
    logger.log(25, "100%::done")
    try:
        raise TimeoutError("gateway did not answer")
    except TimeoutError:
        logger.exception("tab\there::charge failed")


AWKWARD_TOPICS = [
    "shop.INFO",
    "shop.WARNING.payments",
    "shop.INFO.Failed: std",
    "shop.Level 25.100%",
    "shop.ERROR.tab\there",
]


@pytest.mark.parametrize("wire_format", ["text", "json"])
async def test_each_record_is_one_frame_starting_with_its_escaped_topic(
    logger: logging.Logger, raw_sub: zmq.asyncio.Socket, wire_format: str
) -> None:
    """On the wire: one frame per record, `<escaped topic>: <payload>`; JSON says its topic."""
    async with LogPublisher(
        TCP, root_topic="shop", logger=logger, wire_format=wire_format, single_frame=True
    ) as pub:
        raw_sub.connect(pub.endpoint)
        await pub.wait_for_subscribers(1, timeout=5)
        log_awkward(logger)
        messages = [await recv(raw_sub) for _ in AWKWARD_TOPICS]
    assert [len(frames) for frames in messages] == [1] * len(AWKWARD_TOPICS)
    prefixes = [frames[0].partition(b": ")[0] for frames in messages]
    assert prefixes == [
        b"shop.INFO",
        b"shop.WARNING.payments",
        b"shop.INFO.Failed%3A%20std",
        b"shop.Level%2025.100%25",
        b"shop.ERROR.tab%09here",
    ]
    payloads = [frames[0].partition(b": ")[2] for frames in messages]
    if wire_format == "text":
        assert payloads[0] == b"order 42 shipped\n"
        assert payloads[2] == b"vector is full\n"
    else:
        for payload, topic in zip(payloads, AWKWARD_TOPICS, strict=True):
            assert payload.startswith(b'{"zmqlog":1,"topic":')
            fields = wire.decode_json(payload)
            assert fields is not None
            assert fields["topic"] == topic
    assert pub.stats == (0, len(AWKWARD_TOPICS), 0, 0)


@pytest.mark.parametrize("wire_format", ["text", "json"])
async def test_log_subscriber_reads_single_frames_as_it_reads_two(
    logger: logging.Logger, wire_format: str
) -> None:
    """Topic, level, subtopic and record as from the default format; nothing is invalid."""
    async with (
        LogPublisher(
            TCP, root_topic="shop", logger=logger, wire_format=wire_format, single_frame=True
        ) as single,
        LogPublisher(TCP, root_topic="shop", logger=logger, wire_format=wire_format) as double,
        LogSubscriber([single.endpoint, double.endpoint]) as sub,
    ):
        await single.wait_for_subscribers(1, timeout=5)
        await double.wait_for_subscribers(1, timeout=5)
        log_awkward(logger)
        messages = await receive(sub, 2 * len(AWKWARD_TOPICS))
    assert sub.stats.invalid == 0
    seen: dict[str, list[LogMessage]] = {}
    for message in messages:
        seen.setdefault(message.topic, []).append(message)
    assert sorted(seen) == sorted(AWKWARD_TOPICS)
    formatter = logging.Formatter(FORMAT)
    for one, other in seen.values():
        parts = [(m.root_topic, m.level, m.subtopic, m.text) for m in (one, other)]
        if wire_format == "text":
            assert parts[0] == parts[1]
        else:
            assert parts[0][:3] == parts[1][:3]
            assert formatter.format(one.record) == formatter.format(other.record)
            assert one.record.exc_text == other.record.exc_text


async def test_prefix_subscriptions_select_single_frames(logger: logging.Logger) -> None:
    """A prefix selects single frames as it selects two; one with escaped bytes too."""
    async with (
        LogPublisher(TCP, root_topic="shop", logger=logger, single_frame=True) as pub,
        LogSubscriber(pub.endpoint, topics=["shop.WARNING", "shop.INFO.Failed: s"]) as sub,
    ):
        await pub.wait_for_subscribers(3, timeout=5)  # one of them subscribed escaped
        log_awkward(logger)
        logger.warning("last")
        messages = await receive(sub, 3)
    assert [m.topic for m in messages] == [
        "shop.WARNING.payments",
        "shop.INFO.Failed: std",
        "shop.WARNING",
    ]


async def test_an_escaped_subscription_delivers_only_what_was_asked_for(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """topics=["a b"] also subscribes "a%20b"; a two-frame topic "a%20b" is not "a b"."""
    xpub = context.socket(zmq.XPUB)
    xpub.bind("inproc://escaped")
    try:
        async with LogSubscriber("inproc://escaped", context=context, topics=["a b"]) as sub:
            subscribed = set()
            while len(subscribed) < 2:
                assert await asyncio.to_thread(xpub.poll, 5000)
                subscribed.add(xpub.recv())
            assert subscribed == {b"\x01a b", b"\x01a%20b"}
            xpub.send_multipart([b"a%20b.INFO", b"literally percent-two-zero\n"])
            xpub.send(b"a%20b.INFO: escaped\n")
            xpub.send_multipart([b"a b.INFO", b"spaced\n"])
            xpub.send(b"a%20b not a prefix\n")
            messages = await receive(sub, 2)
            xpub.send_multipart([b"a b.WARNING", b"end\n"])
            (end,) = await receive(sub, 1)
    finally:
        xpub.close(linger=0)
    assert [(m.topic, m.text) for m in messages] == [
        ("a b.INFO", "escaped\n"),
        ("a b.INFO", "spaced\n"),
    ]
    assert end.text == "end\n"
    assert sub.stats[:2] == (3, 0)


def test_a_refused_single_frame_is_held_and_sent_later(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """On a PUSH socket without a peer the frame waits (pending), then goes as one frame."""
    push = context.socket(zmq.PUSH)
    push.bind("inproc://pending")
    handler = AsyncPUBHandler(push, single_frame=True, root_topic="shop", send_timeout=30)
    logger.addHandler(handler)
    pull = context.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVTIMEO, 10_000)
    try:
        with held_drain(handler):
            logger.info("queued before anyone listens")
            handler._drain.round(pyzmq_send)  # the round this thread runs is refused
            assert handler._drain.pending == (b"shop.INFO: queued before anyone listens\n",)
        pull.connect("inproc://pending")
        handler.flush()
        assert pull.recv_multipart() == [b"shop.INFO: queued before anyone listens\n"]
        assert handler.stats == (0, 1, 0, 0)
    finally:
        logger.removeHandler(handler)
        handler.close()
        pull.close(linger=0)
        push.close(linger=0)


async def test_the_drop_report_is_a_single_frame_too(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """zmqlog's own WARNING about lost records follows the publisher's format."""
    handler = AsyncPUBHandler(
        "inproc://drops", context, root_topic="shop", max_queue=2, single_frame=True
    )
    logger.addHandler(handler)
    try:
        async with LogSubscriber("inproc://drops", context=context) as sub:
            await handler.wait_for_subscribers(1, timeout=5)
            with held_drain(handler):
                for i in range(5):
                    logger.info("burst %d", i)
            messages = await receive(sub, 3)
    finally:
        logger.removeHandler(handler)
        await handler.aclose()
    assert [m.text for m in messages[:2]] == ["burst 0\n", "burst 1\n"]
    assert messages[2].topic == "shop.WARNING.zmqlog"
    assert "3 log record(s) dropped" in messages[2].text


async def test_a_huge_json_record_fits_max_payload_with_its_topic(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger, raw_sub: zmq.asyncio.Socket
) -> None:
    """Shrunk to fit, the topic key included: still a record, on a long subtopic too."""
    handler = AsyncPUBHandler(
        "inproc://huge", context, max_payload=4096, wire_format="json", single_frame=True
    )
    logger.addHandler(handler)
    sub = context.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.connect("inproc://huge")
    try:
        await handler.wait_for_subscribers(1, timeout=5)
        logger.info("%s", "z" * 100_000, extra={"topic": "t" * 200})
        assert await asyncio.to_thread(sub.poll, 10_000)
        (frame,) = sub.recv_multipart()
    finally:
        logger.removeHandler(handler)
        await handler.aclose()
        sub.close(linger=0)
    topic, payload = wire.decode_single_frame(frame)
    assert topic == b"INFO." + b"t" * 200
    assert len(payload) <= 4096
    fields = wire.decode_json(payload)
    assert fields is not None
    assert fields["topic"] == topic.decode()
    assert fields["message"].endswith("... [zmqlog: truncated]")
    assert "message" in fields["extra"]["zmqlog_truncated"]


def test_encode_returns_the_one_frame(context: zmq.Context[zmq.Socket[bytes]]) -> None:
    """handler.encode() shows what is sent: one frame with single_frame=True."""
    handler = AsyncPUBHandler("inproc://encode", context, root_topic="shop", single_frame=True)
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "a b::c", None, None)
        assert handler.encode(record) == (b"shop.INFO.a%20b: c\n",)
        assert handler.single_frame
    finally:
        handler.close()


def test_single_frame_must_be_a_bool(context: zmq.Context[zmq.Socket[bytes]]) -> None:
    """A typo'd value is refused, naming the option, before a socket exists (by
    LogPublisher when it is made, not at `async with`)."""
    with pytest.raises(TypeError, match="single_frame must be True or False, not 'yes'"):
        AsyncPUBHandler("inproc://typo", context, single_frame="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single_frame must be True or False, not 1"):
        LogPublisher("inproc://typo", context=context, single_frame=1)  # type: ignore[arg-type]


async def test_dict_config_turns_single_frames_on(
    logger: logging.Logger, raw_sub: zmq.asyncio.Socket
) -> None:
    """ "single_frame": true in a dictConfig handler makes it send one frame per record."""
    logging.config.dictConfig(
        {
            "version": 1,
            "incremental": False,
            "disable_existing_loggers": False,
            "handlers": {
                "zmq": {
                    "class": "zmqlog.AsyncPUBHandler",
                    "interface_or_socket": TCP,
                    "root_topic": "conf",
                    "wire_format": "json",
                    "single_frame": True,
                }
            },
            "loggers": {logger.name: {"handlers": ["zmq"], "level": "INFO", "propagate": False}},
        }
    )
    (handler,) = logger.handlers
    assert isinstance(handler, AsyncPUBHandler)
    raw_sub.connect(handler.socket.getsockopt_string(zmq.LAST_ENDPOINT))
    await handler.wait_for_subscribers(1, timeout=5)
    logger.info("configured")
    (frame,) = await recv(raw_sub)
    assert frame.startswith(b'conf.INFO: {"zmqlog":1,"topic":"conf.INFO",')


# -- zmqlog tail ------------------------------------------------------------------


async def run_tail(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zmqlog",
        "tail",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.mark.parametrize("wire_format", ["text", "json"])
async def test_tail_shows_single_frames_with_their_topics(
    logger: logging.Logger, wire_format: str
) -> None:
    """`zmqlog tail -t PREFIX` reads single frames, escaped topics shown unescaped."""
    async with LogPublisher(
        TCP, root_topic="shop", logger=logger, wire_format=wire_format, single_frame=True
    ) as pub:
        proc = await run_tail(pub.endpoint, "--count", "2", "-t", "shop.INFO")
        try:
            await pub.wait_for_subscribers(1, timeout=10)
            logger.info("order %d shipped", 42)
            logger.warning("not shown")
            logger.info("Failed: std::vector is full")
            with anyio.fail_after(20):
                out, err = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == [
        "shop.INFO | order 42 shipped",
        "shop.INFO.Failed: std | vector is full",
    ]


async def test_tail_shows_frames_without_a_prefix_as_text(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """What rsyslog's omczmq sends without a topic frame is shown, not skipped."""
    xpub = context.socket(zmq.XPUB)
    xpub.bind("tcp://127.0.0.1:*")
    endpoint = xpub.getsockopt_string(zmq.LAST_ENDPOINT)
    proc = await run_tail(endpoint, "--count", "2", "--json")
    try:
        assert await asyncio.to_thread(xpub.poll, 10_000)
        xpub.recv()
        xpub.send(b"rsyslog[msg 2]")
        xpub.send(b"<14>2026-12-02T00:00:00.123456Z web-1 shop[4242] msg 3")
        with anyio.fail_after(20):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        xpub.close(linger=0)
    assert proc.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert [(line["topic"], line["text"]) for line in lines] == [
        ("", "rsyslog[msg 2]"),
        ("", "<14>2026-12-02T00:00:00.123456Z web-1 shop[4242] msg 3"),
    ]

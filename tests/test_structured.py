"""Structured records over real sockets: JSON publishers, records, forward() and gaps."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable

import anyio
import pytest
import zmq
import zmq.asyncio

from tests.conftest import held_drain, make_record
from zmqlog import AsyncPUBHandler, LogMessage, LogPublisher, LogSubscriber, UsageError, wire
from zmqlog._drain import pyzmq_send

TCP = "tcp://127.0.0.1:*"
FORMAT = (
    "%(asctime)s %(msecs)03d %(relativeCreated)d %(name)s %(levelname)s %(pathname)s "
    "%(lineno)d %(funcName)s %(process)d %(thread)d %(threadName)s %(message)s"
)


class Collect(logging.Handler):
    """Keeps the records it handles and wakes a waiter once it has enough."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []
        self._wanted = 0
        self._enough = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if len(self.records) >= self._wanted:
            self._enough.set()

    async def wait_for(self, count: int, limit: float = 5.0) -> list[logging.LogRecord]:
        self._wanted = count
        if len(self.records) < count:
            self._enough.clear()
            with anyio.fail_after(limit):
                await self._enough.wait()
        return self.records


async def receive(sub: LogSubscriber, count: int, limit: float = 5.0) -> list[LogMessage]:
    messages: list[LogMessage] = []
    with anyio.fail_after(limit):
        while len(messages) < count:
            messages.append(await sub.receive())
    return messages


def _raise_and_log(logger: logging.Logger) -> None:
    try:
        {}["missing"]
    except KeyError:
        logger.exception("lookup failed for %s", "ann", extra={"user_id": 7})


async def test_records_rebuilt_from_json_format_like_the_originals(logger: logging.Logger) -> None:
    """Over a socket, each rebuilt record renders exactly as the logged one, traceback included."""
    local = Collect()
    logger.addHandler(local)
    async with (
        LogPublisher(TCP, logger=logger, wire_format="json", root_topic="svc") as pub,
        LogSubscriber(pub.endpoint) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("user %s did %d things, 100%% done", "ann", 3)
        _raise_and_log(logger)
        logger.warning("unicode ☃ and a stack", stack_info=True)
        logger.log(25, "custom level")
        messages = await receive(sub, 4)
    formatter = logging.Formatter(FORMAT)
    expected = [formatter.format(record) for record in local.records]
    assert expected == [formatter.format(message.record) for message in messages]
    assert "KeyError: 'missing'" in expected[1]
    assert messages[1].record.user_id == 7
    assert [m.level for m in messages] == ["INFO", "ERROR", "WARNING", "Level 25"]


async def test_a_subtopic_survives_forwarding_to_another_publisher(
    logger: logging.Logger, context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    """A "sub::" prefix travels in the topic; the rebuilt record keeps it as its topic."""
    relay_log = logging.getLogger(logger.name + ".relay")
    relay_log.propagate = False
    async with (
        LogPublisher("inproc://origin", logger=logger, context=context, wire_format="json") as pub,
        LogSubscriber("inproc://origin", context=context) as sub,
        LogPublisher("inproc://relay", logger=relay_log, context=context) as relay,
        LogSubscriber("inproc://relay", context=context) as far,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        await relay.wait_for_subscribers(1, timeout=5)
        logger.warning("db.pool::%d connections left", 2)
        (message,) = await receive(sub, 1)
        record = message.record
        assert (record.getMessage(), record.topic) == ("2 connections left", "db.pool")
        relay_log.handle(record)
        (relayed,) = await receive(far, 1)
    assert relayed.topic == "WARNING.db.pool"
    assert relayed.text.endswith(" - 2 connections left\n")


async def test_json_messages_carry_publisher_and_consecutive_seq(logger: logging.Logger) -> None:
    """Every message names its publisher, and sequence numbers grow by one."""
    async with (
        LogPublisher(TCP, logger=logger, wire_format="json") as pub,
        LogSubscriber(pub.endpoint) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        for i in range(5):
            logger.info("n=%d", i)
        messages = await receive(sub, 5)
    assert [m.seq for m in messages] == [0, 1, 2, 3, 4]
    assert {m.publisher for m in messages} == {pub.handler.publisher_id}
    assert sub.stats.gaps == 0


async def test_mutable_extras_are_published_as_they_were_when_logged(
    logger: logging.Logger,
) -> None:
    """Changing an extra after the logging call does not change what is sent."""
    async with (
        LogPublisher(TCP, logger=logger, wire_format="json") as pub,
        LogSubscriber(pub.endpoint) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        state = {"step": 1}
        logger.info("state %s", state, extra={"state": state})
        state["step"] = 2  # before the drain task runs: nothing was awaited
        (message,) = await receive(sub, 1)
    assert message.record.getMessage() == "state {'step': 1}"
    assert message.record.state == {"step": 1}


@contextlib.asynccontextmanager
async def _filtered_json(
    logger: logging.Logger, keep: Callable[[logging.LogRecord], bool]
) -> AsyncIterator[LogSubscriber]:
    """A JSON publisher on *logger* whose handler filters with *keep*, and a subscriber
    it has seen."""
    async with (
        LogPublisher(TCP, logger=logger, wire_format="json") as pub,
        LogSubscriber(pub.endpoint) as sub,
    ):
        pub.handler.addFilter(keep)
        await pub.wait_for_subscribers(1, timeout=5)
        yield sub


async def test_an_attribute_a_filter_sets_is_published_as_it_was_when_logged(
    logger: logging.Logger,
) -> None:
    """A filter that sets an attribute (never reading ``record.__dict__``, so CPython
    may keep it inline) gives the record an extra, frozen at the call like any other."""
    state = {"step": 1}

    def tag(record: logging.LogRecord) -> bool:
        record.state = state
        return True

    async with _filtered_json(logger, tag) as sub:
        logger.info("tagged")
        state["step"] = 2  # before the drain task runs: nothing was awaited
        (message,) = await receive(sub, 1)
    assert message.record.state == {"step": 1}


async def test_extras_arrive_from_a_call_site_the_shortcut_knows(logger: logging.Logger) -> None:
    """A plain record and then records with extras (given, set by a filter, naming a
    subtopic) from one call site: the drain writes the first one the quick way, and
    each of the others with its extras."""
    tags: list[dict[str, object]] = [{}, {"user_id": 7}, {}, {"topic": "db"}]

    def tag(record: logging.LogRecord) -> bool:
        if record.args == (2,):
            record.tenant = "acme"
        return True

    async with _filtered_json(logger, tag) as sub:
        for i, extra in enumerate(tags):
            logger.info("step %d", i, extra=extra or None)
        messages = await receive(sub, 4)
    assert [m.record.getMessage() for m in messages] == ["step 0", "step 1", "step 2", "step 3"]
    assert not hasattr(messages[0].record, "user_id")
    assert messages[1].record.user_id == 7
    assert messages[2].record.tenant == "acme"
    assert messages[3].topic == "INFO.db"


async def test_text_messages_get_best_effort_records(logger: logging.Logger) -> None:
    """From a pyzmq-format publisher, records carry the topic's level and the text."""
    async with (
        LogPublisher(TCP, logger=logger, root_topic="svc") as pub,
        LogSubscriber(pub.endpoint) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.warning("disk %d%% full", 90)
        (message,) = await receive(sub, 1)
    assert (message.fields, message.seq, message.publisher) == (None, None, None)
    assert message.record.levelno == logging.WARNING
    assert message.record.name == "svc"
    assert message.record.getMessage() == message.text.rstrip("\n")
    assert message.record is message.record  # built once


async def test_forward_into_a_handler_respects_its_level(logger: logging.Logger) -> None:
    """forward() feeds a stdlib handler every record at or above its level, until cancelled."""
    target = Collect(logging.WARNING)
    async with (
        LogPublisher(TCP, logger=logger, wire_format="json") as pub,
        LogSubscriber(pub.endpoint) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        forwarding = asyncio.create_task(sub.forward(target))
        logger.info("below the handler's level")
        logger.error("one")
        logger.critical("two")
        records = await target.wait_for(2)
        forwarding.cancel()
        with pytest.raises(asyncio.CancelledError):
            await forwarding
    assert [r.getMessage() for r in records] == ["one", "two"]


async def test_forward_into_a_logger_reaches_its_handlers(logger: logging.Logger) -> None:
    """forward() into a logger behaves as if the records were logged there."""
    sink = logging.getLogger(f"{logger.name}.sink")
    sink.setLevel(logging.INFO)
    sink.propagate = False
    target = Collect()
    sink.addHandler(target)
    try:
        async with (
            LogPublisher(TCP, logger=logger, wire_format="json") as pub,
            LogSubscriber(pub.endpoint) as sub,
        ):
            await pub.wait_for_subscribers(1, timeout=5)
            forwarding = asyncio.create_task(sub.forward(sink))
            logger.debug("below the logger's level")
            _raise_and_log(logger)
            records = await target.wait_for(1)
            forwarding.cancel()
            with pytest.raises(asyncio.CancelledError):
                await forwarding
    finally:
        sink.removeHandler(target)
    (record,) = records
    assert record.name == logger.name
    assert logging.Formatter().format(record).endswith("KeyError: 'missing'")


async def test_forward_rejects_other_targets(logger: logging.Logger) -> None:
    """A target that is neither logger nor handler is named in the error."""
    async with LogSubscriber("tcp://127.0.0.1:5") as sub:
        with pytest.raises(UsageError, match=r"Logger or logging\.Handler"):
            await sub.forward(print)  # type: ignore[arg-type]


# -- raw frames: gaps, restarts and hostile input -------------------------------------


@pytest.fixture
async def raw_pub(
    context: zmq.Context[zmq.Socket[bytes]],
) -> AsyncIterator[zmq.asyncio.Socket]:
    """An XPUB socket on loopback that the test writes frames to by hand."""
    actx = zmq.asyncio.Context.shadow(context.underlying)
    sock = actx.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(TCP)
    yield sock
    sock.close(linger=0)


async def subscribed(
    raw: zmq.asyncio.Socket, topics: tuple[str, ...] = ("",), **options: object
) -> LogSubscriber:
    """Open a subscriber on *raw* and wait until its subscription has arrived."""
    sub = LogSubscriber(raw.getsockopt_string(zmq.LAST_ENDPOINT), topics=topics, **options)  # type: ignore[arg-type]
    await sub.__aenter__()
    with anyio.fail_after(5):
        for _ in topics:
            await raw.recv()
    return sub


def frames(publisher: wire.PublisherId, seq: int, text: str = "x") -> list[bytes]:
    return list(wire.encode_json(make_record(text), None, "r", publisher=publisher, seq=seq))


A = wire.PublisherId("host", 1, "aaaa")
A_RESTARTED = wire.PublisherId("host", 1, "bbbb")
B = wire.PublisherId("other", 2, "cccc")


async def test_skipped_sequence_numbers_count_as_gaps(raw_pub: zmq.asyncio.Socket) -> None:
    """Missing numbers are counted per publisher; interleaved publishers do not mix."""
    sub = await subscribed(raw_pub)
    try:
        sent = [(A, 0), (B, 10), (A, 1), (A, 4), (B, 11), (A, 5), (B, 15), (A, 9)]
        for publisher, seq in sent:
            await raw_pub.send_multipart(frames(publisher, seq))
        messages = await receive(sub, len(sent))
    finally:
        await sub.aclose()
    assert [(m.publisher, m.seq) for m in messages] == sent
    assert sub.stats.gaps == 2 + 3 + 3  # A: 2, 3 and 6-8; B: 12-14


def with_unknown_key(message: list[bytes]) -> list[bytes]:
    topic, payload = message
    return [topic, json.dumps({**json.loads(payload), "future": {"v": 2}}).encode()]


async def test_gaps_are_counted_whichever_way_a_record_is_read(
    raw_pub: zmq.asyncio.Socket,
) -> None:
    """Records needing the careful reading (a lone surrogate, an unknown key) are one
    publisher's with the others: numbers go on across them, and only seq 4 is lost."""
    sub = await subscribed(raw_pub)
    try:
        sent = [
            frames(A, 0),
            frames(A, 1, "caf\udce9"),
            frames(A, 2),
            with_unknown_key(frames(A, 3)),
            frames(A, 5),
        ]
        for message in sent:
            await raw_pub.send_multipart(message)
        messages = await receive(sub, len(sent))
    finally:
        await sub.aclose()
    assert [(m.publisher, m.seq) for m in messages] == [(A, n) for n in (0, 1, 2, 3, 5)]
    assert messages[1].record.getMessage() == "caf\udce9"
    assert sub.stats == (5, 0, 1, 0)  # received, invalid, gaps, resets


async def test_a_restarted_publisher_is_not_a_gap(raw_pub: zmq.asyncio.Socket) -> None:
    """A new publisher id starting again at 0 is a new publisher; a repeat is a reset, no loss."""
    sub = await subscribed(raw_pub)
    try:
        sent = [(A, 0), (A, 1), (A, 2), (A_RESTARTED, 0), (A_RESTARTED, 1), (A, 2)]
        for publisher, seq in sent:
            await raw_pub.send_multipart(frames(publisher, seq))
        await receive(sub, len(sent))
    finally:
        await sub.aclose()
    assert sub.stats == (len(sent), 0, 0, 1)  # received, invalid, gaps, resets (A's 2 again)


async def test_restarted_log_publishers_do_not_count_as_gaps(logger: logging.Logger) -> None:
    """Two LogPublishers one after the other into one collector: distinct ids, no gaps."""
    async with LogSubscriber(TCP, bind=True) as sub:
        for _ in range(2):
            async with LogPublisher(
                sub.endpoints[0], logger=logger, bind=False, wire_format="json"
            ) as pub:
                await pub.wait_for_subscribers(1, timeout=5)
                for i in range(3):
                    logger.info("n=%d", i)
                await receive(sub, 3)
        assert sub.stats == (6, 0, 0, 0)


async def test_topic_filters_turn_gap_counting_off(raw_pub: zmq.asyncio.Socket) -> None:
    """With a topic filter, numbers skipped by the filter are not mistaken for losses."""
    sub = await subscribed(raw_pub, topics=("r.INFO",))
    try:
        await raw_pub.send_multipart(frames(A, 0))
        await raw_pub.send_multipart(frames(A, 7))
        await receive(sub, 2)
    finally:
        await sub.aclose()
    assert sub.stats.gaps == 0


# Malformed, or claiming to be a record (the marker) without being a valid one.
INVALID = [
    # A single frame whose record says another topic than its prefix.
    [
        b"r.ERROR: "
        + wire.encode_single_frame(b"r.INFO", frames(A, 0)[1], json=True).partition(b": ")[2]
    ],
    [b"r.INFO", b"{}", b"third frame"],
    [b"r.INFO", b'{"zmqlog":1,"name":"n","levelno":"20","levelname":"INFO","message":"m"}'],
    [b"r.INFO", b'{"zmqlog":99}'],
    [b"r.INFO", b'{"zmqlog":1,"getMessage":1}'],
    [b"\xff\xfe", b'{"zmqlog":"1"}'],
]
# Not JSON objects at all: text to an "auto" subscriber, invalid to a "json" one.
NOT_JSON = [
    [b"r.INFO", b'{"zmqlog":1,"name":"\xff"}'],
    [b"r.INFO", b'{"zmqlog":1,' + b"[" * 100_000],
    [b"r.INFO", b"{" * 1_000_000],
]


@pytest.mark.parametrize("wire_format", ["auto", "json"])
async def test_hostile_messages_are_counted_and_skipped(
    raw_pub: zmq.asyncio.Socket, wire_format: str
) -> None:
    """Malformed frames and invalid records are dropped; the next good message arrives."""
    sub = await subscribed(raw_pub, wire_format=wire_format)
    as_text = len(NOT_JSON) if wire_format == "auto" else 0
    try:
        for message in INVALID + NOT_JSON:
            await raw_pub.send_multipart(message)
        await raw_pub.send_multipart(frames(A, 0, "still alive"))
        messages = await receive(sub, as_text + 1)
    finally:
        await sub.aclose()
    assert [m.fields is None for m in messages] == [True] * as_text + [False]
    assert messages[-1].record.getMessage() == "still alive"
    assert sub.stats == (as_text + 1, len(INVALID) + len(NOT_JSON) - as_text, 0, 0)


async def test_auto_reads_unmarked_json_as_text(raw_pub: zmq.asyncio.Socket) -> None:
    """A text message that happens to be JSON, without the marker, stays text."""
    sub = await subscribed(raw_pub)
    try:
        await raw_pub.send_multipart([b"INFO", b'{"event": "login"}\n'])
        await raw_pub.send_multipart([b"INFO", b"{not json\n"])
        messages = await receive(sub, 2)
    finally:
        await sub.aclose()
    assert [m.fields for m in messages] == [None, None]
    assert [m.record.getMessage() for m in messages] == ['{"event": "login"}', "{not json"]


async def test_forced_text_mode_never_decodes_json(raw_pub: zmq.asyncio.Socket) -> None:
    """wire_format='text' hands JSON records over as text."""
    sub = await subscribed(raw_pub, wire_format="text")
    try:
        await raw_pub.send_multipart(frames(A, 0, "hi"))
        (message,) = await receive(sub, 1)
    finally:
        await sub.aclose()
    assert message.fields is None
    assert json.loads(message.text)["message"] == "hi"


async def test_forced_json_mode_drops_text(raw_pub: zmq.asyncio.Socket) -> None:
    """wire_format='json' counts text payloads as invalid and delivers only records."""
    sub = await subscribed(raw_pub, wire_format="json")
    try:
        await raw_pub.send_multipart([b"INFO", b"plain text\n"])
        await raw_pub.send_multipart([b"INFO", b'{"event": "login"}'])
        await raw_pub.send_multipart(frames(A, 0, "record"))
        (message,) = await receive(sub, 1)
    finally:
        await sub.aclose()
    assert message.record.getMessage() == "record"
    assert sub.stats.invalid == 2


# -- configuration errors -----------------------------------------------------------


def test_handler_rejects_an_unknown_wire_format() -> None:
    """The error lists the formats there are, before any socket is made."""
    with pytest.raises(UsageError, match="'text' or 'json'"):
        AsyncPUBHandler(TCP, wire_format="xml")  # type: ignore[arg-type]


def test_publisher_rejects_an_unknown_wire_format() -> None:
    """LogPublisher checks at construction, not on entering."""
    with pytest.raises(UsageError, match="'text' or 'json'"):
        LogPublisher(TCP, wire_format="JSON")  # type: ignore[arg-type]


def test_subscriber_rejects_an_unknown_wire_format() -> None:
    """The subscriber's error names 'auto' too."""
    with pytest.raises(UsageError, match="'auto', 'text' or 'json'"):
        LogSubscriber(TCP, wire_format="pickle")  # type: ignore[arg-type]


@pytest.mark.skipif(sys.platform == "win32", reason="ipc:// needs a Unix socket")
async def test_json_over_ipc(logger: logging.Logger, tmp_path: object) -> None:
    """The JSON format is transport-independent: ipc:// carries it the same way."""
    endpoint = f"ipc://{tmp_path}/log.sock"
    async with (
        LogPublisher(endpoint, logger=logger, wire_format="json") as pub,
        LogSubscriber(endpoint) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("over ipc")
        (message,) = await receive(sub, 1)
    assert message.record.getMessage() == "over ipc"


def test_handler_encode_previews_the_next_seq_without_using_it() -> None:
    """encode() shows what would be sent; the published numbering stays consecutive."""
    handler = AsyncPUBHandler("tcp://127.0.0.1:*", wire_format="json", root_topic="r")
    try:
        topic, payload = handler.encode(make_record("x"))
        again = json.loads(handler.encode(make_record("x"))[1])
    finally:
        handler.close()
    assert topic == b"r.INFO"
    assert json.loads(payload)["seq"] == again["seq"] == 0
    assert handler.wire_format == "json"
    assert tuple(json.loads(payload)["publisher"].values()) == handler.publisher_id


async def test_a_record_that_fails_to_encode_uses_no_sequence_number(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record reported to handleError is not a lost message: the numbering has no hole."""
    reported: list[logging.LogRecord] = []
    async with (
        LogPublisher(TCP, logger=logger, wire_format="json") as pub,
        LogSubscriber(pub.endpoint) as sub,
    ):
        monkeypatch.setattr(pub.handler, "handleError", reported.append)
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("first")
        logger.info("%d items", "not a number")  # fails in the drain task, not in emit()
        logger.info("third")
        messages = await receive(sub, 2)
    assert [m.record.getMessage() for m in messages] == ["first", "third"]
    assert [m.seq for m in messages] == [0, 1]
    assert [r.msg for r in reported] == ["%d items"]
    assert sub.stats.gaps == 0


def test_a_refused_json_payload_is_kept_as_written_while_the_writer_writes_others(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """The drain's JSON writer reuses one buffer for every payload; a payload the socket
    refuses is held as a copy, so what the writer writes next cannot change it."""
    push = context.socket(zmq.PUSH)
    push.bind("inproc://json-refused")
    handler = AsyncPUBHandler(push, wire_format="json", send_timeout=30)
    pull = context.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVTIMEO, 10_000)
    record = make_record("kept %d", 1)
    expected = wire.encode_json(record, None, publisher=handler.publisher_id, seq=0)
    writer = handler._renderer.typical
    assert writer is not None
    try:
        with held_drain(handler):
            handler.handle(record)
            handler._drain.round(pyzmq_send)  # refused: no peer yet
            assert handler._drain.pending == expected
            assert writer._buffer == expected[1]  # the writer wrote it: the site was known
            assert writer.payload(make_record("scribbled %d", 2), 9) is not None
        pull.connect("inproc://json-refused")
        handler.flush()
        assert tuple(pull.recv_multipart()) == expected
    finally:
        handler.close()
        pull.close(linger=0)
        push.close(linger=0)

"""Hostile peers against LogSubscriber: every attack is bounded in memory, loop time and counted.

Each test plays the attacker with a raw pyzmq socket on ``inproc://`` and measures, while
the attack runs, the event loop's worst lag (a ticker task's oversleep) and the growth of
the process's resident memory, then checks the subscriber's counters exactly.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from itertools import count

import anyio
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_json_wire import EVERY_ATTRIBUTE
from zmqlog import LogSubscriber, wire

MiB = 1 << 20
MAX_LAG = 0.25  # seconds the loop may be held up during an attack
MAX_GROWTH = 100 * MiB  # resident memory an attack may add
_PAGE = os.sysconf("SC_PAGE_SIZE")
_endpoints = count()


def rss() -> int:
    """The process's resident memory, in bytes."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


class Watch:
    """While open, the loop's worst lag and the process's peak resident memory.

    A ticker task sleeps 2 ms at a time; its oversleep is the loop's lag. ``lag`` is
    that oversleep in wall time; ``held`` counts only the loop thread's CPU time during
    it, so that other processes keeping this machine's cores busy (the suite runs
    beside others) do not count as time this process held its loop. The attacks here
    are all work on the loop, which ``held`` measures in full.
    """

    _PERIOD = 0.002

    def __init__(self) -> None:
        gc.collect()
        self.baseline = rss()
        self.peak = self.baseline
        self.lag = 0.0
        self.held = 0.0
        self._since = self._cpu_since = 0.0

    @property
    def growth(self) -> int:
        return max(self.peak, rss()) - self.baseline

    def _measure(self) -> None:
        wall = asyncio.get_running_loop().time() - self._since
        cpu = time.thread_time() - self._cpu_since
        self.lag = max(self.lag, wall - self._PERIOD)
        self.held = max(self.held, min(wall, cpu) - self._PERIOD)
        self.peak = max(self.peak, rss())

    async def tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._since, self._cpu_since = loop.time(), time.thread_time()
            await asyncio.sleep(self._PERIOD)
            self._measure()

    def stop(self) -> None:
        """Count the tick still asleep: a stall up to now is a lag too."""
        self._measure()

    def check(self) -> None:
        """The loop was never held longer than MAX_LAG, nor memory grown by MAX_GROWTH."""
        assert self.held < MAX_LAG, f"loop held {self.held:.3f} s (lag {self.lag:.3f} s)"
        assert self.growth < MAX_GROWTH, f"resident memory grew {self.growth / MiB:.1f} MiB"


@asynccontextmanager
async def watching() -> AsyncIterator[Watch]:
    watch = Watch()
    ticker = asyncio.create_task(watch.tick())
    await asyncio.sleep(0)  # the ticker is running before the attack starts
    try:
        yield watch
    finally:
        watch.stop()
        ticker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await ticker


@asynccontextmanager
async def attacked(
    context: zmq.Context[zmq.Socket[bytes]], **options: object
) -> AsyncIterator[tuple[zmq.Socket[bytes], LogSubscriber]]:
    """A raw XPUB socket (unlimited send queue) and a LogSubscriber subscribed to it."""
    endpoint = f"inproc://hostile-{next(_endpoints)}"
    xpub = context.socket(zmq.XPUB)
    xpub.setsockopt(zmq.SNDHWM, 0)
    xpub.setsockopt(zmq.LINGER, 0)
    xpub.bind(endpoint)
    try:
        async with LogSubscriber(endpoint, context=context, **options) as sub:
            assert await asyncio.to_thread(xpub.poll, 5000)
            assert xpub.recv() == b"\x01"  # subscribed to everything
            yield xpub, sub
    finally:
        xpub.close(linger=0)


async def until(condition: Callable[[], bool], limit: float = 20.0) -> None:
    """Poll *condition* (a counter the subscriber updates) every millisecond, bounded."""
    for _ in range(int(limit * 1000)):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise TimeoutError(f"still not true after {limit} s")


async def test_distinct_huge_topics_are_dropped_before_parsing(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """100 distinct 4 MB topics: each dropped as invalid, no cache of them, no stall."""
    async with attacked(context) as (xpub, sub), watching() as watch:
        receiving = asyncio.create_task(sub.receive())
        for i in range(100):
            xpub.send_multipart([b"%03d." % i + b"x" * 4_000_000, b"payload\n"])
            await until(lambda i=i: sub.stats.invalid == i + 1)
        xpub.send_multipart([b"app.INFO", b"still here\n"])
        with anyio.fail_after(5):
            message = await receiving
    assert message.text == "still here\n"
    assert sub.stats[:2] == (1, 100)
    watch.check()


async def test_topic_cache_is_bounded_by_bytes(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """2,000 distinct topics just under the size limit: all delivered, the cache stays small."""
    topic_size = wire.MAX_TOPIC_BYTES - 100
    async with attacked(context) as (xpub, sub), watching() as watch:
        for batch in range(40):
            for i in range(50):
                name = b"app.INFO.%04d." % (batch * 50 + i)
                xpub.send_multipart([name + b"y" * (topic_size - len(name)), b"x\n"])
            with anyio.fail_after(10):
                for _ in range(50):
                    message = await sub.receive()
                    assert (message.level, len(message.topic)) == ("INFO", topic_size)
    assert sub.stats[:2] == (2000, 0)
    watch.check()


async def test_a_topic_of_dots_neither_blocks_nor_breaks(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """A 4 MB topic of dots is dropped; one at the size limit parses at once, linearly."""
    dots = b"." * wire.MAX_TOPIC_BYTES
    async with attacked(context) as (xpub, sub), watching() as watch:
        receiving = asyncio.create_task(sub.receive())
        xpub.send_multipart([b"." * 4_000_000, b"x\n"])
        await until(lambda: sub.stats.invalid == 1)
        for _ in range(200):
            xpub.send_multipart([dots, b"dots\n"])
        with anyio.fail_after(10):
            first = await receiving
            for _ in range(199):
                await sub.receive()
    assert (first.level, first.text, len(first.subtopic)) == ("", "dots\n", len(dots) - 2)
    assert first.record.getMessage() == "dots"
    assert sub.stats[:2] == (200, 1)
    watch.check()


async def test_a_flood_of_invalid_messages_does_not_starve_the_loop(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """500,000 queued three-frame messages: the loop keeps running while they are dropped."""
    flood = 500_000
    junk = [b"junk", b"x", b"y"]
    async with attacked(context, rcvhwm=3 * flood) as (xpub, sub):
        await asyncio.to_thread(lambda: [xpub.send_multipart(junk) for _ in range(flood)])
        xpub.send_multipart([b"app.INFO", b"after the flood\n"])
        async with watching() as watch:
            with anyio.fail_after(30):
                message = await sub.receive()
    assert message.text == "after the flood\n"
    assert sub.stats[:2] == (1, flood)
    watch.check()


async def test_a_flood_of_valid_messages_does_not_starve_the_loop(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """forward() over 200,000 waiting messages lets the loop's other tasks run."""
    flood = 200_000
    handled: list[int] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            handled.append(record.levelno)

    async with attacked(context, rcvhwm=flood) as (xpub, sub):
        frames = [b"app.WARNING", b"WARNING x.py:1 - flood\n"]
        await asyncio.to_thread(lambda: [xpub.send_multipart(frames) for _ in range(flood)])
        async with watching() as watch:
            forwarding = asyncio.create_task(sub.forward(Count()))
            await until(lambda: len(handled) == flood, limit=40)
            forwarding.cancel()
            with pytest.raises(asyncio.CancelledError):
                await forwarding
    assert set(handled) == {logging.WARNING}
    assert sub.stats[:2] == (flood, 0)
    watch.check()


async def test_a_message_of_a_million_frames_is_dropped_without_a_stall(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """One message of 1,000,000 frames counts once as invalid; the loop runs meanwhile."""
    frames = 1_000_000

    def send_many_frames() -> None:
        for _ in range(frames - 1):
            xpub.send(b"", zmq.SNDMORE)
        xpub.send(b"")
        xpub.send_multipart([b"app.INFO", b"next\n"])

    async with attacked(context) as (xpub, sub):
        await asyncio.to_thread(send_many_frames)
        async with watching() as watch:
            with anyio.fail_after(30):
                message = await sub.receive()
    assert message.text == "next\n"
    assert sub.stats[:2] == (1, 1)
    watch.check()


async def test_cancelling_a_receive_midway_through_a_long_message_loses_nothing(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """Frames left over from a cancelled receive() are dropped by the next one, not read."""
    async with attacked(context) as (xpub, sub):
        await asyncio.to_thread(
            lambda: [xpub.send(b"", zmq.SNDMORE) for _ in range(1_000_000)] and xpub.send(b"")
        )
        xpub.send_multipart([b"app.INFO", b"next\n"])
        receiving = asyncio.create_task(sub.receive())
        await until(lambda: sub.stats.invalid == 1)  # it is dropping the frames now
        receiving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await receiving
        assert sub._skipping  # the case under test: cancelled with frames still unread
        with anyio.fail_after(30):
            message = await sub.receive()
    assert message.text == "next\n"
    assert sub.stats[:2] == (1, 1)


ODD_TOPICS = [
    b"Level " + b"9" * 5000,
    b"app.Level " + b"9" * 5000 + b".sub",
    "²".encode(),
    "app.²".encode(),
    b"app.\xed\xa0\x80.INFO",  # a UTF-8-encoded lone surrogate: not UTF-8
    b"\xff\xfe",
    b"",
    b"." * 1000,
]


@pytest.mark.parametrize("topic", ODD_TOPICS, ids=range(len(ODD_TOPICS)))
async def test_odd_topics_give_records_and_forward(
    context: zmq.Context[zmq.Socket[bytes]], topic: bytes
) -> None:
    """Whatever the topic, the message has a record, forward() hands it on, nothing raises."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelno)d|%(levelname)s|%(process)d|%(message)s"))
    json_payload = wire.encode_json(
        logging.LogRecord("x", 20, "", 1, "lone \udc80", None, None),
        None,
        publisher=wire.new_publisher_id(),
        seq=0,
    )[1]
    async with attacked(context) as (xpub, sub):
        xpub.send_multipart([topic, b"text \xed\xa0\x80 payload\n"])
        xpub.send_multipart([topic, json_payload])
        forwarding = asyncio.create_task(sub.forward(handler))
        await until(lambda: sub.stats.received == 2 and out.getvalue().count("\n") == 2)
        forwarding.cancel()
        with pytest.raises(asyncio.CancelledError):
            await forwarding
    lines = out.getvalue().splitlines()
    assert [line.split("|", 3)[3] for line in lines] == [
        "text \ufffd\ufffd\ufffd payload",
        "lone \udc80",
    ]
    assert sub.stats[:2] == (2, 0)


def json_frames(publisher: wire.PublisherId, seq: int) -> list[bytes]:
    record = logging.LogRecord("svc", logging.INFO, "svc.py", 1, "n=%d", (seq,), None)
    return list(wire.encode_json(record, None, "svc", publisher=publisher, seq=seq))


async def test_a_forged_sequence_number_neither_inflates_nor_hides_gaps(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """seq 2**63-1 forged under a real publisher's identity: a reset, and later losses count."""
    real = wire.PublisherId("web-1", 4242, "9f2c4e0a1b3d5f67")
    sent = [(real, 5), (real, 2**63 - 1), (real, 6), (real, 7), (real, 17)]
    async with attacked(context) as (xpub, sub):
        for publisher, seq in sent:
            xpub.send_multipart(json_frames(publisher, seq))
        with anyio.fail_after(5):
            received = [(await sub.receive()).seq for _ in sent]
    assert received == [seq for _, seq in sent]
    assert sub.stats == (5, 0, 9, 2)  # received, invalid, gaps (8-16), resets


async def test_thousands_of_identities_do_not_evict_an_active_publisher(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """10,000 other publishers while one keeps talking: its loss of 9 is still counted."""
    steady = wire.PublisherId("web-1", 1, "steady")
    sent = [(steady, 0)]
    for n in range(1, 10_001):
        sent.append((wire.PublisherId("peer", n, f"{n:016x}"), 0))
        if n % 1000 == 0 and n < 10_000:
            sent.append((steady, n // 1000))
    # The 10,000th newcomer fills the table: the one heard from least recently goes,
    # not the steady publisher, seen first of all.
    sent.append((steady, 9 + 10))  # 10-18 lost
    async with attacked(context) as (xpub, sub):
        for publisher, seq in sent:
            xpub.send_multipart(json_frames(publisher, seq))
        with anyio.fail_after(20):
            for _ in sent:
                await sub.receive()
    assert sub.stats == (len(sent), 0, 9, 0)


# -- random frames through a real subscriber ----------------------------------------

_record_payload = wire.encode_json(
    logging.LogRecord("svc", 30, "/srv/svc.py", 7, "disk %d%% full", (90,), None),
    None,
    "svc",
    publisher=wire.PublisherId("h", 1, "abc"),
    seq=3,
)[1]
ODD_TOPIC_FRAMES = [
    *ODD_TOPICS,
    b"app.INFO",
    b"svc.WARNING.db.pool",
    b"." * (wire.MAX_TOPIC_BYTES + 1),
    b"x" * wire.MAX_TOPIC_BYTES,
]
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
record_keys = st.sampled_from(
    ["zmqlog", "name", "levelno", "levelname", "message", "created", "extra", "seq",
     "publisher", "process", "lineno", "msecs", "funcName"]
)  # fmt: skip
json_ish_payloads = st.one_of(
    st.dictionaries(record_keys, json_values, max_size=8).map(lambda obj: json.dumps(obj).encode()),
    st.dictionaries(record_keys, json_values, max_size=4).map(
        lambda changes: json.dumps({**json.loads(_record_payload), **changes}).encode()
    ),
    st.sampled_from(
        [
            _record_payload,
            _record_payload.replace(b'"extra":{}', b'"extra":{"n":1e999}'),
            _record_payload.replace(b'"seq":3', b'"seq":99999999999999999999'),
            _record_payload[:-1],
            b"{" * 100,
            b'{"zmqlog":1}',
            b'{"zmqlog":1,"message":"\\ud800"}',
        ]
    ),
)
_topic_frames = st.sampled_from(ODD_TOPIC_FRAMES) | st.binary(max_size=40)


def _record_on(topic: bytes) -> bytes:
    """The record payload with *topic* as its topic key, as a single frame holds it."""
    return wire.encode_single_frame(topic, _record_payload, json=True).partition(b": ")[2]


# Single frames: zmqlog's (a record's topic key right or wrong), and anything else.
_single_frames = st.one_of(
    st.builds(wire.encode_single_frame, _topic_frames, json_ish_payloads | st.binary(max_size=60)),
    st.sampled_from(
        [
            wire.encode_single_frame(b"svc.WARNING", _record_payload, json=True),
            wire.encode_single_frame(b"svc.ERROR.x y", _record_payload, json=True),
            b"svc.ERROR: " + _record_on(b"svc.WARNING"),
            _record_on(b"svc.WARNING"),
            _record_on(b"x" * (wire.MAX_TOPIC_BYTES + 1)),
            b"rsyslog[msg 2]",
            b"<14>2026-12-02T00:00:00Z web-1 shop[42]: msg",
        ]
    ),
    st.binary(max_size=60),
)
frames_of_a_message = st.one_of(
    st.tuples(_topic_frames, json_ish_payloads),
    st.tuples(_topic_frames, st.binary(max_size=60)),
    st.tuples(_single_frames),
    st.lists(st.binary(max_size=20), min_size=1, max_size=5).map(tuple),
)


def delivered(frames: tuple[bytes, ...], wire_format: str) -> bool:
    """Whether LogSubscriber(wire_format=...) delivers these frames, by the spec's rules."""
    if len(frames) == 1:
        return _single_delivered(frames[0], wire_format)
    if len(frames) != 2 or len(frames[0]) > wire.MAX_TOPIC_BYTES:
        return False
    payload = frames[1]
    if wire_format == "text":
        return True
    if wire_format == "json":
        return wire.decode_json(payload) is not None
    if payload[:1] != b"{":
        return True
    obj = wire.load_json_object(payload)
    return obj is None or wire.JSON_MARKER not in obj or wire.check_json_record(obj) is not None


def _single_delivered(frame: bytes, wire_format: str) -> bool:
    """The reading rules for one frame: a prefix's topic must be its record's too."""
    topic, payload = wire.decode_single_frame(frame)
    if wire_format == "text":
        return True
    obj = wire.load_json_object(payload) if payload[:1] == b"{" else None
    if obj is None or wire.JSON_MARKER not in obj:
        return wire_format == "auto"
    fields = wire.check_json_record(obj)
    if fields is None:
        return False
    if topic is None:  # no prefix: the record's own topic, within the topic limit
        return len((fields["topic"] or "").encode("utf-8", "replace")) <= wire.MAX_TOPIC_BYTES
    return bool(fields["topic"] == topic.decode())


async def _drive(
    messages: list[tuple[bytes, ...]], wire_format: str, transport: str
) -> tuple[list[logging.LogRecord], tuple[int, ...]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    folder = tempfile.mkdtemp()
    endpoint = f"inproc://fuzz-{next(_endpoints)}" if transport == "inproc" else f"ipc://{folder}/s"
    xpub = context.socket(zmq.XPUB)
    try:
        xpub.setsockopt(zmq.SNDHWM, 0)
        xpub.bind(endpoint)
        async with LogSubscriber(endpoint, context=context, wire_format=wire_format) as sub:
            assert await asyncio.to_thread(xpub.poll, 5000)
            xpub.recv()
            for frames in messages:
                xpub.send_multipart(frames)
            records: list[logging.LogRecord] = []

            async def collect() -> None:
                while True:
                    records.append((await sub.receive()).record)

            collecting = asyncio.create_task(collect())
            await until(lambda: sum(sub.stats[:2]) >= len(messages), limit=10)
            collecting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await collecting
            return records, tuple(sub.stats[:2])
    finally:
        xpub.close(linger=0)
        context.term()
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(frames_of_a_message, min_size=1, max_size=15),
    st.sampled_from(["auto", "text", "json"]),
    st.sampled_from(["inproc", "ipc"]),
)
def test_random_frames_never_break_the_subscriber(
    messages: list[tuple[bytes, ...]], wire_format: str, transport: str
) -> None:
    """Any frames: no exception, every delivered message has a record every Formatter
    renders, and received + invalid is what was sent, split as the spec says."""
    records, (received, invalid) = asyncio.run(_drive(messages, wire_format, transport))
    expected = sum(delivered(frames, wire_format) for frames in messages)
    assert (received, invalid) == (expected, len(messages) - expected)
    assert len(records) == received
    for record in records:
        for style, fmt in EVERY_ATTRIBUTE.items():
            logging.Formatter(fmt, style=style).format(record)

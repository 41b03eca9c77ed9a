"""Attacks on the JSON writer's reused buffer (1011165) and the drain that sends it.

``TypicalWriter.payload`` now writes every typical payload into one ``bytearray`` of
its own and returns it, valid until its next call; the drain sends it at once and
copies it wherever it keeps it past the send (a refused message held as pending, a
message interrupted between its two frames); the drain thread's ctypes send copies it
to bytes. The drain no longer looks for ``extra={"topic": ...}`` on a bare JSON
record (c76df40).

Their promise: the buffer changes speed, never bytes. Each test here makes the writer
write payloads that grow, shrink, fail half-way and are held, from every kind of
drain (a loop task, the drain thread, ``flush()`` on another thread, a signal
handler's records), and compares what arrives with what ``encode_json`` writes for
the same record and sequence number; and checks that the handler's counters account
for every record logged (a record interrupted while rendered was counted nowhere,
before this file found it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.attack._helpers import (
    TCP,
    WriterSpy,
    spied_json_handler,
    spy_on,
    strict_json,
    subscriber_of,
)
from tests.conftest import held_drain
from tests.probing import WAIT_S, bounded
from zmqlog import AsyncPUBHandler, _runners, wire
from zmqlog._drain import pyzmq_send
from zmqlog._render import _shrunk
from zmqlog.wire import _json

Context = zmq.Context[zmq.Socket[bytes]]
Send = Callable[[zmq.Socket[Any], bytes | bytearray, int], None]

# One call site's format for every record of a test: a tag that names the record (kept
# when a payload is shrunk, which cuts the message's end), eight integers (of up to
# 4,000 digits each, the most ``str(int)`` writes by default) and a text. The integers
# make a payload of any size the writer takes (a bare record's text is at most 256
# characters, but integers do not count); the text puts unicode and lone surrogates
# after them, so that the encoder fails with most of the buffer written.
FMT = "%s %d%d%d%d%d%d%d%d|%s"
LIMIT = 24_000  # max_payload: the largest payloads here are shrunk


@pytest.fixture(autouse=True)
def _quiet_handle_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records that fail to encode are reported by handleError: not on the test's stderr."""
    monkeypatch.setattr(logging, "raiseExceptions", False)


class _Recorded:
    """A handler filter that keeps every record the handler takes, in the order it
    takes them, and by its tag (FMT's first argument)."""

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []
        self.by_tag: dict[str, logging.LogRecord] = {}

    def __call__(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        args = record.args
        if type(args) is tuple and args:
            tag = args[0]
            if tag != "-":
                assert tag not in self.by_tag, f"tag {tag!r} twice"
                self.by_tag[str(tag)] = record
        return True


def _tag(message: str) -> str:
    return message.split(" ", 1)[0]


def _args(digits: int, text: str = "", tag: str = "-") -> tuple[object, ...]:
    """FMT's arguments: *tag*, about *digits* digits, then ``|`` and *text*."""
    numbers: list[int] = []
    for _ in range(8):
        take = min(digits, 4000)
        digits -= take
        numbers.append(10 ** (take - 1) if take else 0)
    return (tag, *numbers, text)


def _expected(
    handler: AsyncPUBHandler, record: logging.LogRecord, seq: int, limit: int = 1 << 20
) -> bytes:
    """The payload the handler must publish for *record* as message *seq*: what
    ``encode_json`` writes, or writes for the record shrunk to *limit*."""
    root = handler.root_topic
    publisher = handler.publisher_id
    payload = wire.encode_json(record, None, root, publisher=publisher, seq=seq)[1]
    if len(payload) > limit:
        shrunk = _shrunk(record, limit)
        payload = wire.encode_json(shrunk, None, root, publisher=publisher, seq=seq)[1]
    return payload


def _receive(sub: zmq.Socket[bytes], n: int) -> list[list[bytes]]:
    """Exactly *n* messages (bounded), then nothing more."""
    messages: list[list[bytes]] = []
    for _ in range(n):
        assert sub.poll(int(WAIT_S * 1000)), f"only {len(messages)} of {n} messages arrived"
        messages.append(sub.recv_multipart())
    assert not sub.poll(50), "more messages than records"
    return messages


def _accounted(handler: AsyncPUBHandler, logged: int, reports: int = 0) -> None:
    """Every record logged is in exactly one of the handler's counters."""
    stats = handler.stats
    assert stats.queued + stats.sent + stats.dropped + stats.errors == logged + reports, stats


# Payload sizes (in digits) and texts that make the buffer grow, shrink, fail half-way
# and be written over: tiny, near the limit on both sides, past it, multi-byte text,
# and lone surrogates after a long prefix (msgspec raises with most of it written).
_SHAPES: list[tuple[int, str]] = [
    (0, "x"),
    (LIMIT - 700, "just under the limit"),
    (0, ""),
    (LIMIT - 400, "near the limit"),
    (1, "\U0001f600" * 60),
    (LIMIT - 800, "a lone surrogate after a long prefix \ud800"),
    (0, "tiny after the failed one"),
    (LIMIT + 500, "past the limit: shrunk"),
    (3, "é" * 200),
    (LIMIT - 600, "\udcff"),
    (2, "short"),
    (30_000, "past the limit again"),
    (1, "and tiny to end"),
]


@pytest.fixture
def published(context: Context) -> Iterator[tuple[AsyncPUBHandler, zmq.Socket[bytes], WriterSpy]]:
    """A JSON handler (max_payload LIMIT) on loopback, a subscriber it has seen, and a
    spy on its writer."""
    with spied_json_handler(context, max_payload=LIMIT) as published:
        yield published


# -- the writer alone ------------------------------------------------------------------


def _site_record(msg: str, args: tuple[object, ...]) -> logging.LogRecord:
    return logging.LogRecord("attack.buffer", logging.INFO, "/srv/buf.py", 11, msg, args, None, "f")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 12_000),
            st.text(max_size=60),
            st.sampled_from(["", "", "\ud800", "\u00e9\udcff"]),  # a lone surrogate last
        ),
        min_size=1,
        max_size=12,
    )
)
def test_the_writer_matches_encode_json_whatever_it_wrote_before(
    shapes: list[tuple[int, str, str]],
) -> None:
    """A run of payloads of any sizes and any text (lone surrogates too, which fail
    half-way through the buffer): each the writer writes is encode_json's, byte for
    byte, and a copy taken of one is not changed by the ones written after it."""
    publisher = wire.PublisherId("host", 1, "buffer")
    writer = _json.TypicalWriter(publisher)
    wire.encode_json(_site_record(FMT, _args(0)), None, publisher=publisher, seq=0)  # learn
    kept: list[tuple[bytes, bytes]] = []
    for seq, (digits, text, end) in enumerate(shapes):
        text += end
        record = _site_record(FMT, _args(digits, text))
        expected = wire.encode_json(record, None, publisher=publisher, seq=seq)[1]
        written = writer.payload(record, seq)
        if written is None:
            # Declined only for what UTF-8 cannot hold; encode_json escapes it.
            assert any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        else:
            assert written == expected
            kept.append((bytes(written), expected))
    assert all(copy == expected for copy, expected in kept)


# -- through a real socket -------------------------------------------------------------


def test_payloads_that_grow_shrink_and_fail_half_way_arrive_as_encode_json_writes_them(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], WriterSpy], logger: logging.Logger
) -> None:
    """Thirteen shapes, then 150 more in random order, sent in one go from the writer's
    one buffer: each payload is encode_json's for its record and seq, shrunk past
    max_payload, whatever the buffer held before."""
    handler, sub, spy = published
    recorded = _Recorded()
    handler.addFilter(recorded)
    logger.addHandler(handler)
    shapes = _SHAPES + random.Random(7).choices(_SHAPES, k=150)
    with held_drain(handler):
        for digits, text in shapes:
            logger.info(FMT, *_args(digits, text))  # one call site: the writer's
    handler.flush()
    messages = _receive(sub, len(shapes))
    for seq, ((_, payload), record) in enumerate(zip(messages, recorded.records, strict=True)):
        assert payload == _expected(handler, record, seq, LIMIT), f"message {seq}"
        assert len(payload) <= LIMIT
    assert spy.written > len(shapes) // 2  # the buffer did the work
    assert handler.stats == (0, len(shapes), 0, 0)


def test_a_refused_payload_is_held_intact_while_the_buffer_grows_and_shrinks(
    context: Context,
) -> None:
    """On a PUSH socket without a peer, a payload from the writer's buffer is held as
    bytes of its own; the writer then writes far larger and far smaller payloads (the
    buffer reallocated, then cut), and the held one still arrives as it was, then the
    others as encode_json writes them."""
    push = context.socket(zmq.PUSH)
    push.bind("inproc://buffer-refused")
    handler = AsyncPUBHandler(push, wire_format="json", send_timeout=30)
    pull = bounded(context.socket(zmq.PULL))
    spy = spy_on(handler)
    records = [_site_record(FMT, _args(digits, text)) for digits, text in _SHAPES[:7]]
    wire.encode_json(records[0], None, publisher=handler.publisher_id, seq=0)  # the site
    try:
        with held_drain(handler):
            for record in records:
                handler.handle(record)
            handler._drain.round(pyzmq_send)  # refused: no peer yet
            pending = handler._drain.pending
            assert pending is not None
            assert spy.written == 1  # the writer wrote it, into its buffer
            assert [type(frame) for frame in pending] == [bytes, bytes]
            assert pending[1] == _expected(handler, records[0], 0)
            for digits in (20_000, 0, 5_000, 1):
                scribble = _site_record(FMT, _args(digits, "scribble"))
                assert spy.writer.payload(scribble, 99) is not None
            assert handler._drain.pending == pending
        pull.connect("inproc://buffer-refused")
        handler.flush()
        received = [pull.recv_multipart() for _ in records]
        assert not pull.poll(50)
        for seq, ((_, payload), record) in enumerate(zip(received, records, strict=True)):
            assert payload == _expected(handler, record, seq), f"message {seq}"
        assert handler.stats == (0, len(records), 0, 0)
    finally:
        handler.close()
        pull.close(linger=0)
        push.close(linger=0)


@pytest.mark.parametrize(
    ("interrupted_call", "held_as"),
    [(1, "pending"), (2, "rest"), (5, "pending"), (6, "rest")],
    ids=["first-topic", "first-payload", "third-topic", "third-payload"],
)
def test_an_interrupt_inside_send_keeps_the_original_bytes_for_the_next_round(
    context: Context, interrupted_call: int, held_as: str
) -> None:
    """A KeyboardInterrupt raised by the send of a topic or a payload frame (the first
    message's, or the third's, after the buffer was written twice): the drain keeps a
    copy of the payload, the writer writes others over its buffer, and the next round
    sends the interrupted message whole, once, as encode_json writes it."""
    push = context.socket(zmq.PUSH)
    push.bind("inproc://buffer-interrupted")
    pull = bounded(context.socket(zmq.PULL))
    pull.connect("inproc://buffer-interrupted")
    handler = AsyncPUBHandler(push, wire_format="json", send_timeout=30)
    spy = spy_on(handler)
    records = [_site_record(FMT, _args(digits, "sent")) for digits in (700, 0, 3000, 5)]
    wire.encode_json(records[0], None, publisher=handler.publisher_id, seq=0)  # the site
    calls = 0

    def interrupting(sock: zmq.Socket[Any], frame: bytes | bytearray, flags: int) -> None:
        nonlocal calls
        calls += 1
        if calls == interrupted_call:
            raise KeyboardInterrupt  # as a signal handler would, before ZeroMQ took it
        pyzmq_send(sock, frame, flags)

    try:
        with held_drain(handler):
            for record in records:
                handler.handle(record)
            with pytest.raises(KeyboardInterrupt):
                handler._drain.round(interrupting)
            drain = handler._drain
            index = (interrupted_call - 1) // 2
            assert spy.written == index + 1  # each so far from the writer's buffer
            expected = _expected(handler, records[index], index)
            if held_as == "rest":
                assert type(drain._rest) is bytes
                assert drain._rest == expected
            else:
                assert drain.pending is not None
                assert type(drain.pending[1]) is bytes
                assert drain.pending[1] == expected
            for digits in (12_000, 0):  # the buffer reallocated, then cut short
                assert spy.writer.payload(_site_record(FMT, _args(digits, "over")), 77) is not None
            handler._drain.round(pyzmq_send)
        received = [pull.recv_multipart() for _ in records]
        assert not pull.poll(50)
        for seq, ((topic, payload), record) in enumerate(zip(received, records, strict=True)):
            assert (topic, payload) == (b"INFO", _expected(handler, record, seq)), f"message {seq}"
        assert handler.stats == (0, len(records), 0, 0)
    finally:
        handler.close()
        pull.close(linger=0)
        push.close(linger=0)


def test_an_interrupt_while_the_writer_writes_leaves_the_record_counted(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], WriterSpy], logger: logging.Logger
) -> None:
    """A SIGINT whose KeyboardInterrupt lands inside the writer (Ctrl-C while the main
    thread flushes): the record it was writing is sent later, or counted as dropped or
    failed; queued + sent + dropped + errors still equals what was logged."""
    handler, sub, spy = published
    logger.addHandler(handler)
    writer = spy.writer
    calls = 0

    class _Interrupted:
        def payload(self, record: logging.LogRecord, seq: int) -> bytearray | None:
            nonlocal calls
            calls += 1
            if calls == 2:
                # Ctrl-C as the drain asks the writer for the second record's payload.
                signal.raise_signal(signal.SIGINT)
            return writer.payload(record, seq)

    handler._renderer.typical = _Interrupted()  # type: ignore[assignment]
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with held_drain(handler):
            for i in range(4):
                logger.info(FMT, *_args(i, "interrupted"))
            with pytest.raises(KeyboardInterrupt):
                handler._drain.round(pyzmq_send)
    finally:
        signal.signal(signal.SIGINT, previous)
    handler.flush()
    received = []
    while sub.poll(200):
        received.append(sub.recv_multipart())
    assert [strict_json(payload)["seq"] for _, payload in received] == list(range(len(received)))
    reports = sum(topic.startswith(b"WARNING") for topic, _ in received)
    _accounted(handler, 4, reports)


class _Sends:
    """Stands in for the drain's two sends, pyzmq's (the loop task's) and
    ``THREAD_SEND`` (flush()'s, the GIL-keeping one where there is one): notes which
    thread sent each message and by which send, and cues a waiting thread when a given
    thread is about to send a frame."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        """Each message's last frame taken, in order: the sending thread, and the send."""
        self.cue: threading.Event | None = None
        """Set, once, when :attr:`cue_from` next sends a frame (then forgotten)."""
        self.cue_from: int | None = None

    def wrap(self, send: Send, name: str) -> Send:
        """*send*, noting each message it sends as *name*."""

        def noted(sock: zmq.Socket[Any], frame: bytes | bytearray, flags: int) -> None:
            me = threading.get_ident()
            cue = self.cue
            if cue is not None and me == self.cue_from:
                # The round goes on: with a topic, the payload (the writer's buffer,
                # written already) is sent next.
                self.cue = None
                cue.set()
            send(sock, frame, flags)
            if not flags & zmq.SNDMORE:
                self.sent.append((me, name))

        return noted


def test_json_records_arrive_whole_from_the_drain_thread_and_the_loop_task_in_turn(
    context: Context, logger: logging.Logger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logged before asyncio.run() (the drain thread's GIL-keeping send copies the
    buffer to bytes), in it (the loop task sends the buffer itself) and after it
    (the thread again): every payload is encode_json's at one contiguous seq, and
    each phase's records went by its own send (the loop's, mostly).

    (The records are slow to render, thousands of digits: left alone, the loop task
    takes its rounds for a convoy and switches to the GIL-keeping send. It did for
    every record until the convoy switch was turned off here: 1,200 frames, none by
    pyzmq's send.)"""
    sends = _Sends()
    monkeypatch.setattr(_runners, "pyzmq_send", sends.wrap(_runners.pyzmq_send, "pyzmq"))
    monkeypatch.setattr(_runners, "THREAD_SEND", sends.wrap(_runners.THREAD_SEND, "thread"))
    monkeypatch.setattr(_runners, "_CONVOY", math.inf)
    endpoint = f"ipc://{tmp_path}/json-phases.sock"
    xpub = bounded(context.socket(zmq.XPUB))
    sub = bounded(context.socket(zmq.SUB))
    handler: AsyncPUBHandler | None = None
    try:
        xpub.sndhwm = sub.rcvhwm = 100_000  # nothing is received until the end
        xpub.bind(endpoint)
        sub.connect(endpoint)
        sub.subscribe(b"")
        assert xpub.recv() == b"\x01"  # no slow joiner: the handler gets a seen socket
        handler = AsyncPUBHandler(xpub, wire_format="json", max_payload=LIMIT)
        recorded = _Recorded()
        handler.addFilter(recorded)
        spy = spy_on(handler)
        logger.addHandler(handler)
        shapes = random.Random(11).choices(_SHAPES, k=200)

        def log_all(phase: str) -> None:
            for digits, text in shapes:
                logger.info(FMT, *_args(digits, f"{phase} {text}"))

        log_all("before")
        handler.flush()  # sent by the thread's send before the loop starts
        assert sends.sent.count((threading.get_ident(), "pyzmq")) == 0

        async def service() -> None:
            # What the first record logged here does when the drain thread sleeps (not
            # if a socket event has just woken it: the thread then sends what it finds,
            # and on a loaded machine went on sending all 200 of the loop's).
            handler._scheduler.wake()
            runner = handler._scheduler.loop_runner
            assert runner is not None
            assert runner.alive()
            for start in range(0, len(shapes), 20):
                for digits, text in shapes[start : start + 20]:
                    logger.info(FMT, *_args(digits, f"during {text}"))
                await asyncio.sleep(0)  # the loop's drain task gets its turns
            for _ in range(1000):  # and sends the last batch before the loop ends
                if not _unsent(handler, recorded):
                    break
                await asyncio.sleep(0)

        asyncio.run(service())
        # Most by the loop task: the thread, watching it, takes over records that the
        # task is slow to get to (16 of 200 once, with three busy processes beside).
        by_loop = sends.sent.count((threading.get_ident(), "pyzmq"))
        assert by_loop >= len(shapes) // 2, f"{by_loop} of {len(shapes)} by the loop task"
        log_all("after")
        handler.flush()
        total = 3 * len(shapes)
        assert [name for _, name in sends.sent].count("thread") == total - by_loop
        assert len(recorded.records) == total
        for seq, record in enumerate(recorded.records):
            topic, payload = sub.recv_multipart()
            assert topic == b"INFO"
            assert payload == _expected(handler, record, seq, LIMIT), f"message {seq}"
        assert not sub.poll(50)
        assert spy.written > total // 2
        assert handler.stats == (0, total, 0, 0)
    finally:
        sub.close(linger=0)
        if handler is not None:
            logger.removeHandler(handler)
            handler.close()
        xpub.close(linger=0)


def _seen_xpub(context: Context, endpoint: str) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    """An XPUB bound at *endpoint* and a SUB to everything that it has seen."""
    xpub = bounded(context.socket(zmq.XPUB))
    sub = bounded(context.socket(zmq.SUB))
    xpub.sndhwm = sub.rcvhwm = 100_000
    xpub.bind(endpoint)
    sub.connect(endpoint)
    sub.subscribe(b"")
    assert xpub.recv() == b"\x01"
    return xpub, sub


def _check_by_tag(
    handler: AsyncPUBHandler, sub: zmq.Socket[bytes], recorded: _Recorded, total: int
) -> list[str]:
    """Receive *total* messages: each the payload encode_json writes for the record of
    its tag at its seq, the seqs contiguous from 0; return the tags in order."""
    tags = []
    for i in range(total):
        assert sub.poll(int(WAIT_S * 1000)), f"only {i} of {total} messages arrived"
        _, payload = sub.recv_multipart()
        obj = strict_json(payload)
        assert obj["seq"] == i
        tag = _tag(obj["message"])
        assert payload == _expected(handler, recorded.by_tag[tag], i, LIMIT), f"message {i}"
        tags.append(tag)
    assert not sub.poll(50), "more messages than records"
    return tags


def _order(tags: list[str], prefix: str) -> list[int]:
    """The numbers of the tags ``<prefix><n>`` in *tags*, in their order."""
    return [int(tag[len(prefix) :]) for tag in tags if tag.startswith(prefix)]


@pytest.mark.timeout(20)
def test_many_threads_logging_json_without_a_loop_publish_every_payload_whole(
    context: Context, logger: logging.Logger, tmp_path: Path
) -> None:
    """Four threads log 300 records each, of every shape, with no loop: the drain
    thread writes them all through one buffer; each arrives once, whole, in its
    thread's order, as encode_json writes it at its seq."""
    xpub, sub = _seen_xpub(context, f"ipc://{tmp_path}/json-threads.sock")
    handler = AsyncPUBHandler(xpub, wire_format="json", max_payload=LIMIT)
    recorded = _Recorded()
    handler.addFilter(recorded)
    logger.addHandler(handler)
    threads: list[threading.Thread] = []
    per_thread = 300
    try:
        start = threading.Barrier(4)

        def log_from(k: int) -> None:
            shapes = random.Random(k).choices(_SHAPES, k=per_thread)
            start.wait(WAIT_S)
            for i, (digits, text) in enumerate(shapes):
                logger.info(FMT, *_args(digits, text, f"t{k}.{i}"))

        threads = [threading.Thread(target=log_from, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_S)
        tags = _check_by_tag(handler, sub, recorded, 4 * per_thread)
        for k in range(4):
            assert _order(tags, f"t{k}.") == list(range(per_thread))
        assert handler.stats == (0, 4 * per_thread, 0, 0)
    finally:
        for thread in threads:
            thread.join(WAIT_S)
        logger.removeHandler(handler)
        handler.close()
        sub.close(linger=0)
        xpub.close(linger=0)


def _unsent(handler: AsyncPUBHandler, recorded: _Recorded) -> int:
    """How many of the records logged so far the handler has not yet sent, read without
    taking the drain: ``handler.stats`` would wait for a round in progress to end, and
    so hide a flush() that returned before that round had sent its records."""
    return len(recorded.records) - handler._queue.sent


def _hand_overs(senders: list[int]) -> int:
    """How many messages in *senders* a thread sent after a message of another's."""
    return sum(a != b for a, b in itertools.pairwise(senders))


# Turns of the test below, and the records each side logs in a turn: the loop's batch
# (whose round the flusher cuts into), then the flusher's two (one logged while that
# round runs, one while the loop is held).
_TURNS = 30
_LOOP_BATCH = 8
_FLUSHER_BATCH = 4


@pytest.mark.timeout(20)
async def test_flush_from_another_thread_while_the_loop_drains_json(
    context: Context, logger: logging.Logger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop task's rounds (pyzmq's send of the writer's buffer itself) and flush()
    on another thread (the GIL-keeping send, which copies it) take turns with the one
    buffer, 30 times: each payload is encode_json's for its record at its seq,
    contiguous; each side's records arrive in order; every record is counted; and each
    flush() returns once what was logged before it is sent.

    A turn: the loop logs a batch and lets its task drain it. As that round sends its
    first frame (pyzmq's send lets go of the GIL there), the flusher logs a batch and
    calls flush(), which must wait for the round to end. Then the loop holds itself,
    so that its task cannot take them, while the flusher logs another batch and its
    flush() sends it. Every turn, then, starts with the loop task sending and ends with
    the flusher sending: the test counts both, and the hand-overs, from the sends.

    (Left to chance, as this test was first written, flush() sent the loop's records
    too and the loop task's rounds rarely sent any: 1 round in 40 that sent something,
    the sending handed over between the threads 0 to 3 times a run.)
    """
    sends = _Sends()
    monkeypatch.setattr(_runners, "pyzmq_send", sends.wrap(_runners.pyzmq_send, "pyzmq"))
    monkeypatch.setattr(_runners, "THREAD_SEND", sends.wrap(_runners.THREAD_SEND, "thread"))
    # These records are slow to render (thousands of digits): left alone, the loop task
    # would take its rounds for a convoy and switch to the GIL-keeping send.
    monkeypatch.setattr(_runners, "_CONVOY", math.inf)
    xpub, sub = _seen_xpub(context, f"ipc://{tmp_path}/json-flush.sock")
    handler = AsyncPUBHandler(xpub, wire_format="json", max_payload=LIMIT)
    recorded = _Recorded()
    handler.addFilter(recorded)
    logger.addHandler(handler)
    loop = asyncio.get_running_loop()
    cue = threading.Event()  # the loop task's round is sending
    cut_in = asyncio.Event()  # the flusher's flush() during that round has returned
    held = threading.Event()  # the loop holds itself
    released = threading.Event()  # the flusher's turn is over
    quitting = threading.Event()
    failures: list[BaseException] = []
    unsent: list[int] = []  # records not yet sent as each flush() returned
    loop_thread = threading.get_ident()
    cut_into = 0  # flushes called while the loop task's round held the drain
    flushed = 0

    def log_batch(shapes: Iterator[tuple[int, str]]) -> None:
        nonlocal flushed
        for _ in range(_FLUSHER_BATCH):
            digits, text = next(shapes)
            logger.info(FMT, *_args(digits, text, f"flusher{flushed}"))
            flushed += 1

    def flush() -> None:
        handler.flush()
        unsent.append(_unsent(handler, recorded))

    def flusher() -> None:
        nonlocal cut_into
        shapes = iter(random.Random(3).choices(_SHAPES, k=2 * _FLUSHER_BATCH * _TURNS))
        try:
            for _ in range(_TURNS):
                if not cue.wait(WAIT_S) or quitting.is_set():
                    return
                cue.clear()
                log_batch(shapes)
                cut_into += handler._drain.owner == loop_thread  # the round goes on
                flush()  # waits for the loop task's round, which holds the drain
                loop.call_soon_threadsafe(cut_in.set)
                if not held.wait(WAIT_S) or quitting.is_set():
                    return
                held.clear()
                log_batch(shapes)
                flush()  # the drain is idle: this thread's round sends them
                released.set()
        except BaseException as error:  # reported by the test, not lost with the thread
            failures.append(error)
        finally:
            released.set()  # whatever happened, the loop waits no more
            with contextlib.suppress(RuntimeError):  # the loop closed: the test is over
                loop.call_soon_threadsafe(cut_in.set)

    thread = threading.Thread(target=flusher, name="flusher")
    try:
        thread.start()
        shapes = iter(random.Random(5).choices(_SHAPES, k=_LOOP_BATCH * _TURNS))
        logged = 0
        for turn in range(_TURNS):
            cut_in.clear()
            sends.cue, sends.cue_from = cue, loop_thread
            for _ in range(_LOOP_BATCH):
                digits, text = next(shapes)
                logger.info(FMT, *_args(digits, text, f"loop{logged}"))
                logged += 1
            try:
                await asyncio.wait_for(cut_in.wait(), WAIT_S)  # the loop task drains
            except asyncio.TimeoutError:
                pytest.fail(f"turn {turn}: the loop task sent nothing, or flush() hung")
            held.set()
            assert released.wait(WAIT_S), f"turn {turn}: the flusher's flush() hung"
            released.clear()
            assert not failures, failures
        await asyncio.to_thread(thread.join, WAIT_S)
        assert not thread.is_alive()
        assert flushed == 2 * _FLUSHER_BATCH * _TURNS
        total = logged + flushed
        tags = await asyncio.to_thread(_check_by_tag, handler, sub, recorded, total)
        assert _order(tags, "loop") == list(range(logged))
        assert _order(tags, "flusher") == list(range(flushed))
        assert handler.stats == (0, total, 0, 0)
        assert unsent == [0] * (2 * _TURNS)  # each flush() waited for the round to end
        # The flusher's first flush() of a turn was called, mostly, while the loop
        # task's round held the drain. Each thread sent by its own send: the loop task
        # at least its own records, the flusher at least those logged while the loop
        # was held; and the sending went from one to the other twice a turn.
        assert cut_into >= _TURNS // 2, cut_into
        assert len(sends.sent) == total
        by_loop = sends.sent.count((loop_thread, "pyzmq"))
        by_flusher = sends.sent.count((thread.ident or 0, "thread"))
        hand_overs = _hand_overs([ident for ident, _ in sends.sent])
        counts = f"loop {by_loop}, flusher {by_flusher}, hand-overs {hand_overs}"
        assert by_loop + by_flusher == total, counts
        assert by_loop >= _TURNS * _LOOP_BATCH, counts
        assert by_flusher >= _TURNS * _FLUSHER_BATCH, counts
        assert hand_overs >= 2 * _TURNS - 1, counts
    finally:
        quitting.set()
        cue.set()
        held.set()
        thread.join(WAIT_S)
        logger.removeHandler(handler)
        handler.close()
        sub.close(linger=0)
        xpub.close(linger=0)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")
@pytest.mark.timeout(20)
async def test_a_signal_handler_that_logs_every_millisecond_during_a_json_drain(
    context: Context, logger: logging.Logger, tmp_path: Path
) -> None:
    """SIGALRM every millisecond, whose handler logs a record of its own (of every
    shape), on the thread whose loop task is writing and sending from the buffer:
    every payload that arrives is encode_json's for its record at its seq, the seqs
    contiguous; every record of the loop's arrives, in order; and every record is
    counted. (A signal's record that lands in the careful way's rendering four levels
    deep is dropped and counted, as documented: that is _MAX_DEPTH, not the buffer.)"""
    xpub, sub = _seen_xpub(context, f"ipc://{tmp_path}/json-signal.sock")
    handler = AsyncPUBHandler(xpub, wire_format="json", max_payload=LIMIT)
    recorded = _Recorded()
    handler.addFilter(recorded)
    logger.addHandler(handler)
    alarms = 0
    busy = False
    signal_shapes = random.Random(13).choices(_SHAPES, k=400)

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        nonlocal alarms, busy
        if busy or alarms == len(signal_shapes):
            return  # an alarm inside the last one's logging: that one is enough
        busy = True
        try:
            digits, text = signal_shapes[alarms]
            logger.info(FMT, *_args(digits, text, f"alarm{alarms}"))
            alarms += 1
        finally:
            busy = False

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
        shapes = random.Random(17).choices(_SHAPES, k=800)
        for i, (digits, text) in enumerate(shapes):
            logger.info(FMT, *_args(digits, text, f"main{i}"))
            if i % 10 == 9:
                await asyncio.sleep(0)
        for _ in range(100_000):  # the loop task drains while alarms go on
            if not handler.stats.queued:
                break
            await asyncio.sleep(0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
    try:
        await asyncio.to_thread(handler.flush)
        logged = len(shapes) + alarms
        assert alarms > 0
        assert len(recorded.records) == logged
        stats = handler.stats
        assert (stats.queued, stats.errors) == (0, 0)
        assert stats.sent + stats.dropped == logged
        tags = await asyncio.to_thread(_check_by_tag, handler, sub, recorded, stats.sent)
        assert _order(tags, "main") == list(range(len(shapes)))
        arrived = _order(tags, "alarm")
        assert arrived == sorted(set(arrived))  # in order, none twice
        assert len(arrived) == alarms - stats.dropped
    finally:
        logger.removeHandler(handler)
        handler.close()
        sub.close(linger=0)
        xpub.close(linger=0)


class _Loud(str):
    """A logger name that logs when compared: the writer's call-site lookup compares it,
    so the application's code runs inside the writer, between its reads and its write."""

    __slots__ = ()
    target: logging.Logger | None = None
    logged = 0

    def __eq__(self, other: object) -> bool:
        if _Loud.target is not None:
            _Loud.logged += 1
            _Loud.target.info(FMT, *_args(2_000, "from __eq__", f"eq{_Loud.logged}"))
        return str.__eq__(self, other)

    __hash__ = str.__hash__


class _LoggingRecord(logging.LogRecord):
    """A record whose getMessage() logs a typical record (the careful way runs it)."""

    target: logging.Logger | None = None
    logged = 0

    def getMessage(self) -> str:
        if _LoggingRecord.target is not None:
            _LoggingRecord.logged += 1
            tag = f"get{_LoggingRecord.logged}"
            _LoggingRecord.target.info(FMT, *_args(3_000, "from getMessage", tag))
        return super().getMessage()


def test_application_code_that_logs_from_inside_the_writer_and_the_careful_way(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], WriterSpy], logger: logging.Logger
) -> None:
    """A logger name whose comparison logs (run by the writer's site lookup, before it
    writes) and a record class whose getMessage() logs (run by encode_json, between
    two payloads of the buffer): the records they log are queued behind, and every
    payload, theirs too, is encode_json's at its seq."""
    handler, sub, spy = published
    recorded = _Recorded()
    logger.addHandler(handler)

    def loud(record: logging.LogRecord) -> bool:
        if str(record.args[0]).startswith("loud"):  # type: ignore[index]
            record.name = _Loud(record.name)
        return True

    handler.addFilter(loud)
    handler.addFilter(recorded)
    shapes = [(0, "teaches the site", "first")]
    shapes += [(1_500 * i, "a name that logs", f"loud{i}") for i in range(6)]
    with held_drain(handler):
        for digits, text, tag in shapes:
            logger.info(FMT, *_args(digits, text, tag))  # one call site: the writer's
            record = _LoggingRecord(
                logger.name, logging.INFO, __file__, 1, FMT, _args(10, "sub", f"sub.{tag}"), None
            )
            logger.handle(record)
    _Loud.target = _LoggingRecord.target = logger
    _Loud.logged = _LoggingRecord.logged = 0
    try:
        handler.flush()
    finally:
        _Loud.target = _LoggingRecord.target = None
    total = len(recorded.records)
    assert _Loud.logged >= 6
    assert _LoggingRecord.logged >= 7
    assert total == 14 + _Loud.logged + _LoggingRecord.logged
    tags = []
    for seq, (_, payload) in enumerate(_receive(sub, total)):
        tag = _tag(strict_json(payload)["message"])
        assert payload == _expected(handler, recorded.by_tag[tag], seq, LIMIT), f"message {seq}"
        tags.append(tag)
    assert _order(tags, "loud") == list(range(6))
    assert spy.written >= 6  # the loud ones at least: written by the writer
    assert handler.stats == (0, total, 0, 0)


def test_a_topic_a_later_handler_sets_is_not_what_a_bare_json_record_was_logged_with(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], WriterSpy], logger: logging.Logger
) -> None:
    """A handler after ours sets ``record.topic`` on a record ours queued bare: the
    drain no longer looks for it in JSON (c76df40), so the record is published as it
    was when it was logged, on its level's topic with no extra, which is what
    encode_json wrote for it then; the records around it are unchanged."""
    handler, sub, _ = published
    at_handle: list[bytes] = []

    def snapshot(record: logging.LogRecord) -> bool:
        at_handle.append(_expected(handler, record, len(at_handle), LIMIT))
        return True

    handler.addFilter(snapshot)

    class _Later(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "late topic" in record.getMessage():
                record.topic = "db.pool"

    logger.addHandler(handler)
    logger.addHandler(_Later())
    with held_drain(handler):
        for text in ("teaches the site", "late topic", "after"):
            logger.info(FMT, *_args(0, text))
    handler.flush()
    messages = _receive(sub, 3)
    assert [topic for topic, _ in messages] == [b"INFO", b"INFO", b"INFO"]
    assert [payload for _, payload in messages] == at_handle


def test_a_drop_report_between_buffered_payloads_takes_the_next_seq(
    context: Context, logger: logging.Logger
) -> None:
    """A queue of 4 that 10 records of every shape overflow: the 4 kept go from the
    buffer as encode_json writes them, then the report, at the next seq; every record
    logged is sent or counted dropped."""
    handler = AsyncPUBHandler(TCP, wire_format="json", linger=0, max_payload=LIMIT, max_queue=4)
    recorded = _Recorded()
    handler.addFilter(recorded)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    try:
        logger.info(FMT, *_args(0, "teaches the site"))
        handler.flush()
        with held_drain(handler):
            for digits, text in _SHAPES[:10]:
                logger.info(FMT, *_args(digits, text))
        handler.flush()
        messages = _receive(sub, 6)
        for seq in range(5):
            payload = messages[seq][1]
            assert payload == _expected(handler, recorded.records[seq], seq, LIMIT)
        topic, report = messages[5]
        assert topic.startswith(b"WARNING")
        obj = strict_json(report)
        assert obj["seq"] == 5
        assert "6 log record(s) dropped" in obj["message"]
        assert handler.stats == (0, 6, 6, 0)
        _accounted(handler, 11, reports=1)
    finally:
        logger.removeHandler(handler)
        handler.close()
        sub.close(linger=0)


@pytest.mark.skipif(sys.platform != "linux", reason="the GIL-keeping send is Linux only")
def test_the_drain_threads_send_copies_the_buffer_before_the_writer_writes_again(
    context: Context,
) -> None:
    """The GIL-keeping send (the drain thread's) given the writer's buffer itself, then
    the writer writing over it at once: what arrives is what was given."""
    from zmqlog import _gilsend

    send = _gilsend.make()
    if send is None:
        pytest.skip("no GIL-keeping send here")
    publisher = wire.PublisherId("host", 1, "gilsend")
    writer = _json.TypicalWriter(publisher)
    wire.encode_json(_site_record(FMT, _args(0)), None, publisher=publisher, seq=0)
    push = context.socket(zmq.PUSH)
    pull = bounded(context.socket(zmq.PULL))
    try:
        push.bind("inproc://buffer-gilsend")
        pull.connect("inproc://buffer-gilsend")
        expected = []
        for seq, digits in enumerate((5_000, 0, 9_000, 3)):
            record = _site_record(FMT, _args(digits, "sent"))
            buffer = writer.payload(record, seq)
            assert buffer is not None
            expected.append(wire.encode_json(record, None, publisher=publisher, seq=seq)[1])
            send(push, buffer, 0)
            assert writer.payload(_site_record(FMT, _args(7_000, "over")), 50) is not None
        assert [pull.recv() for _ in expected] == expected
    finally:
        push.close(linger=0)
        pull.close(linger=0)

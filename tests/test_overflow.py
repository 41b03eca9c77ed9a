"""The bounded queue: overflow policies, counted drops, and what emit() refuses."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import tracemalloc
from typing import Protocol

import anyio
import pytest
import zmq

from tests.conftest import held_drain
from zmqlog import AsyncPUBHandler, LogMessage, LogSubscriber, UsageError

ENDPOINT = "inproc://overflow"


async def drain_to_subscriber(
    handler: AsyncPUBHandler, context: zmq.Context[zmq.Socket[bytes]], count: int
) -> list[LogMessage]:
    """Start the handler's drain task with a subscriber attached; collect *count* messages."""
    async with LogSubscriber(ENDPOINT, context=context) as sub:
        await handler.wait_for_subscribers(1, timeout=5)  # starts the drain task
        messages = []
        with anyio.fail_after(5):
            for _ in range(count):
                messages.append(await sub.receive())
    await handler.aclose()
    return messages


@pytest.mark.parametrize(
    ("overflow", "kept"), [("drop_newest", range(10)), ("drop_oldest", range(5, 15))]
)
async def test_overflow_policy_keeps_the_right_records_and_reports_the_rest(
    context: zmq.Context[zmq.Socket[bytes]],
    logger: logging.Logger,
    overflow: str,
    kept: range,
) -> None:
    """A full queue drops by policy, counts it, and the subscriber is told how many."""
    handler = AsyncPUBHandler(ENDPOINT, context, max_queue=10, overflow=overflow)  # type: ignore[arg-type]
    logger.addHandler(handler)
    for i in range(15):  # no loop yet: all of them wait in the queue
        logger.info("record %d", i)
    assert handler.stats.queued == 10
    assert handler.stats.dropped == 5
    messages = await drain_to_subscriber(handler, context, 11)
    assert [m.text for m in messages[:10]] == [f"record {i}\n" for i in kept]
    report = messages[10]
    assert (report.level, report.subtopic) == ("WARNING", "zmqlog")
    assert "5 log record(s) dropped" in report.text
    assert handler.stats.sent == 11


async def test_dropping_the_oldest_keeps_a_root_topic_change_for_the_records_behind_it(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """A root topic set while records wait applies to the ones logged after it, even
    when the records logged before it are dropped to make room."""
    handler = AsyncPUBHandler(ENDPOINT, context, max_queue=3, overflow="drop_oldest")
    logger.addHandler(handler)
    logger.info("old")
    handler.root_topic = "new"
    for i in range(4):
        logger.info("new %d", i)
    kept = handler.stats.queued
    assert kept + handler.stats.dropped == 5
    messages = await drain_to_subscriber(handler, context, kept + 1)
    assert [(m.topic, m.text) for m in messages[:kept]] == [
        ("new.INFO", f"new {i}\n") for i in range(4 - kept, 4)
    ]
    assert messages[kept].topic == "new.WARNING.zmqlog"
    assert f"{5 - kept} log record(s) dropped" in messages[kept].text


def test_root_topic_changes_do_not_take_the_places_of_records(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """max_queue counts records, however often the root topic changes between them."""
    handler = AsyncPUBHandler(ENDPOINT, context, max_queue=3)
    logger.addHandler(handler)
    with held_drain(handler):
        logger.info("a")
        handler.root_topic = "b"
        logger.info("b")
        handler.root_topic = "c"
        logger.info("c")
        assert handler.stats == (3, 0, 0, 0)  # queued, sent, dropped, errors


async def test_root_topics_changed_by_another_thread_survive_drop_oldest(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """While the drain task runs, a thread that sets a root topic and then logs always
    sees its record published under that root topic, however many records the full
    queue drops meanwhile (thread switches made very frequent to provoke races)."""
    handler = AsyncPUBHandler(ENDPOINT, context, max_queue=4, overflow="drop_oldest")
    logger.addHandler(handler)

    def log_under_changing_topics() -> None:
        for i in range(20_000):
            if i % 3 == 0:
                handler.root_topic = f"t{i}"
            logger.info("%s", handler.root_topic)
        handler.root_topic = "end"
        logger.info("end")

    wrong = []
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        async with LogSubscriber(ENDPOINT, context=context) as sub:
            await handler.wait_for_subscribers(1, timeout=5)
            worker = asyncio.create_task(asyncio.to_thread(log_under_changing_topics))
            with anyio.fail_after(60):
                async for message in sub:
                    if message.subtopic == "zmqlog":
                        continue  # the drop reports
                    if message.root_topic != message.text.rstrip("\n"):
                        wrong.append((message.topic, message.text))
                    if message.text == "end\n":
                        break
                await worker
    finally:
        sys.setswitchinterval(switch_interval)
        await handler.aclose()
    assert wrong == []
    assert handler.stats.dropped > 0  # the queue did overflow


def test_a_root_topic_set_before_every_record_keeps_a_full_queue_small(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """A per-request root topic with a full drop_oldest queue costs no memory per record:
    the settings of dropped records are dropped with them."""
    handler = AsyncPUBHandler(ENDPOINT, context, max_queue=10, overflow="drop_oldest")
    logger.addHandler(handler)
    with held_drain(handler):
        for i in range(100):
            handler.root_topic = f"request{i}"
            logger.info("%d", i)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(100, 5_100):
                handler.root_topic = f"request{i}"
                logger.info("%d", i)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert handler.stats[:3] == (10, 0, 5_090)  # queued, sent, dropped
    assert grown < 100_000  # settings kept for 5,000 dropped records would be megabytes


class _LockLike(Protocol):
    """What _SignalsWhenTaken needs of the lock it stands in for."""

    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...
    def release(self) -> None: ...


class _SignalsWhenTaken:
    """Stands in for the queue's counter lock: each *every*-th time it is taken (not
    from inside itself), it raises *signum* while held, so that the signal handler runs
    inside the queue's bookkeeping. Waits at most *wait* seconds for the real lock, and
    counts the waits that ran out (a lock that would have deadlocked) in ``stuck``."""

    def __init__(self, lock: _LockLike, signum: int, every: int, wait: float = 2.0) -> None:
        self._lock = lock
        self._signum = signum
        self._every = every
        self._wait = wait
        self._taken: list[bool] = []  # per nested entry: whether the real lock was taken
        self.entries = 0
        self.stuck = 0

    @property
    def held(self) -> bool:
        """Whether the calling thread is inside the lock right now."""
        return any(self._taken)

    def __enter__(self) -> None:
        taken = self._lock.acquire(True, self._wait)
        self.stuck += not taken
        self._taken.append(taken)
        if len(self._taken) == 1:
            self.entries += 1
            if self.entries % self._every == 0 and not self.stuck:
                signal.raise_signal(self._signum)  # its Python handler runs before this returns

    def __exit__(self, *exc: object) -> None:
        if self._taken.pop():
            self._lock.release()


@pytest.mark.timeout(30, method="thread")  # a deadlock blocks signals: end the run instead
def test_a_signal_handler_that_logs_never_deadlocks_the_handler(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """Logging from a signal handler, which interrupts the main thread anywhere (even
    inside the handler's own bookkeeping), never waits forever.

    The signal is raised while the main thread holds the queue's counter lock, counting
    a record the full drop_oldest queue drops; the handler logs two records, the second
    of which drops another and takes that lock again on the same thread. (A SIGPROF timer every
    0.5 ms, as this test had before, never once landed inside the lock in runs of ~200
    ticks, and the test passed with the lock made non-reentrant, the deadlock it exists
    for.) The stand-in lock waits at most 2 s for the real one, so a lock that is not
    re-entrant fails the test instead of hanging it.
    """
    handler = AsyncPUBHandler(ENDPOINT, context, max_queue=4, overflow="drop_oldest")
    logger.addHandler(handler)
    queue = handler._queue
    lock = _SignalsWhenTaken(queue._lock, signal.SIGPROF, every=10)
    ticks = inside = 0

    def log_a_tick(signum: int, frame: object) -> None:
        nonlocal ticks, inside
        ticks += 1
        inside += lock.held
        logger.info("tick")  # into the place the drop being counted made
        logger.info("tick")  # drops one more: the lock again

    previous = signal.signal(signal.SIGPROF, log_a_tick)
    queue._lock = lock  # type: ignore[assignment]
    try:
        with held_drain(handler):  # every record is queued or dropped, none sent
            for i in range(2_000):
                handler.root_topic = f"t{i % 7}"
                logger.info("%d", i)
            stats = handler.stats
    finally:
        queue._lock = lock._lock  # type: ignore[assignment]
        signal.signal(signal.SIGPROF, previous)
    assert lock.stuck == 0, f"{lock.stuck} signal handler(s) waited for a lock their thread held"
    assert ticks > 100
    assert inside == ticks  # each signal landed inside the queue's bookkeeping
    assert stats.queued + stats.dropped == 2_000 + 2 * ticks


def test_emit_after_close_is_counted_as_dropped(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """A record logged to a closed handler is not lost silently."""
    handler = AsyncPUBHandler(ENDPOINT, context)
    logger.addHandler(handler)
    handler.close()
    logger.info("too late")
    assert handler.stats.dropped == 1


async def test_records_the_handler_causes_itself_are_dropped_not_looped(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """A formatter that logs (as asyncio or pyzmq might, on the loop) cannot feed itself."""

    class Chatty(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            logger.info("formatting %s", record.msg)  # lands back in this handler
            return super().format(record)

    handler = AsyncPUBHandler(ENDPOINT, context)
    handler.setFormatter(Chatty("%(message)s"))
    logger.addHandler(handler)
    logger.info("real record")
    messages = await drain_to_subscriber(handler, context, 1)
    assert messages[0].text == "real record"
    # The inner record was logged while the drain task formatted: dropped and counted
    # (its report may follow, but nothing repeats).
    assert handler.stats.dropped >= 1
    assert handler.stats.errors == 0


async def test_huge_message_is_truncated_with_a_marker(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """A 50 MB message is cut at max_payload and says how much was cut."""
    handler = AsyncPUBHandler(ENDPOINT, context, max_payload=64 * 1024)
    logger.addHandler(handler)
    logger.info("é" * (25 * 2**20))  # 50 MB of UTF-8
    logger.info("small one after")
    big, small = await drain_to_subscriber(handler, context, 2)
    assert len(big.payload) < 64 * 1024 + 100
    assert big.payload.decode("utf-8")  # cut on a character boundary: strict decode works
    assert big.payload.endswith(b" bytes]\n")
    assert b"[zmqlog: truncated " in big.payload
    assert small.text == "small one after\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_queue": 0}, "max_queue must be a positive"),
        ({"overflow": "block"}, "'drop_newest', 'drop_oldest'"),
        ({"max_payload": 10}, "max_payload must be at least"),
    ],
)
def test_bad_options_name_the_fix(
    context: zmq.Context[zmq.Socket[bytes]], kwargs: dict[str, object], message: str
) -> None:
    """Wrong queue options fail at construction with what would be right."""
    with pytest.raises(UsageError, match=message):
        AsyncPUBHandler(ENDPOINT, context, **kwargs)  # type: ignore[arg-type]


async def test_records_before_the_loop_are_kept_and_sent_when_it_runs(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """Records logged with no loop wait in the queue and go out once the drain starts."""
    handler = AsyncPUBHandler(ENDPOINT, context)
    logger.addHandler(handler)
    for i in range(3):
        logger.info("early %d", i)
    assert handler.stats == (3, 0, 0, 0)
    messages = await drain_to_subscriber(handler, context, 3)
    assert [m.text for m in messages] == [f"early {i}\n" for i in range(3)]


async def test_aclose_starts_the_drain_to_publish_what_waited(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """aclose() on a handler that never ran still publishes its queue."""
    handler = AsyncPUBHandler(ENDPOINT, context)
    logger.addHandler(handler)
    logger.info("queued before any loop")
    await asyncio.sleep(0)
    await handler.aclose()
    assert handler.stats.sent == 1
    assert handler.stats.queued == 0


async def test_huge_json_record_is_shrunk_but_stays_a_record(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """In JSON mode an oversized record loses text and extras, never its validity."""
    handler = AsyncPUBHandler(ENDPOINT, context, max_payload=64 * 1024, wire_format="json")
    logger.addHandler(handler)
    logger.info("db::%s", "x" * (5 * 2**20), extra={"blob": "y" * 2**20, "order": 7})
    logger.info("%s", "z" * 2**20, extra={"topic": "api"})
    big, tagged = await drain_to_subscriber(handler, context, 2)
    assert len(big.payload) <= 64 * 1024
    assert big.subtopic == "db"
    record = big.record
    assert record.getMessage().endswith("... [zmqlog: truncated]")
    assert not hasattr(record, "blob")
    # What was cut is said, in the record itself.
    assert record.zmqlog_truncated == {
        "extra": ["blob", "order"],
        "message": len("db::") + 5 * 2**20 - 16 * 1024,
    }
    assert (tagged.subtopic, tagged.record.zmqlog_truncated) == (
        "api",
        {"message": 2**20 - 16 * 1024},
    )


async def test_huge_event_dict_is_shrunk_like_a_record_with_extras(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """An oversized event dict keeps its subtopic and traceback; its other keys go."""
    handler = AsyncPUBHandler(ENDPOINT, context, max_payload=64 * 1024, wire_format="json")
    logger.addHandler(handler)
    try:
        raise KeyError("gone")
    except KeyError:
        event = {"event": "a::" + "x" * 2**20, "blob": "y" * 2**20, "topic": "orders"}
        logger.error({**event, "exc_info": True})
    (big,) = await drain_to_subscriber(handler, context, 1)
    assert len(big.payload) <= 64 * 1024
    record = big.record
    assert big.subtopic == "orders"
    assert record.getMessage().startswith("a::xxx")
    assert record.exc_text.endswith("KeyError: 'gone'")
    assert record.zmqlog_truncated == {"extra": ["blob"], "message": 3 + 2**20 - 16 * 1024}


@pytest.mark.parametrize(
    ("overflow", "kept"), [("drop_newest", range(5)), ("drop_oldest", range(15, 20))]
)
def test_the_queue_is_bounded_in_bytes_too(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger, overflow: str, kept: range
) -> None:
    """Large messages meet max_queue_bytes long before max_queue, and the overflow
    policy decides which of them stay; small ones still fit beside them."""
    handler = AsyncPUBHandler(
        ENDPOINT,
        context,
        max_queue_bytes=510_000,
        overflow=overflow,  # type: ignore[arg-type]
    )
    logger.addHandler(handler)
    blob = "x" * 100_000
    with held_drain(handler):
        for i in range(20):
            logger.info("%d %s", i, blob)  # 100,605 bytes each as counted: 5 fit
        stats = handler.stats
        # Large records wait pinned to their settings: the record is inside.
        queued = [item.record.getMessage()[:2].strip() for item in handler._queue.items]  # type: ignore[union-attr]
    assert (stats.queued, stats.dropped) == (5, 15)
    assert queued == [str(i) for i in kept]


async def test_records_over_the_byte_bound_from_the_issue_stay_bounded(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """10,000 queued 100 KB messages under the default bound: at most 64 MiB of them
    wait (issue 12 measured 986 MiB before), and what the socket then takes goes out."""
    handler = AsyncPUBHandler(ENDPOINT, context)
    logger.addHandler(handler)
    with held_drain(handler):
        for i in range(10_000):
            logger.info("%d %s", i, "y" * 100_000)
        stats = handler.stats
    assert stats.queued + stats.dropped == 10_000
    # Each counts 600 bytes as a record, and its 100,005 characters on top.
    assert stats.queued == (64 << 20) // (600 + len("%d %s") + 100_000)
    handler.close()

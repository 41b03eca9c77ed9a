"""Handler lifetimes that never hang and never break ``logging``, whatever happens to them."""

from __future__ import annotations

import asyncio
import gc
import logging
import logging.config
import re
import threading
import weakref

import pytest
import zmq

from tests.conftest import held_drain
from zmqlog import AsyncPUBHandler, UsageError

TCP = "tcp://127.0.0.1:*"


def subscriber_of(
    context: zmq.Context[zmq.Socket[bytes]], handler: AsyncPUBHandler
) -> zmq.Socket[bytes]:
    """A SUB socket connected to *handler*, whose subscription the handler has seen."""
    sub = context.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.connect(handler.socket.getsockopt_string(zmq.LAST_ENDPOINT))
    assert handler.socket.poll(5000, zmq.POLLIN)  # the subscription has arrived
    return sub


def receive_all(sub: zmq.Socket[bytes], count: int) -> list[bytes]:
    """The payloads of *count* messages, each waited for at most 5 s."""
    payloads = []
    for _ in range(count):
        assert sub.poll(5000), f"{len(payloads)} of {count} messages arrived"
        payloads.append(sub.recv_multipart()[1])
    return payloads


def test_an_unclosed_handler_warns_when_collected_and_still_sends_its_records(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """Dropping a handler without close() does not hang the garbage collector: it warns
    with ResourceWarning, and its records still go out before its socket closes."""
    handler = AsyncPUBHandler(TCP, root_topic="gone")
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    with held_drain(handler):  # still queued when the handler is dropped
        for i in range(100):
            logger.info("record %d", i)
    logger.removeHandler(handler)
    alive = weakref.ref(handler)
    del handler  # still alive: a handler is part of a reference cycle
    with pytest.warns(ResourceWarning, match="garbage-collected without close"):
        gc.collect()
    assert alive() is None
    assert receive_all(sub, 100) == [f"record {i}\n".encode() for i in range(100)]
    sub.close(linger=0)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_queue": 0}, {"overflow": "block"}, {"sndhwm": -5}, {"linger": -1}],
    ids=["max_queue", "overflow", "sndhwm", "linger"],
)
def test_a_constructor_that_fails_leaves_nothing_registered(kwargs: dict[str, object]) -> None:
    """A bad option raises before anything exists: logging knows no half-built handler,
    so a later dictConfig() or logging.shutdown() cannot trip over one."""
    before = len(logging._handlerList)  # type: ignore[attr-defined]
    with pytest.raises((UsageError, TypeError)):
        AsyncPUBHandler(TCP, **kwargs)  # type: ignore[arg-type]
    gc.collect()
    assert len(logging._handlerList) == before  # type: ignore[attr-defined]


def test_a_busy_endpoint_leaves_nothing_registered(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """ZeroMQ's own error for an endpoint in use passes through, and nothing is left."""
    taken = context.socket(zmq.PUB)
    taken.bind("tcp://127.0.0.1:*")
    endpoint = taken.getsockopt_string(zmq.LAST_ENDPOINT)
    before = len(logging._handlerList)  # type: ignore[attr-defined]
    try:
        with pytest.raises(zmq.ZMQError):
            AsyncPUBHandler(endpoint)
    finally:
        taken.close(linger=0)
    gc.collect()
    assert len(logging._handlerList) == before  # type: ignore[attr-defined]


def test_dictconfig_after_a_failed_handler_works() -> None:
    """The next configuration applies normally after one whose zmq handler failed."""
    config: dict[str, object] = {
        "version": 1,
        "handlers": {"zmq": {"class": "zmqlog.AsyncPUBHandler", "max_queue": 0,
                             "interface_or_socket": TCP}},
        "loggers": {"zmqlog.tests.dictconfig": {"handlers": ["zmq"]}},
    }  # fmt: skip
    with pytest.raises(ValueError, match="Unable to configure handler 'zmq'"):
        logging.config.dictConfig(config)
    good: dict[str, object] = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"null": {"class": "logging.NullHandler"}},
        "loggers": {"zmqlog.tests.dictconfig": {"handlers": ["null"]}},
    }
    logging.config.dictConfig(good)
    logger = logging.getLogger("zmqlog.tests.dictconfig")
    assert [type(h) for h in logger.handlers] == [logging.NullHandler]
    logger.handlers.clear()


@pytest.mark.parametrize("with_loop", [False, True], ids=["drain thread", "loop task"])
def test_a_socket_closed_under_the_handler_is_counted_and_reported_once(
    context: zmq.Context[zmq.Socket[bytes]],
    logger: logging.Logger,
    capsys: pytest.CaptureFixture[str],
    with_loop: bool,
) -> None:
    """The caller closes its own socket while records wait: the drain fails once, says
    so once, counts every record it could not send, and closing raises nothing."""
    sock = context.socket(zmq.PUB)
    sock.bind("inproc://closed-under")
    handler = AsyncPUBHandler(sock)
    logger.addHandler(handler)
    with held_drain(handler):
        for i in range(10):
            logger.info("waiting %d", i)
        sock.close(linger=0)

    async def drain_on_a_loop() -> None:
        handler.start()
        logger.info("one more")
        for _ in range(500):  # bounded: no event says "the drain has failed"
            if handler._drain.failure is not None:
                break
            await asyncio.sleep(0.01)

    if with_loop:
        asyncio.run(drain_on_a_loop())  # an unretrieved task exception would warn here
    else:
        logger.info("one more")
        handler.flush()
    logger.info("after the failure")
    handler.flush()
    handler.close()
    logging.shutdown([weakref.ref(handler)])  # type: ignore[list-item]
    assert handler.stats == (0, 0, 12, 0)
    err = capsys.readouterr().err
    assert err.count("the handler's socket failed") == 1
    # The drain thread may fail first, before "one more" is logged.
    assert re.search(r"1[01] queued log record\(s\) were not published", err)


def test_close_and_flush_never_raise_after_the_context_is_terminated(
    logger: logging.Logger,
) -> None:
    """A context torn down by its owner leaves a handler that closes quietly."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    handler = AsyncPUBHandler(sock)
    logger.addHandler(handler)
    with held_drain(handler):
        logger.info("queued")
        ctx.destroy(linger=0)
    handler.flush()
    handler.close()
    assert handler.stats.queued == 0
    assert handler.stats.sent + handler.stats.dropped == 1


def test_records_logged_while_asyncio_run_ends_are_delivered(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """A task that logs while asyncio.run() cancels it, after the drain's own task has
    ended, still has its record published (by the drain thread)."""
    handler = AsyncPUBHandler(TCP)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)

    async def service() -> None:
        async def worker() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                await asyncio.sleep(0)  # let the drain's task end first
                await asyncio.sleep(0)
                logger.info("from a cancelled task")

        asyncio.create_task(worker())  # noqa: RUF006 - asyncio.run() cancels it
        logger.info("from the service")
        await asyncio.sleep(0)

    asyncio.run(service())
    assert receive_all(sub, 2) == [b"from the service\n", b"from a cancelled task\n"]
    handler.close()
    sub.close(linger=0)


def test_a_loop_that_stops_with_a_backlog_hands_it_to_the_thread(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """A loop stopped (not closed) while its task still had records to send: the next
    record logged without a loop gets them all sent, by the drain thread."""
    handler = AsyncPUBHandler(TCP)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    loop = asyncio.new_event_loop()

    async def burst() -> None:
        for i in range(5000):
            logger.info("%d", i)
        await asyncio.sleep(0)  # the task starts and sends one batch

    try:
        loop.run_until_complete(burst())
        assert handler.stats.queued > 0  # the task was stopped with a backlog
        logger.info("after the loop stopped")
        expected = [f"{i}\n".encode() for i in range(5000)] + [b"after the loop stopped\n"]
        assert receive_all(sub, 5001) == expected
    finally:
        loop.close()
        handler.close()
        sub.close(linger=0)


def test_close_on_another_thread_while_the_drain_thread_runs(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """close() from another thread stops the drain thread, sends what is queued, and
    returns; nothing is lost or sent twice."""
    handler = AsyncPUBHandler(TCP)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    for i in range(20_000):
        logger.info("%d", i)
    closer = threading.Thread(target=handler.close)
    closer.start()
    closer.join(10)
    assert not closer.is_alive()
    payloads = receive_all(sub, 20_000)
    assert payloads == [f"{i}\n".encode() for i in range(20_000)]
    assert not sub.poll(100)
    sub.close(linger=0)


def test_the_drain_thread_is_a_daemon_that_close_ends(logger: logging.Logger) -> None:
    """Logging with no loop starts one daemon thread (interpreter exit never waits for
    it: logging.shutdown() closes the handler), and close() ends it."""
    handler = AsyncPUBHandler(TCP)
    logger.addHandler(handler)
    logger.info("starts the thread")
    runner = handler._scheduler.thread_runner
    assert runner is not None
    assert (runner.thread.name, runner.thread.daemon) == ("zmqlog-drain", True)
    handler.close()
    assert not runner.thread.is_alive()

"""Every way a service can stop: bounded, idempotent, and nothing owed is lost."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import warnings
from collections import deque
from pathlib import Path
from typing import Any

import anyio
import pytest
import zmq

from tests.conftest import held_drain
from zmqlog import AsyncPUBHandler, LogPublisher, LogSubscriber

SCRIPT = Path(__file__).parent / "scripts" / "exit_paths.py"
N = 5_000


@pytest.mark.parametrize("mode", ["async-with", "run-returns", "shutdown", "cancelled"])
async def test_service_exit_delivers_every_record_and_ends(mode: str) -> None:
    """The child process exits by itself, in bounded time, after delivering all N."""
    async with LogSubscriber("tcp://127.0.0.1:*", bind=True) as sub:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            sub.endpoints[0],
            str(N),
            mode,
            stderr=asyncio.subprocess.PIPE,
        )
        texts = []
        with anyio.fail_after(30):
            while len(texts) < N:
                texts.append((await sub.receive()).text)
            _, stderr = await child.communicate()
    assert child.returncode == 0, stderr.decode()
    assert texts == [f"exit {i}\n" for i in range(N)]
    assert b"not published" not in stderr


async def test_cancelling_aclose_itself_still_closes(logger: logging.Logger) -> None:
    """A caller cancelled while closing does not leave the socket open."""
    pub = LogPublisher("tcp://127.0.0.1:*", logger=logger)
    await pub.__aenter__()
    logger.info("one")
    runner = pub.handler._scheduler.loop_runner
    assert runner is not None
    closing = asyncio.create_task(pub.aclose())
    await asyncio.sleep(0)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    # The drain task, cancelled in turn, closes the socket on its way out.
    assert await asyncio.to_thread(runner.done.wait, 5)
    assert pub.handler._socket.closed


async def test_every_close_is_idempotent(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """aclose(), close() and flush() in any order and any number of times are harmless."""
    handler = AsyncPUBHandler("inproc://idem", context)
    logger.addHandler(handler)
    handler.start()
    logger.info("x")
    await handler.aclose()
    await handler.aclose()
    handler.close()
    handler.flush()
    handler.close()
    assert handler.stats.queued == 0


@pytest.mark.parametrize("topic_changes", [False, True])
def test_unsent_records_at_close_are_counted_and_reported(
    context: zmq.Context[zmq.Socket[bytes]],
    logger: logging.Logger,
    capsys: pytest.CaptureFixture[str],
    topic_changes: bool,
) -> None:
    """When the socket refuses to the end, close() says on stderr what it lost.

    Root-topic changes queued among the records are not counted as records."""
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 1)
    sub.subscribe(b"")
    handler = AsyncPUBHandler(
        "inproc://refuses", context, lossless=True, sndhwm=1, flush_timeout=0.1
    )
    sub.connect("inproc://refuses")
    assert handler.socket.poll(5000, zmq.POLLIN)  # the subscription (read synchronously)
    logger.addHandler(handler)
    for i in range(20):
        if topic_changes:
            handler.root_topic = f"r{i}"
        logger.info("%d", i)
    handler.close()
    sub.close(linger=0)
    stats = handler.stats
    assert stats.queued == 0
    assert stats.sent + stats.dropped == 20
    assert stats.dropped > 0
    assert f"zmqlog: {stats.dropped} log record(s) were not published" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_drops_instead_of_using_the_parents_socket(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """After fork() the child's records are dropped and counted; it says so once."""
    handler = AsyncPUBHandler("inproc://parent", context)
    logger.addHandler(handler)
    read_end, write_end = os.pipe()
    err_read, err_write = os.pipe()
    with warnings.catch_warnings(), held_drain(handler):  # the record stays queued
        logger.info("queued in the parent")
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
        if pid:
            parent_queued = handler.stats.queued
    if pid == 0:  # the child: report and leave without running any cleanup
        try:
            sys.stderr = os.fdopen(err_write, "w")
            logger.info("logged in the child")
            logger.info("and again")
            sys.stderr.flush()
            stats = handler.stats
            os.write(write_end, f"{stats.queued} {stats.dropped}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.close(err_write)
    result = os.read(read_end, 100).decode()
    stderr = os.read(err_read, 10_000).decode()
    os.close(read_end)
    os.close(err_read)
    os.waitpid(pid, 0)
    assert result == "0 2"  # the parent's queue was not inherited; both records counted
    assert stderr.count("disabled in forked child") == 1
    assert parent_queued == 1  # the parent is untouched
    handler.close()
    assert handler.stats[:2] == (0, 1)  # and it publishes the record


class _HeldQueue(deque):  # type: ignore[type-arg]
    """A queue whose first popleft() on the named thread waits until released."""

    def __init__(self, thread_name: str) -> None:
        super().__init__()
        self.thread_name = thread_name
        self.arrived = threading.Event()
        self.release = threading.Event()

    def popleft(self) -> Any:
        if threading.current_thread().name == self.thread_name and not self.arrived.is_set():
            self.arrived.set()
            assert self.release.wait(10)
        return super().popleft()


class _CountingLock:
    """A lock that says when a non-blocking acquire was refused."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.refused = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self.lock.acquire(blocking, timeout)
        if not got and not blocking:
            self.refused.set()
        return got

    def release(self) -> None:
        self.lock.release()

    def _is_owned(self) -> bool:
        return bool(self.lock._is_owned())  # type: ignore[attr-defined]


def test_the_drain_thread_and_a_loop_task_never_render_at_once(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """A loop task that starts while the drain thread is sending waits for the thread's
    round to end (without blocking its loop), and every record keeps its root topic
    and its place."""
    handler = AsyncPUBHandler("inproc://renderers", context, root_topic="S")
    queue = _HeldQueue("zmqlog-drain")
    handler._queue.items = queue
    refusals = _CountingLock()
    handler._drain._lock = refusals  # type: ignore[assignment]
    sub = context.socket(zmq.SUB)
    sub.subscribe(b"")
    sub.connect("inproc://renderers")
    assert handler.socket.poll(5000, zmq.POLLIN)  # the subscription (read synchronously)
    logger.addHandler(handler)
    handler.root_topic = "T"
    logger.info("one")  # no loop: the drain thread takes it
    assert queue.arrived.wait(5)  # the thread is sending, held at its first record

    async def drain_while_the_thread_sends() -> None:
        handler.start()
        assert await asyncio.to_thread(refusals.refused.wait, 5)  # the task waits
        logger.info("two")
        queue.release.set()
        await handler.aclose()

    asyncio.run(drain_while_the_thread_sends())
    received = []
    while sub.poll(300):
        received.append(sub.recv_multipart())
    sub.close(linger=0)
    assert received == [[b"T.INFO", b"one\n"], [b"T.INFO", b"two\n"]]

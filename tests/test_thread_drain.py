"""Synchronous programs: records reach subscribers with no event loop, without flush().

When no loop drains the queue, a drain thread publishes it (issue 11). These tests are
the programs the issue names: threads logging with no loop at all, and a program that
logs before, during and after ``asyncio.run()``. Every receive is bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path

import pytest
import zmq

import zmqlog
from tests.probing import WAIT_S, Peer, beat_slow_joiner, bounded
from zmqlog import _gilsend

THREADS = 4
PER_THREAD = 2_500


def test_records_from_threads_arrive_without_a_loop_in_per_thread_order(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger, tmp_path: Path
) -> None:
    """4 threads x 2,500 records, no loop, no flush(): a SUB receives each thread's in order."""
    endpoint = f"ipc://{tmp_path}/drain.sock"
    handler = zmqlog.AsyncPUBHandler(endpoint, root_topic="drain")
    sub = Peer(bounded(context.socket(zmq.SUB)))
    threads: list[threading.Thread] = []
    try:
        logger.addHandler(handler)
        sub.socket.connect(endpoint)
        sub.socket.subscribe(b"drain")
        beat_slow_joiner(logger, [sub])

        start = threading.Barrier(THREADS)

        def log_from(thread: int) -> None:
            start.wait(WAIT_S)  # all at once, so their records interleave in the queue
            for i in range(PER_THREAD):
                logger.info("t%d %d", thread, i)

        threads = [threading.Thread(target=log_from, args=(k,)) for k in range(THREADS)]
        for thread in threads:
            thread.start()

        seen: dict[int, list[int]] = {k: [] for k in range(THREADS)}
        deadline = time.monotonic() + 60
        for _ in range(THREADS * PER_THREAD):
            assert time.monotonic() < deadline, "records still arriving after 60 s"
            topic, payload = sub.recv(f"after {sum(map(len, seen.values()))} records")
            assert topic == b"drain.INFO"
            thread_tag, number = payload.decode().split()
            seen[int(thread_tag[1:])].append(int(number))
        assert seen == {k: list(range(PER_THREAD)) for k in range(THREADS)}
        assert handler.stats.dropped == 0
    finally:
        for thread in threads:
            thread.join(WAIT_S)
        logger.removeHandler(handler)
        sub.socket.close(linger=0)
        handler.close()


def test_records_before_during_and_after_asyncio_run_arrive_exactly_once(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger, tmp_path: Path
) -> None:
    """Logged before asyncio.run(), in it and after it: each record arrives once, in order."""
    endpoint = f"ipc://{tmp_path}/phases.sock"
    xpub = bounded(context.socket(zmq.XPUB))
    sub = Peer(bounded(context.socket(zmq.SUB)))
    handler: zmqlog.AsyncPUBHandler | None = None
    try:
        # Nothing is received until every phase has logged: the pipe must hold it all.
        xpub.sndhwm = sub.socket.rcvhwm = 100_000
        xpub.bind(endpoint)
        sub.socket.connect(endpoint)
        sub.socket.subscribe(b"phases")
        # The caller's XPUB socket shows the subscription, so nothing logged is lost to
        # the slow joiner; the handler only gets the socket once it has arrived.
        assert xpub.recv() == b"\x01phases"
        handler = zmqlog.AsyncPUBHandler(xpub, root_topic="phases")
        logger.addHandler(handler)

        per_phase = 3_000
        for i in range(per_phase):
            logger.info("before %d", i)

        async def service() -> None:
            for i in range(per_phase):
                logger.info("during %d", i)
                if i % 100 == 99:
                    await asyncio.sleep(0)  # the loop's drain task gets its turns

        asyncio.run(service())
        for i in range(per_phase):
            logger.info("after %d", i)
        logger.info("end")

        expected = [
            f"{phase} {i}\n".encode()
            for phase in ("before", "during", "after")
            for i in range(per_phase)
        ]
        received: list[bytes] = []
        while not received or received[-1] != b"end\n":
            assert len(received) <= len(expected), "more records than were logged"
            last = received[-1].decode().strip() if received else "nothing"
            topic, payload = sub.recv(f"after {len(received)} records, the last {last!r}")
            assert topic == b"phases.INFO"
            received.append(payload)
        assert received == [*expected, b"end\n"]

        # Once close() has returned, nothing more of the handler's may follow: a marker
        # sent on the same socket afterwards must be the next message.
        logger.removeHandler(handler)
        handler.close()
        xpub.send_multipart([b"phases.marker", b"after close"])
        assert sub.recv() == [b"phases.marker", b"after close"]
        assert handler.stats.dropped == 0
    finally:
        # The receiver first: a handler that still holds records sends them to no one.
        sub.socket.close(linger=0)
        if handler is not None:
            logger.removeHandler(handler)
            handler.close()
        xpub.close(linger=0)


def test_the_drain_threads_send_takes_the_json_writers_buffer(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """The send a drain thread uses (libzmq's own, keeping the GIL) takes a bytearray,
    as the JSON writer's payloads are, and sends its bytes."""
    send = _gilsend.make()
    if send is None:
        pytest.skip("no GIL-keeping send here: it needs Linux and pyzmq's mapped libzmq")
    push = context.socket(zmq.PUSH)
    pull = bounded(context.socket(zmq.PULL))
    try:
        push.bind("inproc://gilsend")
        pull.connect("inproc://gilsend")
        send(push, b"app.INFO", zmq.SNDMORE)
        send(push, bytearray(b'{"zmqlog":1}'), 0)
        assert pull.recv_multipart() == [b"app.INFO", b'{"zmqlog":1}']
    finally:
        push.close(linger=0)
        pull.close(linger=0)


def test_json_records_from_one_call_site_arrive_without_a_loop(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger, tmp_path: Path
) -> None:
    """Without a loop the drain thread sends JSON too: after the first record of a call
    site, each payload comes from the writer's reused buffer, and each arrives whole."""
    endpoint = f"ipc://{tmp_path}/json-drain.sock"
    handler = zmqlog.AsyncPUBHandler(endpoint, root_topic="drain", wire_format="json")
    sub = Peer(bounded(context.socket(zmq.SUB)))
    try:
        logger.addHandler(handler)
        sub.socket.connect(endpoint)
        sub.socket.subscribe(b"drain.INFO")
        beat_slow_joiner(logger, [sub])
        for i in range(200):
            logger.info("json %d", i)
        messages = [json.loads(sub.recv(f"after {i} records")[1]) for i in range(200)]
        assert [m["message"] for m in messages] == [f"json {i}" for i in range(200)]
        assert [m["seq"] for m in messages] == list(
            range(messages[0]["seq"], messages[0]["seq"] + 200)
        )
        assert handler.stats.dropped == 0
    finally:
        logger.removeHandler(handler)
        sub.socket.close(linger=0)
        handler.close()

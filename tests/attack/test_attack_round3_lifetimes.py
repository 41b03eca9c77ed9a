"""ATTACK round 3: closing a handler from the thread of the loop that drains it.

``close()`` on that thread must not wait, and the task may never run again;
these tests show that it closes the socket at once, as a close anywhere else does.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import pytest
import zmq

from tests.attack._helpers import TCP, receive_all, subscriber_of, wait_until
from tests.ports import free_tcp_port
from zmqlog import AsyncPUBHandler, ClosedResourceError


def test_close_on_the_loop_thread_then_the_loop_stops_still_closes_the_socket(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """A coroutine logs a burst and closes the handler (a shutdown hook), then
    ``run_until_complete()`` returns: every record is published and the socket closed,
    as after any other close()."""
    handler = AsyncPUBHandler(TCP)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    loop = asyncio.new_event_loop()

    async def main() -> None:
        for i in range(5000):  # more than one round: the task yields to the loop
            logger.info("r %d", i)
        handler.close()

    try:
        loop.run_until_complete(main())
        loop.close()
        closed = wait_until(lambda: handler._socket.closed, 3)
        received = receive_all(sub)
        runner = handler._scheduler.thread_runner
        thread_ended = runner is None or wait_until(lambda: not runner.thread.is_alive(), 1)
    finally:
        sub.close(linger=0)
        if not handler._socket.closed:  # what close() should have done
            stop = handler._scheduler.thread_runner
            if stop is not None:
                stop.stop(2)
            handler._socket.close()
            handler._socket.term_context()
    assert len(received) == 5000
    assert closed, "the socket of a closed handler stays open (and bound) for good"
    assert thread_ended, "the drain thread of a closed handler runs on"
    handler.close()  # and a second close() must not be what it takes


def test_a_handler_replaced_inside_a_coroutine_frees_its_endpoint(logger: logging.Logger) -> None:
    """``logging.config.dictConfig()`` called from a coroutine (a configuration reload)
    closes the old handler and binds the new one on the same endpoint, synchronously:
    the endpoint must be free by then, as it is when this runs off the loop."""
    endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    old = AsyncPUBHandler(endpoint)
    logger.addHandler(old)
    made: list[AsyncPUBHandler] = []

    async def reload() -> None:
        logger.info("on the loop: the drain task runs here")
        await asyncio.sleep(0.01)
        logger.removeHandler(old)
        old.close()  # what dictConfig does to the handlers it replaces
        made.append(AsyncPUBHandler(endpoint))  # ... then makes the new ones

    try:
        asyncio.run(reload())
    finally:
        old.close()
        for handler in made:
            handler.close()
    assert len(made) == 1


def test_a_handler_made_at_once_binds_the_endpoint_a_closed_one_let_go(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """ZeroMQ closes a socket's listener on a thread of its own, after the socket's
    close() returned, so the port stays taken a little longer. With a context of the
    caller's, which close() does not terminate, nothing waits for it: a handler made at
    once on the same endpoint must still bind it, every time (it tries again while a
    socket of this process is letting go of the port), and its subscriber hears it.
    (Without that, 200 handlers in a row rarely all bound it.)"""
    endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    for _ in range(200):
        AsyncPUBHandler(endpoint, context=context).close()  # binds, then lets go
    handler = AsyncPUBHandler(endpoint, context=context)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    try:
        logger.info("heard")
        handler.flush()
        assert receive_all(sub, quiet_ms=200) == [[b"INFO", b"heard\n"]]
    finally:
        logger.removeHandler(handler)
        sub.close(linger=0)
        handler.close()


def _hold(port: int, holders: list[socket.socket]) -> bool:
    """Listen on loopback *port* (kept in *holders*), if it is free."""
    try:
        holders.append(socket.create_server(("127.0.0.1", port)))
    except OSError:
        return False
    return True


def test_a_bind_waits_for_a_port_only_while_this_process_lets_go_of_it(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """The port of a closed handler, still held for a while (here by a plain socket
    standing in for ZeroMQ's listener, let go of 50 ms later), is waited for; a port
    that someone else holds fails at once, as it always did."""
    endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    AsyncPUBHandler(endpoint, context=context).close()
    port = int(endpoint.rsplit(":", 1)[1])
    holders: list[socket.socket] = []
    assert wait_until(lambda: _hold(port, holders), 2), "ZeroMQ kept the port"
    [holder] = holders
    timer = threading.Timer(0.05, holder.close)
    timer.start()
    try:
        started = time.monotonic()
        AsyncPUBHandler(endpoint, context=context).close()
        assert time.monotonic() - started >= 0.04  # it did wait for the holder
    finally:
        timer.cancel()
        holder.close()

    elsewhere = f"tcp://127.0.0.1:{free_tcp_port()}"
    holder = socket.create_server(("127.0.0.1", int(elsewhere.rsplit(":", 1)[1])))
    try:
        started = time.monotonic()
        with pytest.raises(zmq.ZMQError) as busy:
            AsyncPUBHandler(elsewhere, context=context)
        assert busy.value.errno == zmq.EADDRINUSE
        assert time.monotonic() - started < 0.04  # no wait for a port not ours
    finally:
        holder.close()


def test_a_stop_handler_that_closes_then_stops_the_loop_closes_the_socket(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger
) -> None:
    """The usual ``loop.add_signal_handler(SIGTERM, ...)`` callback: log, close the
    handler, ``loop.stop()``. Its records are published and the socket is closed, at
    the latest by the ``close()`` that ``logging.shutdown()`` makes at exit."""
    handler = AsyncPUBHandler(TCP)
    sub = subscriber_of(context, handler)
    logger.addHandler(handler)
    loop = asyncio.new_event_loop()

    def on_sigterm() -> None:  # signal handlers added to a loop run as its callbacks
        logger.info("stopping")
        handler.close()
        loop.stop()

    async def serve() -> None:
        logger.info("serving")
        await asyncio.sleep(0.05)
        loop.call_soon(on_sigterm)

    try:
        task = loop.create_task(serve())
        loop.run_forever()
        loop.close()
        received = receive_all(sub)
        handler.close()  # logging.shutdown() at exit
        closed = wait_until(lambda: handler._socket.closed, 2)
    finally:
        sub.close(linger=0)
        if not handler._socket.closed:
            stop = handler._scheduler.thread_runner
            if stop is not None:
                stop.stop(2)
            handler._socket.close()
            handler._socket.term_context()
    assert task.done()
    assert [m[1] for m in received] == [b"serving\n", b"stopping\n"]
    assert closed, "the socket of a closed handler stays open (and bound) for good"


@pytest.mark.parametrize("how", ["aclose", "close on the loop", "close from a thread"])
def test_a_caller_waiting_for_subscribers_learns_that_the_handler_closed(how: str) -> None:
    """A task waits for subscribers with no timeout and another closes the handler (a
    shutdown): the waiter gets ClosedResourceError, not a CancelledError that asyncio and
    task groups take for a cancellation of the waiting task itself."""
    handler = AsyncPUBHandler(TCP)

    async def main() -> BaseException | None:
        waiting = asyncio.create_task(handler.wait_for_subscribers(1, timeout=None))
        await asyncio.sleep(0.01)  # it waits now
        if how == "aclose":
            await handler.aclose()
        elif how == "close on the loop":
            handler.close()
        else:
            await asyncio.to_thread(handler.close)
        done, _ = await asyncio.wait([waiting], timeout=2)
        assert done, "the waiter still waits for subscribers of a closed handler"
        return waiting.exception() if not waiting.cancelled() else asyncio.CancelledError()

    try:
        error = asyncio.run(main())
    finally:
        handler.close()
    assert isinstance(error, ClosedResourceError), repr(error)

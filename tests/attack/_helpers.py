"""Shared by the attack tests: a subscriber the handler has seen, and bounded waits.

Every test in tests/attack reproduces a fault an adversarial review found in the drain
restructuring (ff5f415, 38d33d4), each fixed since; they stay as regression tests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import zmq

from zmqlog import AsyncPUBHandler
from zmqlog.wire import _json

TCP = "tcp://127.0.0.1:*"


def subscriber_of(
    context: zmq.Context[zmq.Socket[bytes]], handler: AsyncPUBHandler, hwm: int = 0
) -> zmq.Socket[bytes]:
    """A SUB socket connected to *handler*, whose subscription the handler has seen."""
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, hwm)
    sub.setsockopt(zmq.LINGER, 0)
    sub.subscribe(b"")
    sub.connect(handler.socket.getsockopt_string(zmq.LAST_ENDPOINT))
    assert handler.socket.poll(5000, zmq.POLLIN)  # the subscription has arrived
    return sub


def receive_all(sub: zmq.Socket[bytes], quiet_ms: int = 500) -> list[list[bytes]]:
    """Every message until the subscriber has been quiet for *quiet_ms*."""
    messages = []
    while sub.poll(quiet_ms):
        messages.append(sub.recv_multipart())
    return messages


def receive_exactly(sub: zmq.Socket[bytes], n: int) -> list[list[bytes]]:
    """Exactly *n* messages (each waited for at most 5 s), then nothing more."""
    messages: list[list[bytes]] = []
    for _ in range(n):
        assert sub.poll(5000), f"only {len(messages)} of {n} messages arrived"
        messages.append(sub.recv_multipart())
    assert not sub.poll(50)
    return messages


def wait_until(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    """Poll *condition* (bounded); whether it became true."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class WriterSpy:
    """Stands in for the drain's TypicalWriter, counting the payloads it wrote itself."""

    def __init__(self, writer: _json.TypicalWriter) -> None:
        self.writer = writer
        self.written = 0

    def payload(self, record: logging.LogRecord, seq: int) -> bytearray | None:
        written = self.writer.payload(record, seq)
        self.written += written is not None
        return written


def strict_json(payload: bytes) -> dict[str, Any]:
    """*payload* as a conforming reader reads it: UTF-8, and JSON without NaN/Infinity."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    obj = json.loads(payload.decode("utf-8"), parse_constant=refuse)
    assert type(obj) is dict
    return obj


def spy_on(handler: AsyncPUBHandler) -> WriterSpy:
    """Put a :class:`WriterSpy` in place of *handler*'s JSON writer, and return it."""
    writer = handler._renderer.typical
    assert writer is not None
    spy = WriterSpy(writer)
    handler._renderer.typical = spy  # type: ignore[assignment]
    return spy


@contextlib.contextmanager
def spied_json_handler(
    context: zmq.Context[zmq.Socket[bytes]], **options: Any
) -> Iterator[tuple[AsyncPUBHandler, zmq.Socket[bytes], WriterSpy]]:
    """A JSON handler on loopback (with *options*), a subscriber it has seen, and a spy
    on its writer; all closed afterwards."""
    handler = AsyncPUBHandler(TCP, wire_format="json", linger=0, **options)
    try:
        spy = spy_on(handler)
        sub = subscriber_of(context, handler)
        try:
            yield handler, sub, spy
        finally:
            sub.close()
    finally:
        handler.close()

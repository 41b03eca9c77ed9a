"""Shared by the attack tests: a subscriber the handler has seen, and bounded waits.

Every test in tests/attack reproduces a fault an adversarial review found in the drain
restructuring (ff5f415, 38d33d4), each fixed since; they stay as regression tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import zmq

from zmqlog import AsyncPUBHandler

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


def wait_until(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    """Poll *condition* (bounded); whether it became true."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True

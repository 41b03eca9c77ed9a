"""Glue between ZeroMQ sockets and the asyncio event loop.

ZeroMQ exposes one file descriptor per socket that becomes readable when the
socket's state *may* have changed (and when it has commands to process, such as a
new peer to attach). The real state is in the ``EVENTS`` option, and reading
``EVENTS`` processes those commands and re-arms the descriptor. zmqlog keeps the
descriptor registered with ``loop.add_reader`` for a socket's whole life, reads
``EVENTS`` on every wake-up, and does its I/O with non-blocking calls: no future and
no await for an operation that ZeroMQ completes at once.
"""

from __future__ import annotations

from typing import cast

import zmq

__all__ = ["events"]


def events(sock: zmq.Socket[bytes]) -> int:
    """Return the socket's ``EVENTS`` bits (and re-arm its file descriptor)."""
    return cast(int, sock.getsockopt(zmq.EVENTS))

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

from typing import Any, cast

import zmq

__all__ = ["events", "set_keepalive"]


def events(sock: zmq.Socket[bytes]) -> int:
    """Return the socket's ``EVENTS`` bits (and re-arm its file descriptor)."""
    return cast(int, sock.getsockopt(zmq.EVENTS))


def set_keepalive(sock: zmq.Socket[Any], heartbeat: float | None) -> None:
    """Turn on TCP keepalive, and ZMTP heartbeats every *heartbeat* seconds if given.

    TCP keepalive is answered by the peer's kernel, so it finds a vanished host (in
    about 60 + 3 x 10 s) without ever dropping a peer that is merely slow to read.
    ZMTP heartbeats find a dead peer within three intervals but drop a stalled one too.
    """
    sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
    sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, 60)
    sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, 10)
    sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, 3)
    if heartbeat:
        ivl = max(1, int(heartbeat * 1000))
        sock.setsockopt(zmq.HEARTBEAT_IVL, ivl)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * ivl)
        sock.setsockopt(zmq.HEARTBEAT_TTL, 3 * ivl)

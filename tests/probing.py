"""Bounded receives and a slow-joiner probe for synchronous tests (no event loop, no sleep)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
import zmq

#: Seconds a receive, or the wait for the first probe record, may take before failing.
WAIT_S = 5.0
# The subtopic must be in the message itself: pyzmq splits msg, not the formatted text.
PROBE = "zmqlog-probe"
PROBE_END = "zmqlog-probe-end"
PROBE_MSG = f"{PROBE}::probe"
PROBE_END_MSG = f"{PROBE_END}::end"


@dataclass
class Peer:
    """A receiving socket; *skip* leading frames (a ROUTER's identity) are dropped."""

    socket: zmq.Socket[bytes]
    skip: int = 0

    def recv(self, waiting_for: str = "") -> list[bytes]:
        """Receive one message, failing the test when none arrives within ``WAIT_S``.

        Needs the socket's ``RCVTIMEO`` set (see :func:`bounded`); *waiting_for* goes
        into the failure message.
        """
        try:
            return self.socket.recv_multipart()[self.skip :]
        except zmq.Again:
            pass
        pytest.fail(f"nothing arrived within {WAIT_S} s {waiting_for}".rstrip(), pytrace=False)

    def ready(self, timeout_ms: int) -> bool:
        """True when a message is waiting (without receiving it)."""
        return bool(self.socket.poll(timeout_ms, zmq.POLLIN))


def bounded(sock: zmq.Socket[bytes]) -> zmq.Socket[bytes]:
    """Set linger 0 and a receive timeout of ``WAIT_S`` on *sock*; return it."""
    sock.linger = 0
    sock.rcvtimeo = int(WAIT_S * 1000)
    return sock


def beat_slow_joiner(logger: logging.Logger, peers: Sequence[Peer]) -> None:
    """Log INFO probe records until each peer has one, then discard every probe.

    A SUB socket's subscription reaches the publisher some time after connect(); records
    published before it are lost. Instead of sleeping, this waits until a probe arrives,
    then logs an end marker and receives up to it, so that the next message each peer
    receives is the test's own. The probes carry the handler's current root topic and
    an INFO topic, so every peer must subscribe to a prefix of ``<root>.INFO``.
    """
    deadline = time.monotonic() + WAIT_S
    waiting = list(peers)
    while waiting:
        if time.monotonic() > deadline:
            pytest.fail(
                f"no probe record arrived within {WAIT_S} s: the handler published nothing",
                pytrace=False,
            )
        logger.info(PROBE_MSG)
        waiting = [peer for peer in waiting if not peer.ready(20)]
    logger.info(PROBE_END_MSG)
    for peer in peers:
        while True:
            topic = peer.recv()[0]
            if topic.endswith(PROBE_END.encode()):
                break
            assert topic.endswith(PROBE.encode()), topic

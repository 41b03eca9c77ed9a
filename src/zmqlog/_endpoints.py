"""Turning ZeroMQ's bind/connect errors into one line a command-line user can act on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import zmq

__all__ = ["endpoint_error"]

# pyzmq appends " (addr='...')" to the errors of bind() and connect().
_ADDR: Final = re.compile(r"\s*\(addr='(?P<addr>[^']*)'\)\s*$")


def endpoint_error(verb: str, error: zmq.ZMQError, endpoints: Sequence[str]) -> str:
    """Return ``"cannot <verb> <endpoint>: <reason>"`` for a failed bind or connect.

    The failing endpoint is the one pyzmq names in the error; when it names none, all
    of *endpoints* are listed. A malformed endpoint gets a reminder of the syntax.
    """
    reason = error.strerror or str(error)
    match = _ADDR.search(reason)
    if match:
        endpoint = match["addr"]
        reason = reason[: match.start()]
    else:
        endpoint = ", ".join(endpoints)
    if error.errno in (zmq.EINVAL, zmq.EPROTONOSUPPORT):
        reason += " (expected e.g. tcp://127.0.0.1:5555, ipc:///tmp/app.log or inproc://name)"
    return f"cannot {verb} {endpoint}: {reason}"

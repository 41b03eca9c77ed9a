"""Turning ZeroMQ's bind/connect errors into one line a command-line user can act on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import zmq

__all__ = ["endpoint_error", "endpoint_problem"]

# pyzmq appends " (addr='...')" to the errors of bind() and connect().
_ADDR: Final = re.compile(r"\s*\(addr='(?P<addr>[^']*)'\)\s*$")
_TCP_PORT: Final = re.compile(r"tcp://.*:(?P<port>[0-9]+)", re.ASCII)
_MAX_PORT: Final = 65535


def endpoint_problem(endpoint: str) -> str | None:
    """Say what is wrong with *endpoint* that ZeroMQ would not report, or return None.

    ZeroMQ takes a TCP port above 65535 modulo 65536 (``:99999`` is port 34463), and
    pyzmq raises ``UnicodeEncodeError`` for text that is not UTF-8 (a command-line
    argument of undecodable bytes).
    """
    try:
        endpoint.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 text"
    tcp = _TCP_PORT.fullmatch(endpoint)
    if tcp and (len(tcp["port"]) > 5 or int(tcp["port"]) > _MAX_PORT):
        return f"has port {tcp['port']}, above {_MAX_PORT} (ZeroMQ would wrap it round)"
    return None


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

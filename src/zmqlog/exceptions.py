"""Errors raised by zmqlog.

Every error zmqlog raises on its own account derives from :class:`ZmqlogError`, so
``except zmqlog.ZmqlogError`` catches them all. Errors from ZeroMQ itself (a bind to
a port in use, a malformed endpoint) pass through unchanged as ``zmq.ZMQError``.
"""

from __future__ import annotations

__all__ = ["ClosedResourceError", "UsageError", "ZmqlogError"]


class ZmqlogError(Exception):
    """Base class of every error zmqlog raises itself."""


class UsageError(ZmqlogError, ValueError):
    """An argument or call sequence zmqlog cannot work with; the message names the fix."""


class ClosedResourceError(ZmqlogError):
    """The publisher, handler or subscriber was already closed."""

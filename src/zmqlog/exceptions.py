"""Errors raised by zmqlog.

Every error zmqlog raises on its own account derives from :class:`ZmqlogError`, so
``except zmqlog.ZmqlogError`` catches them all. Errors from ZeroMQ itself (a bind to
a port in use, a malformed endpoint) pass through unchanged as ``zmq.ZMQError``.
"""

from __future__ import annotations

import os

__all__ = ["ClosedResourceError", "KeyFileError", "UsageError", "ZmqlogError"]


class ZmqlogError(Exception):
    """Base class of every error zmqlog raises itself."""


class UsageError(ZmqlogError, ValueError):
    """An argument or call sequence zmqlog cannot work with; the message names the fix."""


class ClosedResourceError(ZmqlogError):
    """The publisher, handler or subscriber was already closed."""


class KeyFileError(ZmqlogError):
    """A CURVE key file is missing, readable by others, or malformed.

    The message starts with the file's path and says what to do about it; the path is
    also in :attr:`path`.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        """The key file (or key directory) at fault."""
        self.reason = reason
        """What is wrong with it, and the fix."""
        super().__init__(f"key file {self.path}: {reason}")

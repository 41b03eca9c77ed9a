"""A non-blocking ZeroMQ send that keeps the GIL, for the drain's thread.

pyzmq releases the GIL around every send, which is right for a send that may wait.
The drain's sends never wait (``NOBLOCK``), and on a thread of its own releasing the
GIL twice per record is ruinous: each time, another thread running Python code (a
program logging in a loop) takes the GIL and keeps it for the switch interval, 5 ms.
Measured on this project's 2-vCPU machine, a program logging 200,000 records in a
tight loop: the drain thread sent 16,924 of them during the loop and the queue
overflowed (83,454 dropped); with this send, it kept up (0 dropped).

libzmq's ``zmq_send``, called through :class:`ctypes.PyDLL`, keeps the GIL. It must be
the very libzmq pyzmq loaded (a socket of one libzmq is nothing to another), so the
library is found among the files this process has mapped, and only where that can
be known (Linux); elsewhere, or if anything about it does not check out, :func:`make`
returns None and the drain uses pyzmq's send.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from typing import Any, Final

import zmq

__all__ = ["Send", "make"]

Send = Callable[[zmq.Socket[Any], bytes | bytearray, int], None]
"""Send one frame: raises ``zmq.Again`` when the socket refuses, ``zmq.ZMQError`` on failure."""

_EINTR: Final = 4


def _mapped_libzmq() -> str | None:
    """The path of the libzmq this process has loaded (Linux), or None."""
    try:
        with open(f"/proc/{os.getpid()}/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
                if "libzmq" in os.path.basename(path) and ".so" in path:
                    return path
    except OSError:
        return None
    return None


def make() -> Send | None:
    """A GIL-keeping send on pyzmq's own libzmq, or None where there is none to be had."""
    if not sys.platform.startswith("linux"):
        return None
    path = _mapped_libzmq()
    if path is None:
        return None
    try:
        lib = ctypes.PyDLL(path)
        major, minor, patch = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        lib.zmq_version(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
        if (major.value, minor.value, patch.value) != zmq.zmq_version_info():
            return None  # not the libzmq pyzmq runs on
        zmq_send = lib.zmq_send
        zmq_send.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int)
        zmq_send.restype = ctypes.c_int
        zmq_errno = lib.zmq_errno
        zmq_errno.argtypes = ()
        zmq_errno.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    again = zmq.EAGAIN

    def send(sock: zmq.Socket[Any], frame: bytes | bytearray, flags: int) -> None:
        handle = sock.underlying
        if type(frame) is not bytes:
            # ctypes passes only bytes as a char pointer; the JSON writer's buffer is
            # copied here, as pyzmq's send would copy it into the message.
            frame = bytes(frame)
        while zmq_send(handle, frame, len(frame), flags) < 0:
            errno = zmq_errno()
            if errno == again:
                raise zmq.Again(errno)
            if errno != _EINTR:
                raise zmq.ZMQError(errno)

    return send

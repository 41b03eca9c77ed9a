"""Shared fixtures: isolated loggers, and ZeroMQ contexts that are always torn down."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterator

import pytest
import zmq

from zmqlog import AsyncPUBHandler

_names = itertools.count()


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A fresh DEBUG logger that does not propagate, stripped of handlers afterwards."""
    log = logging.getLogger(f"zmqlog.tests.{next(_names)}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


@pytest.fixture
def context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    """A ZeroMQ context whose sockets are closed with linger 0 after the test."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def anyio_backend() -> str:
    """zmqlog is asyncio-native; anyio-marked tests run on asyncio."""
    return "asyncio"


def make_record(
    msg: object,
    *args: object,
    level: int = logging.INFO,
    name: str = "app",
    exc_info: logging._SysExcInfoType | None = None,
) -> logging.LogRecord:
    """A LogRecord as a logging call in this file would create it."""
    return logging.LogRecord(name, level, __file__, 42, msg, args or None, exc_info, "func")


@contextlib.contextmanager
def held_drain(handler: AsyncPUBHandler) -> Iterator[None]:
    """Keep *handler*'s drain from sending while the block runs (a test of the queue
    itself): no loop task or drain thread renders a record until it ends."""
    drain = handler._drain
    assert drain.acquire(timeout=5)
    try:
        yield
    finally:
        if drain.held_here():  # not in a forked child, which let go
            drain.release()

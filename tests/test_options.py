"""Every option of a publisher is checked when it is made, with a message naming the fix."""

from __future__ import annotations

import gc
import logging
import warnings
from pathlib import Path
from typing import Any

import pytest
import zmq

import zmqlog
from zmqlog import AsyncPUBHandler, KeyFileError, LogPublisher, UsageError

TCP = "tcp://127.0.0.1:*"

BAD = [
    ({"root_topic": 5}, TypeError, "root_topic must be a str, not int"),
    ({"flush_timeout": "x"}, TypeError, "flush_timeout must be a number, not str 'x'"),
    ({"heartbeat": "x"}, TypeError, "heartbeat must be a number, not str 'x'"),
    ({"sndhwm": -5}, UsageError, "sndhwm must be at least 0, not -5"),
    ({"sndhwm": 1.5}, TypeError, "sndhwm must be an integer, not float 1.5"),
    ({"linger": -1}, UsageError, "linger must be at least 0, not -1"),
    ({"send_timeout": -0.5}, UsageError, "send_timeout must be at least 0, not -0.5"),
    ({"send_timeout": float("nan")}, UsageError, "send_timeout must be at least 0, not nan"),
    ({"max_queue": 0}, UsageError, "max_queue must be a positive number of records"),
    ({"max_queue_bytes": 0}, UsageError, "max_queue_bytes must be a positive number of bytes"),
    ({"overflow": "block"}, UsageError, "overflow must be one of 'drop_newest', 'drop_oldest'"),
    ({"max_payload": 10}, UsageError, "max_payload must be at least 1024 bytes"),
    ({"wire_format": "xml"}, UsageError, "wire_format must be 'text' or 'json'"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD, ids=[next(iter(k)) for k, *_ in BAD])
def test_the_handler_names_the_option_and_the_fix(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """A bad option is one clear error from the constructor."""
    with pytest.raises(error, match=message.replace("(", r"\(")):
        AsyncPUBHandler(TCP, **kwargs)


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD, ids=[next(iter(k)) for k, *_ in BAD])
def test_the_publisher_names_the_option_when_it_is_made(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """LogPublisher reports the same mistakes where it is created, not at ``async with``,
    and leaves nothing behind that could fail later (at exit, say)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(error, match=message.replace("(", r"\(")):
            LogPublisher(TCP, **kwargs)
        gc.collect()


def test_a_key_file_error_comes_from_the_publishers_constructor(tmp_path: Path) -> None:
    """As the README says: when the publisher is created, naming the file."""
    missing = tmp_path / "server.key_secret"
    with pytest.raises(KeyFileError, match=r"server\.key_secret"):
        LogPublisher(TCP, curve_secret_key_file=missing)


def test_a_port_zeromq_would_wrap_round_is_refused() -> None:
    """tcp://...:99999 would bind port 34463 without a word; it is an error instead."""
    with pytest.raises(UsageError, match="has port 99999, above 65535"):
        AsyncPUBHandler("tcp://127.0.0.1:99999")
    with pytest.raises(UsageError, match="has port 99999, above 65535"):
        LogPublisher("tcp://127.0.0.1:99999")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"level": "LOUD"}, UsageError, "level must be a level name such as 'INFO'"),
        ({"level": 1.5}, TypeError, "level must be a level name or a number, not float"),
        ({"logger": 5}, TypeError, "logger must be a logging.Logger, a logger's name or None"),
    ],
)
def test_the_publishers_own_options_are_checked_too(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """The logger and level a publisher attaches to."""
    with pytest.raises(error, match=message):
        LogPublisher(TCP, **kwargs)


async def test_the_endpoint_stays_readable_after_the_publisher_closed(
    logger: logging.Logger,
) -> None:
    """pub.endpoint names the port it bound even once the socket is gone."""
    async with LogPublisher(TCP, logger=logger) as pub:
        inside = pub.endpoint
    assert pub.endpoint == inside
    assert inside.startswith("tcp://127.0.0.1:")
    assert not inside.endswith(":*")


async def test_wait_for_subscribers_refuses_a_negative_timeout(logger: logging.Logger) -> None:
    """A negative timeout is a mistake, not an instant timeout."""
    async with LogPublisher(TCP, logger=logger) as pub:
        with pytest.raises(UsageError, match="timeout must be at least 0, not -1"):
            await pub.wait_for_subscribers(1, timeout=-1)


def test_the_handler_accepts_what_pyzmq_accepts(context: zmq.Context[Any]) -> None:
    """A bytes endpoint and a bytes root topic, as pyzmq's PUBHandler takes them."""
    handler = zmqlog.AsyncPUBHandler(b"inproc://options", context, b"raw")
    try:
        assert handler.root_topic == "raw"
    finally:
        handler.close()

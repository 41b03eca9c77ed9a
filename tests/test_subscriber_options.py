"""LogSubscriber's arguments: each mistake is refused when it is made, naming the option."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anyio
import pytest
import zmq

import zmqlog
from zmqlog import KeyFileError, LogSubscriber, UsageError

EP = "tcp://127.0.0.1:1"  # never connected to: the constructor does no I/O


@pytest.mark.parametrize(
    ("endpoint", "error", "message"),
    [
        (5561, TypeError, "endpoint must be a str such as 'tcp://127.0.0.1:5555'.*not int"),
        (None, TypeError, "endpoint must be a str.*not NoneType"),
        ([5561], TypeError, "the list holds int 5561"),
        (["tcp://127.0.0.1:1", None], TypeError, "the list holds NoneType None"),
        ([], UsageError, "at least one endpoint"),
    ],
    ids=["int", "None", "list of int", "list with None", "empty"],
)
def test_a_wrong_endpoint_is_refused(endpoint: Any, error: type[Exception], message: str) -> None:
    """LogSubscriber(5561) says what an endpoint is, not "'int' object is not iterable"."""
    with pytest.raises(error, match=message):
        LogSubscriber(endpoint)


@pytest.mark.parametrize(
    ("topics", "error", "message"),
    [
        ([], UsageError, "topics is empty, so nothing would be received"),
        ((), UsageError, "topics is empty"),
        (5, TypeError, "topics must be a topic prefix .str. or a list of them, not int"),
        (["app", 5], TypeError, "topics holds 5; each topic prefix is a str"),
        ([None], TypeError, "topics holds None"),
    ],
    ids=["empty list", "empty tuple", "int", "list with int", "list with None"],
)
def test_wrong_topics_are_refused(topics: Any, error: type[Exception], message: str) -> None:
    """An empty list would receive nothing, silently: it is refused, as are non-topics."""
    with pytest.raises(error, match=message):
        LogSubscriber(EP, topics=topics)


WRONG_OPTIONS = [
    ("max_message_size", "x", TypeError, "max_message_size must be an int .a number of bytes"),
    ("max_message_size", True, TypeError, "max_message_size must be an int"),
    ("max_message_size", 1.5, TypeError, "max_message_size must be an int"),
    ("max_message_size", 0, UsageError, "max_message_size must be from 1 to"),
    ("max_message_size", -1, UsageError, "max_message_size must be from 1 to"),
    ("rcvhwm", "x", TypeError, "rcvhwm must be an int .a number of messages"),
    ("rcvhwm", 0, UsageError, "rcvhwm must be from 1 to 2,147,483,647 messages, not 0"),
    ("rcvhwm", -5, UsageError, "rcvhwm must be from 1"),
    ("rcvhwm", 2**31, UsageError, "rcvhwm must be from 1 to 2,147,483,647"),
    ("heartbeat", "x", TypeError, "heartbeat must be a number of seconds or None"),
    ("heartbeat", True, TypeError, "heartbeat must be a number of seconds"),
    ("heartbeat", 0, UsageError, "heartbeat must be from 0.001 to .* or None"),
    ("heartbeat", -1, UsageError, "heartbeat must be from 0.001"),
    ("heartbeat", float("nan"), UsageError, "heartbeat must be from 0.001"),
    ("heartbeat", float("inf"), UsageError, "heartbeat must be from 0.001"),
    ("heartbeat", 10**9, UsageError, "heartbeat must be from 0.001 to 2,184 seconds"),
    ("root_topic", 5, TypeError, "root_topic must be a str or None, not int"),
    ("context", "ctx", TypeError, "context must be a zmq.Context or None, not str"),
    ("wire_format", "xml", UsageError, "wire_format must be 'auto', 'text' or 'json'"),
]


@pytest.mark.parametrize(
    ("option", "value", "error", "message"),
    WRONG_OPTIONS,
    ids=[f"{option}={value!r}" for option, value, *_ in WRONG_OPTIONS],
)
def test_a_wrong_option_is_refused_naming_it(
    option: str, value: object, error: type[Exception], message: str
) -> None:
    """Each option is checked in the constructor, with the option's name in the message."""
    with pytest.raises(error, match=message):
        LogSubscriber(EP, **{option: value})


@pytest.mark.parametrize(
    "options",
    [
        {"max_message_size": 1},
        {"rcvhwm": 1},
        {"rcvhwm": 2**31 - 1},
        {"heartbeat": 0.001},
        {"heartbeat": 30},
        {"heartbeat": None},
        {"root_topic": "app"},
        {"topics": b"app"},
        {"topics": [b"a", "b", bytearray(b"c")]},
    ],
    ids=repr,
)
def test_values_at_the_bounds_are_accepted(options: dict[str, Any]) -> None:
    """The checks refuse only what cannot work."""
    LogSubscriber(EP, **options)


def test_a_missing_key_file_is_refused_by_the_constructor(tmp_path: Path) -> None:
    """KeyFileError comes from LogSubscriber(...) itself, before any socket exists."""
    missing = tmp_path / "server.key"
    with pytest.raises(KeyFileError, match="does not exist") as info:
        LogSubscriber(EP, curve_server_key_file=missing)
    assert info.value.path == str(missing)


async def _subscriptions_and_messages(
    context: zmq.Context[zmq.Socket[bytes]], endpoint: Any, **options: Any
) -> tuple[bytes, list[str]]:
    """The subscription the subscriber sends, and which of four topics it then receives."""
    xpub = context.socket(zmq.XPUB)
    xpub.bind("inproc://options")
    try:
        async with LogSubscriber(endpoint, context=context, **options) as sub:
            assert await asyncio.to_thread(xpub.poll, 5000)
            subscription = xpub.recv()
            for topic in (b"app.DEBUG", b"app.INFO", b"app.INFO.db", b"other.INFO"):
                xpub.send_multipart([topic, b"x\n"])
            xpub.send_multipart([b"app.INFO", b"last\n"])
            topics: list[str] = []
            with anyio.fail_after(5):
                while (message := await sub.receive()).text != "last\n":
                    topics.append(message.topic)
            assert xpub.poll(0) == 0  # no other subscription came
            return subscription, topics
    finally:
        xpub.close(linger=0)


async def test_a_str_topic_is_one_topic_not_its_characters(
    context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """topics="app.INFO" subscribes to app.INFO: not to "a", "p", ... (which get app.DEBUG)."""
    subscriptions, topics = await _subscriptions_and_messages(
        context, "inproc://options", topics="app.INFO"
    )
    assert subscriptions == b"\x01app.INFO"
    assert topics == ["app.INFO", "app.INFO.db"]


async def test_a_bytes_endpoint_is_one_endpoint(context: zmq.Context[zmq.Socket[bytes]]) -> None:
    """b"inproc://..." works as pyzmq's connect() takes it, not as a list of numbers."""
    subscriptions, topics = await _subscriptions_and_messages(context, b"inproc://options")
    assert subscriptions == b"\x01"
    assert topics == ["app.DEBUG", "app.INFO", "app.INFO.db", "other.INFO"]
    assert zmqlog.LogSubscriber([b"inproc://a", "inproc://b"]).endpoints == [
        "inproc://a",
        "inproc://b",
    ]


def test_a_port_zeromq_would_wrap_round_is_refused() -> None:
    """tcp://...:99999 would connect to port 34463 without a word; it is an error."""
    with pytest.raises(UsageError, match="has port 99999, above 65535"):
        LogSubscriber("tcp://127.0.0.1:99999")

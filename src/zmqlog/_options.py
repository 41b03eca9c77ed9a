"""A publisher's options, checked before anything exists.

``AsyncPUBHandler`` checks its arguments here before it registers with ``logging`` or
makes a socket, so a mistake leaves nothing behind; ``LogPublisher`` checks the same
arguments when it is created, so a mistake is reported at the line that made it
rather than at ``async with``. ``LogSubscriber`` shares the limits and the checks of
the options both sides take. Each error names the option and what would be right
(``TypeError`` for a wrong type, as the standard library does; ``UsageError`` for a
wrong value; ``KeyFileError`` for a key file).
"""

from __future__ import annotations

import logging
from typing import Any, Final, NamedTuple

import zmq

from zmqlog._endpoints import endpoint_problem
from zmqlog._queue import RecordQueue, check_overflow
from zmqlog._records import RECORD_OVERHEAD, Item, charge
from zmqlog._security import AuthorizedKeys, KeyPath, Security, publisher_security
from zmqlog.exceptions import UsageError

__all__ = [
    "MAX_HEARTBEAT",
    "MAX_INT32",
    "MAX_SECONDS",
    "Checked",
    "check_context",
    "check_flag",
    "check_level",
    "check_publisher",
    "check_root_topic",
    "check_socket_options",
    "number",
    "utf8_text",
]

MAX_INT32: Final = (1 << 31) - 1
"""The largest count ZeroMQ takes (a C int): high-water marks, for one."""
MAX_SECONDS: Final = MAX_INT32 // 1000
"""The longest duration an option takes (about 24.8 days): ZeroMQ takes milliseconds as
a C int, and asyncio's and threading's waits overflow not far beyond."""
MAX_HEARTBEAT: Final = 6_553_599 // 3 // 1000
"""The longest heartbeat interval, 2,184 s: a peer is given three intervals
(HEARTBEAT_TTL), which ZeroMQ holds in tenths of a second in 16 bits (6,553,599 ms)."""


def number(
    name: str,
    value: object,
    *,
    minimum: float = 0,
    maximum: int | None = None,
    integer: bool = False,
) -> Any:
    """*value* if it is a number of the right kind, from *minimum* to *maximum*; else an
    error. A number that is not *integer* is a duration: at most :data:`MAX_SECONDS`
    unless *maximum* says otherwise (so never infinite)."""
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise TypeError(f"{name} must be {kind}, not {type(value).__name__} {value!r}")
    if not value >= minimum:  # type: ignore[operator]  # also False for NaN
        raise UsageError(f"{name} must be at least {minimum:g}, not {value!r}")
    if maximum is None and not integer:
        maximum = MAX_SECONDS
    if maximum is not None and value > maximum:  # type: ignore[operator]
        unit = "" if integer else " seconds"
        raise UsageError(f"{name} must be at most {maximum:,}{unit}, not {value!r}")
    return value


def check_flag(name: str, value: object) -> None:
    """*value* must be True or False: ``bind="false"`` from a configuration file would
    otherwise count as true, and ``bind=None`` connect."""
    if type(value) is not bool:
        raise TypeError(f"{name} must be True or False, not {value!r}")


def check_context(context: object) -> None:
    """*context* must be a ``zmq.Context`` or None, rather than fail deep inside ZeroMQ."""
    if context is not None and not isinstance(context, zmq.Context):
        raise TypeError(f"context must be a zmq.Context or None, not {type(context).__name__}")


def check_socket_options(*, bind: object, lossless: object, context: object) -> None:
    """Check the options of a socket made from an endpoint, which ZeroMQ would otherwise
    meet first (``bind=None`` connecting, a context that is none failing deep inside)."""
    check_flag("bind", bind)
    check_flag("lossless", lossless)
    check_context(context)


def utf8_text(name: str, value: bytes) -> str:
    """*value* (an option given as bytes) decoded as UTF-8, or a ``UsageError`` naming it."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name} {value!r} is not valid UTF-8 text; pass a str") from None


def check_root_topic(root_topic: object) -> str:
    """*root_topic* as a str: bytes are decoded as UTF-8, as pyzmq does."""
    if isinstance(root_topic, bytes):
        root_topic = utf8_text("root_topic", root_topic)
    if not isinstance(root_topic, str):
        raise TypeError(f"root_topic must be a str, not {type(root_topic).__name__}")
    return root_topic


def check_level(level: object) -> int:
    """*level* as a number: a level's number, or a name ``logging`` knows (``"WARNING"``)."""
    if isinstance(level, str):
        number = logging.getLevelName(level)
        if not isinstance(number, int):
            raise UsageError(
                f"level must be a level name such as 'INFO' or a number, not {level!r}"
            )
        return number
    if type(level) is not int:
        raise TypeError(f"level must be a level name or a number, not {type(level).__name__}")
    return level


class Checked(NamedTuple):
    """What a publisher was asked for, checked and in the form the handler uses."""

    target: str | zmq.Socket[Any]
    """The endpoint to bind or connect (decoded if it was bytes), or the caller's socket."""
    root_topic: str
    queue: RecordQueue[Item]
    linger_ms: int
    security: Security
    json: bool


def check_publisher(
    interface_or_socket: object,
    *,
    root_topic: object,
    sndhwm: object,
    linger: object,
    max_queue: object,
    max_queue_bytes: object,
    overflow: object,
    send_timeout: object,
    heartbeat: object,
    max_payload: object,
    flush_timeout: object,
    curve_secret_key_file: KeyPath | None,
    authorized_keys: AuthorizedKeys | None,
    curve_server_key_file: KeyPath | None,
    wire_format: object,
    single_frame: object = False,
) -> Checked:
    """Check every option of ``AsyncPUBHandler``; key files are read here.

    Raises:
        TypeError: an option of the wrong type.
        UsageError: an option with a value that cannot work, or options that cannot
            work together.
        KeyFileError: a key file that is missing, readable by others or malformed.
    """
    target = interface_or_socket
    if isinstance(target, bytes):
        target = utf8_text("endpoint", target)
    if not isinstance(target, (str, zmq.Socket)):
        raise UsageError(
            "AsyncPUBHandler takes an endpoint string such as 'tcp://127.0.0.1:5555' "
            f"or a zmq socket that sends, not {type(target).__name__}"
        )
    if isinstance(target, str):
        problem = endpoint_problem(target)
        if problem is not None:
            raise UsageError(f"endpoint {target!r} {problem}")
    root_topic = check_root_topic(root_topic)
    if wire_format not in ("text", "json"):
        raise UsageError(f"wire_format must be 'text' or 'json', not {wire_format!r}")
    if type(single_frame) is not bool:
        raise TypeError(f"single_frame must be True or False, not {single_frame!r}")
    queue: RecordQueue[Item] = RecordQueue(
        max_queue,  # type: ignore[arg-type]  # checked there
        check_overflow(overflow),
        max_bytes=max_queue_bytes,  # type: ignore[arg-type]
        per_item=RECORD_OVERHEAD,
        charge=charge,
    )
    number("sndhwm", sndhwm, integer=True, maximum=MAX_INT32)
    linger_ms = int(number("linger", linger) * 1000)
    number("send_timeout", send_timeout)
    number("flush_timeout", flush_timeout)
    if heartbeat is not None:
        number("heartbeat", heartbeat, maximum=MAX_HEARTBEAT)
    if number("max_payload", max_payload, integer=True) < 1024:
        raise UsageError(f"max_payload must be at least 1024 bytes, not {max_payload!r}")
    security = publisher_security(curve_secret_key_file, authorized_keys, curve_server_key_file)
    if isinstance(target, zmq.Socket) and security.enabled:
        raise UsageError(
            "the curve_* options apply to a socket AsyncPUBHandler makes from an endpoint; "
            "set the CURVE options on your own socket before binding it"
        )
    return Checked(target, root_topic, queue, linger_ms, security, wire_format == "json")

"""LogPublisher: one ``async with`` that publishes a logger's records."""

from __future__ import annotations

import functools
import logging
import sys
from types import TracebackType
from typing import Any

import zmq
import zmq.asyncio

from zmqlog._handler import AsyncPUBHandler
from zmqlog._options import check_publisher, check_socket_options, utf8_text
from zmqlog._queue import HandlerStats, Overflow
from zmqlog._security import AuthorizedKeys, KeyPath
from zmqlog.exceptions import UsageError
from zmqlog.wire import WireFormat

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["LogPublisher"]


class LogPublisher:
    """Publish a logger's records on a ZeroMQ socket for the duration of a block.

    ::

        async with LogPublisher("tcp://127.0.0.1:5555", root_topic="myapp") as pub:
            await pub.wait_for_subscribers(1, timeout=5)   # optional: beat the slow joiner
            logging.getLogger("myapp").info("ready")

    Entering creates an XPUB socket, binds it (or connects, with ``bind=False``),
    attaches an :class:`AsyncPUBHandler` to *logger* and starts its drain task.
    Leaving detaches the handler, publishes everything still queued (for at most
    *flush_timeout* seconds) and closes the socket, letting ZeroMQ deliver for at most
    *linger* seconds more.

    Args:
        endpoint: where to bind or connect, e.g. ``"tcp://127.0.0.1:5555"``,
            ``"tcp://127.0.0.1:*"`` (any free port: see :attr:`endpoint`) or ``"ipc:///tmp/app.log"``.
        root_topic: the first component of every topic.
        logger: the logger to attach to: a ``logging.Logger``, a logger name, or None
            for the root logger.
        level: the handler's level; records below it are not published.
        bind: bind (default) or connect.
        context: the ZeroMQ context to use (needed for ``inproc://``); by default the
            publisher makes its own and terminates it on exit.
        sndhwm: messages queued per subscriber before ZeroMQ drops.
        flush_timeout: seconds the exit may spend publishing queued records.
        linger: seconds ZeroMQ may spend delivering after the socket is closed.
        curve_secret_key_file: the publisher's ``NAME.key_secret``: encrypt with CURVE.
        authorized_keys: the subscribers allowed in (a directory of ``.key`` files or
            Z85 public keys); without it any client key is accepted.
        curve_server_key_file: connect (``bind=False``) as a CURVE client of the server
            holding that key, a ``zmqlog proxy`` frontend or a subscriber acting as
            server, with *curve_secret_key_file* as this publisher's own key pair.
        max_queue, max_queue_bytes, overflow, lossless, send_timeout, heartbeat,
        max_payload: see
            :class:`AsyncPUBHandler`.
        wire_format: ``"text"`` (pyzmq's format, the default) or ``"json"`` (whole
            records with sequence numbers); see :class:`AsyncPUBHandler`.
        single_frame: send each record as one frame, ``<topic>: <payload>``, for
            peers that read one frame per message (rsyslog's ``imczmq``); see
            :class:`AsyncPUBHandler`.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        root_topic: str = "",
        logger: logging.Logger | str | None = None,
        level: int | str = logging.NOTSET,
        bind: bool = True,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        sndhwm: int = 100_000,
        flush_timeout: float = 5.0,
        linger: float = 1.0,
        max_queue: int = 100_000,
        max_queue_bytes: int = 64 << 20,
        overflow: Overflow = "drop_newest",
        lossless: bool = False,
        send_timeout: float = 1.0,
        heartbeat: float | None = None,
        max_payload: int = 1 << 20,
        curve_secret_key_file: KeyPath | None = None,
        authorized_keys: AuthorizedKeys | None = None,
        curve_server_key_file: KeyPath | None = None,
        wire_format: WireFormat = "text",
        single_frame: bool = False,
    ) -> None:
        if isinstance(endpoint, bytes):
            endpoint = utf8_text("endpoint", endpoint)
        if not isinstance(endpoint, str):
            raise UsageError(
                f"endpoint must be a string such as 'tcp://127.0.0.1:5555', not {endpoint!r}"
            )
        # The handler's options, checked now as the handler will check them on entry
        # (key files included), so that a mistake is reported where the publisher is made.
        options: dict[str, Any] = {
            "root_topic": root_topic,
            "sndhwm": sndhwm,
            "linger": linger,
            "max_queue": max_queue,
            "max_queue_bytes": max_queue_bytes,
            "overflow": overflow,
            "send_timeout": send_timeout,
            "heartbeat": heartbeat,
            "max_payload": max_payload,
            "flush_timeout": flush_timeout,
            "curve_secret_key_file": curve_secret_key_file,
            "authorized_keys": authorized_keys,
            "curve_server_key_file": curve_server_key_file,
            "wire_format": wire_format,
            "single_frame": single_frame,
        }
        check_publisher(endpoint, **options)
        check_socket_options(bind=bind, lossless=lossless, context=context)
        if logger is not None and not isinstance(logger, (logging.Logger, str)):
            raise TypeError(
                f"logger must be a logging.Logger, a logger's name or None, not "
                f"{type(logger).__name__}"
            )
        if isinstance(level, str) and not isinstance(logging.getLevelName(level), int):
            raise UsageError(
                f"level must be a level name such as 'INFO' or a number, not {level!r}"
            )
        if not isinstance(level, (int, str)) or isinstance(level, bool):
            raise TypeError(f"level must be a level name or a number, not {type(level).__name__}")
        self._endpoint = endpoint
        self._logger = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
        self._level = level
        self._bind = bind
        self._flush_timeout = flush_timeout
        # The handler (and its socket) is made on entry, with these options.
        self._make_handler = functools.partial(
            AsyncPUBHandler, endpoint, context, bind=bind, lossless=lossless, **options
        )
        self._handler: AsyncPUBHandler | None = None
        self._entered = False

    @property
    def handler(self) -> AsyncPUBHandler:
        """The handler attached to the logger while the publisher is open."""
        if self._handler is None:
            raise UsageError("the publisher is not open yet; use 'async with LogPublisher(...)'")
        return self._handler

    @property
    def logger(self) -> logging.Logger:
        """The logger whose records are published."""
        return self._logger

    @property
    def endpoint(self) -> str:
        """The endpoint in use; after binding to port ``*`` it holds the real port."""
        return self._endpoint

    async def __aenter__(self) -> Self:
        if self._entered:
            raise UsageError("a LogPublisher can only be entered once; create a new one")
        self._entered = True
        handler = self._make_handler()
        if self._bind:
            # Kept, so that it stays readable after the socket is closed.
            self._endpoint = handler._socket.last_endpoint
        handler.setLevel(self._level)
        handler.start()
        self._handler = handler
        self._logger.addHandler(handler)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Detach the handler, publish what is queued and close. Safe to call twice."""
        handler = self._handler
        if handler is None:
            return
        self._logger.removeHandler(handler)
        await handler.aclose(self._flush_timeout)

    @property
    def stats(self) -> HandlerStats:
        """The handler's counters: queued, sent, dropped, errors."""
        return self.handler.stats

    async def wait_for_subscribers(self, n: int = 1, timeout: float | None = 10.0) -> int:
        """Wait until *n* subscriptions are active; return how many are.

        See :meth:`AsyncPUBHandler.wait_for_subscribers`.

        Raises:
            TimeoutError: fewer than *n* arrived within *timeout* seconds.
        """
        return await self.handler.wait_for_subscribers(n, timeout)

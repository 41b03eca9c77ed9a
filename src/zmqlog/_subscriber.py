"""LogSubscriber: receive published log records with ``async for``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import NamedTuple, cast

import zmq
from zmq.utils.monitor import recv_monitor_message

from zmqlog._aio import events, set_keepalive
from zmqlog._security import ClientSecurity, KeyPath
from zmqlog.exceptions import ClosedResourceError, UsageError
from zmqlog.wire import parse_topic

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["LogMessage", "LogSubscriber", "SubscriberStats"]


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One received log message.

    ``level`` and ``subtopic`` come from the topic (see :func:`zmqlog.wire.parse_topic`);
    ``text`` is the payload decoded as UTF-8 with undecodable bytes replaced.
    """

    topic: str
    """The whole topic, e.g. ``"myapp.WARNING.db.pool"``."""
    level: str
    """The level name taken from the topic, e.g. ``"WARNING"``."""
    subtopic: str
    """What follows the level in the topic ("" if nothing)."""
    text: str
    """The payload as text (pyzmq's format ends it with a newline)."""
    root_topic: str
    """What precedes the level in the topic ("" if nothing)."""
    payload: bytes
    """The payload frame as received."""


class SubscriberStats(NamedTuple):
    """Counters of a :class:`LogSubscriber`."""

    received: int
    """Messages delivered to the caller."""
    invalid: int
    """Messages dropped because they were not ``[topic, payload]`` frames."""


class LogSubscriber:
    """Subscribe to log messages published by zmqlog or by pyzmq's ``PUBHandler``.

    ::

        async with LogSubscriber("tcp://127.0.0.1:5555") as sub:
            async for message in sub:
                print(message.level, message.text, end="")

    PUB/SUB is at-most-once: messages published before the subscription reached the
    publisher, or while this subscriber could not keep up (past *rcvhwm* messages
    queued here and the publisher's send high-water mark), are not delivered.

    Args:
        endpoint: one endpoint or several to connect (or bind, with ``bind=True``) to.
        topics: topic prefixes to subscribe to; ``""`` (the default) is everything.
        bind: bind instead of connecting, so many publishers can connect here.
        context: a ZeroMQ context to use (needed for ``inproc://``); by default the
            subscriber makes its own and terminates it on close.
        rcvhwm: messages queued here before ZeroMQ starts dropping.
        max_message_size: bytes above which ZeroMQ refuses a message; it then drops
            the connection to that publisher, which is re-established (connect side)
            while this subscriber goes on receiving from the others.
        heartbeat: seconds between ZeroMQ heartbeats; None (default) disables them.
            See :class:`AsyncPUBHandler` for why; TCP keepalive is on regardless.
        root_topic: the publishers' root topic, if known; it makes level parsing exact
            when root topics contain level names or dots.
        curve_server_key_file: the publisher's ``NAME.key`` file: connect with CURVE
            and accept only the publisher holding the matching secret key.
        curve_secret_key_file: this subscriber's own ``NAME.key_secret`` file, for
            publishers that admit only listed keys; without it a throwaway key is used.

    Key files are checked here: a bad one raises :class:`~zmqlog.KeyFileError`. A
    publisher that refuses this subscriber (or that this subscriber refuses) shows up
    as silence: ZeroMQ keeps retrying the handshake and delivers nothing.
    """

    def __init__(
        self,
        endpoint: str | Iterable[str],
        *,
        topics: Iterable[str | bytes] = ("",),
        bind: bool = False,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        rcvhwm: int = 100_000,
        root_topic: str | None = None,
        max_message_size: int = 4 << 20,
        heartbeat: float | None = None,
        curve_server_key_file: KeyPath | None = None,
        curve_secret_key_file: KeyPath | None = None,
    ) -> None:
        self._endpoints = [endpoint] if isinstance(endpoint, str) else list(endpoint)
        if not self._endpoints:
            raise UsageError("LogSubscriber needs at least one endpoint")
        self._topics = [t.encode("utf-8") if isinstance(t, str) else bytes(t) for t in topics]
        self._bind = bind
        self._context = context
        self._rcvhwm = rcvhwm
        self._max_message_size = max_message_size
        self._heartbeat = heartbeat
        self._root_topic = root_topic
        self._security = ClientSecurity(curve_server_key_file, curve_secret_key_file)
        self._socket: zmq.Socket[bytes] | None = None
        self._owns_context = context is None
        self._entered = False
        self._closed = False
        self._receiving = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._monitor: zmq.Socket[bytes] | None = None
        self._revivals: dict[str, asyncio.TimerHandle] = {}
        self._readable = asyncio.Event()
        self._received = 0
        self._invalid = 0

    @property
    def stats(self) -> SubscriberStats:
        """What this subscriber received and dropped so far."""
        return SubscriberStats(received=self._received, invalid=self._invalid)

    @property
    def endpoints(self) -> list[str]:
        """The endpoints in use; after a bind to port ``*`` these hold the real port."""
        if self._socket is not None and self._bind:
            return [self._socket.getsockopt_string(zmq.LAST_ENDPOINT)]
        return list(self._endpoints)

    async def __aenter__(self) -> Self:
        self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def open(self) -> None:
        """Create the socket, subscribe and connect (or bind). ``async with`` calls this.

        Must be called with the event loop running: from then on the loop keeps the
        socket serviced (accepting peers, sending subscriptions upstream) even while
        nobody is receiving.
        """
        loop = asyncio.get_running_loop()
        if self._entered:
            raise UsageError("a LogSubscriber can only be opened once; create a new one")
        self._entered = True
        if self._context is None:
            self._context = zmq.Context()
        sock = self._context.socket(zmq.SUB)
        self._socket = sock
        try:
            sock.setsockopt(zmq.RCVHWM, self._rcvhwm)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.MAXMSGSIZE, self._max_message_size)
            set_keepalive(sock, self._heartbeat)
            self._security.apply(sock)
            for topic in self._topics:
                sock.setsockopt(zmq.SUBSCRIBE, topic)
            if not self._bind:
                # ZeroMQ does not reconnect after a protocol error such as a message
                # over max_message_size; the monitor tells us (see _on_monitor).
                monitor = sock.get_monitor_socket(
                    zmq.EVENT_DISCONNECTED
                    | zmq.EVENT_CONNECT_RETRIED
                    | zmq.EVENT_CONNECT_DELAYED
                    | zmq.EVENT_CONNECTED
                )
                self._monitor = monitor
            for endpoint in self._endpoints:
                if self._bind:
                    sock.bind(endpoint)
                else:
                    sock.connect(endpoint)
            self._fd = cast(int, sock.getsockopt(zmq.FD))
            loop.add_reader(self._fd, self._service)
            self._loop = loop
            if self._monitor is not None:
                loop.add_reader(cast(int, self._monitor.getsockopt(zmq.FD)), self._on_monitor)
                self._on_monitor()
            # A bound socket only attaches a new peer (and sends it our subscriptions)
            # when it processes its commands; make it look once now.
            self._service()
        except BaseException:
            self._close()
            raise

    def _service(self) -> None:
        """Process the socket's pending commands; wake the receiver if data waits."""
        sock = self._socket
        if sock is not None and events(sock) & zmq.POLLIN:
            self._readable.set()

    def _on_monitor(self) -> None:
        """Notice connections that ZeroMQ gave up on, and make new ones.

        After an ordinary disconnect ZeroMQ retries by itself (a CONNECT_RETRIED or
        CONNECTED event follows). After a protocol error, such as a message over
        max_message_size, it drops the connection for good; only then, when no retry
        follows within a second, this connects to the endpoint again.
        """
        monitor, loop = self._monitor, self._loop
        if monitor is None or loop is None:
            return
        while events(monitor) & zmq.POLLIN:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                break
            raw = event["endpoint"]
            endpoint = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            if endpoint not in self._endpoints:
                continue
            pending = self._revivals.pop(endpoint, None)
            if pending is not None:
                pending.cancel()
            if event["event"] == zmq.EVENT_DISCONNECTED:
                self._revivals[endpoint] = loop.call_later(1.0, self._revive, endpoint)
        self._service()

    def _revive(self, endpoint: str) -> None:
        self._revivals.pop(endpoint, None)
        sock = self._socket
        if sock is None or self._closed:
            return
        # The dead connection's pipe is gone by now; a plain second connect() would
        # be ignored while the endpoint is still registered, so drop it first.
        try:
            sock.disconnect(endpoint)
        except zmq.ZMQError:
            pass
        sock.connect(endpoint)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> LogMessage:
        return await self.receive()

    async def receive(self) -> LogMessage:
        """Wait for the next well-formed message and return it.

        Raises:
            ClosedResourceError: the subscriber is closed (or was never opened).
            UsageError: another task is already receiving from this subscriber.
        """
        sock = self._socket
        if sock is None or self._closed:
            raise ClosedResourceError(
                "this LogSubscriber is not open; use 'async with LogSubscriber(...)'"
            )
        if self._receiving:
            raise UsageError("another task is already receiving from this LogSubscriber")
        self._receiving = True
        try:
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    self._readable.clear()
                    if events(sock) & zmq.POLLIN:
                        continue
                    await self._readable.wait()
                    continue
                message = self._decode(frames)
                if message is not None:
                    self._received += 1
                    return message
        finally:
            self._receiving = False

    def _decode(self, frames: list[bytes]) -> LogMessage | None:
        if len(frames) != 2:
            self._invalid += 1
            return None
        raw_topic, payload = frames
        topic = raw_topic.decode("utf-8", "replace")
        root, level, subtopic = parse_topic(topic, self._root_topic)
        return LogMessage(
            topic=topic,
            level=level,
            subtopic=subtopic,
            text=payload.decode("utf-8", "replace"),
            root_topic=root,
            payload=payload,
        )

    async def aclose(self) -> None:
        """Close the socket (dropping anything not yet received). Safe to call twice."""
        self._close()

    def _close(self) -> None:
        self._closed = True
        for timer in self._revivals.values():
            timer.cancel()
        self._revivals.clear()
        monitor = self._monitor
        if self._loop is not None:
            if not self._loop.is_closed():
                self._loop.remove_reader(self._fd)
                if monitor is not None:
                    self._loop.remove_reader(cast(int, monitor.getsockopt(zmq.FD)))
            self._loop = None
        if monitor is not None and self._socket is not None:
            self._socket.disable_monitor()
            monitor.close(linger=0)
            self._monitor = None
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if self._owns_context and self._context is not None:
            self._context.term()
            self._context = None

"""PublisherSocket: the socket a handler publishes on, how it is made, and what it sees.

A handler either makes its own XPUB socket from an endpoint (with zmqlog's options,
CURVE and keepalive) or publishes on a socket the caller made, of any type that can
send. On an XPUB socket it also sees subscriptions, which is how
``wait_for_subscribers()`` cures ZeroMQ's slow joiner. Only the drain, one round at a
time, does I/O on it, through a plain (non-asyncio) view of the same socket: sends that
ZeroMQ takes at once then cost no future and no await.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Final, cast

import zmq

from zmqlog._aio import events, set_keepalive
from zmqlog._security import ServerSecurity
from zmqlog.exceptions import UsageError

__all__ = ["SENDING_TYPES", "PublisherSocket"]

SENDING_TYPES: Final[dict[int, str]] = {
    zmq.PUB: "PUB",
    zmq.XPUB: "XPUB",
    zmq.PUSH: "PUSH",
    zmq.PAIR: "PAIR",
    zmq.DEALER: "DEALER",
}
"""The socket types a handler can publish on, as pyzmq's PUBHandler can."""

# Subscription messages read per drain round: a peer flooding (un)subscriptions costs
# the loop one bounded slice per round, never an unbounded one.
_SUBSCRIPTIONS_PER_ROUND: Final = 1000


def _resolve(future: asyncio.Future[int], count: int) -> None:
    if not future.done():
        future.set_result(count)


def _cancel(future: asyncio.Future[int]) -> None:
    if not future.done():
        future.cancel()


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    """Run *callback* on *loop* from any thread; nothing if that loop closed (its
    waiters are gone with it)."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        pass


class PublisherSocket:
    """A socket to publish on, its options, its subscriptions, and its close.

    Use :meth:`create` for a socket made from an endpoint, or :meth:`wrap` for the
    caller's own socket (which stays the caller's to close).
    """

    __slots__ = (
        "_lock",
        "_owns_context",
        "_owns_socket",
        "_security",
        "_waiters",
        "closed",
        "context",
        "is_xpub",
        "kind",
        "linger_ms",
        "socket",
        "subscriptions",
        "sync",
    )

    def __init__(
        self,
        socket: zmq.Socket[Any],
        *,
        owns_socket: bool,
        owns_context: bool,
        linger_ms: int,
        security: ServerSecurity,
    ) -> None:
        self.socket = socket
        """The socket as given or made (pyzmq's ``PUBHandler.socket``)."""
        self.context: zmq.Context[Any] = socket.context
        self.kind = cast(int, socket.getsockopt(zmq.TYPE))
        self.is_xpub = self.kind == zmq.XPUB
        self.linger_ms = linger_ms
        self._owns_socket = owns_socket
        self._owns_context = owns_context
        self._security = security
        self.closed = False
        self.subscriptions = 0
        """Subscriptions active on an XPUB socket, as last read by the drain."""
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[int]]] = []
        self._lock = threading.Lock()  # the waiters: added on a loop, resolved by any drain
        if self.is_xpub:
            # Every (un)subscription, duplicates included, so subscribers can be counted.
            socket.setsockopt(zmq.XPUB_VERBOSER, 1)
        self.sync: zmq.Socket[bytes] = zmq.Socket.shadow(socket.underlying)
        """A plain view of :attr:`socket`, for the drain's non-blocking I/O."""

    @classmethod
    def create(
        cls,
        endpoint: str,
        context: zmq.Context[Any] | None,
        *,
        bind: bool,
        sndhwm: int,
        linger_ms: int,
        lossless: bool,
        heartbeat: float | None,
        security: ServerSecurity,
    ) -> PublisherSocket:
        """Make an XPUB socket, configure it and bind (or connect) it to *endpoint*.

        Raises what ZeroMQ raises for a bad or busy endpoint, having closed the socket
        (and the context, if it made one).
        """
        ctx: zmq.Context[Any] = zmq.Context() if context is None else context
        try:
            sock = ctx.socket(zmq.XPUB)
        except BaseException:
            if context is None:
                ctx.term()
            raise
        try:
            sock.setsockopt(zmq.SNDHWM, sndhwm)
            sock.setsockopt(zmq.LINGER, linger_ms)
            if lossless:
                sock.setsockopt(zmq.XPUB_NODROP, 1)
            set_keepalive(sock, heartbeat)
            security.apply(sock, endpoint, bind=bind)
            if bind:
                sock.bind(endpoint)
            else:
                sock.connect(endpoint)
            return cls(
                sock,
                owns_socket=True,
                owns_context=context is None,
                linger_ms=linger_ms,
                security=security,
            )
        except BaseException:
            security.release()
            sock.close(linger=0)
            if context is None:
                ctx.term()
            raise

    @classmethod
    def wrap(cls, sock: zmq.Socket[Any], *, linger_ms: int) -> PublisherSocket:
        """Publish on the caller's *sock*, which must be of a type that can send."""
        kind = cast(int, sock.getsockopt(zmq.TYPE))
        if kind not in SENDING_TYPES:
            raise UsageError(
                f"AsyncPUBHandler cannot publish on a {zmq.SocketType(kind).name} socket; "
                "give it a socket that sends (zmq.PUB or zmq.XPUB, or PUSH, PAIR, DEALER), "
                "or an endpoint string to let it make one"
            )
        return cls(
            sock, owns_socket=False, owns_context=False, linger_ms=linger_ms, security=_NO_SECURITY
        )

    @property
    def kind_name(self) -> str:
        """The socket type's name: ``"XPUB"``, ``"PUSH"``..."""
        return SENDING_TYPES.get(self.kind, str(self.kind))

    @property
    def last_endpoint(self) -> str:
        """The endpoint last bound or connected (the real port after binding port ``*``)."""
        return self.sync.getsockopt_string(zmq.LAST_ENDPOINT)

    # -- subscriptions (the drain's side) ----------------------------------------------

    def read_subscriptions(self) -> bool:
        """Read the subscription messages waiting, a bounded number of them.

        Returns True if more may be waiting. Reading ``EVENTS`` also lets ZeroMQ
        process the socket's commands (attaching new peers) and re-arms its file
        descriptor. Raises ``zmq.ZMQError`` if the socket failed.
        """
        sock = self.sync
        if not self.is_xpub:
            events(sock)
            return False
        count = self.subscriptions
        for _ in range(_SUBSCRIPTIONS_PER_ROUND):
            if not events(sock) & zmq.POLLIN:
                break
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if frame[:1] == b"\x01":
                count += 1
            elif frame[:1] == b"\x00" and count:
                count -= 1
        else:
            self._set_subscriptions(count)
            return True
        self._set_subscriptions(count)
        return False

    def _set_subscriptions(self, count: int) -> None:
        if count == self.subscriptions:
            return
        self.subscriptions = count
        with self._lock:
            for wanted, loop, future in self._waiters:
                if count >= wanted:
                    _call_soon(loop, _resolve, future, count)

    # -- subscriptions (the waiting side) ----------------------------------------------

    async def wait_for(self, n: int, timeout: float | None) -> int:
        """Wait until at least *n* subscriptions are active; return how many are.

        Raises:
            TimeoutError: fewer than *n* arrived within *timeout* seconds.
        """
        if self.subscriptions >= n:
            return self.subscriptions
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        waiter = (n, loop, future)
        with self._lock:
            self._waiters.append(waiter)
        try:
            if self.subscriptions >= n:  # read by the drain while we registered
                return self.subscriptions
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"{self.subscriptions} of {n} subscription(s) arrived within {timeout} s; "
                "check that the subscribers connect to this publisher's endpoint (and, "
                "with CURVE, that their keys are accepted); behind 'zmqlog proxy', "
                "subscribers that share a topic prefix count once"
            ) from None
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    # -- the end -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the socket if it is ours, and stop authorizing for it. Never raises.

        The context, if ours, is left to :meth:`term_context`: terminating it waits
        out the linger, which some callers must not do on their own thread.
        """
        if self.closed:
            return
        self.closed = True
        with self._lock:
            for _, loop, future in self._waiters:
                _call_soon(loop, _cancel, future)
        if self._owns_socket:
            try:
                self.socket.close(linger=self.linger_ms)
            except zmq.ZMQError:
                pass
        self._security.release()

    def term_context(self) -> None:
        """Terminate the context if it is ours; it waits for ZeroMQ to deliver, up to
        the linger. Never raises."""
        if self._owns_context:
            self._owns_context = False
            try:
                self.context.term()
            except zmq.ZMQError:
                pass

    def after_fork(self) -> None:
        """In a forked child: the socket is the parent's; never touch or close it."""
        self.closed = True
        self._owns_socket = self._owns_context = False
        self._waiters = []
        self._lock = threading.Lock()


_NO_SECURITY: Final = ServerSecurity()

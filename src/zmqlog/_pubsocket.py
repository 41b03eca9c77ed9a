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
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final, cast

import zmq

from zmqlog._aio import events, set_keepalive
from zmqlog._options import check_socket_options
from zmqlog._security import Security, ServerSecurity
from zmqlog.exceptions import ClosedResourceError, UsageError

__all__ = ["MAX_INBOUND", "SENDING_TYPES", "PublisherSocket"]

SENDING_TYPES: Final[dict[int, str]] = {
    zmq.PUB: "PUB",
    zmq.XPUB: "XPUB",
    zmq.PUSH: "PUSH",
    zmq.PAIR: "PAIR",
    zmq.DEALER: "DEALER",
}
"""The socket types a handler can publish on, as pyzmq's PUBHandler can."""

# What a peer may send a publisher: subscriptions, which are short (a topic prefix). A
# larger frame makes ZeroMQ drop that peer's connection; a peer that floods waits for
# room in a small queue instead of filling memory (ZeroMQ moves a whole queue to the
# socket each time it is serviced).
MAX_INBOUND: Final = 4096
_INBOUND_HWM: Final = 100

# Subscription messages read per drain round: a peer flooding (un)subscriptions costs
# the loop one bounded slice per round, never an unbounded one.
_SUBSCRIPTIONS_PER_ROUND: Final = 3000

# The subscriptions a socket may hold, in bytes of topic prefix plus an allowance for
# ZeroMQ's bookkeeping of each (a 60-byte prefix costs it ~300 bytes, measured). Far
# beyond any real use (10,000 subscribers with 40-character prefixes are 1 MB), and
# small enough that ZeroMQ's work when such a peer leaves, done on the socket's own
# thread, stays short: past it, the socket starts over (see PublisherSocket.reset).
_MAX_SUBSCRIBED_BYTES: Final = 1 << 20
_PER_SUBSCRIPTION: Final = 64
# A socket made again must bind where the old one was; its port is freed a few
# milliseconds after the close.
_REBIND_TRIES: Final = 100
_REBIND_PAUSE: Final = 0.0005

# TCP endpoints that sockets of this process closed lately, and when. ZeroMQ closes a
# socket's listener on a thread of its own, after close() has returned, so its port stays
# taken a little longer: a handler made at once on the same endpoint (a dictConfig
# reload in a coroutine, which closes the old handler on the loop's thread and binds the
# new one) failed to bind it 11 times in 200. A bind that fails on such an endpoint
# tries again, at most _RELEASE_WAIT seconds; ZeroMQ let go within 7.4 ms in 300 closes
# with three busy processes on two cores. (Waiting in close() instead, for the
# listener's EVENT_CLOSED on a monitor, left the socket bound for good whenever the
# monitor was closed before the event came: at the wait's bound, or when a signal
# handler raised inside it.)
_released: dict[str, float] = {}
_RELEASE_WAIT: Final = 0.5
_RELEASE_MEMORY: Final = 5.0  # seconds a closed endpoint is remembered


def _resolve(future: asyncio.Future[int], count: int) -> None:
    if not future.done():
        future.set_result(count)


def _closed(future: asyncio.Future[int]) -> None:
    # An error, not a cancellation: a CancelledError out of a task nobody cancelled is
    # taken by asyncio (and task groups) for a cancellation of the waiting task itself.
    if not future.done():
        future.set_exception(
            ClosedResourceError("the handler was closed while waiting for subscribers")
        )


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    """Run *callback* on *loop* from any thread; nothing if that loop closed (its
    waiters are gone with it)."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        pass


def _remember_released(names: tuple[str, ...]) -> None:
    now = time.monotonic()
    for name, when in list(_released.items()):
        if now - when > _RELEASE_MEMORY:
            _released.pop(name, None)
    for name in names:
        _released[name] = now


def _make_where_released(recipe: _Recipe, context: zmq.Context[Any], endpoint: str) -> Any:
    """``recipe.make(context, endpoint)``, tried again for a while if the endpoint is
    busy because a socket of this process has just closed it (see ``_released``)."""
    deadline: float | None = None
    while True:
        try:
            return recipe.make(context, endpoint)
        except zmq.ZMQError as error:  # noqa: PERF203 (a retry: the rare path)
            closed = _released.get(endpoint)
            now = time.monotonic()
            if error.errno != zmq.EADDRINUSE or closed is None or now - closed > _RELEASE_MEMORY:
                raise
            if deadline is None:
                deadline = now + _RELEASE_WAIT
            elif now >= deadline:
                raise
            time.sleep(_REBIND_PAUSE)


class _Recipe:
    """How a handler makes its own XPUB socket, kept to make it again (see
    :meth:`PublisherSocket.reset`)."""

    __slots__ = ("bind", "heartbeat", "linger_ms", "lossless", "security", "sndhwm")

    def __init__(
        self,
        bind: bool,
        sndhwm: int,
        linger_ms: int,
        lossless: bool,
        heartbeat: float | None,
        security: Security,
    ) -> None:
        self.bind = bind
        self.sndhwm = sndhwm
        self.linger_ms = linger_ms
        self.lossless = lossless
        self.heartbeat = heartbeat
        self.security = security

    def make(self, context: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
        """A configured XPUB socket bound (or connected) to *endpoint*."""
        sock: zmq.Socket[Any] = context.socket(zmq.XPUB)
        try:
            sock.setsockopt(zmq.SNDHWM, self.sndhwm)
            sock.setsockopt(zmq.LINGER, self.linger_ms)
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_INBOUND)
            sock.setsockopt(zmq.RCVHWM, _INBOUND_HWM)
            if self.lossless:
                sock.setsockopt(zmq.XPUB_NODROP, 1)
            set_keepalive(sock, self.heartbeat)
            self.security.apply(sock, endpoint, bind=self.bind)
            if self.bind:
                sock.bind(endpoint)
            else:
                sock.connect(endpoint)
        except BaseException:
            self.security.release()
            sock.close(linger=0)
            raise
        return sock


class PublisherSocket:
    """A socket to publish on, its options, its subscriptions, and its close.

    Use :meth:`create` for a socket made from an endpoint, or :meth:`wrap` for the
    caller's own socket (which stays the caller's to close).
    """

    __slots__ = (
        "_lock",
        "_names",
        "_owns_context",
        "_owns_socket",
        "_recipe",
        "_resettable",
        "_security",
        "_subscribed_bytes",
        "_waiters",
        "_warned_reset",
        "closed",
        "context",
        "generation",
        "is_xpub",
        "kind",
        "linger_ms",
        "resets",
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
        security: Security,
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
        self._subscribed_bytes = 0
        self._recipe: _Recipe | None = None
        self._resettable = False
        self._names: tuple[str, ...] = ()  # a TCP endpoint bound by us, as given and as bound
        self.generation = 0
        """Grows by one each time :meth:`reset` replaces the socket."""
        self.resets = 0
        """How many times a flood of subscriptions made the socket start over."""
        self._warned_reset = 0.0
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
        security: Security,
    ) -> PublisherSocket:
        """Make an XPUB socket, configure it and bind (or connect) it to *endpoint*.

        Raises what ZeroMQ raises for a bad or busy endpoint, having closed the socket
        (and the context, if it made one); ``TypeError`` for a *bind*, *lossless* or
        *context* of the wrong type, before anything is made.
        """
        check_socket_options(bind=bind, lossless=lossless, context=context)
        ctx: zmq.Context[Any] = zmq.Context() if context is None else context
        recipe = _Recipe(bind, sndhwm, linger_ms, lossless, heartbeat, security)
        try:
            sock = _make_where_released(recipe, ctx, endpoint)
        except BaseException:
            if context is None:
                ctx.term()
            raise
        made = cls(
            sock,
            owns_socket=True,
            owns_context=context is None,
            linger_ms=linger_ms,
            security=security,
        )
        made._recipe = recipe
        # Only a TCP socket is made again after a flood: an ipc:// path is unlinked by
        # the closing socket at a moment of ZeroMQ's choosing, which could be after the
        # new one bound it (and an ipc:// peer is a local user the file's mode admits).
        made._resettable = endpoint.startswith("tcp://")
        if bind and made._resettable:
            made._names = (endpoint, made.last_endpoint)
        return made

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
        # EVENTS once, not per message: each reading lets ZeroMQ move another queueful
        # from a flooding peer to the socket, faster than this loop reads them.
        if not events(sock) & zmq.POLLIN:
            return False
        count, held = self.subscriptions, self._subscribed_bytes
        recv = sock.recv
        more = True
        for _ in range(_SUBSCRIPTIONS_PER_ROUND):
            try:
                frame = recv(zmq.NOBLOCK)
            except zmq.Again:
                more = False
                break
            if frame[:1] == b"\x01":
                count += 1
                held += len(frame) + _PER_SUBSCRIPTION
            elif frame[:1] == b"\x00" and count:
                count -= 1
                held = max(0, held - len(frame) - _PER_SUBSCRIPTION)
        self._subscribed_bytes = held
        self._set_subscriptions(count)
        if held > _MAX_SUBSCRIBED_BYTES and self._resettable:
            self.reset()
            return True
        return more

    def reset(self) -> None:
        """Replace the socket with a fresh one on the same endpoint.

        A peer is sending more subscriptions than any real subscriber would. ZeroMQ
        keeps every one (``XPUB_MANUAL`` does not change that) until the peer
        leaves, so the only way to free them is to close the socket. Subscribers
        reconnect by themselves and subscribe again; what was in flight to them is
        lost, as on any reconnection. Raises ``zmq.ZMQError`` if the endpoint cannot
        be had again, which fails the drain (counted and reported).
        """
        recipe = self._recipe
        assert recipe is not None
        endpoint = self.last_endpoint
        self.resets += 1
        now = time.monotonic()
        if now - self._warned_reset > 60:
            self._warned_reset = now
            print(
                f"zmqlog: the subscriptions on {endpoint} passed "
                f"{_MAX_SUBSCRIBED_BYTES >> 20} MiB (a peer flooding them?); the publisher's "
                "socket starts over, and its subscribers reconnect",
                file=sys.stderr,
            )
        self._security.release()
        self.socket.close(linger=0)
        self.subscriptions = self._subscribed_bytes = 0
        for attempt in range(_REBIND_TRIES):
            try:
                sock = recipe.make(self.context, endpoint)
                break
            except zmq.ZMQError as error:
                if error.errno != zmq.EADDRINUSE or attempt == _REBIND_TRIES - 1:
                    self.closed = True
                    raise
                time.sleep(_REBIND_PAUSE)  # bounded: at most ~50 ms, under attack only
        sock.setsockopt(zmq.XPUB_VERBOSER, 1)
        self.socket = sock
        self.sync = zmq.Socket.shadow(sock.underlying)
        self.generation += 1

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
            ClosedResourceError: the socket is closed, or was closed while waiting.
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
            if self.closed:  # set before close() looks at the waiters: it may not see us
                raise ClosedResourceError("the handler is closed; no subscriber can arrive")
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

    def close(self, until: float | None = None, *, force: bool = False) -> None:
        """Close the socket if it is ours, and stop authorizing for it. Never raises.

        ZeroMQ goes on delivering what it accepted for the socket's linger; in lossless
        mode, until *until* (``time.monotonic()``) if that is later, so that a
        subscriber still reading gets everything the handler counted as sent. The
        context, if ours, is left to :meth:`term_context`: terminating it waits out the
        linger, which some callers must not do on their own thread. *force* closes with
        no linger at all (the socket failed: nothing more will get through).
        """
        if self.closed:
            return
        self.closed = True
        with self._lock:
            for _, loop, future in self._waiters:
                _call_soon(loop, _closed, future)
        if self._owns_socket:
            linger = 0 if force else self.linger_ms
            recipe = self._recipe
            if until is not None and recipe is not None and recipe.lossless and not force:
                linger = max(linger, int((until - time.monotonic()) * 1000))
            try:
                self.socket.close(linger=linger)
            except zmq.ZMQError:
                pass
            if self._names:
                _remember_released(self._names)
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

"""pyzmq's own PUBHandler behaviours, checked on zmqlog.AsyncPUBHandler used the same way.

Every test runs twice through the ``handler_class`` fixture: with pyzmq's
``zmq.log.handlers.PUBHandler`` (proving the test checks what pyzmq really does) and with
``zmqlog.AsyncPUBHandler`` (proving zmqlog does the same). Both are used as pyzmq's own
test suite uses ``PUBHandler``: synchronous code, no event loop, no ``flush()``, no
``close()`` before receiving, a blocking ``recv_multipart()`` on a plain SUB socket.

Every receive is bounded by ``RCVTIMEO`` and the slow-joiner probe by a deadline, so a
handler that publishes nothing fails in seconds instead of hanging.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from zmq.log.handlers import PUBHandler

import zmqlog
from tests.probing import Peer, beat_slow_joiner, bounded

ROOT = "zmq"
HERE = Path(__file__).name

Handler = Any  # PUBHandler or zmqlog.AsyncPUBHandler: the same surface, no common base
HandlerClass = type[PUBHandler] | type[zmqlog.AsyncPUBHandler]


class Rig:
    """Makes one test's handlers and sockets, and tears them all down in a safe order.

    Teardown: handlers leave their loggers, receivers close (before a handler that made
    its own context terminates it), handlers close (pyzmq's leaves its socket and
    context open, so those are closed here), then the sockets handed to handlers.
    """

    def __init__(
        self,
        handler_class: HandlerClass,
        context: zmq.Context[zmq.Socket[bytes]],
        logger: logging.Logger,
    ) -> None:
        self.handler_class = handler_class
        self.context = context
        self.logger = logger
        self.lines = _LineCatcher()
        logger.addFilter(self.lines)
        self._handlers: list[tuple[Handler, bool]] = []
        self._peers: list[zmq.Socket[bytes]] = []
        self._senders: list[zmq.Socket[bytes]] = []

    @property
    def is_pyzmq(self) -> bool:
        return self.handler_class is PUBHandler

    def handler(self, target: object, context: object = None, root_topic: str = "") -> Handler:
        """Make a handler at DEBUG level on *target* and attach it to the test's logger."""
        handler: Handler = self.handler_class(target, context, root_topic)  # type: ignore[arg-type]
        self._handlers.append((handler, not isinstance(target, zmq.Socket)))
        handler.setLevel(logging.DEBUG)
        self.logger.addHandler(handler)
        return handler

    def bound_pair(self, sender_type: int = zmq.PUB) -> tuple[zmq.Socket[bytes], Peer]:
        """A sender bound to a random loopback port and a SUB connected to it, as pyzmq's tests."""
        sender = self.sender(sender_type)
        port = sender.bind_to_random_port("tcp://127.0.0.1")
        return sender, self.peer(zmq.SUB, f"tcp://127.0.0.1:{port}")

    def sender(self, socket_type: int) -> zmq.Socket[bytes]:
        """A socket to hand to a handler; closed after the handler."""
        sock: zmq.Socket[bytes] = self.context.socket(socket_type)
        sock.linger = 0
        self._senders.append(sock)
        return sock

    def peer(
        self,
        socket_type: int,
        endpoint: str,
        *,
        context: zmq.Context[Any] | None = None,
        bind: bool = False,
        skip: int = 0,
    ) -> Peer:
        """A receiving socket on *endpoint* whose receives time out after ``WAIT_S``."""
        ctx = self.context if context is None else context
        sock = bounded(ctx.socket(socket_type))
        self._peers.append(sock)
        if bind:
            sock.bind(endpoint)
        else:
            sock.connect(endpoint)
        return Peer(sock, skip)

    def close(self) -> None:
        for handler, _ in self._handlers:
            self.logger.removeHandler(handler)
        self.logger.removeFilter(self.lines)
        for sock in self._peers:
            sock.close(linger=0)
        for handler, made_socket in self._handlers:
            handler.close()
            if self.is_pyzmq and made_socket:
                handler.socket.close(linger=0)
                if handler.ctx is not self.context:
                    handler.ctx.term()
        for sock in self._senders:
            sock.close(linger=0)


class _LineCatcher(logging.Filter):
    """Remembers the line number of the last record logged, for the default formats."""

    last = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.last = record.lineno
        return True


@pytest.fixture(
    params=[PUBHandler, zmqlog.AsyncPUBHandler], ids=["pyzmq", "zmqlog"], name="handler_class"
)
def _handler_class(request: pytest.FixtureRequest) -> HandlerClass:
    """pyzmq's PUBHandler (the reference) and zmqlog's AsyncPUBHandler (the candidate)."""
    handler_class: HandlerClass = request.param
    return handler_class


@pytest.fixture
def rig(
    handler_class: HandlerClass,
    context: zmq.Context[zmq.Socket[bytes]],
    logger: logging.Logger,
) -> Iterator[Rig]:
    made = Rig(handler_class, context, logger)
    yield made
    made.close()


def connect(rig: Rig) -> tuple[Handler, Peer]:
    """A handler on a bound PUB socket with root topic ``zmq`` and a SUB subscribed to it.

    As pyzmq's tests set up theirs; called inside each test, so that a handler which
    publishes nothing fails the test itself rather than its set-up.
    """
    pub, sub = rig.bound_pair()
    handler = rig.handler(pub)
    handler.root_topic = ROOT
    sub.socket.subscribe(ROOT)
    beat_slow_joiner(rig.logger, [sub])
    return handler, sub


# -- constructing from an endpoint or a socket ---------------------------------------


def test_handler_from_endpoint_without_context_makes_its_own(rig: Rig) -> None:
    """An endpoint and no context: the handler binds in a context of its own and publishes."""
    endpoint = f"inproc://compat-own-{id(rig)}"
    handler = rig.handler(endpoint)
    handler.root_topic = ROOT
    assert handler.ctx is not rig.context
    # inproc only connects within one context: subscribe through the handler's own.
    sub = rig.peer(zmq.SUB, endpoint, context=zmq.Context.shadow(handler.ctx.underlying))
    sub.socket.subscribe(ROOT)
    beat_slow_joiner(rig.logger, [sub])
    rig.logger.info("message")
    assert sub.recv() == [b"zmq.INFO", b"message\n"]


def test_handler_from_endpoint_uses_the_given_context(rig: Rig) -> None:
    """An endpoint and a context: the handler's socket lives in that context."""
    endpoint = f"inproc://compat-given-{id(rig)}"
    handler = rig.handler(endpoint, rig.context)
    handler.root_topic = ROOT
    assert handler.ctx is rig.context
    sub = rig.peer(zmq.SUB, endpoint)
    sub.socket.subscribe(ROOT)
    beat_slow_joiner(rig.logger, [sub])
    rig.logger.info("message")
    assert sub.recv() == [b"zmq.INFO", b"message\n"]


def test_handler_on_a_callers_socket_publishes_on_it(rig: Rig) -> None:
    """A socket passed in is the handler's ``socket``, and its context the handler's ``ctx``."""
    pub, sub = rig.bound_pair()
    handler = rig.handler(pub, root_topic=ROOT)
    assert handler.socket is pub
    assert handler.ctx is pub.context
    sub.socket.subscribe(ROOT)
    beat_slow_joiner(rig.logger, [sub])
    rig.logger.info("message")
    assert sub.recv() == [b"zmq.INFO", b"message\n"]


def test_bytes_endpoint_is_accepted(rig: Rig, tmp_path: Path) -> None:
    """An endpoint given as bytes is bound as its UTF-8 text."""
    endpoint = f"ipc://{tmp_path}/log.sock"
    handler = rig.handler(endpoint.encode(), rig.context, ROOT)
    sub = rig.peer(zmq.SUB, endpoint)
    sub.socket.subscribe(ROOT)
    beat_slow_joiner(rig.logger, [sub])
    rig.logger.info("over ipc")
    assert sub.recv() == [b"zmq.INFO", b"over ipc\n"]
    assert handler.root_topic == ROOT


# -- topics ----------------------------------------------------------------------------


def test_root_topic_set_as_bytes_renames_every_topic(rig: Rig) -> None:
    """After ``root_topic = b"twoonly"``, records go out under ``twoonly``, not the old root."""
    pub, only_zmq = rig.bound_pair()
    endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)
    everything = rig.peer(zmq.SUB, endpoint)
    handler = rig.handler(pub, root_topic=ROOT)
    only_zmq.socket.subscribe(ROOT)
    everything.socket.subscribe(b"")
    beat_slow_joiner(rig.logger, [only_zmq, everything])

    handler.root_topic = b"twoonly"
    assert handler.root_topic == "twoonly"
    rig.logger.info("ignored")
    assert everything.recv() == [b"twoonly.INFO", b"ignored\n"]
    # The next record the "zmq" subscriber gets is this one: it never saw "ignored".
    handler.root_topic = ROOT
    rig.logger.info("seen")
    assert only_zmq.recv() == [b"zmq.INFO", b"seen\n"]


def test_blank_root_topic_starts_every_topic_with_the_level(rig: Rig) -> None:
    """After ``setRootTopic(b"")`` a topic starts with the level, so SUB can filter on it."""
    pub, everything = rig.bound_pair()
    only_info = rig.peer(zmq.SUB, pub.getsockopt_string(zmq.LAST_ENDPOINT))
    handler = rig.handler(pub, root_topic=ROOT)
    handler.setRootTopic(b"")
    assert handler.root_topic == ""
    everything.socket.subscribe(b"")
    only_info.socket.subscribe(b"INFO")
    beat_slow_joiner(rig.logger, [everything, only_info])

    rig.logger.debug("debug_message")
    line = rig.lines.last
    rig.logger.info("info_message")
    assert everything.recv() == [b"DEBUG", f"DEBUG {HERE}:{line} - debug_message\n".encode()]
    assert everything.recv() == [b"INFO", b"info_message\n"]
    # The DEBUG record did not reach the INFO subscriber: INFO is the first it gets.
    assert only_info.recv() == [b"INFO", b"info_message\n"]


def test_unicode_message_and_subtopic_are_utf8(rig: Rig) -> None:
    """Non-ASCII text is sent as UTF-8, and the part before ``::`` extends the topic."""
    _, sub = connect(rig)
    cases = [
        ("hello", [b"zmq.INFO", b"hello\n"]),
        ("héllo", [b"zmq.INFO", "héllo\n".encode()]),
        ("tøpic::héllo", ["zmq.INFO.tøpic".encode(), "héllo\n".encode()]),
    ]
    for message, expected in cases:
        rig.logger.info(message)
        assert sub.recv() == expected


def test_message_object_is_sent_as_its_str(rig: Rig) -> None:
    """A message that is not a str is rendered with ``str()``, as ``logging`` does."""
    _, sub = connect(rig)

    class Message:
        def __str__(self) -> str:
            return "hello"

    rig.logger.info(Message())
    assert sub.recv() == [b"zmq.INFO", b"hello\n"]


# -- formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "template"),
    [
        (logging.DEBUG, "DEBUG {file}:{line} - {msg}\n"),
        (logging.INFO, "{msg}\n"),
        (logging.WARNING, "WARNING {file}:{line} - {msg}\n"),
        (logging.ERROR, "ERROR {file}:{line} - {msg} - None\n"),
        (logging.CRITICAL, "CRITICAL {file}:{line} - {msg}\n"),
    ],
    ids=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
)
def test_default_format_of_each_level(rig: Rig, level: int, template: str) -> None:
    """Each level's payload is pyzmq's default format for it, with or without a subtopic."""
    _, sub = connect(rig)
    name = logging.getLevelName(level)
    rig.logger.log(level, "plain %s", "text")
    line = rig.lines.last
    assert sub.recv() == [
        f"zmq.{name}".encode(),
        template.format(file=HERE, line=line, msg="plain text").encode(),
    ]
    rig.logger.log(level, "part::after the subtopic")
    line = rig.lines.last
    assert sub.recv() == [
        f"zmq.{name}.part".encode(),
        template.format(file=HERE, line=line, msg="after the subtopic").encode(),
    ]


def test_formatter_put_in_the_formatters_dict_is_used(rig: Rig) -> None:
    """Assigning ``formatters[INFO]`` changes the INFO payload."""
    handler, sub = connect(rig)
    handler.formatters[logging.INFO] = logging.Formatter("%(message)s UNITTEST\n")
    rig.logger.info("info message")
    assert sub.recv() == [b"zmq.INFO", b"info message UNITTEST\n"]


def test_set_formatter_without_level_applies_to_every_level(rig: Rig) -> None:
    """``setFormatter(fmt)`` replaces the formatter of every level."""
    handler, sub = connect(rig)
    handler.setFormatter(logging.Formatter("UNITTEST %(message)s"))
    rig.logger.info("info message")
    rig.logger.debug("debug message")
    rig.logger.error("error message")
    assert sub.recv() == [b"zmq.INFO", b"UNITTEST info message"]
    assert sub.recv() == [b"zmq.DEBUG", b"UNITTEST debug message"]
    assert sub.recv() == [b"zmq.ERROR", b"UNITTEST error message"]


def test_set_formatter_for_one_level_leaves_the_others(rig: Rig) -> None:
    """``setFormatter(fmt, DEBUG)`` changes DEBUG payloads only."""
    handler, sub = connect(rig)
    handler.setFormatter(logging.Formatter("UNITTEST DEBUG %(message)s"), logging.DEBUG)
    rig.logger.info("info message")
    rig.logger.debug("debug message")
    assert sub.recv() == [b"zmq.INFO", b"info message\n"]
    assert sub.recv() == [b"zmq.DEBUG", b"UNITTEST DEBUG debug message"]


# -- a caller's socket of any type that can send (issue 11, item 4) --------------------


@pytest.mark.parametrize(
    ("sender_type", "peer_type", "skip"),
    [
        (zmq.PUB, zmq.SUB, 0),
        (zmq.XPUB, zmq.SUB, 0),
        (zmq.PUSH, zmq.PULL, 0),
        (zmq.PAIR, zmq.PAIR, 0),
        (zmq.DEALER, zmq.ROUTER, 1),
    ],
    ids=["PUB-SUB", "XPUB-SUB", "PUSH-PULL", "PAIR-PAIR", "DEALER-ROUTER"],
)
def test_callers_socket_of_any_sending_type_delivers(
    rig: Rig, sender_type: int, peer_type: int, skip: int
) -> None:
    """A caller's PUB, XPUB, PUSH, PAIR or DEALER socket carries the same two frames."""
    # The peer binds and the handler's socket connects: a connecting PUSH, PAIR or
    # DEALER has its pipe at once, so a send never waits for a peer to appear.
    peer = rig.peer(peer_type, "tcp://127.0.0.1:*", bind=True, skip=skip)
    if peer_type == zmq.SUB:
        peer.socket.subscribe(ROOT)
    sender = rig.sender(sender_type)
    sender.connect(peer.socket.getsockopt_string(zmq.LAST_ENDPOINT))
    rig.handler(sender, root_topic=ROOT)
    beat_slow_joiner(rig.logger, [peer])
    rig.logger.warning("sub::over %s", zmq.SocketType(sender_type).name)
    line = rig.lines.last
    name = zmq.SocketType(sender_type).name
    assert peer.recv() == [
        b"zmq.WARNING.sub",
        f"WARNING {HERE}:{line} - over {name}\n".encode(),
    ]


@pytest.mark.parametrize(
    "socket_type", [zmq.PUSH, zmq.PAIR, zmq.DEALER], ids=["PUSH", "PAIR", "DEALER"]
)
async def test_wait_for_subscribers_on_a_socket_without_subscriptions(
    context: zmq.Context[zmq.Socket[bytes]], socket_type: int
) -> None:
    """zmqlog only: ``wait_for_subscribers()`` on PUSH, PAIR or DEALER says they have none."""
    sock: zmq.Socket[bytes] = context.socket(socket_type)
    sock.linger = 0
    try:
        handler = zmqlog.AsyncPUBHandler(sock)
        try:
            name = zmq.SocketType(socket_type).name
            with pytest.raises(
                zmqlog.UsageError,
                match=rf"(?is)\b{name}\b.*no subscriptions?|no subscriptions?.*\b{name}\b",
            ):
                await handler.wait_for_subscribers(1, timeout=1)
        finally:
            await handler.aclose()
    finally:
        sock.close(linger=0)

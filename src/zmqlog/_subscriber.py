"""LogSubscriber: receive published log records with ``async for``."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NamedTuple, NoReturn, cast

import zmq
from zmq.utils.monitor import recv_monitor_message

from zmqlog._aio import events, set_keepalive
from zmqlog._endpoints import endpoint_problem
from zmqlog._options import MAX_HEARTBEAT, MAX_INT32, check_context, check_flag
from zmqlog._security import AuthorizedKeys, KeyPath, subscriber_security
from zmqlog._sequences import SequenceTracker
from zmqlog.exceptions import ClosedResourceError, UsageError
from zmqlog.wire import (
    MAX_JSON_BYTES,
    MAX_TOPIC_BYTES,
    PublisherId,
    decode_single_frame,
    escape_topic,
    parse_topic,
    record_from_json,
    record_from_text,
)
from zmqlog.wire._jsondecode import (
    STRICT_ERRORS,
    JsonRecord,
    _Publisher,
    _StrictRecord,
    read_record,
    read_refused,
    rebuild_record,
    strict_record,
)

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Self

__all__ = ["LogMessage", "LogSubscriber", "SubscriberStats"]

# pyzmq's compiled recv, under its Python wrapper: per message the wrapper costs more
# than the call (see bench/subscriber.py). Frames are received as zmq.Frame objects
# (copy=False), which carry their RCVMORE flag, read in C: asking the socket for it
# costs pyzmq an enum lookup in Python (measured 0.3 to 0.6 us a call), more than the
# receive itself; a Frame and its bytes cost less.
_recv = cast(
    "Callable[[zmq.Socket[bytes], int, bool], zmq.Frame]",
    getattr(zmq.backend, "Socket", zmq.Socket).recv,
)
_NOBLOCK: int = zmq.NOBLOCK.value  # a plain int: the enum's value, converted once
_now: Callable[[], float] = time.monotonic

# How long receive() may keep the loop to itself while messages keep coming: a flood
# (valid or not) must not starve the loop's other tasks.
_SLICE = 0.01

# Parsed topics kept, in number and in the bytes of their topic frames: publishers use
# few distinct topics, but a peer may send a new one with every message.
_TOPIC_CACHE_ENTRIES = 4096
_TOPIC_CACHE_BYTES = 1 << 20


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which cost
# 0.57 us per message against 0.11 us (measured), a fifth of the subscriber's time.
@dataclass(slots=True)
class LogMessage:
    """One received log message (zmqlog never changes it after handing it over).

    ``level`` and ``subtopic`` come from the topic (see :func:`zmqlog.wire.parse_topic`);
    ``text`` is the payload decoded as UTF-8 with undecodable bytes replaced (for a JSON
    record, the JSON itself: read :attr:`record` or :attr:`fields` instead). A JSON
    message's ``text`` is decoded when it is first read: most readers never do.
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
    """The payload frame as received (of a single frame, what follows its prefix)."""
    fields: Mapping[str, Any] | None = field(default=None, repr=False)
    """The checked fields of a JSON message, None for text: the keys and values of
    :func:`zmqlog.wire.decode_json`'s dict, as a read-only mapping that the subscriber
    does not copy into a dict for every message."""
    _record: logging.LogRecord | None = field(default=None, init=False, repr=False, compare=False)
    # What ``text`` reads (see _text_of, below the class): a JSON message's payload as
    # received (bytes) until its text is first read. Without a default, so that
    # __init__ leaves it as the ``text`` argument set it.
    _text: str | bytes | None = field(init=False, repr=False, compare=False)

    @property
    def seq(self) -> int | None:
        """The publisher's sequence number (JSON messages; None for text)."""
        fields = self.fields
        return None if fields is None else cast("int | None", fields["seq"])

    @property
    def publisher(self) -> PublisherId | None:
        """Who published it: host, pid, and an id made at the publisher's start (JSON only)."""
        fields = self.fields
        return None if fields is None else cast("PublisherId | None", fields["publisher"])

    @property
    def record(self) -> logging.LogRecord:
        """The message as a ``logging.LogRecord``, built on first use.

        From a JSON message, the publisher's record rebuilt
        (:func:`zmqlog.wire.record_from_json`); an ordinary ``logging.Formatter``
        renders it as it rendered the original, traceback included (a ``sub::``
        subtopic prefix excepted: it travelled in the topic, and is the record's
        ``topic`` attribute here). From a text
        message, a best-effort record (:func:`zmqlog.wire.record_from_text`): the
        level from the topic, the text as ``msg``, and the time of this first use as
        ``created``.
        """
        record = self._record
        if record is None:
            fields = self.fields
            # As the subscriber made it: valid. (The type test first: isinstance of a
            # msgspec Struct class goes through its metaclass, 45 ns more.)
            if type(fields) is _StrictRecord or isinstance(fields, JsonRecord):
                record = rebuild_record(fields)
                if self.subtopic:
                    self._keep_subtopic(record)
            else:
                record = None if fields is None else self._json_record(fields)
                if record is None:
                    record = record_from_text(self.text, self.level, self.root_topic)
            self._record = record
        return record

    def _json_record(self, fields: Mapping[str, Any]) -> logging.LogRecord | None:
        try:
            record = record_from_json(fields)
        except Exception:  # fields made by hand, not by decode_json: read it as text
            return None
        if self.subtopic:
            self._keep_subtopic(record)
        return record

    def _keep_subtopic(self, record: logging.LogRecord) -> None:
        if not isinstance(record.__dict__.get("topic"), str):
            # A "sub::" prefix travelled in the topic; as an attribute it keeps
            # the subtopic when the record is published again by zmqlog.
            record.topic = self.subtopic


def _text_of(message: LogMessage) -> str:
    """``LogMessage.text``: the text given, or else the payload as received, decoded on
    first use (not ``payload``, which a consumer may have changed since)."""
    text = message._text
    if type(text) is bytes:
        text = message._text = text.decode("utf-8", "replace")
    return text  # type: ignore[return-value]  # None only if given so


def _set_text(message: LogMessage, text: str) -> None:
    """``LogMessage.text = text``: the text from then on, whatever the payload."""
    message._text = text


# The dataclass keeps ``text`` as a field (its __init__, repr, comparison, replace()
# and match all name it) whose slot this property stands in front of: a JSON message
# is made without its text, which a consumer reading .record or .fields never needs
# (decoding it measured 1,600 instructions a message of 540 bytes, 7% of the JSON
# path). Reading it costs a property call instead of a slot's.
_TEXT = property(
    _text_of, _set_text, doc="The payload as text (pyzmq's format ends it with a newline)."
)
setattr(LogMessage, "text", _TEXT)  # noqa: B010  # after the dataclass read the annotation


_new_object = object.__new__


def _new_message(
    topic: str,
    level: str,
    subtopic: str,
    text: str | bytes,
    root_topic: str,
    payload: bytes,
    fields: JsonRecord | None,
) -> LogMessage:
    """``LogMessage(topic, level, subtopic, text, root_topic, payload, fields)``, made faster.

    The same message, its slots set here rather than by the dataclass's ``__init__``:
    calling the class costs a call of ``__init__`` on top of this one (measured 127 ns
    a message against 166 ns). Every field is set, ``_record`` too. *text* bytes: the
    payload, decoded when ``text`` is first read.
    """
    message: LogMessage = _new_object(LogMessage)
    message.topic = topic
    message.level = level
    message.subtopic = subtopic
    message._text = text
    message.root_topic = root_topic
    message.payload = payload
    message.fields = fields
    message._record = None
    return message


class SubscriberStats(NamedTuple):
    """Counters of a :class:`LogSubscriber`."""

    received: int
    """Messages delivered to the caller."""
    invalid: int
    """Messages dropped because they had more than two frames, had a topic longer than
    :data:`zmqlog.wire.MAX_TOPIC_BYTES`, or claimed to be JSON records and were not
    valid ones (a single frame's record also when its ``topic`` differs from the
    frame's prefix); with ``wire_format="json"``, also any message holding no record."""
    gaps: int = 0
    """Messages lost on the way, counted from JSON publishers' sequence numbers.

    Only counted while subscribed to everything (``topics=("",)``): with a topic filter,
    the messages filtered out would look lost. A jump larger than could be a loss is
    not counted here but in :attr:`resets`."""
    resets: int = 0
    """Times a publisher's sequence number went back, or jumped forward further than
    messages could have been lost since its previous message (more than 2**20 plus ten
    million per second); counting starts afresh from the new number.

    A forged or replayed message, or a publisher reusing an identity, shows up here
    instead of as billions of gaps, and cannot hide the real publisher's later losses.
    Counted, like gaps, only while subscribed to everything."""


# Publishers whose last sequence number is remembered; beyond this the one heard from
# least recently is forgotten, so a subscriber outliving many publisher restarts (or a
# peer inventing identities) stays bounded.
_MAX_PUBLISHERS = 10_000


_MAX_INT64 = (1 << 63) - 1


def _endpoint_list(endpoint: object) -> list[str]:
    """The endpoints of ``LogSubscriber(endpoint)``: one endpoint, or an iterable of them.

    An endpoint is a str, or UTF-8 bytes as pyzmq's ``connect()`` also takes.
    """
    items = [endpoint] if isinstance(endpoint, (str, bytes)) else endpoint
    if not isinstance(items, Iterable):
        raise TypeError(
            "endpoint must be a str such as 'tcp://127.0.0.1:5555', or a list of them, "
            f"not {type(endpoint).__name__}"
        )
    endpoints: list[str] = []
    for item in items:
        if isinstance(item, bytes):
            item = item.decode("utf-8", "replace")
        if not isinstance(item, str):
            raise TypeError(
                "endpoint must be a str such as 'tcp://127.0.0.1:5555', or a list of them; "
                f"the list holds {type(item).__name__} {item!r}"
            )
        problem = endpoint_problem(item)
        if problem is not None:
            raise UsageError(f"endpoint {item!r} {problem}")
        endpoints.append(item)
    if not endpoints:
        raise UsageError("LogSubscriber needs at least one endpoint")
    return endpoints


def _topic_list(topics: object) -> list[bytes]:
    """The subscriptions of ``topics=``: one str or bytes is one topic prefix."""
    if isinstance(topics, (str, bytes, bytearray)):
        topics = (topics,)
    elif not isinstance(topics, Iterable):
        raise TypeError(
            f"topics must be a topic prefix (str) or a list of them, not {type(topics).__name__}"
        )
    prefixes: list[bytes] = []
    for topic in topics:
        if isinstance(topic, str):
            prefixes.append(topic.encode("utf-8"))
        elif isinstance(topic, (bytes, bytearray, memoryview)):
            prefixes.append(bytes(topic))
        else:
            raise TypeError(
                f"topics holds {topic!r}; each topic prefix is a str (or bytes), "
                f"not {type(topic).__name__}"
            )
    if not prefixes:
        raise UsageError(
            "topics is empty, so nothing would be received; leave it out (or pass "
            "topics='') to receive everything"
        )
    return prefixes


def _check_count(name: str, value: object, unit: str, limit: int) -> None:
    """*value* is an int from 1 to *limit* (ZeroMQ's own "0 or -1 means no limit" is not)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int (a number of {unit}), not {type(value).__name__}")
    if not 1 <= value <= limit:
        raise UsageError(f"{name} must be from 1 to {limit:,} {unit}, not {value!r}")


def _check_heartbeat(heartbeat: object) -> None:
    if heartbeat is None:
        return
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, (int, float)):
        raise TypeError(
            f"heartbeat must be a number of seconds or None (off), not {type(heartbeat).__name__}"
        )
    if not 0.001 <= heartbeat <= MAX_HEARTBEAT:  # False for NaN too
        raise UsageError(
            f"heartbeat must be from 0.001 to {MAX_HEARTBEAT:,} seconds, or None to turn "
            f"heartbeats off, not {heartbeat!r}"
        )


class LogSubscriber:
    """Subscribe to log messages published by zmqlog or by pyzmq's ``PUBHandler``.

    Both zmqlog formats are read, two frames ``[topic, payload]`` and single frames
    ``<topic>: <payload>`` (``single_frame=True``), and so are the one-frame messages
    of other programs, such as rsyslog's ``omczmq`` (see ``docs/wire-json.md``).

    ::

        async with LogSubscriber("tcp://127.0.0.1:5555") as sub:
            async for message in sub:
                print(message.level, message.text, end="")

    PUB/SUB is at-most-once: messages published before the subscription reached the
    publisher, or while this subscriber could not keep up (past *rcvhwm* messages
    queued here and the publisher's send high-water mark), are not delivered.

    Args:
        endpoint: one endpoint (a str, or bytes as pyzmq takes) or several (a list) to
            connect (or bind, with ``bind=True``) to.
        topics: the topic prefix to subscribe to, or several; ``""`` (the default) is
            everything. A single str (or bytes) is one prefix, not a list of
            characters: ``topics="app.WARNING"`` receives ``app.WARNING...`` only.
            A prefix holding bytes a single frame escapes (``"app.INFO.a b"``) is
            subscribed to in its escaped form too, so it selects both formats.
        bind: bind instead of connecting, so many publishers can connect here.
        context: a ZeroMQ context to use (needed for ``inproc://``); by default the
            subscriber makes its own and terminates it on close.
        rcvhwm: messages queued here before ZeroMQ starts dropping (1 or more;
            ZeroMQ's 0, no limit, is refused: a fast publisher would fill memory).
        max_message_size: bytes above which ZeroMQ refuses a message (1 or more); it
            then drops the connection to that publisher, which is re-established
            (connect side) while this subscriber goes on receiving from the others.
        heartbeat: seconds between ZeroMQ heartbeats; None (default) disables them.
            See :class:`AsyncPUBHandler` for why; TCP keepalive is on regardless.
        root_topic: the publishers' root topic, if known; it makes level parsing exact
            when root topics contain level names or dots.
        curve_server_key_file: the publisher's ``NAME.key`` file: connect with CURVE
            and accept only the publisher holding the matching secret key.
        curve_secret_key_file: this subscriber's own ``NAME.key_secret`` file, for
            publishers that admit only listed keys; without it a throwaway key is used.
            Without *curve_server_key_file*, the subscriber is the CURVE server itself:
            publishers that connect to it (``LogPublisher(..., bind=False,
            curve_server_key_file=<its NAME.key>)``) encrypt with its key.
        authorized_keys: for a subscriber that is the CURVE server, the publishers
            allowed to connect (a directory of their ``.key`` files, or their Z85
            public keys); without it any client key is accepted.
        wire_format: ``"auto"`` (default) reads a payload that is a JSON object with
            the ``"zmqlog"`` marker as a record and any other payload as text;
            ``"text"`` reads every payload as text, ``"json"`` drops (and counts as
            invalid) every payload that is not a valid JSON record.

    Every argument is checked here: a wrong type raises ``TypeError``, a value that
    cannot work :class:`~zmqlog.UsageError`, each naming the option. Key files are
    checked here too: a bad one raises :class:`~zmqlog.KeyFileError`. A publisher that
    refuses this subscriber (or that this subscriber refuses) shows up as silence:
    ZeroMQ keeps retrying the handshake and delivers nothing.
    """

    # Slots: receive() and _decode_parts read a dozen attributes a message, and a
    # subscriber has more of them than CPython (3.11, 3.12) keeps in an instance's
    # inline values (30), so in a dict each read was a hinted dict lookup; as slots,
    # measured 1,000 instructions a JSON message less (of 35,300). __weakref__ keeps
    # weak references working; a subclass that wants other attributes has a dict.
    __slots__ = (
        "__weakref__",
        "_bind",
        "_closed",
        "_context",
        "_count_gaps",
        "_endpoints",
        "_entered",
        "_fd",
        "_heartbeat",
        "_invalid",
        "_json_only",
        "_last_parsed",
        "_last_topic",
        "_loop",
        "_max_message_size",
        "_monitor",
        "_newest_entry",
        "_newest_publisher",
        "_owns_context",
        "_parsed_topics",
        "_rcvhwm",
        "_readable",
        "_received",
        "_receiving",
        "_revivals",
        "_root_topic",
        "_security",
        "_sequences",
        "_skipping",
        "_socket",
        "_subscriptions",
        "_text_only",
        "_topic_bytes",
        "_topics",
        "_wanted",
        "_yield_at",
    )

    def __init__(
        self,
        endpoint: str | bytes | Iterable[str | bytes],
        *,
        topics: str | bytes | Iterable[str | bytes] = ("",),
        bind: bool = False,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        rcvhwm: int = 100_000,
        root_topic: str | None = None,
        max_message_size: int = 4 << 20,
        heartbeat: float | None = None,
        curve_server_key_file: KeyPath | None = None,
        curve_secret_key_file: KeyPath | None = None,
        authorized_keys: AuthorizedKeys | None = None,
        wire_format: Literal["auto", "text", "json"] = "auto",
    ) -> None:
        if wire_format not in ("auto", "text", "json"):
            raise UsageError(f"wire_format must be 'auto', 'text' or 'json', not {wire_format!r}")
        self._text_only = wire_format == "text"
        self._json_only = wire_format == "json"
        self._endpoints = _endpoint_list(endpoint)
        self._topics = _topic_list(topics)
        # A prefix with bytes a single frame escapes is subscribed to escaped as well;
        # what matches only that form, and is not a single frame on a wanted topic,
        # was not asked for (a two-frame topic holding "%20", say) and is dropped.
        escaped = [escape_topic(t) for t in self._topics]
        self._subscriptions = list(dict.fromkeys([*self._topics, *escaped]))
        self._wanted: tuple[bytes, ...] | None = (
            tuple(self._topics) if len(self._subscriptions) > len(set(self._topics)) else None
        )
        check_context(context)
        _check_count("rcvhwm", rcvhwm, "messages", MAX_INT32)
        _check_count("max_message_size", max_message_size, "bytes", _MAX_INT64)
        _check_heartbeat(heartbeat)
        if root_topic is not None and not isinstance(root_topic, str):
            raise TypeError(f"root_topic must be a str or None, not {type(root_topic).__name__}")
        check_flag("bind", bind)
        self._bind = bind
        self._context = context
        self._rcvhwm = rcvhwm
        self._max_message_size = max_message_size
        self._heartbeat = heartbeat
        self._root_topic = root_topic
        self._security = subscriber_security(
            curve_server_key_file, curve_secret_key_file, authorized_keys
        )
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
        self._parsed_topics: dict[bytes, tuple[str, str, str, str]] = {}
        self._topic_bytes = 0  # the length of the topic frames in _parsed_topics
        # The topic frame of the last two-frame message and its parse: see _decode_parts.
        self._last_topic: bytes | None = None
        self._last_parsed: tuple[str, str, str, str] = ("", "", "", "")
        self._yield_at = 0.0  # when receive() lets the loop run even if messages wait
        self._skipping = False  # the rest of a message with too many frames is unread
        self._invalid = 0
        # Gaps are only meaningful when every message is subscribed to.
        self._count_gaps = b"" in self._topics
        # Keyed by (host, pid, id): a PublisherId's value, without making one.
        self._sequences: SequenceTracker[tuple[str, int, str]] = SequenceTracker(_MAX_PUBLISHERS)
        # The publisher of the last numbered message, as decoded, and its entry in
        # _sequences: see _count_gap.
        self._newest_publisher: _Publisher | None = None
        self._newest_entry: list[float] = []

    @property
    def stats(self) -> SubscriberStats:
        """What this subscriber received and dropped so far."""
        sequences = self._sequences
        return SubscriberStats(self._received, self._invalid, sequences.gaps, sequences.resets)

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
            self._security.apply(sock, self._endpoints[0], bind=self._bind)
            for topic in self._subscriptions:
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

    async def receive(self) -> LogMessage:
        """Wait for the next well-formed message and return it.

        Malformed messages on the way are dropped and counted in ``stats.invalid``; no
        frame a peer sends makes this raise. While messages keep arriving, good or
        bad, it still lets the event loop run its other tasks at least every 10 ms
        (one message's decoding aside), so a flood cannot starve them.

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
        if asyncio.get_running_loop() is not self._loop:
            raise UsageError(
                "this LogSubscriber was opened on another event loop, which watches its "
                "socket; open a new LogSubscriber on this loop"
            )
        self._receiving = True
        recv, now = _recv, _now
        try:
            while True:
                # One clock reading per message: the slice's, and the arrival time that
                # gap counting needs.
                arrived = now()
                if arrived >= self._yield_at:
                    # Messages kept coming for a whole slice: let the other tasks run.
                    await asyncio.sleep(0)
                    arrived = now()
                    self._yield_at = arrived + _SLICE
                    if self._closed:
                        raise ClosedResourceError("this LogSubscriber was closed")
                if self._skipping:
                    self._skip_frames(sock)
                    continue
                try:
                    first = recv(sock, _NOBLOCK, False)
                except zmq.Again:
                    self._readable.clear()
                    if events(sock) & zmq.POLLIN:
                        continue
                    await self._readable.wait()
                    self._yield_at = now() + _SLICE
                    if self._closed:
                        raise ClosedResourceError("this LogSubscriber was closed") from None
                    continue
                # The parts of a message arrive together, so the rest is there already.
                if not first.more:
                    try:
                        message = self._decode_single(first.bytes, arrived)
                    except Exception:  # as below: never a peer's way to end the loop
                        message = None
                        self._invalid += 1
                    if message is not None:
                        self._received += 1
                        return message
                    continue
                second = recv(sock, _NOBLOCK, False)
                if second.more:
                    self._invalid += 1
                    self._skipping = True
                    continue
                try:
                    message = self._decode_parts(first.bytes, second.bytes, arrived)
                except Exception:  # a bug of ours must not let a peer end the caller's loop
                    message = None
                    self._invalid += 1
                if message is not None:
                    self._received += 1
                    return message
        finally:
            self._receiving = False

    __anext__ = receive

    def _skip_frames(self, sock: zmq.Socket[bytes]) -> None:
        """Drop the remaining frames of a message that has too many, for one slice at most.

        A message may have millions of frames; the rest is dropped after the loop had
        its turn (``_skipping`` stays set until the last frame is read).
        """
        recv, deadline = _recv, self._yield_at
        dropped = 0
        while recv(sock, _NOBLOCK, False).more:
            dropped += 1
            if not dropped & 1023 and _now() >= deadline:
                return
        self._skipping = False

    def _parse(self, raw_topic: bytes, *, keep: bool = True) -> tuple[str, str, str, str] | None:
        """The parsed topic (None, counted invalid, if too long), kept in the cache if *keep*."""
        size = len(raw_topic)
        if size > MAX_TOPIC_BYTES:
            self._invalid += 1
            return None
        text_topic = raw_topic.decode("utf-8", "replace")
        parsed = (text_topic, *parse_topic(text_topic, self._root_topic))
        if keep:
            # Parse each topic once, in a cache bounded by its entries and their bytes.
            if (
                len(self._parsed_topics) >= _TOPIC_CACHE_ENTRIES
                or self._topic_bytes + size > _TOPIC_CACHE_BYTES
            ):
                self._parsed_topics.clear()
                self._topic_bytes = 0
            self._parsed_topics[raw_topic] = parsed
            self._topic_bytes += size
        return parsed

    def _decode_parts(self, raw_topic: bytes, payload: bytes, arrived: float) -> LogMessage | None:
        """A two-frame message, arrived at *arrived* (monotonic); None if dropped."""
        # Most messages have the topic of the one before: comparing the frames costs
        # less than hashing a new frame's bytes for the cache (measured 250
        # instructions a message less). Only a wanted topic's parse is kept here; a
        # parse depends on nothing else, so it stays right when the cache is cleared.
        parsed: tuple[str, str, str, str] | None
        if raw_topic == self._last_topic:
            parsed = self._last_parsed
        else:
            parsed = self._parsed_topics.get(raw_topic)
            if parsed is None:
                wanted = self._wanted
                if wanted is not None and not raw_topic.startswith(wanted):
                    return None  # matched only the escaped form of a topic: not asked for
                parsed = self._parse(raw_topic)
                if parsed is None:
                    return None
            self._last_topic = raw_topic
            self._last_parsed = parsed
        topic, root, level, subtopic = parsed
        text: str | bytes = payload  # a JSON message's: decoded when read
        fields: JsonRecord | None = None
        # With wire_format="json" the payload's first byte is not looked at.
        if self._text_only or (not self._json_only and payload[:1] != b"{"):
            text = payload.decode("utf-8", "replace")
        else:
            # read_record(payload), its fast path inline: a Python call less a message.
            try:
                record = strict_record(payload) if len(payload) <= MAX_JSON_BYTES else None
            except STRICT_ERRORS:
                record = None
            if record is None:
                # Too long, or refused by the strict decode (rare): the careful paths.
                refused = self._read_refused(payload, arrived)
                if refused is None:
                    return None
                if refused is not False:
                    fields = refused
            else:
                # paired(record), left to us by strict_record, inline and tested once
                # with the gap counting's own tests of the pair (measured 330
                # instructions a message less than testing them apart).
                fields = record
                publisher = record.publisher
                seq = record.seq
                if publisher is None:
                    if seq is not None:
                        self._invalid += 1
                        return None
                elif seq is None:
                    self._invalid += 1
                    return None
                elif self._count_gaps:
                    # _count_gap(publisher, seq, arrived), its common case inline: the
                    # next number of the previous message's publisher.
                    entry = self._newest_entry
                    if publisher == self._newest_publisher and seq == entry[0] + 1:
                        entry[0] = seq
                        entry[1] = arrived
                    else:
                        self._see(publisher, seq, arrived)
        # _new_message(topic, level, subtopic, text, root, payload, fields), inline: the
        # two-frame layout is every message's but single frames', and a call costs.
        message: LogMessage = _new_object(LogMessage)
        message.topic = topic
        message.level = level
        message.subtopic = subtopic
        message._text = text
        message.root_topic = root
        message.payload = payload
        message.fields = fields
        message._record = None
        return message

    def _read_refused(self, payload: bytes, arrived: float) -> JsonRecord | Literal[False] | None:
        """A two-frame JSON payload the strict decode did not read, as read_record reads it.

        The record (its number counted), False if the payload holds none (text, with
        ``wire_format="auto"``), or None if the message is dropped (counted invalid).
        """
        record = read_refused(payload) if len(payload) <= MAX_JSON_BYTES else False
        # Identity tests: a JsonRecord's truth would call its (Python) __len__.
        if record is False or record is None:
            if record is None or self._json_only:
                self._invalid += 1
                return None
            return False
        if self._count_gaps and record.publisher is not None:
            self._count_gap(record.publisher, record.seq, arrived)  # type: ignore[arg-type]
        return record

    def _decode_single(self, frame: bytes, arrived: float) -> LogMessage | None:
        """A one-frame message, read by the rules of ``docs/wire-json.md``; None if dropped.

        A zmqlog single frame (``<prefix>: <payload>``) is a message on the prefix's
        topic; a frame without prefix (what rsyslog's ``omczmq`` sends without its
        topic frame) is text on the empty topic, or a JSON record on its own
        ``topic``. Only with ``wire_format="json"`` is a frame that holds no valid
        record invalid.
        """
        raw_topic, payload = decode_single_frame(frame)
        wanted = self._wanted
        if raw_topic is None:
            if wanted is not None and not frame.startswith(wanted):
                return None
            return self._decode_bare(payload, arrived)
        parsed = self._parsed_topics.get(raw_topic)
        if parsed is None:
            # Cached only if a two-frame message on this topic would be wanted too.
            keep = True
            if wanted is not None and not raw_topic.startswith(wanted):
                if not frame.startswith(wanted):
                    return None
                keep = False
            parsed = self._parse(raw_topic, keep=keep)
            if parsed is None:
                return None
        topic, root, level, subtopic = parsed
        if self._text_only or (payload[:1] != b"{" and not self._json_only):
            return _new_message(
                topic, level, subtopic, payload.decode("utf-8", "replace"), root, payload, None
            )
        # (Single frames are not the common layout: the call is not written out here,
        # as it is in _decode_parts.)
        fields = read_record(payload)
        # Identity tests: a JsonRecord's truth would call its (Python) __len__.
        if fields is False or fields is None:
            if fields is None or self._json_only:
                self._invalid += 1
                return None
            fields = None
        else:
            # The record's topic is the prefix's: a reader of either sees the same.
            if fields.topic != topic:
                self._invalid += 1
                return None
            if self._count_gaps and fields.publisher is not None:
                self._count_gap(fields.publisher, fields.seq, arrived)  # type: ignore[arg-type]
        return _new_message(topic, level, subtopic, payload, root, payload, fields)

    def _decode_bare(self, payload: bytes, arrived: float) -> LogMessage | None:
        """A one-frame message without prefix: a JSON record on its ``topic``, or text."""
        fields: JsonRecord | None = None
        raw_topic = b""
        if payload[:1] == b"{" and not self._text_only:
            record = read_record(payload)
            if record is None:
                self._invalid += 1
                return None
            if record is not False:
                fields = record
                raw_topic = (record.topic or "").encode("utf-8", "replace")
        if fields is None and self._json_only:
            self._invalid += 1
            return None
        parsed = self._parsed_topics.get(raw_topic)
        if parsed is None:
            wanted = self._wanted
            parsed = self._parse(raw_topic, keep=wanted is None or raw_topic.startswith(wanted))
            if parsed is None:
                return None
        if fields is not None and self._count_gaps and fields.publisher is not None:
            self._count_gap(fields.publisher, fields.seq, arrived)  # type: ignore[arg-type]
        topic, root, level, subtopic = parsed
        return _new_message(topic, level, subtopic, payload, root, payload, fields)

    def _count_gap(self, publisher: _Publisher, seq: int, arrived: float) -> None:
        """Account for number *seq* of *publisher*, from a message arrived at *arrived*.

        A stream of messages from one publisher is the common case, and the tracker is
        told of the next number in it without building its key: the previous
        message's publisher is kept as decoded, and if this one equals it, the
        tracker's entry for it (which :meth:`SequenceTracker.see` returned, and
        which stays the newest until another publisher is seen) is updated in place,
        as ``see()`` would. The decoded publishers are msgspec Structs, compared in C
        field by field; Structs of different classes (one read by the careful path,
        one by the strict decode) are never equal, and such a message is counted
        through ``see()``, by its value. Their fields are exactly str, int and str
        (msgspec takes neither booleans nor floats for the pid), so equal publishers
        have equal keys.
        (Measured: 2,300 instructions a message of gap counting through ``see()``, 1,430
        with this case inline.)
        """
        entry = self._newest_entry
        if publisher == self._newest_publisher and seq == entry[0] + 1:
            entry[0] = seq
            entry[1] = arrived
        else:
            self._see(publisher, seq, arrived)

    def _see(self, publisher: _Publisher, seq: int, arrived: float) -> None:
        """:meth:`_count_gap` for a number that is not the newest publisher's next: told
        to the tracker, whose entry for *publisher* becomes the one kept."""
        # (host, pid, id): a PublisherId's value, without making one.
        key = (publisher.host, publisher.pid, publisher.id)
        self._newest_entry = self._sequences.see(key, seq, arrived)
        self._newest_publisher = publisher

    async def forward(self, target: logging.Logger | logging.Handler) -> NoReturn:
        """Hand every received message's :attr:`~LogMessage.record` to *target*, until cancelled.

        A ``logging.Logger`` gets the records its level lets through, as if they were
        logged there (its handlers and its ancestors' handlers run); a
        ``logging.Handler`` gets the records at or above its level. Either way any
        stdlib handler can consume remote logs. The handlers run on the event loop,
        so a slow one slows receiving; put a ``logging.handlers.QueueHandler`` in
        front of it if it blocks. Never forward into a logger this process publishes
        from, or every record comes round again.

        Raises:
            ClosedResourceError: the subscriber is closed (or was never opened).
            UsageError: another task is already receiving from this subscriber.
        """
        if isinstance(target, logging.Logger):
            logger = target
            while True:
                record = (await self.receive()).record
                if logger.isEnabledFor(record.levelno):
                    logger.handle(record)
        elif isinstance(target, logging.Handler):
            handler = target
            while True:
                record = (await self.receive()).record
                if record.levelno >= handler.level:
                    handler.handle(record)
        raise UsageError(
            f"forward() needs a logging.Logger or logging.Handler, not {type(target).__name__}"
        )

    async def aclose(self) -> None:
        """Close the socket (dropping anything not yet received). Safe to call twice."""
        self._close()

    def _close(self) -> None:
        self._closed = True
        self._readable.set()  # a receiver waiting on the socket raises ClosedResourceError
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
        # Stop authorizing publishers (a subscriber that is the CURVE server) before the
        # context ends: the authenticator's own socket lives in it.
        self._security.release()
        if self._owns_context and self._context is not None:
            self._context.term()
            self._context = None

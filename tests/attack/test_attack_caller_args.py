"""Attacks on the caller's hot path, AsyncPUBHandler.handle (1e2a578): which records
are queued bare (formatted later by the drain) and which are pinned (message fixed at
the call, a large one counted by its bytes against ``max_queue_bytes``).

The promise: a record is published as it read at the logging call, whatever its args
are (text subclasses, bytearray, memoryview, containers, mappings, types whose
metaclass lies about equality) and however they change afterwards; a record whose
message and text args pass LARGE_TEXT is counted by its bytes, so the byte bound
holds; a subclass's emit() sees every record, filters run once; and every record
logged is in exactly one of ``handler.stats``' counters. Each test logs through a
real handler on loopback and compares what a SUB socket receives (the text payload,
or the JSON ``message``) with ``getMessage()`` at the call. The xfail(strict) tests
are findings left as they are: the old code (cfcb1ed) has them too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq

from tests.attack._helpers import TCP, receive_exactly, subscriber_of
from tests.conftest import held_drain
from zmqlog import AsyncPUBHandler
from zmqlog._records import LARGE_TEXT, RECORD_OVERHEAD, Pinned

Context = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture(autouse=True)
def _quiet_handle_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records that fail are reported by handleError: not on the test's stderr."""
    monkeypatch.setattr(logging, "raiseExceptions", False)


def _message_of(wire_format: str, frames: list[bytes]) -> str:
    """The message a subscriber reads in *frames*: pyzmq's ``%(message)s\\n`` for INFO,
    or the JSON payload's ``message``."""
    assert len(frames) == 2
    payload = frames[1]
    if wire_format == "json":
        message = json.loads(payload.decode("utf-8"))["message"]
        assert type(message) is str
        return message
    text = payload.decode("utf-8")
    assert text.endswith("\n")
    return text[:-1]


@pytest.fixture(params=["text", "json"])
def published(
    request: pytest.FixtureRequest, context: Context, logger: logging.Logger
) -> Iterator[tuple[AsyncPUBHandler, zmq.Socket[bytes], logging.Logger, str]]:
    """A handler of each wire format on loopback, on *logger*, and a subscriber it has seen."""
    wire_format = request.param
    handler = AsyncPUBHandler(TCP, linger=0, wire_format=wire_format)
    try:
        sub = subscriber_of(context, handler)
        try:
            logger.addHandler(handler)
            yield handler, sub, logger, wire_format
        finally:
            sub.close()
    finally:
        logger.removeHandler(handler)
        handler.close()


class _Box:
    """A mutable value whose text is its contents."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return f"box({self.value})"


class _MutableStr(str):
    """A str subclass whose text (``%s`` calls __str__) changes with its state."""

    state = "at-call"

    def __str__(self) -> str:
        return f"{str.__str__(self)}/{self.state}"


class _MutableBytes(bytes):
    state = "at-call"

    def __str__(self) -> str:
        return f"{bytes.__str__(self)}/{self.state}"


class _MutableInt(int):
    state = "at-call"

    def __str__(self) -> str:
        return f"{int.__repr__(self)}/{self.state}"

    __format__ = None  # type: ignore[assignment]


class _LikeInt(type):
    """A metaclass whose classes hash and compare equal to ``int``: ``kind in
    frozenset({int, ...})`` says yes for them."""

    def __hash__(cls) -> int:
        return hash(int)

    def __eq__(cls, other: object) -> bool:
        return other is int or other is cls


class _PosingAsInt(metaclass=_LikeInt):
    """A mutable object whose type passes for int in a set lookup."""

    def __init__(self) -> None:
        self.value = "at-call"

    def __str__(self) -> str:
        return self.value


class _Unhashable(type):
    def __hash__(cls) -> int:
        raise RuntimeError("no hash for this type")


class _UnhashableKind(metaclass=_Unhashable):
    def __str__(self) -> str:
        return "unhashable-kind"


def _append(value: list[Any]) -> None:
    value.append("later")


def _overwrite(value: bytearray | memoryview) -> None:
    value[:] = b"LATER!!"


def _set_state(value: Any) -> None:
    value.state = "later"


def _set_value(value: _Box) -> None:
    value.value = "later"


# name -> (message, the args to log, which of them to change, how)
CASES: dict[str, tuple[str, Callable[[], tuple[Any, ...]], int, Callable[[Any], None]]] = {
    "list": ("%s", lambda: ([1, 2],), 0, _append),
    "dict in tuple": ("%s", lambda: ({"a": 1},), 0, lambda d: d.update(later=1)),
    "tuple holding a list": ("%s", lambda: (([1],),), 0, lambda t: _append(t[0])),
    "bytearray": ("%s", lambda: (bytearray(b"at-call"),), 0, _overwrite),
    "memoryview": ("%s", lambda: (memoryview(bytearray(b"at-call")),), 0, _overwrite),
    "str subclass": ("%s", lambda: (_MutableStr("s"),), 0, _set_state),
    "bytes subclass": ("%s", lambda: (_MutableBytes(b"b"),), 0, _set_state),
    "int subclass": ("%s", lambda: (_MutableInt(7),), 0, _set_state),
    "object": ("%s", lambda: (_Box("at-call"),), 0, _set_value),
    "plain then mutable": ("%d %s %r %s", lambda: (1, "x", None, [0]), 3, _append),
    "text then mutable": ("%s %r %s", lambda: ("s", b"b", bytearray(b"at-call")), 2, _overwrite),
    "large str then mutable": ("%s %s", lambda: ("x" * (2 * LARGE_TEXT), [0]), 1, _append),
}


@pytest.mark.parametrize("case", list(CASES))
def test_args_changed_after_the_call_are_published_as_at_the_call(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], logging.Logger, str], case: str
) -> None:
    """Every kind of mutable or not-exactly-immutable argument, changed while the
    record waits in the queue, is published as it read at the logging call."""
    handler, sub, logger, wire_format = published
    msg, make, which, change = CASES[case]
    args = make()
    with held_drain(handler):
        logger.info(msg, *args)
        expected = msg % args
        change(args[which])
        if case != "memoryview":  # whose text is its address
            assert msg % args != expected  # the change would show
    (frames,) = receive_exactly(sub, 1)
    assert _message_of(wire_format, frames) == expected
    stats = handler.stats
    assert (stats.queued, stats.sent, stats.dropped, stats.errors) == (0, 1, 0, 0)


def test_a_mapping_as_args_is_published_as_at_the_call(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], logging.Logger, str],
) -> None:
    """``log.info("%(a)s", {"a": [1]})``: logging makes the dict the args; a change to
    its list after the call does not show."""
    handler, sub, logger, wire_format = published
    values: dict[str, Any] = {"a": [1], "b": "two"}
    with held_drain(handler):
        logger.info("%(a)s %(b)s", values)
        values["a"].append(2)
        values["b"] = "changed"
    (frames,) = receive_exactly(sub, 1)
    assert _message_of(wire_format, frames) == "[1] two"


def test_args_that_are_not_a_tuple_are_published_as_at_the_call(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], logging.Logger, str],
) -> None:
    """A record made by hand whose args are a list: pinned, its message fixed now."""
    handler, sub, logger, wire_format = published
    values = [1, 2]
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "%s", (), None)
    record.args = values  # type: ignore[assignment]
    expected = record.getMessage()
    with held_drain(handler):
        logger.handle(record)
        values.append(3)
    (frames,) = receive_exactly(sub, 1)
    assert _message_of(wire_format, frames) == expected == "[1, 2]"


def test_empty_mutable_args_filled_after_the_call(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], logging.Logger, str],
) -> None:
    """A record made by hand with an empty list as its args renders its message as it
    is; the list filled after the call changes nothing that is sent (queued bare, as
    an empty args was before, the drain formatted "v [5]")."""
    handler, sub, logger, wire_format = published
    values: list[int] = []
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "v %s", (), None)
    record.args = values  # type: ignore[assignment]
    expected = record.getMessage()
    with held_drain(handler):
        logger.handle(record)
        values.append(5)
    (frames,) = receive_exactly(sub, 1)
    assert _message_of(wire_format, frames) == expected == "v %s"


@pytest.mark.parametrize("args", [(), None], ids=["empty tuple", "None"])
def test_no_args_publish_the_message_as_it_is(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], logging.Logger, str],
    args: Any,
) -> None:
    handler, sub, logger, wire_format = published
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "100% %s", args, None)
    logger.handle(record)
    (frames,) = receive_exactly(sub, 1)
    assert _message_of(wire_format, frames) == "100% %s"
    assert handler.stats.sent == 1


@pytest.mark.xfail(
    strict=True,
    reason="a type whose metaclass makes it equal to int passes the frozenset test and "
    "is queued bare, formatted after it changed; cfcb1ed does the same. Left: only the "
    "application's own code can make such a type, and an identity test per argument "
    "would cost the caller's path what 1e2a578 saved",
)
def test_a_type_posing_as_int_is_published_as_at_the_call(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], logging.Logger, str],
) -> None:
    handler, sub, logger, wire_format = published
    value = _PosingAsInt()
    with held_drain(handler):
        logger.info("%s", value)
        value.value = "later"
    (frames,) = receive_exactly(sub, 1)
    assert _message_of(wire_format, frames) == "at-call"


@pytest.mark.parametrize("before", [(), ("s",), (1,)], ids=["alone", "after a str", "after an int"])
def test_an_arg_whose_type_cannot_hash_is_counted_and_does_not_raise(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], logging.Logger, str],
    before: tuple[Any, ...],
) -> None:
    """A metaclass whose __hash__ raises: the logging call returns, the record is an
    error (handleError), and the next record goes out."""
    handler, sub, logger, wire_format = published
    errors: list[logging.LogRecord] = []
    handler.handleError = errors.append  # type: ignore[method-assign,assignment]
    # Set after the record is made: logging's own Mapping check of a lone arg hashes it.
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "%s " * (len(before) + 1), (), None
    )
    record.args = (*before, _UnhashableKind())
    logger.handle(record)
    logger.info("next")
    (frames,) = receive_exactly(sub, 1)
    assert _message_of(wire_format, frames) == "next"
    assert len(errors) == 1
    stats = handler.stats
    assert (stats.queued, stats.sent, stats.dropped, stats.errors) == (0, 1, 0, 1)


# (msg, args) whose message and text args total LARGE_TEXT - 1, LARGE_TEXT, LARGE_TEXT + 1
def _sized(total: int, split: str) -> tuple[str, tuple[Any, ...]]:
    if split == "msg":
        return "m" * total, ()
    if split == "one str":
        return "%s", ("s" * (total - 2),)
    if split == "one bytes":
        return "%r", (b"b" * (total - 2),)
    if split == "str and bytes":
        half = (total - 5) // 2
        return "%s %r", ("s" * half, b"b" * (total - 5 - half))
    if split == "with plain args":
        return "%d %s %s %r", (7, "s" * (total - 11), None, 1.5)
    assert split == "many small"
    count = total // 3
    rest = total - 3 * count
    return "%s" * count + "m" * rest, ("x",) * count


SPLITS = ["msg", "one str", "one bytes", "str and bytes", "with plain args", "many small"]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_a_record_past_large_text_is_pinned_and_counted_by_its_bytes(
    context: Context, logger: logging.Logger, split: str, delta: int
) -> None:
    """Message plus str/bytes args of up to LARGE_TEXT characters: queued bare, counted
    as a record; one more: pinned, its characters counted in nbytes. Numbers and None
    add nothing. Then it is published as logged."""
    msg, args = _sized(LARGE_TEXT + delta, split)
    text = len(msg) + sum(len(a) for a in args if type(a) in (str, bytes))
    assert text == LARGE_TEXT + delta
    handler = AsyncPUBHandler(TCP, linger=0)
    try:
        sub = subscriber_of(context, handler)
        logger.addHandler(handler)
        with held_drain(handler):
            logger.info(msg, *args)
            queue = handler._queue
            (item,) = queue.items
            if delta <= 0:
                assert isinstance(item, logging.LogRecord)
                assert queue.nbytes == 0
            else:
                assert type(item) is Pinned
                assert queue.nbytes == item.size == text  # on top of RECORD_OVERHEAD
        (frames,) = receive_exactly(sub, 1)
        assert frames[1].decode() == (msg % args if args else msg) + "\n"
        assert handler._queue.nbytes == 0
        sub.close()
    finally:
        handler.close()


@pytest.mark.parametrize("overflow", ["drop_newest", "drop_oldest"])
def test_many_args_that_sum_past_large_text_keep_the_byte_bound(
    context: Context, logger: logging.Logger, overflow: str
) -> None:
    """Records of 40 short str args each (none large alone, 400+ characters together)
    fill the byte bound, not the record bound: the count holds, and every one is
    either queued or dropped."""
    max_bytes = 20_000
    handler = AsyncPUBHandler(
        TCP,
        linger=0,
        max_queue_bytes=max_bytes,
        overflow=overflow,  # type: ignore[arg-type]
    )
    try:
        logger.addHandler(handler)
        args = ("abcdefghij",) * 40
        with held_drain(handler):
            for _ in range(100):
                logger.info("%s" * 40, *args)
            queue = handler._queue
            assert all(type(item) is Pinned for item in queue.items)
            assert queue.nbytes == sum(item.size for item in queue.items if type(item) is Pinned)
            # Each counts RECORD_OVERHEAD as a record, and its texts on top.
            assert len(queue.items) * RECORD_OVERHEAD + queue.nbytes <= max_bytes
            stats = handler.stats
            per = RECORD_OVERHEAD + 80 + 400
            assert stats.queued == max_bytes // per
            assert stats.queued + stats.dropped == 100
    finally:
        handler.close()


def test_a_large_record_then_small_ones_stay_counted(
    context: Context, logger: logging.Logger
) -> None:
    """Behind a large (pinned) record, small ones with mutable args are still fixed at
    the call, small bare ones stay bare, and nbytes is the large one's bytes alone."""
    handler = AsyncPUBHandler(TCP, linger=0)
    try:
        sub = subscriber_of(context, handler)
        logger.addHandler(handler)
        values = [1]
        with held_drain(handler):
            logger.info("%s", "L" * (LARGE_TEXT + 1))
            logger.info("small %s", values)
            logger.info("bare %d %s", 3, "s")
            values.append(2)
            queue = handler._queue
            large, mutable, bare = queue.items
            assert type(large) is Pinned
            assert type(mutable) is Pinned
            assert isinstance(bare, logging.LogRecord)
            assert queue.nbytes == large.size + mutable.size
        messages = receive_exactly(sub, 3)
        texts = [frames[1].decode() for frames in messages]
        assert texts == ["L" * (LARGE_TEXT + 1) + "\n", "small [1]\n", "bare 3 s\n"]
        assert handler._queue.nbytes == 0
        sub.close()
    finally:
        handler.close()


class _CountingFilter(logging.Filter):
    def __init__(self, refuse: str = "") -> None:
        super().__init__()
        self.calls = 0
        self.refuse = refuse

    def filter(self, record: logging.LogRecord) -> bool:
        self.calls += 1
        return not (self.refuse and record.getMessage().startswith(self.refuse))


class _Reshaping(AsyncPUBHandler):
    emitted = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.emitted += 1
        super().emit(record)


@pytest.mark.parametrize("cls", [AsyncPUBHandler, _Reshaping])
def test_filters_run_once_and_refused_records_are_not_counted(
    context: Context, logger: logging.Logger, cls: type[AsyncPUBHandler]
) -> None:
    """A handler-level filter runs once a record, with or without an emit() override;
    a record it refuses is in no counter, and the others, whatever their args, go out
    as logged (an emit() override sees each of them once)."""
    handler = cls(TCP, linger=0)
    counting = _CountingFilter(refuse="no")
    handler.addFilter(counting)
    try:
        sub = subscriber_of(context, handler)
        logger.addHandler(handler)
        values = ["at-call"]
        with held_drain(handler):
            logger.info("yes %d", 1)
            logger.info("no %d", 2)
            logger.info("yes %s", values)
            logger.info("no %s", values)
            logger.info("yes %s", "x" * (2 * LARGE_TEXT))
            values[0] = "later"
        texts = [frames[1].decode() for frames in receive_exactly(sub, 3)]
        assert texts == ["yes 1\n", "yes ['at-call']\n", "yes " + "x" * (2 * LARGE_TEXT) + "\n"]
        assert counting.calls == 5
        if isinstance(handler, _Reshaping):
            assert handler.emitted == 3
        stats = handler.stats
        assert (stats.queued, stats.sent, stats.dropped, stats.errors) == (0, 3, 0, 0)
        sub.close()
    finally:
        handler.close()


def test_a_record_whose_args_fail_to_format_is_an_error_not_a_loss(
    published: tuple[AsyncPUBHandler, zmq.Socket[bytes], logging.Logger, str],
) -> None:
    """Bad args, bare (formatted by the drain) or pinned (formatted at the call), are
    each counted once as an error; the records around them go out."""
    handler, sub, logger, wire_format = published
    errors: list[logging.LogRecord] = []
    handler.handleError = errors.append  # type: ignore[method-assign,assignment]
    logger.info("first")
    logger.info("%d", "not a number")  # bare: fails in the drain
    logger.info("%d", ["not a number"])  # pinned: fails at the call
    logger.info("%s %s", 1)  # too few args
    logger.info("last")
    texts = [_message_of(wire_format, frames) for frames in receive_exactly(sub, 2)]
    assert texts == ["first", "last"]
    stats = handler.stats
    assert (stats.queued, stats.sent, stats.dropped, stats.errors) == (0, 2, 0, 3)
    assert len(errors) == 3


@pytest.mark.parametrize(
    "arg",
    [bytearray(b"b" * 10_000), _MutableStr("s" * 10_000), [("x" * 10_000)]],
    ids=["bytearray", "str subclass", "list of a str"],
)
def test_a_large_mutable_arg_is_counted_by_the_bytes_of_its_text(
    context: Context, logger: logging.Logger, arg: Any
) -> None:
    """A mutable arg's length is not counted at the call, but the text it is fixed to
    is: a large one is charged its characters, so max_queue_bytes still holds."""
    handler = AsyncPUBHandler(TCP, linger=0, max_queue_bytes=50_000)
    try:
        logger.addHandler(handler)
        with held_drain(handler):
            for _ in range(10):
                logger.info("%s", arg)
            queue = handler._queue
            (first, *_) = queue.items
            assert type(first) is Pinned
            assert first.size >= 10_000
            assert len(queue.items) * RECORD_OVERHEAD + queue.nbytes <= 50_000
            stats = handler.stats
            assert stats.queued + stats.dropped == 10
            assert stats.dropped > 0
    finally:
        handler.close()

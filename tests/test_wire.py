"""The text wire format: topics and payloads, byte for byte what pyzmq sends."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st
from zmq.log.handlers import PUBHandler

from tests.conftest import make_record
from zmqlog import wire


class _Capture:
    """Stands in for pyzmq's socket so its handler's frames can be compared."""

    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []

    def send_multipart(self, frames: list[bytes]) -> None:
        self.sent.append(frames)


@pytest.fixture
def pyzmq_handler(context: zmq.Context[zmq.Socket[bytes]]) -> Any:
    handler = PUBHandler(context.socket(zmq.PUB))
    handler.socket.close(linger=0)
    handler.socket = _Capture()  # type: ignore[assignment]
    return handler


def pyzmq_frames(handler: Any, record: logging.LogRecord) -> tuple[bytes, bytes]:
    handler.emit(record)
    topic, payload = handler.socket.sent.pop()
    return topic, payload


def ours(
    record: logging.LogRecord, root_topic: str = "", fmt: logging.Formatter | None = None
) -> tuple[bytes, bytes]:
    formatter = fmt or wire.default_formatters()[record.levelno]
    assert formatter is not None
    return wire.encode_text(record, formatter, root_topic)


class _NotAString:
    def __str__(self) -> str:
        return "sub.obj::object text"


def _exc_info() -> logging._SysExcInfoType:
    try:
        raise ValueError("boom")
    except ValueError:
        return sys.exc_info()


RECORDS = {
    "plain": lambda: make_record("hello there"),
    "args": lambda: make_record("request %d handled in %.3f ms", 7, 1.5),
    "unicode": lambda: make_record("héllo wörld ☃ %s", "日本"),
    "subtopic": lambda: make_record("sub.topic::hello there"),
    "empty subtopic": lambda: make_record("::no topic here"),
    "two delimiters": lambda: make_record("a::b::c"),
    "unicode subtopic": lambda: make_record("naïve.☃::text"),
    "debug": lambda: make_record("dbg", level=logging.DEBUG),
    "warning": lambda: make_record("careful %s", "now", level=logging.WARNING),
    "error with exc_info": lambda: make_record("failed", level=logging.ERROR, exc_info=_exc_info()),
    "critical": lambda: make_record("down", level=logging.CRITICAL),
    "non-str msg": lambda: make_record(_NotAString()),
    "dict msg": lambda: make_record({"k": [1, 2]}),
}


@pytest.mark.parametrize("root_topic", ["", "myprogram", "dotted.root"])
@pytest.mark.parametrize("case", sorted(RECORDS))
def test_frames_equal_pyzmq_pubhandler(pyzmq_handler: Any, case: str, root_topic: str) -> None:
    """For the same record and root topic our frames are pyzmq's, byte for byte."""
    pyzmq_handler.root_topic = root_topic
    record = RECORDS[case]()
    expected = pyzmq_frames(pyzmq_handler, record)
    assert expected == ours(record, root_topic)


def test_encoding_does_not_modify_the_callers_record() -> None:
    """Splitting off a subtopic works on a copy; other handlers see the record as logged."""
    record = make_record("sub::text %s", "x")
    ours(record)
    assert record.msg == "sub::text %s"
    assert record.args == ("x",)


@pytest.mark.parametrize(
    "fmt", ["%(name)s|%(levelname)s|%(message)s", "%(asctime)s %(funcName)s %(message)s"]
)
def test_custom_formatter_matches_pyzmq(pyzmq_handler: Any, fmt: str) -> None:
    """A formatter set for every level renders exactly as pyzmq renders it."""
    formatter = logging.Formatter(fmt)
    pyzmq_handler.setFormatter(formatter)
    pyzmq_handler.root_topic = "r"
    record = make_record("x.y::value %d", 3, level=logging.WARNING)
    assert pyzmq_frames(pyzmq_handler, record) == ours(record, "r", formatter)


def test_default_formats_are_pyzmqs(pyzmq_handler: Any) -> None:
    """Our per-level defaults are the formats pyzmq's handler starts with."""
    theirs = {level: f._fmt for level, f in pyzmq_handler.formatters.items()}
    assert theirs == dict(wire.DEFAULT_FORMATS)


# -- dict messages (structlog's event dicts) -------------------------------------------


class _EventFormatter(logging.Formatter):
    """Renders an event dict as ``key=value`` pairs, without a final newline (as
    structlog's renderers do), and records what it was given."""

    def format(self, record: logging.LogRecord) -> str:
        self.seen = record.msg
        assert isinstance(record.msg, dict)
        return " ".join(f"{key}={value!r}" for key, value in record.msg.items())


def test_an_event_dict_reaches_the_formatter_as_a_dict() -> None:
    """The formatter gets the dict itself, "::" and all, and the payload ends with a newline."""
    event = {"event": "a::b", "order": 42}
    formatter = _EventFormatter()
    topic, payload = wire.encode_text(make_record(event), formatter, "shop")
    assert formatter.seen == event
    assert (topic, payload) == (b"shop.INFO", b"event='a::b' order=42\n")


@pytest.mark.parametrize(
    ("event", "extra_topic", "expected"),
    [
        ({"event": "x", "topic": "db.pool"}, None, b"shop.INFO.db.pool"),
        ({"event": "x", "topic": "db.pool"}, "api", b"shop.INFO.db.pool"),
        ({"event": "x"}, "api", b"shop.INFO.api"),
        ({"event": "x", "topic": 7}, None, b"shop.INFO"),
        ({"event": "x", "topic": ""}, "api", b"shop.INFO.api"),
    ],
)
def test_an_event_dicts_subtopic_is_its_topic_key(
    event: dict[str, object], extra_topic: str | None, expected: bytes
) -> None:
    """A str "topic" key names the subtopic, else the record's topic attribute does."""
    record = make_record(event)
    if extra_topic is not None:
        record.topic = extra_topic
    topic, _ = wire.encode_text(record, _EventFormatter(), "shop")
    assert topic == expected


def test_an_event_payload_keeps_a_newline_its_formatter_wrote() -> None:
    """Only a missing final newline is added: pyzmq's formats keep their one."""
    _, payload = wire.encode_text(make_record({"event": "x"}), logging.Formatter("%(message)s\n"))
    assert payload == b"{'event': 'x'}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", ("", "plain")),
        ("a.b::rest", ("a.b", "rest")),
        ("::rest", ("", "rest")),
        ("a::b::c", ("a", "b::c")),
        ("", ("", "")),
    ],
)
def test_split_subtopic(text: str, expected: tuple[str, str]) -> None:
    """Only the first delimiter splits; text without one has no subtopic."""
    assert expected == wire.split_subtopic(text)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("", "INFO", ""), "INFO"),
        (("app", "INFO", ""), "app.INFO"),
        (("app", "ERROR", "db.pool"), "app.ERROR.db.pool"),
        (("", "WARNING", "x"), "WARNING.x"),
    ],
)
def test_join_topic(parts: tuple[str, str, str], expected: str) -> None:
    """Empty root topics and subtopics leave no stray dots."""
    assert expected == wire.join_topic(*parts)


@pytest.mark.parametrize(
    ("topic", "root_hint", "expected"),
    [
        ("INFO", None, ("", "INFO", "")),
        ("INFO.sub.topic", None, ("", "INFO", "sub.topic")),
        ("myprogram.WARNING", None, ("myprogram", "WARNING", "")),
        ("a.b.ERROR.x.y", None, ("a.b", "ERROR", "x.y")),
        ("app.Level 25", None, ("app", "Level 25", "")),
        ("app.CUSTOM.sub", None, ("app", "CUSTOM", "sub")),
        ("INFO.ERROR.x", "INFO", ("INFO", "ERROR", "x")),
        ("LONE", None, ("", "LONE", "")),
    ],
)
def test_parse_topic(topic: str, root_hint: str | None, expected: tuple[str, str, str]) -> None:
    """The level is found after a known root topic, else as the first known level name."""
    assert expected == wire.parse_topic(topic, root_hint)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("app.Level -5.x", ("app", "Level -5", "x")),
        ("Level 7", ("", "Level 7", "")),
        ("INFOx.INFO.a", ("INFOx", "INFO", "a")),
        ("a.WARNING", ("a", "WARNING", "")),
        ("a.Level 5x.ERROR", ("a.Level 5x", "ERROR", "")),
        ("a.Level \u00b2.b", ("a", "Level \u00b2", "b")),  # "²" is no digit: fallback
        ("..INFO..", (".", "INFO", ".")),
        ("", ("", "", "")),
        ("x.y", ("x", "y", "")),
    ],
)
def test_parse_topic_edge_cases(topic: str, expected: tuple[str, str, str]) -> None:
    """Signed unnamed levels, names inside other components, empty components."""
    assert expected == wire.parse_topic(topic)


def _parse_topic_by_components(topic: str, names: frozenset[str]) -> tuple[str, str, str]:
    """The rule of parse_topic written the slow, obvious way: split, then look."""
    parts = topic.split(".")
    for index, part in enumerate(parts):
        if part in names or re.fullmatch(r"Level -?[0-9]+", part):
            return ".".join(parts[:index]), part, ".".join(parts[index + 1 :])
    if len(parts) == 1:
        return "", parts[0], ""
    return parts[0], parts[1], ".".join(parts[2:])


TOPIC_PIECES = [".", "INFO", "WARN", "WARNING", "Level ", "-", "5", "x", "", "ERROR", "E"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(TOPIC_PIECES), max_size=12).map("".join))
def test_parse_topic_agrees_with_splitting_into_components(topic: str) -> None:
    """The linear search finds the level exactly where splitting the topic would."""
    names = frozenset({"INFO", "WARN", "WARNING", "ERROR", "", "A.B"})
    assert _parse_topic_by_components(topic, names) == wire.parse_topic(topic, None, names)


@pytest.mark.parametrize(
    "topic",
    [
        "." * 1_000_000,
        "x." * 500_000,
        ".Level 1x" * 100_000,
        "INFOx." * 150_000 + "INFO",
        "Level " + "9" * 1_000_000,
    ],
    ids=["dots", "components", "unnamed-lookalikes", "name-lookalikes", "digits"],
)
def test_parse_topic_memory_is_linear_in_the_topic(topic: str) -> None:
    """A hostile topic costs a few copies of itself, not an object per component."""
    tracemalloc.start()
    try:
        parts = wire.parse_topic(topic)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(map(len, parts)) >= len(topic) - 2  # every character but two dots kept
    assert peak < 3 * len(topic) + 10_000


@pytest.mark.parametrize(
    ("level", "levelno"),
    [
        ("Level 25", 25),
        ("Level -5", -5),
        ("Level 9223372036854775807", 2**63 - 1),
        ("Level 9223372036854775808", logging.NOTSET),  # beyond 64 bits: unknown
        ("Level " + "9" * 5000, logging.NOTSET),  # beyond int()'s digit limit
        ("\u00b2", logging.NOTSET),
        ("Level \u0663", logging.NOTSET),  # an Arabic-Indic 3: logging writes ASCII
    ],
)
def test_text_record_level_numbers_never_raise(level: str, levelno: int) -> None:
    """Any level name in a topic gives a record: numbers out of range are NOTSET."""
    record = wire.record_from_text("x\n", level)
    assert (record.levelno, record.levelname) == (levelno, level)
    assert logging.Formatter("%(levelno)d %(levelname)s %(message)s").format(record)


def test_parse_topic_parts_have_names() -> None:
    """Parsed topics can be read by field name."""
    parts = wire.parse_topic("app.INFO.db")
    assert (parts.root_topic, parts.level, parts.subtopic) == ("app", "INFO", "db")


def test_wire_package_needs_neither_zmq_nor_asyncio() -> None:
    """The wire contract loads and runs without zmqlog, zmq or asyncio imported.

    The package is loaded from its files under another name, so neither zmqlog's
    ``__init__`` (which imports zmq) nor anything else of the transport comes along;
    both formats are exercised, so every submodule is loaded.
    """
    folder = Path(wire.__file__).parent
    script = (
        "import importlib.util, logging, sys\n"
        "spec = importlib.util.spec_from_file_location(\n"
        f"    'wire', {str(folder / '__init__.py')!r},\n"
        f"    submodule_search_locations=[{str(folder)!r}],\n"
        ")\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules['wire'] = module\n"
        "spec.loader.exec_module(module)\n"
        "assert module.parse_topic('a.INFO.b') == ('a', 'INFO', 'b')\n"
        "record = logging.LogRecord('a', 20, '', 1, 'hi', None, None)\n"
        "topic, payload = module.encode_json(\n"
        "    record, None, 'a', publisher=module.new_publisher_id(), seq=0\n"
        ")\n"
        "assert module.record_from_json(module.decode_json(payload)).getMessage() == 'hi'\n"
        "assert module.encode_text(record, logging.Formatter())[1] == b'hi'\n"
        "print(sorted(m for m in ('zmq', 'asyncio', 'zmqlog') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"

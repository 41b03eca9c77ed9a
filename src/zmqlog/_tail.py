"""``zmqlog tail``: print published log messages live, as text or as JSON lines.

Everything shown comes from the network, so nothing in a message may crash the tail
or reach the terminal as a control sequence: control characters are shown escaped
(``\\x1b``) unless ``--raw`` asks for them as sent, and a message that cannot be
shown is reported on stderr and skipped.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TextIO

import zmq

from zmqlog._endpoints import endpoint_error
from zmqlog._subscriber import LogMessage, LogSubscriber
from zmqlog.exceptions import ZmqlogError

__all__ = ["TailOptions", "escape_controls", "level_number", "run_tail", "use_color"]

_RESET: Final = "\x1b[0m"
# (lowest level number, ANSI colour) from the most severe down; INFO keeps the
# terminal's own colour.
_COLORS: Final = (
    (logging.CRITICAL, "\x1b[1;31m"),
    (logging.ERROR, "\x1b[31m"),
    (logging.WARNING, "\x1b[33m"),
    (logging.INFO, ""),
    (logging.NOTSET, "\x1b[36m"),
)
# ASCII digits only ("²".isdigit() is true, and int() refuses it), and few enough that
# int() never meets Python's 4,300-digit limit: no real level needs more than 18.
_LEVEL_DIGITS: Final = re.compile(r"[0-9]{1,18}", re.ASCII)
_UNNAMED_LEVEL: Final = re.compile(r"Level ([0-9]{1,18})", re.ASCII)

# What a terminal may act on: C0 controls except tab and newline, DEL, C1 controls
# (0x9b is a one-byte CSI to some terminals); and lone surrogates, which a JSON record
# can carry and no UTF-8 stream can write.
_CONTROLS: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# In a topic (one field of one line) tab and newline are escaped too.
_CONTROLS_IN_LINE: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# A JSON record is shown in the layout of pyzmq's default formats, as the same record
# sent as text shows it: the bare message at INFO, level and place at other levels,
# then the traceback and stack. (pyzmq's ERROR format also appends the repr of the
# exc_info tuple; a JSON record has no such tuple, so that part is left out.)
_PLAIN: Final = logging.Formatter("%(message)s")
_DETAILED: Final = logging.Formatter("%(levelname)s %(filename)s:%(lineno)d - %(message)s")

_INT64: Final = 1 << 63


@dataclass(frozen=True)
class TailOptions:
    """What ``zmqlog tail`` was asked to do; see ``zmqlog tail --help``."""

    endpoints: Sequence[str]
    topics: Sequence[str] = ("",)
    bind: bool = False
    count: int | None = None
    min_level: int | None = None
    loggers: Sequence[str] = ()
    json: bool = False
    raw: bool = False
    timestamp: bool = False
    dateformat: str = "%Y-%m-%d %H:%M:%S"
    separator: str = " | "
    align: bool = False
    color: bool | None = None
    timeout: float | None = None
    curve_server_key_file: str | None = None
    curve_secret_key_file: str | None = None
    authorized_keys: str | None = None


def level_number(name: str) -> int | None:
    """Return the number of level *name* ("WARNING", "Level 25", "25"), or None if unknown.

    Never raises: a name that is no level this process knows, such as ``"²"`` or a
    number of thousands of digits, is unknown.
    """
    if _LEVEL_DIGITS.fullmatch(name):
        return int(name)
    number = logging.getLevelName(name.upper())
    if isinstance(number, int):
        return number
    unnamed = _UNNAMED_LEVEL.fullmatch(name)
    return int(unnamed[1]) if unnamed else None


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, one_line: bool = False) -> str:
    """Return *text* with control characters and lone surrogates written as ``\\xNN``.

    Tab and newline are kept unless *one_line*. Backslashes are left alone, so a
    message that already holds the four characters ``\\x1b`` looks the same as one
    holding ESC: the point is that no terminal acts on it.
    """
    pattern = _CONTROLS_IN_LINE if one_line else _CONTROLS
    if pattern.search(text) is None:
        return text
    return pattern.sub(_escape_one, text)


def use_color(choice: bool | None, out: TextIO) -> bool:
    """Colour when asked to; by default only on a terminal and without ``NO_COLOR``."""
    if choice is not None:
        return choice
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def _record(message: LogMessage) -> logging.LogRecord | None:
    # Structured messages carry the sender's LogRecord; a text message's record is
    # only a guess from its topic (no logger name, no creation time), so not used.
    if message.fields is None:
        return None
    return message.record


def _levelno(message: LogMessage, record: logging.LogRecord | None) -> int | None:
    return record.levelno if record is not None else level_number(message.level)


def body(message: LogMessage, record: logging.LogRecord | None) -> str:
    """The message as tail shows it after the topic (and as ``--json`` puts it in ``text``).

    A text message: its payload as sent, without the final newline. A JSON record:
    rendered as pyzmq's default format for its level renders it (see ``_PLAIN``),
    traceback and stack included.
    """
    if record is None:
        return message.text.rstrip("\n")
    formatter = _PLAIN if logging.INFO <= record.levelno < logging.WARNING else _DETAILED
    try:
        return formatter.format(record).rstrip("\n")
    except Exception:  # a record we cannot format still has its message
        return str(record.msg)


def _local_time(when: float) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromtimestamp(when)
    except (OverflowError, OSError, ValueError):  # a time no calendar here can show
        return None


def _iso(when: float) -> str | None:
    local = _local_time(when)
    return None if local is None else local.astimezone().isoformat()


class _Filter:
    """Decides which messages to show: minimum level and logger names."""

    __slots__ = ("_loggers", "_min_level")

    def __init__(self, min_level: int | None, loggers: Sequence[str]) -> None:
        self._min_level = min_level
        self._loggers = tuple(loggers)

    def describe(self) -> str:
        """The options that make up this filter, as the user typed them."""
        parts = []
        if self._min_level is not None:
            name = logging.getLevelName(self._min_level)
            parts.append(f"--level {self._min_level if name.startswith('Level ') else name}")
        parts += [f"--logger {name}" for name in self._loggers]
        return " and ".join(parts) or "nothing"

    def __call__(self, message: LogMessage, record: logging.LogRecord | None) -> bool:
        if self._min_level is not None:
            levelno = _levelno(message, record)
            # A level this process does not know cannot be ranked: show it.
            if levelno is not None and levelno < self._min_level:
                return False
        if self._loggers:
            # Without a record the root topic is the nearest thing to a logger name.
            name = record.name if record is not None else message.root_topic
            return any(name == want or name.startswith(want + ".") for want in self._loggers)
        return True


class _TextRenderer:
    """One line per message in pyzmq's ``python -m zmq.log`` layout, with extras."""

    __slots__ = ("_color", "_options", "_width")

    def __init__(self, options: TailOptions, color: bool) -> None:
        self._options = options
        self._color = color
        self._width = 0

    def __call__(
        self, message: LogMessage, record: logging.LogRecord | None, received: float
    ) -> str:
        options = self._options
        parts: list[str] = []
        if options.timestamp:
            when = _local_time(record.created) if record is not None else None
            when = when or _local_time(received) or datetime.datetime.now()
            parts.append(when.strftime(options.dateformat) + " ")
        topic, text = message.topic, body(message, record)
        if not options.raw:
            topic, text = escape_controls(topic, one_line=True), escape_controls(text)
        if options.align:
            self._width = max(self._width, len(topic))
            topic = topic.ljust(self._width)
        color = ""
        if self._color:
            levelno = _levelno(message, record)
            if levelno is not None:
                color = next((code for lowest, code in _COLORS if levelno >= lowest), "")
        parts += [color, topic, options.separator, text, _RESET if color else ""]
        return "".join(parts)


def _jsonable(value: object) -> object:
    """*value* as ``json.dumps`` writes valid JSON for: no NaN, no integer too long to print."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        return f"<integer of {value.bit_length()} bits>"
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _escaped(value: object) -> object:
    """*value* (made by ``_jsonable``) with every string in it, keys included, escaped."""
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, dict):
        return {escape_controls(key): _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def json_line(
    message: LogMessage, record: logging.LogRecord | None, received: float, *, raw: bool = False
) -> str:
    """One JSON object for *message*; the README's "Command line" section lists its keys.

    Every key is present in every object; what a text message does not carry
    (``created``, ``logger``, ``pathname``, ``lineno``, ``message``) is null, and its
    ``extra`` is empty.
    """
    fields = message.fields
    obj: dict[str, object] = {
        "received": _iso(received),
        "created": _iso(record.created) if record is not None else None,
        "topic": message.topic,
        "root_topic": message.root_topic,
        "level": message.level,
        "levelno": _levelno(message, record),
        "subtopic": message.subtopic,
        "logger": record.name if record is not None else None,
        "pathname": record.pathname if record is not None else None,
        "lineno": record.lineno if record is not None else None,
        "message": str(record.msg) if record is not None else None,
        "text": body(message, record),
        "extra": fields.get("extra", {}) if fields is not None else {},
    }
    value = _jsonable(obj)
    # With raw, strings go out as received: JSON escapes C0 controls itself, and a lone
    # surrogate, which UTF-8 cannot carry, leaves through the stream's backslashreplace
    # as the JSON escape it was.
    return json.dumps(value if raw else _escaped(value), ensure_ascii=False, default=str)


class _Silence:
    """What arrived since the last message shown, to explain a ``--timeout``."""

    __slots__ = ("arrived", "options")

    def __init__(self, options: TailOptions) -> None:
        self.options = options
        self.arrived = 0

    def explain(self, keep: _Filter, where: str) -> str:
        options = self.options
        waited = f"{options.timeout:g} s"
        if self.arrived:
            return (
                f"no message shown for {waited}: {self.arrived} arrived from {where}, "
                f"all filtered out by {keep.describe()}"
            )
        prefixes = [topic for topic in options.topics if topic]
        if prefixes:
            wanted = ", ".join(repr(prefix) for prefix in prefixes)
            return (
                f"no message on topics starting with {wanted} from {where} for {waited}; "
                "check -t against the publisher's topics (ROOT_TOPIC.LEVEL[.SUBTOPIC])"
            )
        return f"no message from {where} for {waited}; is a publisher running there?"


async def _receive(sub: LogSubscriber, deadline: float | None, err: TextIO) -> LogMessage | None:
    """The next message, or None once *deadline* (loop time) has passed."""
    loop = asyncio.get_running_loop()
    while True:
        remaining = None if deadline is None else deadline - loop.time()
        # Checked here, not only by wait_for: a stream of messages that the filter
        # discards can keep receive() from ever suspending.
        if remaining is not None and remaining <= 0:
            return None
        try:
            return await asyncio.wait_for(sub.receive(), remaining)
        except asyncio.TimeoutError:
            return None
        except (ZmqlogError, zmq.ZMQError, MemoryError):
            raise  # the subscriber or its socket is gone, not one bad message
        except Exception as error:  # a message the subscriber could not decode
            print(f"zmqlog tail: skipped a message that cannot be read: {error!r}", file=err)


async def _tail(options: TailOptions, out: TextIO, err: TextIO) -> int:
    try:
        sub = LogSubscriber(
            options.endpoints,
            topics=options.topics,
            bind=options.bind,
            curve_server_key_file=options.curve_server_key_file,
            curve_secret_key_file=options.curve_secret_key_file,
            authorized_keys=options.authorized_keys,
        )
    except ZmqlogError as error:  # a missing or malformed key file
        print(f"zmqlog tail: {error}", file=err)
        return 2
    verb = "bind to" if options.bind else "connect to"
    try:
        sub.open()
    except zmq.ZMQError as error:
        print(f"zmqlog tail: {endpoint_error(verb, error, options.endpoints)}", file=err)
        return 1
    loop = asyncio.get_running_loop()
    try:
        if options.bind:
            print(f"zmqlog tail: publishers connect to {' '.join(sub.endpoints)}", file=err)
            err.flush()
        keep = _Filter(options.min_level, options.loggers)
        color = not options.json and use_color(options.color, out)
        render = _TextRenderer(options, color)
        shown = 0
        silence = _Silence(options)
        deadline = None if options.timeout is None else loop.time() + options.timeout
        while options.count is None or shown < options.count:
            message = await _receive(sub, deadline, err)
            if message is None:
                print(f"zmqlog tail: {silence.explain(keep, ' '.join(sub.endpoints))}", file=err)
                return 1
            received = time.time()
            silence.arrived += 1
            try:
                record = _record(message)
                if not keep(message, record):
                    continue
                if options.json:
                    line = json_line(message, record, received, raw=options.raw)
                else:
                    line = render(message, record, received)
            except Exception as error:  # never let one message end the tail
                topic = escape_controls(message.topic, one_line=True)
                print(f"zmqlog tail: cannot show a message on {topic}: {error!r}", file=err)
                continue
            out.write(line + "\n")
            out.flush()
            shown += 1
            silence.arrived = 0
            if options.timeout is not None:
                deadline = loop.time() + options.timeout
    finally:
        await sub.aclose()
    return 0


def run_tail(options: TailOptions, out: TextIO, err: TextIO) -> int:
    """Run ``zmqlog tail`` until ``count`` messages were shown; return the exit code."""
    return asyncio.run(_tail(options, out, err))

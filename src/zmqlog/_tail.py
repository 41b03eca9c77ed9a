"""``zmqlog tail``: print published log messages live, as text or as JSON lines."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TextIO

import zmq

from zmqlog._endpoints import endpoint_error
from zmqlog._subscriber import LogMessage, LogSubscriber
from zmqlog.exceptions import ZmqlogError

__all__ = ["TailOptions", "level_number", "run_tail"]

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
_UNNAMED_LEVEL: Final = re.compile(r"Level (\d+)")
_BODY: Final = logging.Formatter("%(message)s")


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
    timestamp: bool = False
    dateformat: str = "%Y-%m-%d %H:%M:%S"
    separator: str = " | "
    align: bool = False
    color: bool | None = None
    timeout: float | None = None
    curve_server_key_file: str | None = None
    curve_secret_key_file: str | None = None


def level_number(name: str) -> int | None:
    """Return the number of level *name* ("WARNING", "Level 25", "25"), or None if unknown."""
    if name.isdigit():
        return int(name)
    number = logging.getLevelName(name.upper())
    if isinstance(number, int):
        return number
    unnamed = _UNNAMED_LEVEL.fullmatch(name)
    return int(unnamed[1]) if unnamed else None


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


class _Filter:
    """Decides which messages to show: minimum level and logger names."""

    __slots__ = ("_loggers", "_min_level")

    def __init__(self, min_level: int | None, loggers: Sequence[str]) -> None:
        self._min_level = min_level
        self._loggers = tuple(loggers)

    def __call__(self, message: LogMessage, record: logging.LogRecord | None) -> bool:
        if self._min_level is not None:
            levelno = record.levelno if record is not None else level_number(message.level)
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
            when = record.created if record is not None else received
            stamp = datetime.datetime.fromtimestamp(when).strftime(options.dateformat)
            parts.append(stamp + " ")
        topic = message.topic
        if options.align:
            self._width = max(self._width, len(topic))
            topic = topic.ljust(self._width)
        color = ""
        if self._color:
            levelno = record.levelno if record is not None else level_number(message.level)
            if levelno is not None:
                color = next((code for lowest, code in _COLORS if levelno >= lowest), "")
        body = message.text.rstrip()
        if record is not None:
            try:
                body = _BODY.format(record).rstrip()
            except Exception:  # a record we cannot format still has its text
                pass
        parts += [color, topic, options.separator, body, _RESET if color else ""]
        return "".join(parts)


def _json_line(message: LogMessage, record: logging.LogRecord | None, received: float) -> str:
    levelno = record.levelno if record is not None else level_number(message.level)
    obj: dict[str, object] = {
        "received": datetime.datetime.fromtimestamp(received).astimezone().isoformat(),
        "topic": message.topic,
        "root_topic": message.root_topic,
        "level": message.level,
        "levelno": levelno,
        "subtopic": message.subtopic,
        "logger": record.name if record is not None else None,
        "text": message.text.rstrip("\n"),
    }
    if record is not None:
        obj.update(
            message=record.getMessage(),
            created=record.created,
            pathname=record.pathname,
            lineno=record.lineno,
            funcName=record.funcName,
            process=record.process,
            thread=record.thread,
            exc_text=record.exc_text,
        )
    return json.dumps(obj, ensure_ascii=False, default=str)


async def _tail(options: TailOptions, out: TextIO, err: TextIO) -> int:
    try:
        sub = LogSubscriber(
            options.endpoints,
            topics=options.topics,
            bind=options.bind,
            curve_server_key_file=options.curve_server_key_file,
            curve_secret_key_file=options.curve_secret_key_file,
        )
    except ZmqlogError as error:  # a missing or malformed key file, a key without its pair
        print(f"zmqlog tail: {error}", file=err)
        return 2
    try:
        sub.open()
    except zmq.ZMQError as error:
        verb = "bind to" if options.bind else "connect to"
        print(f"zmqlog tail: {endpoint_error(verb, error, options.endpoints)}", file=err)
        return 1
    try:
        if options.bind:
            print(f"zmqlog tail: publishers connect to {' '.join(sub.endpoints)}", file=err)
            err.flush()
        keep = _Filter(options.min_level, options.loggers)
        color = not options.json and use_color(options.color, out)
        render = _TextRenderer(options, color)
        shown = 0
        while options.count is None or shown < options.count:
            try:
                message = await asyncio.wait_for(sub.receive(), options.timeout)
            except asyncio.TimeoutError:
                where = " ".join(sub.endpoints)
                print(
                    f"zmqlog tail: no message from {where} for {options.timeout:g} s; "
                    "is a publisher running there?",
                    file=err,
                )
                return 1
            received = time.time()
            record = _record(message)
            if not keep(message, record):
                continue
            if options.json:
                line = _json_line(message, record, received)
            else:
                line = render(message, record, received)
            out.write(line + "\n")
            out.flush()
            shown += 1
    finally:
        await sub.aclose()
    return 0


def run_tail(options: TailOptions, out: TextIO, err: TextIO) -> int:
    """Run ``zmqlog tail`` until ``count`` messages were shown; return the exit code."""
    return asyncio.run(_tail(options, out, err))

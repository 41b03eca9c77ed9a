"""RenderSettings: a handler's root topic and formatters, as they were when a record was logged.

``AsyncPUBHandler`` renders records on its drain task, later than they were logged. A
record must still come out with the root topic and formatter that were in force when
it was logged, as pyzmq's synchronous handler would send it. Rather than attach both
to every record (a tuple per record on the caller's path), the handler keeps one
immutable ``RenderSettings`` and replaces it on every change. Records are queued bare
while the drain task renders with the current settings, and pinned to the settings
they were logged under from a change until the drain task has caught up with it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from zmqlog.wire import join_topic

__all__ = ["DEFAULT_FORMATTER", "NOT_PLAIN", "RenderSettings", "is_plain"]

NOT_PLAIN: Final[tuple[object, bytes]] = (object(), b"")
"""A level whose records the drain task must render with their formatter. Its first
item is no record's level name (not even None), so the identity check always fails."""

DEFAULT_FORMATTER: Final = logging.Formatter()
"""The formatter of a level without one, when the handler has none either."""


def is_plain(fmt: logging.Formatter) -> bool:
    """True for a stock Formatter that renders exactly ``"%(message)s\\n"``."""
    style = getattr(fmt, "_style", None)
    return (
        type(fmt) is logging.Formatter
        and type(style) is logging.PercentStyle
        and getattr(style, "_fmt", None) == "%(message)s\n"
    )


class RenderSettings:
    """One root topic and one set of per-level formatters, fixed for good.

    The formatter for a level is resolved on first use (levels without one of their own,
    such as 25, take the nearest lower level's), from a copy of the mapping taken here.
    """

    __slots__ = ("_default", "_formatters", "_plain_allowed", "_resolved", "fast", "root_topic")

    def __init__(
        self,
        root_topic: str,
        formatters: Mapping[int, logging.Formatter | None],
        default: logging.Formatter | None,
        *,
        plain_allowed: bool,
    ) -> None:
        self.root_topic = root_topic
        self._formatters = dict(formatters)
        self._default = default or DEFAULT_FORMATTER
        self._plain_allowed = plain_allowed
        self._resolved: dict[int, logging.Formatter] = {}
        self.fast: dict[int, tuple[object, bytes]] = {}
        """Per level number: ``(levelname, topic frame)`` when its records' payload is
        just their message and a newline (pyzmq's INFO format), else :data:`NOT_PLAIN`.
        Filled by :meth:`fast_entry`; only the drain task reads it."""

    def formatter_for(self, levelno: int) -> logging.Formatter:
        """The formatter for records of *levelno*."""
        fmt = self._resolved.get(levelno)
        if fmt is None:
            fmt = self._resolved[levelno] = self._resolve(levelno)
        return fmt

    def _resolve(self, levelno: int) -> logging.Formatter:
        formatters = self._formatters
        if levelno in formatters:
            fmt = formatters[levelno]
        else:
            lower = [key for key in formatters if key <= levelno]
            if lower:
                fmt = formatters[max(lower)]
            elif formatters:
                fmt = formatters[min(formatters)]
            else:
                fmt = None
        return fmt or self._default

    def fast_entry(self, levelno: int) -> tuple[object, bytes]:
        """Work out and remember :attr:`fast`'s entry for *levelno*.

        The level name kept is the very string object ``logging`` puts on every record of
        that level, so the drain task can compare by identity; a record that carries any
        other name (one rebuilt from elsewhere, a renamed level) takes the formatter path.
        """
        levelname = logging.getLevelName(levelno)
        if self._plain_allowed and type(levelname) is str and is_plain(self.formatter_for(levelno)):
            entry: tuple[object, bytes] = (
                levelname,
                join_topic(self.root_topic, levelname).encode("utf-8", "replace"),
            )
        else:
            entry = NOT_PLAIN
        if len(self.fast) < 256:
            self.fast[levelno] = entry
        return entry

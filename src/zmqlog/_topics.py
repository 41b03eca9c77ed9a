"""TopicLogger: log with a subtopic, without writing ``"::"`` into the message."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logging import _ExcInfoType

    _Adapter = logging.LoggerAdapter[logging.Logger]
else:  # LoggerAdapter is subscriptable only from Python 3.11
    _Adapter = logging.LoggerAdapter

__all__ = ["TopicLogger"]


class _TopicAdapter(_Adapter):
    """A LoggerAdapter that adds ``topic`` to each call's ``extra`` instead of replacing it."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = kwargs.get("extra")
        kwargs["extra"] = {**(self.extra or {}), **(extra or {})}
        return msg, kwargs


class TopicLogger:
    """Log through a :class:`logging.Logger` with the subtopic as the first argument.

    ::

        log = zmqlog.TopicLogger("shop")
        log.warning("db.pool", "%d connections left", 2)   # topic "<root>.WARNING.db.pool"
        pool_log = log.bind("db.pool")                     # a LoggerAdapter for one subtopic
        pool_log.info("%d connections open", 5)

    The call style of pyzmq's ``zmq.log.handlers.TopicLogger``, which on Python 3.10
    and later raises ``TypeError`` (its generated level methods all call the last one
    defined). This one wraps a logger instead of replacing the logger class, so no
    ``logging.setLoggerClass()`` is needed, and it passes the subtopic as
    ``extra={"topic": ...}`` rather than gluing ``"topic::"`` to the message: the
    message text and its ``%`` arguments stay what the caller wrote, and handlers
    other than zmqlog's never see the ``"::"`` markup. ``filename``, ``lineno`` and
    ``funcName`` of the records are the caller's.

    Args:
        logger: the logger to log through: a ``Logger``, a logger name, or None for
            the root logger.
    """

    __slots__ = ("logger",)

    logger: logging.Logger
    """The wrapped logger."""

    def __init__(self, logger: logging.Logger | str | None = None) -> None:
        self.logger = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)

    def bind(self, topic: str) -> logging.LoggerAdapter[logging.Logger]:
        """Return a ``LoggerAdapter`` that logs every record with subtopic *topic*.

        The adapter takes the usual ``logging`` call style (``adapter.info("msg")``) and
        keeps any other ``extra`` the caller passes.
        """
        return _TopicAdapter(self.logger, {"topic": topic})

    def log(
        self,
        level: int,
        topic: str,
        msg: object,
        *args: object,
        exc_info: _ExcInfoType | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log ``msg % args`` at *level* with subtopic *topic*."""
        self._log(level, topic, msg, args, exc_info, stack_info, stacklevel, extra)

    def debug(
        self,
        topic: str,
        msg: object,
        *args: object,
        exc_info: _ExcInfoType | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log ``msg % args`` at DEBUG with subtopic *topic*."""
        self._log(logging.DEBUG, topic, msg, args, exc_info, stack_info, stacklevel, extra)

    def info(
        self,
        topic: str,
        msg: object,
        *args: object,
        exc_info: _ExcInfoType | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log ``msg % args`` at INFO with subtopic *topic*."""
        self._log(logging.INFO, topic, msg, args, exc_info, stack_info, stacklevel, extra)

    def warning(
        self,
        topic: str,
        msg: object,
        *args: object,
        exc_info: _ExcInfoType | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log ``msg % args`` at WARNING with subtopic *topic*."""
        self._log(logging.WARNING, topic, msg, args, exc_info, stack_info, stacklevel, extra)

    def error(
        self,
        topic: str,
        msg: object,
        *args: object,
        exc_info: _ExcInfoType | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log ``msg % args`` at ERROR with subtopic *topic*."""
        self._log(logging.ERROR, topic, msg, args, exc_info, stack_info, stacklevel, extra)

    def exception(
        self,
        topic: str,
        msg: object,
        *args: object,
        exc_info: _ExcInfoType = True,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log ``msg % args`` at ERROR with subtopic *topic* and the current exception."""
        self._log(logging.ERROR, topic, msg, args, exc_info, stack_info, stacklevel, extra)

    def critical(
        self,
        topic: str,
        msg: object,
        *args: object,
        exc_info: _ExcInfoType | None = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        """Log ``msg % args`` at CRITICAL with subtopic *topic*."""
        self._log(logging.CRITICAL, topic, msg, args, exc_info, stack_info, stacklevel, extra)

    def _log(
        self,
        level: int,
        topic: str,
        msg: object,
        args: tuple[object, ...],
        exc_info: _ExcInfoType | None,
        stack_info: bool,
        stacklevel: int,
        extra: Mapping[str, object] | None,
    ) -> None:
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        merged = {"topic": topic} if extra is None else {**extra, "topic": topic}
        # +2: this method and the public one that called it are not the caller.
        logger.log(
            level,
            msg,
            *args,
            exc_info=exc_info,
            stack_info=stack_info,
            stacklevel=stacklevel + 2,
            extra=merged,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.logger.name!r}>"

"""Subtopics without "::" in the text: extra={"topic": ...} and TopicLogger."""

from __future__ import annotations

import logging

import anyio
import pytest

import zmqlog
from tests.conftest import make_record
from zmqlog import wire


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected(logger: logging.Logger) -> list[logging.LogRecord]:
    """The records that reach *logger* (the logger fixture removes the handler)."""
    handler = _Collect()
    logger.addHandler(handler)
    return handler.records


def frames(record: logging.LogRecord, root_topic: str = "app") -> tuple[bytes, bytes]:
    formatter = wire.default_formatters()[record.levelno]
    assert formatter is not None
    return wire.encode_text(record, formatter, root_topic)


def test_extra_topic_becomes_the_subtopic() -> None:
    """A record's ``topic`` attribute is its subtopic; the text is left as written."""
    record = make_record("%d connections open", 5)
    record.topic = "db.pool"
    assert frames(record) == (b"app.INFO.db.pool", b"5 connections open\n")


def test_text_subtopic_wins_over_extra_topic() -> None:
    """A "::" subtopic in the text takes precedence over the ``topic`` attribute."""
    record = make_record("http::request done")
    record.topic = "db.pool"
    assert frames(record) == (b"app.INFO.http", b"request done\n")


@pytest.mark.parametrize("value", ["", None, 42, b"db"])
def test_extra_topic_that_is_not_a_nonempty_str_is_ignored(value: object) -> None:
    """Only a non-empty str counts as a subtopic; anything else leaves the topic alone."""
    record = make_record("plain")
    record.topic = value
    assert frames(record) == (b"app.INFO", b"plain\n")


def test_topic_logger_passes_the_topic_as_data(
    logger: logging.Logger, collected: list[logging.LogRecord]
) -> None:
    """TopicLogger keeps the message as written and puts the subtopic in ``record.topic``."""
    zmqlog.TopicLogger(logger).warning("db.pool", "%d connections left", 2)
    [record] = collected
    assert (record.msg, record.args, record.topic) == ("%d connections left", (2,), "db.pool")
    assert frames(record)[0] == b"app.WARNING.db.pool"


def test_topic_logger_methods_log_at_their_own_level(
    logger: logging.Logger, collected: list[logging.LogRecord]
) -> None:
    """Each level method logs at its level (pyzmq's generated methods all use the last one)."""
    log = zmqlog.TopicLogger(logger)
    log.debug("t", "m")
    log.info("t", "m")
    log.warning("t", "m")
    log.error("t", "m")
    log.critical("t", "m")
    log.log(25, "t", "m")
    assert [r.levelno for r in collected] == [10, 20, 30, 40, 50, 25]


def test_topic_logger_records_point_at_the_caller(
    logger: logging.Logger, collected: list[logging.LogRecord]
) -> None:
    """filename, lineno and funcName are the caller's, not the helper's."""
    zmqlog.TopicLogger(logger).info("t", "here")
    [record] = collected
    assert record.filename == "test_topics.py"
    assert record.funcName == "test_topic_logger_records_point_at_the_caller"


def test_topic_logger_exception_carries_the_traceback(
    logger: logging.Logger, collected: list[logging.LogRecord]
) -> None:
    """exception() logs at ERROR with the exception being handled."""
    try:
        raise KeyError("gone")
    except KeyError:
        zmqlog.TopicLogger(logger).exception("db", "lookup failed")
    [record] = collected
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is KeyError


def test_topic_logger_respects_the_logger_level(
    logger: logging.Logger, collected: list[logging.LogRecord]
) -> None:
    """Records below the logger's level are not created."""
    logger.setLevel(logging.WARNING)
    zmqlog.TopicLogger(logger).info("t", "hidden")
    assert collected == []


def test_bind_keeps_other_extra_fields(
    logger: logging.Logger, collected: list[logging.LogRecord]
) -> None:
    """A bound adapter adds the topic and keeps the caller's own ``extra``."""
    adapter = zmqlog.TopicLogger(logger).bind("db.pool")
    adapter.info("open", extra={"conn": 3})
    [record] = collected
    assert (record.topic, record.conn) == ("db.pool", 3)


async def test_extra_topic_reaches_a_subscriber(logger: logging.Logger) -> None:
    """Through the handler and the socket, the subtopic arrives in the topic frame."""
    async with (
        zmqlog.LogPublisher("tcp://127.0.0.1:*", root_topic="app", logger=logger) as pub,
        zmqlog.LogSubscriber(pub.endpoint) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=10)
        logger.info("pool %s", [1, 2], extra={"topic": "db.pool"})  # snapshotted in emit()
        zmqlog.TopicLogger(logger).info("http", "done")
        with anyio.fail_after(10):
            first = await sub.receive()
            second = await sub.receive()
    assert (first.subtopic, first.text) == ("db.pool", "pool [1, 2]\n")
    assert (second.subtopic, second.text) == ("http", "done\n")

"""zmqlog and a real rsyslogd (imczmq, omczmq, mmjsonparse), both ways, 10,000 records each.

The configs are the ones in examples/rsyslog/, with their EDIT values pointed at the
test's tmp dir and loopback ports.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import zmq
import zmq.asyncio

from tests.ports import free_tcp_port
from tests.rsyslogd import ZMQ_ENV, Rsyslogd, require_rsyslogd, running_rsyslogd
from zmqlog import LogMessage, LogPublisher, LogSubscriber, generate_keypair, wire

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "rsyslog"
RECORDS = 10_000

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _rsyslogd_installed() -> None:
    require_rsyslogd()


def edit(text: str, old: str, new: str) -> str:
    """Replace the one occurrence of *old*; fail if the example no longer has it."""
    assert text.count(old) == 1, f"expected exactly one {old!r} in the example"
    return text.replace(old, new)


class FileLines:
    """The complete lines of a file that another process appends to, read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[bytes] = []
        self._partial = b""
        self._offset = 0

    def read(self) -> list[bytes]:
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                chunk = file.read()
        except FileNotFoundError:
            return self.lines
        self._offset += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        self.lines.extend(complete)
        return self.lines


def make_records(count: int) -> list[logging.LogRecord]:
    """*count* records unlike each other: every level, awkward subtopics, extras, tracebacks."""
    try:
        raise TimeoutError("gateway did not answer")
    except TimeoutError:
        exc_info = sys.exc_info()
    levels = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL, 25]
    subtopics = ["", "payments::", "Failed: std::", "a b::", "100%::", "café::", "tab\there::"]
    records = []
    for i in range(count):
        msg = f'{subtopics[i % len(subtopics)]}order %d: "q" \\ tab\t nl\n é 😀 {"x" * (i % 50)}'
        record = logging.LogRecord(
            "shop.orders",
            levels[i % len(levels)],
            "/srv/shop/orders.py",
            i,
            msg,
            (i,),
            exc_info if i % 1000 == 7 else None,
            "ship",
        )
        record.order = i
        record.tags = ["a", i, 2.5, None, True]
        record.nested = {"k": {"deep": [1, [2, [3]]]}}
        records.append(record)
    # The largest payload zmqlog sends is 1 MiB; rsyslog cuts at 8 KiB unless told.
    big = records[count // 2]
    big.msg, big.args = "big %d " + "y" * 900_000, (count // 2,)
    return records


# -- zmqlog -> rsyslog -> JSON lines --------------------------------------------------


def jsonl_config(directory: Path, endpoint: str, module_line: str | None = None) -> str:
    text = (EXAMPLES / "zmqlog-to-jsonl.conf").read_text(encoding="utf-8")
    text = edit(text, '"/var/spool/rsyslog"', f'"{directory}"')
    text = edit(text, 'endpoints="tcp://127.0.0.1:5555"', f'endpoints="{endpoint}"')
    text = edit(text, '"/var/log/zmqlog/records.jsonl"', f'"{directory / "records.jsonl"}"')
    text = edit(text, '"/var/log/zmqlog/other.log"', f'"{directory / "other.log"}"')
    if module_line is not None:
        text = edit(text, 'module(load="imczmq")\n', module_line + "\n")
    return text


async def test_every_record_reaches_the_json_lines_file_with_its_fields(
    tmp_path: Path, logger: logging.Logger
) -> None:
    """10,000 records from LogPublisher(single_frame=True) arrive as 10,000 lines holding
    exactly the fields zmqlog sent (a raw subscriber beside rsyslog sees what was sent)."""
    records = make_records(RECORDS)
    context = zmq.asyncio.Context()
    sent = context.socket(zmq.SUB)
    sent.setsockopt(zmq.LINGER, 0)
    sent.setsockopt(zmq.RCVHWM, 2 * RECORDS)
    sent.subscribe(b"")
    try:
        async with LogPublisher(
            "tcp://127.0.0.1:*",
            root_topic="shop",
            logger=logger,
            wire_format="json",
            single_frame=True,
            context=context,
        ) as pub:
            sent.connect(pub.endpoint)
            config = jsonl_config(tmp_path, pub.endpoint)
            with running_rsyslogd(config, tmp_path, env=ZMQ_ENV) as daemon:
                await pub.wait_for_subscribers(2, timeout=15)  # rsyslogd and ours
                for record in records:
                    logger.handle(record)
                written = FileLines(tmp_path / "records.jsonl")
                other = FileLines(tmp_path / "other.log")
                await daemon.wait_until(
                    lambda: len(written.read()) + len(other.read()) >= RECORDS,
                    what=f"{RECORDS} lines",
                    timeout=30,
                )
            frames = [await sent.recv_multipart() for _ in range(RECORDS)]
            stats = pub.stats
    finally:
        sent.close(linger=0)
        context.term()
    assert stats == (0, RECORDS, 0, 0)
    assert (len(written.lines), other.lines) == (RECORDS, [])
    assert {len(message) for message in frames} == {1}
    payloads = [frame.partition(b": ")[2] for (frame,) in frames]
    received = sorted((json.loads(line) for line in written.lines), key=lambda f: f["seq"])
    assert [f["seq"] for f in received] == list(range(RECORDS))
    for payload, actual in zip(payloads, received, strict=True):
        assert actual == json.loads(payload)
    # The fields are the records' own (the subtopic split off before the args merged).
    for record, fields in zip(records[:50], received, strict=False):
        assert (fields["message"], fields["extra"]["order"]) == (
            wire.split_subtopic(record.msg)[1] % record.args,
            record.order,
        )
    # Among them, topics holding the bytes a single frame's prefix escapes.
    awkward = {
        "shop.INFO.Failed: std",
        "shop.Level 25.a b",
        "shop.WARNING.100%",
        "shop.ERROR.tab\there",
    }
    assert awkward <= {fields["topic"] for fields in received}


async def test_curve_publisher_reaches_rsyslog_with_zmqlog_key_files(
    tmp_path: Path, logger: logging.Logger
) -> None:
    """imczmq as a CURVE client with `zmqlog keys` files reads a single-frame record."""
    keys, allowed = tmp_path / "keys", tmp_path / "allowed"
    generate_keypair(keys, "server")
    rsyslog_key, _ = generate_keypair(keys, "rsyslog")
    allowed.mkdir()
    (allowed / "rsyslog.key").write_bytes(rsyslog_key.read_bytes())
    module_line = (
        f'module(load="imczmq" authtype="CURVECLIENT" servercertpath="{keys / "server.key"}" '
        f'clientcertpath="{keys / "rsyslog.key"}")'
    )
    async with LogPublisher(
        "tcp://127.0.0.1:*",
        root_topic="shop",
        logger=logger,
        wire_format="json",
        single_frame=True,
        curve_secret_key_file=keys / "server.key_secret",
        authorized_keys=allowed,
    ) as pub:
        config = jsonl_config(tmp_path, pub.endpoint, module_line)
        with running_rsyslogd(config, tmp_path) as daemon:
            await pub.wait_for_subscribers(1, timeout=15)
            logger.info("sealed %d", 42, extra={"order": 42})
            records = FileLines(tmp_path / "records.jsonl")
            await daemon.wait_until(lambda: bool(records.read()), what="the record")
    (record,) = [json.loads(line) for line in records.lines]
    assert (record["topic"], record["message"], record["extra"]) == (
        "shop.INFO",
        "sealed 42",
        {"order": 42},
    )
    assert FileLines(tmp_path / "other.log").read() == []


async def test_two_frames_arrive_at_imczmq_as_two_messages(
    tmp_path: Path, logger: logging.Logger
) -> None:
    """Why single_frame exists: imczmq makes the default's topic frame a message of its own."""
    async with LogPublisher(
        "tcp://127.0.0.1:*", root_topic="shop", logger=logger, wire_format="json"
    ) as pub:
        with running_rsyslogd(jsonl_config(tmp_path, pub.endpoint), tmp_path) as daemon:
            await pub.wait_for_subscribers(1, timeout=15)
            logger.info("split %d", 1)
            records = FileLines(tmp_path / "records.jsonl")
            other = FileLines(tmp_path / "other.log")
            await daemon.wait_until(
                lambda: bool(records.read()) and bool(other.read()), what="both frames"
            )
    (record,) = [json.loads(line) for line in records.lines]
    assert "topic" not in record
    # Its one word is taken for a host name by rsyslog's parser: timestamp, host, no text.
    (topic_line,) = other.lines
    assert topic_line.split()[1:] == [b"shop.INFO"]


# -- syslog -> rsyslog -> LogSubscriber -----------------------------------------------

# The example's mapping of syslog severities 0 (emerg) to 7 (debug) to Python levels.
_LEVELS = [(50, "CRITICAL")] * 3 + [(40, "ERROR"), (30, "WARNING")] + [(20, "INFO")] * 2
_LEVELS += [(10, "DEBUG")]
_FACILITIES = ["kern", "user", "mail", "daemon"]
_SEVERITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
# What the example puts under "extra", as attributes of the rebuilt record.
_EXTRA = ("hostname", "procid", "msgid", "facility", "severity", "structured_data")


def syslog_message(i: int, text: str) -> tuple[bytes, dict[str, Any]]:
    """An octet-counted RFC 5424 message, and the fields zmqlog should rebuild from it."""
    facility, severity = i % 4, i % 8
    stamp = f"2026-12-02T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1_000_000:06d}Z"
    sd = f'[order@32473 n="{i}" q="\\"x\\""]'
    line = (
        f"<{facility * 8 + severity}>1 {stamp} web-{i % 3} app{i % 5} {1000 + i} ID{i} {sd} {text}"
    )
    data = line.encode()
    levelno, levelname = _LEVELS[severity]
    expected = {
        "topic": f"syslog.{levelname}.app{i % 5}",
        "name": f"app{i % 5}",
        "levelno": levelno,
        "levelname": levelname,
        "message": text,
        "created": float(f"{1796205600 + i // 60 % 60 * 60 + i % 60}.{i % 1_000_000:06d}"),
        "hostname": f"web-{i % 3}",
        "procid": str(1000 + i),
        "msgid": f"ID{i}",
        "facility": _FACILITIES[facility],
        "severity": _SEVERITIES[severity],
        "structured_data": sd,
    }
    return str(len(data)).encode() + b" " + data, expected


def zmqlog_config(directory: Path, variant: str = "two frames") -> tuple[str, str]:
    """The example with its ports made the test's; returns (config, PUB endpoint).

    *variant* ``"single frame"`` is the example's single-frame format, as its comment
    says to make it: without topicframe, the record template beginning with the topic.
    ``"glued"`` leaves out topicframe only (omczmq then glues the topic to the record);
    ``"no topics"`` sends the record alone.
    """
    endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    text = (EXAMPLES / "syslog-to-zmqlog.conf").read_text(encoding="utf-8")
    text = edit(text, '"/var/spool/rsyslog"', f'"{directory}"')
    text = edit(text, 'port="5514"', f'port="0" listenPortFileName="{directory / "tcp.port"}"')
    text = edit(text, 'endpoints="tcp://127.0.0.1:5556"', f'endpoints="{endpoint}"')
    action = 'topics="zmqlog_topic" dynatopic="on" topicframe="on"'
    if variant == "single frame":
        text = edit(text, action, 'topics="zmqlog_topic" dynatopic="on"')
        # The two template lines the example's comment names, uncommented.
        text = edit(
            text,
            'constant(value="{\\"zmqlog\\":1,\\"name\\":\\"")',
            'constant(value=": {\\"zmqlog\\":1,\\"topic\\":\\"") '
            'property(name="$.topic" format="json") constant(value="\\",\\"name\\":\\"")',
        )
    elif variant == "glued":
        text = edit(text, action, 'topics="zmqlog_topic" dynatopic="on"')
    elif variant == "no topics":
        text = edit(text, action, "")
    else:
        assert variant == "two frames", variant
    return text, endpoint


async def syslog_connection(daemon: Rsyslogd) -> socket.socket:
    """A TCP connection to the daemon's imtcp, once it has written the port it listens on."""
    port_file = daemon.directory / "tcp.port"
    await daemon.wait_until(
        lambda: port_file.exists() and port_file.read_text().strip().isdigit(), what="imtcp"
    )
    return socket.create_connection(("127.0.0.1", int(port_file.read_text())), timeout=10)


async def send_until_seen(
    conn: socket.socket, read: Callable[[], Awaitable[object]], daemon: Rsyslogd
) -> None:
    """Send marker messages until one comes out of the pipeline (omczmq binds late)."""
    marker, _ = syslog_message(0, "ready")
    for _ in range(150):
        daemon.check_running()
        conn.sendall(marker)
        with anyio.move_on_after(0.1):
            await read()
            return
    raise AssertionError(f"no marker came through rsyslogd in 15 s\n{daemon.output}")


@pytest.mark.parametrize("variant", ["two frames", "single frame"])
async def test_every_syslog_message_reaches_log_subscriber_as_a_record(
    tmp_path: Path, variant: str
) -> None:
    """10,000 syslog messages through omczmq arrive as zmqlog records, every field intact,
    in the example's format and in its single-frame variant."""
    config, endpoint = zmqlog_config(tmp_path, variant)
    texts = [f'rec {i} café "q" \\ tab\there\nline2 😀 a: b' for i in range(RECORDS)]
    messages = [syslog_message(i, text) for i, text in enumerate(texts)]
    with running_rsyslogd(config, tmp_path, env=ZMQ_ENV) as daemon:
        conn = await syslog_connection(daemon)
        try:
            async with LogSubscriber(endpoint, wire_format="json") as sub:
                await send_until_seen(conn, sub.receive, daemon)
                await asyncio.to_thread(conn.sendall, b"".join(data for data, _ in messages))
                received: dict[str, LogMessage] = {}
                with anyio.move_on_after(30):
                    while len(received) < RECORDS:
                        message = await sub.receive()
                        if message.record.getMessage() != "ready":
                            received[message.record.__dict__["procid"]] = message
                stats = sub.stats
        finally:
            conn.close()
    assert (len(received), stats.invalid) == (RECORDS, 0), stats
    for _, expected in messages:
        message = received[expected["procid"]]
        record = message.record
        actual = {
            "topic": message.topic,
            "name": record.name,
            "levelno": record.levelno,
            "levelname": record.levelname,
            "message": record.getMessage(),
            "created": record.created,
            **{key: getattr(record, key) for key in _EXTRA},
        }
        assert actual == expected
        assert message.fields is not None
        assert message.fields["topic"] == (None if variant == "two frames" else expected["topic"])


@pytest.mark.parametrize(
    ("variant", "topic", "is_record"), [("glued", "", False), ("no topics", "", True)]
)
async def test_omczmq_frames_without_a_topic_frame_are_read_not_counted_invalid(
    tmp_path: Path, variant: str, topic: str, is_record: bool
) -> None:
    """One frame without a prefix: text on the empty topic (the topic glued to the
    record), or a record on its own (no topics); zmqlog tail shows both."""
    config, endpoint = zmqlog_config(tmp_path, variant)
    count = 100
    messages = [syslog_message(i, f"line {i}: with a colon") for i in range(1, count + 1)]
    with running_rsyslogd(config, tmp_path, env=ZMQ_ENV) as daemon:
        conn = await syslog_connection(daemon)
        try:
            async with LogSubscriber(endpoint) as sub:
                await send_until_seen(conn, sub.receive, daemon)
                tail = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "zmqlog", "tail", endpoint, "--count", "1", "--json",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                try:
                    # The tail's subscription is up once one of its markers comes through.
                    shown = asyncio.create_task(tail.communicate())
                    with anyio.fail_after(15):
                        while not shown.done():
                            marker, _ = syslog_message(0, "ready")
                            conn.sendall(marker)
                            await asyncio.wait({shown}, timeout=0.1)
                    out, err = shown.result()
                finally:
                    if tail.returncode is None:
                        tail.kill()
                        await tail.wait()
                conn.sendall(b"".join(data for data, _ in messages))
                got: list[LogMessage] = []
                with anyio.fail_after(30):
                    while len(got) < count:
                        message = await sub.receive()
                        if "ready" not in message.text:
                            got.append(message)
                stats = sub.stats
        finally:
            conn.close()
    assert stats.invalid == 0
    assert {m.topic for m in got} == {topic}
    assert [m.fields is not None for m in got] == [is_record] * count
    texts = sorted((m.record.getMessage() if is_record else m.text) for m in got)
    if is_record:
        assert texts == sorted(expected["message"] for _, expected in messages)
    else:
        # The glued frame: topic, then the record's JSON, as text.
        assert all(text.startswith("syslog.") and '{"zmqlog":1,' in text for text in texts)
    assert tail.returncode == 0, err.decode()
    shown_line = json.loads(out)
    assert (shown_line["topic"], "ready" in shown_line["text"]) == ("", True)


# -- the harness ------------------------------------------------------------------


def test_rsyslogd_is_stopped_when_the_block_fails(tmp_path: Path) -> None:
    """The harness ends the daemon on the way out, even when the test raised."""
    config = jsonl_config(tmp_path, "tcp://127.0.0.1:9")
    pids = []

    def fail_inside() -> None:
        with running_rsyslogd(config, tmp_path) as daemon:
            daemon.check_running()
            pids.append(daemon.pid)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_inside()
    (pid,) = pids
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone and reaped, not a zombie

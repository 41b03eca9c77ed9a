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

from tests.rsyslogd import ZMQ_ENV, Rsyslogd, free_tcp_port, require_rsyslogd, running_rsyslogd
from zmqlog import LogMessage, LogPublisher, LogSubscriber, generate_keypair
from zmqlog.wire import PublisherId, decode_json, encode_json, new_publisher_id

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


# -- the proposed single-frame format (docs/single-frame-draft.md) ----------------------

# Bytes of a topic written as %XX in a single frame's prefix: the separator's bytes, the
# escape itself, and control bytes. rsyslog's parser ends the tag at ":" or " ".
_PREFIX_ESCAPED = frozenset(b"%: ") | frozenset(range(0x20)) | {0x7F}


def frame_prefix(topic: bytes) -> bytes:
    """A single frame's prefix: the topic, each escaped byte written as ``%XX``."""
    return b"".join(
        b"%%%02X" % byte if byte in _PREFIX_ESCAPED else bytes((byte,)) for byte in topic
    )


def single_frame(topic: bytes, payload: bytes) -> bytes:
    """``<prefix>: <payload>``, the JSON payload with ``"topic"`` right after the marker."""
    marker = b'{"zmqlog":1,'
    assert payload.startswith(marker)
    topic_member = b'"topic":' + json.dumps(topic.decode(), ensure_ascii=False).encode() + b","
    return frame_prefix(topic) + b": " + marker + topic_member + payload[len(marker) :]


class StandInSingleFramePublisher:
    """STAND-IN for ``LogPublisher(..., wire_format="json", single_frame=True)``.

    That option does not exist yet; this raw XPUB socket sends exactly the frames the
    draft specifies, made from zmqlog's own JSON encoder. Replace it with the real
    publisher once ``single_frame`` is implemented.
    """

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], root_topic: str) -> None:
        self._socket = context.socket(zmq.XPUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SNDHWM, 100_000)  # what LogPublisher uses
        self._socket.bind("tcp://127.0.0.1:*")
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._root_topic = root_topic
        self._publisher: PublisherId = new_publisher_id()
        self._seq = 0

    def frame(self, record: logging.LogRecord) -> bytes:
        """The next single frame for *record* (numbered like a real publisher's)."""
        topic, payload = encode_json(
            record, None, self._root_topic, publisher=self._publisher, seq=self._seq
        )
        self._seq += 1
        return single_frame(topic, payload)

    async def wait_for_subscriber(self) -> None:
        """Wait (bounded) until a subscriber's subscription has arrived."""
        assert await asyncio.to_thread(self._socket.poll, 15_000), "no subscription in 15 s"
        assert self._socket.recv()[:1] == b"\x01"

    def send(self, frames: list[bytes]) -> None:
        for frame in frames:
            self._socket.send(frame)

    def close(self) -> None:
        self._socket.close(linger=0)


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


async def test_every_record_reaches_the_json_lines_file_with_its_fields(tmp_path: Path) -> None:
    """10,000 single-frame records arrive as 10,000 lines holding exactly the sent fields."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    publisher = StandInSingleFramePublisher(context, root_topic="shop")
    try:
        frames = [publisher.frame(record) for record in make_records(RECORDS)]
        config = jsonl_config(tmp_path, publisher.endpoint)
        with running_rsyslogd(config, tmp_path, env=ZMQ_ENV) as daemon:
            await publisher.wait_for_subscriber()
            publisher.send(frames)
            written = FileLines(tmp_path / "records.jsonl")
            other = FileLines(tmp_path / "other.log")
            await daemon.wait_until(
                lambda: len(written.read()) + len(other.read()) >= RECORDS,
                what=f"{RECORDS} lines",
                timeout=30,
            )
    finally:
        publisher.close()
        context.destroy(linger=0)
    assert (len(written.lines), other.lines) == (RECORDS, [])
    sent = [json.loads(frame.partition(b": ")[2]) for frame in frames]
    received = sorted((json.loads(line) for line in written.lines), key=lambda f: f["seq"])
    assert [f["seq"] for f in received] == list(range(RECORDS))
    for expected, actual in zip(sent, received, strict=True):
        assert actual == expected
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
    """imczmq as a CURVE client with `zmqlog keys` files; today's two frames arrive apart."""
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
        curve_secret_key_file=keys / "server.key_secret",
        authorized_keys=allowed,
    ) as pub:
        config = jsonl_config(tmp_path, pub.endpoint, module_line)
        with running_rsyslogd(config, tmp_path) as daemon:
            await pub.wait_for_subscribers(1, timeout=15)
            logger.info("sealed %d", 42, extra={"order": 42})
            records = FileLines(tmp_path / "records.jsonl")
            other = FileLines(tmp_path / "other.log")
            await daemon.wait_until(
                lambda: bool(records.read()) and bool(other.read()), what="both frames"
            )
    (record,) = [json.loads(line) for line in records.lines]
    assert (record["message"], record["extra"]) == ("sealed 42", {"order": 42})
    # imczmq reads one frame per message: the topic frame is a message of its own,
    # whose one word rsyslog's parser takes for a host name (timestamp, host, no text).
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


def zmqlog_config(directory: Path) -> tuple[str, str]:
    """The example with its ports made the test's; returns (config, PUB endpoint)."""
    endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    text = (EXAMPLES / "syslog-to-zmqlog.conf").read_text(encoding="utf-8")
    text = edit(text, '"/var/spool/rsyslog"', f'"{directory}"')
    text = edit(text, 'port="5514"', f'port="0" listenPortFileName="{directory / "tcp.port"}"')
    text = edit(text, 'endpoints="tcp://127.0.0.1:5556"', f'endpoints="{endpoint}"')
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


async def test_every_syslog_message_reaches_log_subscriber_as_a_record(tmp_path: Path) -> None:
    """10,000 syslog messages through omczmq arrive as zmqlog records, every field intact."""
    config, endpoint = zmqlog_config(tmp_path)
    texts = [f'rec {i} café "q" \\ tab\there\nline2 😀' for i in range(RECORDS)]
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


async def test_rsyslog_can_send_the_proposed_single_frame(tmp_path: Path) -> None:
    """Without topicframe, omczmq sends '<topic>: <record>' frames that match the draft."""
    config, endpoint = zmqlog_config(tmp_path)
    config = edit(config, 'dynatopic="on" topicframe="on"', 'dynatopic="on"')
    config = edit(
        config,
        'constant(value="{\\"zmqlog\\":1,\\"name\\":\\"")',
        'constant(value=": {\\"zmqlog\\":1,\\"topic\\":\\"") property(name="$.topic" format="json")'
        ' constant(value="\\",\\"name\\":\\"")',
    )
    context = zmq.asyncio.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.subscribe(b"")
    sub.connect(endpoint)
    read = sub.recv_multipart
    try:
        with running_rsyslogd(config, tmp_path, env=ZMQ_ENV) as daemon:
            conn = await syslog_connection(daemon)
            try:
                await send_until_seen(conn, read, daemon)
                messages = [syslog_message(i, f"severity {i % 8}") for i in range(1, 9)]
                conn.sendall(b"".join(data for data, _ in messages))
                frames: list[list[bytes]] = []
                with anyio.fail_after(15):
                    while len(frames) < len(messages):
                        frame = await read()
                        if b'"message":"ready"' not in frame[0]:
                            frames.append(frame)
            finally:
                conn.close()
    finally:
        context.destroy(linger=0)
    for (single,), (_, expected) in zip(frames, messages, strict=True):
        prefix, separator, payload = single.partition(b": ")
        assert (prefix.decode(), separator) == (expected["topic"], b": ")
        fields = decode_json(payload)  # zmqlog's own decoder: a valid record
        assert fields is not None
        assert (fields["message"], fields["levelno"]) == (expected["message"], expected["levelno"])
        assert json.loads(payload)["topic"] == expected["topic"]


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

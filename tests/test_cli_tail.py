"""`zmqlog tail`, run as a user runs it: a subprocess whose output and exit code we read."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import pytest
import zmq
from zmq.log.handlers import PUBHandler

import zmqlog
from tests.conftest import make_record
from zmqlog import LogMessage, LogPublisher, wire
from zmqlog._cli import _parser, main
from zmqlog._tail import (
    TailOptions,
    _Filter,
    _record,
    _TextRenderer,
    json_line,
    level_number,
    use_color,
)

Spawn = Callable[..., Coroutine[Any, Any, asyncio.subprocess.Process]]


@pytest.fixture
async def tail() -> AsyncIterator[Spawn]:
    """Start ``zmqlog tail ARGS...``; every process still running at the end is killed."""
    procs: list[asyncio.subprocess.Process] = []

    async def spawn(*args: str) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "zmqlog",
            "tail",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_COLOR": ""},
        )
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def finish(proc: asyncio.subprocess.Process) -> tuple[str, str]:
    """Wait (bounded) for *proc* to exit by itself; return its stdout and stderr."""
    with anyio.fail_after(20):
        out, err = await proc.communicate()
    return out.decode(), err.decode()


def raise_and_log(logger: logging.Logger) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("request failed")


async def test_tail_prints_topic_and_text_then_exits_after_count(
    logger: logging.Logger, tail: Spawn
) -> None:
    """Each message is one `topic | text` line, tracebacks included; --count ends it with 0."""
    async with LogPublisher("tcp://127.0.0.1:*", root_topic="app", logger=logger) as pub:
        proc = await tail(pub.endpoint, "--count", "3")
        await pub.wait_for_subscribers(1, timeout=10)
        logger.info("hello %s", "world")
        logger.warning("db::slow query")
        raise_and_log(logger)
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "app.INFO | hello world"
    assert lines[1].startswith("app.WARNING.db | WARNING test_cli_tail.py:")
    assert lines[1].endswith(" - slow query")
    assert lines[2].startswith("app.ERROR | ERROR test_cli_tail.py:")
    assert "Traceback (most recent call last):" in out
    assert out.rstrip().endswith("ValueError: boom")
    assert "\x1b[" not in out  # not a terminal: no colour


def readme_json_keys() -> list[str]:
    """The keys the README's "Command line" section promises for `tail --json`."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    listed = readme[readme.index("always with these keys:") : readme.index("(the times in ISO")]
    return re.findall(r"`(\w+)`", listed)


async def test_tail_json_prints_one_object_per_line(logger: logging.Logger, tail: Spawn) -> None:
    """--json prints objects jq can read, with exactly the keys the README lists."""
    async with LogPublisher("tcp://127.0.0.1:*", root_topic="app", logger=logger) as pub:
        proc = await tail(pub.endpoint, "--count", "2", "--json")
        await pub.wait_for_subscribers(1, timeout=10)
        logger.info("pool::%d open", 3)
        raise_and_log(logger)
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    first, second = (json.loads(line) for line in out.splitlines())
    assert list(first) == list(second) == readme_json_keys()
    assert {k: first[k] for k in ("topic", "root_topic", "level", "levelno", "subtopic")} == {
        "topic": "app.INFO.pool",
        "root_topic": "app",
        "level": "INFO",
        "levelno": 20,
        "subtopic": "pool",
    }
    assert first["text"] == "3 open"
    # Text messages carry neither the logger name nor the record's own fields.
    assert [first[k] for k in ("created", "logger", "pathname", "lineno", "message")] == [None] * 5
    assert first["extra"] == {}
    assert second["levelno"] == 40
    assert "ValueError: boom" in second["text"]


async def test_tail_json_of_a_json_record_holds_the_record_not_its_payload(
    logger: logging.Logger, tail: Spawn
) -> None:
    """For a JSON record, `text` is what text mode shows; its fields fill the other keys."""
    async with LogPublisher(
        "tcp://127.0.0.1:*", root_topic="app", logger=logger, wire_format="json"
    ) as pub:
        proc = await tail(pub.endpoint, "--count", "1", "--json")
        await pub.wait_for_subscribers(1, timeout=10)
        logger.warning("pool::%d left", 2, extra={"pool": {"size": 2}})
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    [obj] = [json.loads(line) for line in out.splitlines()]
    assert list(obj) == readme_json_keys()
    assert obj["text"].startswith("WARNING test_cli_tail.py:")
    assert obj["text"].endswith(" - 2 left")
    assert "zmqlog" not in obj["text"]  # not the payload, JSON inside JSON
    assert (obj["logger"], obj["message"], obj["extra"]) == (
        logger.name,
        "2 left",
        {"pool": {"size": 2}},
    )
    assert obj["pathname"] == __file__
    assert obj["created"] <= obj["received"]  # ISO 8601, both in the local time zone


async def test_a_record_looks_the_same_sent_as_text_or_as_json(
    logger: logging.Logger, tail: Spawn
) -> None:
    """Level, place, message and traceback: the same line either way."""
    async with (
        LogPublisher("tcp://127.0.0.1:*", root_topic="app", logger=logger) as text,
        LogPublisher(
            "tcp://127.0.0.1:*", root_topic="app", logger=logger, wire_format="json"
        ) as structured,
    ):
        proc = await tail(text.endpoint, structured.endpoint, "--count", "2")
        await text.wait_for_subscribers(1, timeout=10)
        await structured.wait_for_subscribers(1, timeout=10)
        raise_and_log(logger)  # one record, published by both
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    shown = re.split(r"\n(?=app\.ERROR \| )", out.rstrip("\n"))
    assert len(shown) == 2
    heads = sorted(block.splitlines()[0] for block in shown)
    place = heads[0].partition(" - request failed")[0]
    assert place.startswith("app.ERROR | ERROR test_cli_tail.py:")
    # The text one keeps pyzmq's " - (<class 'ValueError'>, ...)" suffix; nothing else differs.
    assert heads == [
        f"{place} - request failed",
        f"{place} - request failed - (<class 'ValueError'>"
        + heads[1].partition("(<class 'ValueError'>")[2],
    ]
    tracebacks = [block.partition("\n")[2] for block in shown]
    assert tracebacks[0] == tracebacks[1]
    assert tracebacks[0].startswith("Traceback (most recent call last):")
    assert tracebacks[0].endswith("ValueError: boom")


async def test_tail_level_filter_hides_lower_levels(logger: logging.Logger, tail: Spawn) -> None:
    """--level WARNING shows WARNING and above only."""
    async with LogPublisher("tcp://127.0.0.1:*", root_topic="app", logger=logger) as pub:
        proc = await tail(pub.endpoint, "--count", "2", "--level", "warning")
        await pub.wait_for_subscribers(1, timeout=10)
        logger.debug("d")
        logger.info("i")
        logger.warning("w")
        logger.error("e")
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    assert [line.split(" | ")[0] for line in out.splitlines()] == ["app.WARNING", "app.ERROR"]


async def test_tail_logger_filter_matches_the_root_topic_of_text_messages(
    logger: logging.Logger, tail: Spawn
) -> None:
    """--logger NAME shows text messages whose root topic is NAME or below it."""
    async with LogPublisher("tcp://127.0.0.1:*", root_topic="other", logger=logger) as pub:
        proc = await tail(pub.endpoint, "--count", "2", "--logger", "shop")
        await pub.wait_for_subscribers(1, timeout=10)
        logger.info("hidden")
        pub.handler.root_topic = "shop.db"
        logger.info("shown 1")
        pub.handler.root_topic = "shopping"
        logger.info("hidden too")
        pub.handler.root_topic = "shop"
        logger.info("shown 2")
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["shop.db.INFO | shown 1", "shop.INFO | shown 2"]


async def test_tail_topic_prefix_subscribes_to_that_topic_only(
    logger: logging.Logger, tail: Spawn
) -> None:
    """-t PREFIX subscribes to topics starting with PREFIX, as in pyzmq's watcher."""
    async with LogPublisher("tcp://127.0.0.1:*", root_topic="app", logger=logger) as pub:
        proc = await tail(pub.endpoint, "--count", "1", "-t", "app.ERROR")
        await pub.wait_for_subscribers(1, timeout=10)
        logger.warning("not this")
        logger.error("this")
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    assert out.splitlines()[0].startswith("app.ERROR | ")


async def test_tail_bind_lets_publishers_connect(
    logger: logging.Logger, tail: Spawn, tmp_path: Path
) -> None:
    """--bind listens on ENDPOINT; a publisher with bind=False connects to it."""
    endpoint = f"ipc://{tmp_path}/tail.sock"
    proc = await tail("--bind", endpoint, "--count", "1")
    assert proc.stderr is not None
    with anyio.fail_after(20):
        announced = (await proc.stderr.readline()).decode()
    assert announced == f"zmqlog tail: publishers connect to {endpoint}\n"
    async with LogPublisher(endpoint, bind=False, root_topic="w1", logger=logger) as pub:
        await pub.wait_for_subscribers(1, timeout=10)
        logger.info("connected in")
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    assert out == "w1.INFO | connected in\n"


async def test_tail_shows_pyzmq_pubhandler_messages(
    context: zmq.Context[zmq.Socket[bytes]], logger: logging.Logger, tail: Spawn
) -> None:
    """Records sent by pyzmq's own PUBHandler are shown like zmqlog's."""
    xpub = context.socket(zmq.XPUB)  # XPUB: it shows when the tail's subscription arrives
    try:
        port = xpub.bind_to_random_port("tcp://127.0.0.1")
        handler = PUBHandler(xpub)
        handler.setRootTopic("legacy")
        logger.addHandler(handler)
        proc = await tail(f"tcp://127.0.0.1:{port}", "--count", "1")
        assert await asyncio.to_thread(xpub.poll, 20_000), "no subscription within 20 s"
        assert xpub.recv() == b"\x01"
        logger.warning("cache::cold start")
        out, err = await finish(proc)
        logger.removeHandler(handler)
    finally:
        xpub.close(linger=0)
    assert proc.returncode == 0, err
    assert out.startswith("legacy.WARNING.cache | WARNING test_cli_tail.py:")
    assert out.rstrip().endswith("- cold start")


async def test_ctrl_c_stops_tail_without_a_traceback(logger: logging.Logger, tail: Spawn) -> None:
    """SIGINT ends a running tail with exit code 130 and nothing on stderr."""
    async with LogPublisher("tcp://127.0.0.1:*", logger=logger) as pub:
        proc = await tail(pub.endpoint)
        await pub.wait_for_subscribers(1, timeout=10)  # the tail is up and receiving
        proc.send_signal(signal.SIGINT)
        _, err = await finish(proc)
    assert proc.returncode == 130
    assert err == ""


def test_malformed_endpoint_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """An endpoint ZeroMQ cannot parse is named in a one-line error; the exit code is 1."""
    assert main(["tail", "localhost:5555"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zmqlog tail: cannot connect to localhost:5555: Invalid argument")
    assert err.count("\n") == 1


def test_bind_to_a_missing_directory_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A --bind that fails names the endpoint and ZeroMQ's reason."""
    endpoint = f"ipc://{tmp_path}/missing/dir/tail.sock"
    assert main(["tail", "--bind", endpoint]) == 1
    assert capsys.readouterr().err.startswith(f"zmqlog tail: cannot bind to {endpoint}: ")


def test_timeout_without_messages_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--timeout turns "nobody is publishing there" into exit code 1 and a hint."""
    endpoint = f"ipc://{tmp_path}/nobody.sock"
    assert main(["tail", endpoint, "--timeout", "0.1"]) == 1
    assert capsys.readouterr().err == (
        f"zmqlog tail: no message from {endpoint} for 0.1 s; is a publisher running there?\n"
    )


async def publish_until_done(logger: logging.Logger, proc: asyncio.subprocess.Process) -> int:
    """Log INFO records, a batch every 10 ms, until *proc* exits; return how many."""
    sent = 0
    with anyio.fail_after(20):
        while proc.returncode is None:
            for _ in range(10):
                logger.info("filler %d", sent)
                sent += 1
            try:
                await asyncio.wait_for(proc.wait(), 0.01)
            except asyncio.TimeoutError:
                pass
    return sent


@pytest.mark.parametrize(
    ("args", "described"),
    [
        (["--level", "60"], "--level 60"),
        (["--level", "ERROR", "--logger", "nomatch"], "--level ERROR and --logger nomatch"),
    ],
    ids=["level", "level-and-logger"],
)
async def test_timeout_counts_while_every_message_is_filtered_out(
    logger: logging.Logger, tail: Spawn, args: list[str], described: str
) -> None:
    """Filtered messages do not reset --timeout, and the error says what arrived."""
    async with LogPublisher("tcp://127.0.0.1:*", root_topic="app", logger=logger) as pub:
        endpoint = pub.endpoint
        proc = await tail(endpoint, "--timeout", "1", *args)
        await pub.wait_for_subscribers(1, timeout=10)
        await publish_until_done(logger, proc)
        out, err = await finish(proc)
    assert (proc.returncode, out) == (1, "")
    match = re.fullmatch(
        rf"zmqlog tail: no message shown for 1 s: (\d+) arrived from {re.escape(endpoint)}, "
        rf"all filtered out by {described}\n",
        err,
    )
    assert match, err
    assert int(match[1]) > 0


async def test_timeout_with_a_topic_prefix_that_matches_nothing_names_the_prefix(
    logger: logging.Logger, tail: Spawn
) -> None:
    """With -t, silence may be the prefix's fault: the error says so, not "no publisher"."""
    async with LogPublisher("tcp://127.0.0.1:*", root_topic="app", logger=logger) as pub:
        proc = await tail(pub.endpoint, "--timeout", "1", "-t", "nomatch")
        await pub.wait_for_subscribers(1, timeout=10)
        await publish_until_done(logger, proc)
        _, err = await finish(proc)
    assert proc.returncode == 1
    assert "is a publisher running there" not in err
    assert err.startswith("zmqlog tail: no message on topics starting with 'nomatch' from ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--count", "0"], "argument -n/--count: must be 1 or more, not 0"),
        (["--count", "abc"], "argument -n/--count: expected a whole number, not 'abc'"),
        (["--level", "LOUD"], "argument -l/--level: unknown level 'LOUD'"),
        (["--level", "²"], "argument -l/--level: unknown level '²'"),
        (["--timeout", "-1"], "argument --timeout: must be more than 0 and finite, not -1"),
        (["--timeout", "soon"], "argument --timeout: expected a number of seconds, not 'soon'"),
        (["--timeout", "nan"], "argument --timeout: must be more than 0 and finite, not nan"),
        (["--secret-key", "me.key_secret"], "--secret-key without --server-key makes tail "),
        ([], "the following arguments are required: ENDPOINT"),
        (["tcp://127.0.0.1:99999"], "argument ENDPOINT: 'tcp://127.0.0.1:99999' has port 99999"),
        (["-t", "\udcff"], "argument -t/--topic: '\\udcff' is not valid UTF-8 text"),
    ],
    ids=[
        "count",
        "count-word",
        "level",
        "level-digit",
        "timeout",
        "timeout-word",
        "nan",
        "secret-without-server",
        "no-endpoint",
        "port-above-65535",
        "undecodable-topic",
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    """Arguments tail refuses: one line naming the option (never a function), exit code 2."""
    endpoint = [] if not args else ["tcp://127.0.0.1:5555"]
    with pytest.raises(SystemExit) as exit_info:
        main(["tail", *endpoint, *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zmqlog tail: error: {error}")
    assert err.endswith(" (see 'zmqlog tail --help')\n")
    assert err.count("\n") == 1
    assert not re.search(r"_int|_float|curve_", err)


def test_version_names_zmqlog_pyzmq_and_libzmq(capsys: pytest.CaptureFixture[str]) -> None:
    """`zmqlog --version` prints the three versions a bug report needs, exit code 0."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == (
        f"zmqlog {zmqlog.__version__} (pyzmq {zmq.pyzmq_version()}, libzmq {zmq.zmq_version()})\n"
    )


@pytest.mark.parametrize("command", ["tail", "proxy", "demo"])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    """`zmqlog COMMAND --help` describes the command and exits 0."""
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: zmqlog {command}")


# -- rendering, without a socket ------------------------------------------------------


def message(topic: str, text: str) -> LogMessage:
    root, _, rest = topic.partition(".")
    level, _, subtopic = rest.partition(".")
    return LogMessage(topic, level, subtopic, text, root, text.encode())


def structured(record: logging.LogRecord) -> LogMessage:
    """A message as the JSON wire format delivers *record*."""
    topic, payload = wire.encode_json(record, None, "x", publisher=wire.new_publisher_id(), seq=0)
    fields = wire.decode_json(payload)
    assert fields is not None
    text = topic.decode()
    return LogMessage(text, "WARNING", "", payload.decode(), "x", payload, fields)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("name", "number"),
    [("WARNING", 30), ("warning", 30), ("25", 25), ("Level 25", 25), ("LOUD", None)],
)
def test_level_number(name: str, number: int | None) -> None:
    """Level names, numbers and "Level N" names map to numbers; unknown names to None."""
    assert level_number(name) == number


def test_color_defaults_to_terminals_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    """Colour is on for a terminal, off for a pipe, off when NO_COLOR is set."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert (use_color(None, _Terminal()), use_color(None, io.StringIO())) == (True, False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(None, _Terminal()) is False
    assert use_color(True, io.StringIO()) is True  # --color wins


def test_color_follows_the_level() -> None:
    """WARNING is yellow and reset at the end; INFO keeps the terminal's colour."""
    render = _TextRenderer(TailOptions(endpoints=["x"]), color=True)
    assert render(message("a.WARNING", "w\n"), None, 0.0) == "\x1b[33ma.WARNING | w\x1b[0m"
    assert render(message("a.INFO", "i\n"), None, 0.0) == "a.INFO | i"


def test_align_pads_topics_to_the_widest_seen() -> None:
    """--align pads each topic to the widest so far, so the separators line up."""
    render = _TextRenderer(TailOptions(endpoints=["x"], align=True, separator="|"), color=False)
    assert render(message("app.WARNING.db", "1"), None, 0.0) == "app.WARNING.db|1"
    assert render(message("app.INFO", "2"), None, 0.0) == "app.INFO      |2"


def test_timestamp_uses_the_record_time_when_there_is_one() -> None:
    """--timestamp shows when a structured record was created, else when it arrived."""
    options = TailOptions(endpoints=["x"], timestamp=True, dateformat="%Y")
    render = _TextRenderer(options, color=False)
    record = make_record("hi")
    record.created = 0.0  # 1970
    with_record = render(message("a.INFO", "hi"), record, 4e9)
    assert with_record.startswith(("1970 ", "1969 "))  # local time zone
    assert render(message("a.INFO", "hi"), None, 4e9).startswith("2096 ")


def test_structured_records_drive_filters_and_json() -> None:
    """With a record, --logger matches its logger name and --json adds its fields."""
    sent = make_record("%d open", 3, name="shop.db", level=logging.WARNING)
    msg = structured(sent)
    record = _record(msg)
    assert record is not None
    assert (record.name, record.getMessage()) == ("shop.db", "3 open")
    assert _record(message("x.WARNING", "3 open\n")) is None  # text: no trustworthy record
    keep = _Filter(min_level=logging.ERROR, loggers=())
    assert not keep(msg, record)
    assert _Filter(None, ["shop"])(msg, record)
    assert not _Filter(None, ["x"])(msg, record)
    obj = json.loads(json_line(msg, record, 0.0))
    assert (obj["logger"], obj["message"], obj["lineno"]) == ("shop.db", "3 open", 42)


async def test_tail_reads_an_encrypted_publisher_with_its_keys(
    logger: logging.Logger, tail: Spawn, tmp_path: Path
) -> None:
    """--server-key and --secret-key let tail through a CURVE publisher's allow-list."""
    from zmqlog import generate_keypair

    server_public, server_secret = generate_keypair(tmp_path / "server", "server")
    _, client_secret = generate_keypair(tmp_path / "clients", "tail")
    async with LogPublisher(
        "tcp://127.0.0.1:*",
        logger=logger,
        curve_secret_key_file=server_secret,
        authorized_keys=tmp_path / "clients",
    ) as pub:
        proc = await tail(
            pub.endpoint,
            "--server-key",
            str(server_public),
            "--secret-key",
            str(client_secret),
            "--count",
            "1",
        )
        await pub.wait_for_subscribers(1, timeout=10)
        logger.info("secret stuff")
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["INFO | secret stuff"]


async def test_a_bound_tail_is_the_curve_server_that_publishers_connect_to(
    logger: logging.Logger, tail: Spawn, tmp_path: Path
) -> None:
    """--bind --secret-key --authorized-keys: a listed publisher connecting as CURVE
    client is shown."""
    from zmqlog import generate_keypair

    tail_public, tail_secret = generate_keypair(tmp_path / "tail", "tail")
    _, worker_secret = generate_keypair(tmp_path / "publishers", "worker")
    proc = await tail(
        "tcp://127.0.0.1:*",
        "--bind",
        "--secret-key",
        str(tail_secret),
        "--authorized-keys",
        str(tmp_path / "publishers"),
        "--count",
        "1",
    )
    assert proc.stderr is not None
    with anyio.fail_after(10):
        announced = (await proc.stderr.readline()).decode()
    endpoint = announced.split()[-1]  # "zmqlog tail: publishers connect to <endpoint>"
    async with LogPublisher(
        endpoint,
        logger=logger,
        bind=False,
        curve_server_key_file=tail_public,
        curve_secret_key_file=worker_secret,
    ) as pub:
        await pub.wait_for_subscribers(1, timeout=10)
        logger.info("encrypted fan-in")
        out, err = await finish(proc)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["INFO | encrypted fan-in"]


async def test_tail_with_a_missing_key_file_says_which(tail: Spawn, tmp_path: Path) -> None:
    """A key file that is not there is a one-line error naming it, exit code 2."""
    missing = tmp_path / "nope.key"
    proc = await tail("tcp://127.0.0.1:5999", "--server-key", str(missing))
    _, err = await finish(proc)
    assert proc.returncode == 2
    assert str(missing) in err
    assert len(err.strip().splitlines()) == 1


def test_the_readme_mentions_every_tail_option() -> None:
    """Each long option of `zmqlog tail` appears in the README's "Command line" section."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    section = readme[readme.index("## Command line") :]
    section = section[: section.index("\n## ", 1)]
    _, commands = _parser()
    options = {
        option
        for action in commands["tail"]._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    missing = [option for option in options if not re.search(f"[`/]{option}\\b", section)]
    assert sorted(missing) == []

"""AsyncPUBHandler configured by logging.config: dictConfig (from JSON) and fileConfig."""

from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import zmq

from zmqlog import AsyncPUBHandler, LogSubscriber

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "logging.json"


@pytest.fixture
def configured() -> Iterator[list[logging.Logger]]:
    """Loggers a test configures; their handlers are removed and closed afterwards."""
    loggers: list[logging.Logger] = []
    yield loggers
    for log in loggers:
        for handler in list(log.handlers):
            log.removeHandler(handler)
            handler.close()


def example_config(endpoint: str, logger_name: str) -> dict[str, Any]:
    """examples/logging.json, publishing on *endpoint* for logger *logger_name*."""
    config: dict[str, Any] = json.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    config["handlers"]["zmq"]["interface_or_socket"] = endpoint
    config["handlers"]["console"]["stream"] = "ext://sys.stderr"
    config["loggers"] = {logger_name: config["loggers"]["shop"]}
    return config


def only_zmq_handler(log: logging.Logger) -> AsyncPUBHandler:
    [handler] = [h for h in log.handlers if isinstance(h, AsyncPUBHandler)]
    return handler


async def receive_after_subscribing(
    handler: AsyncPUBHandler, log: logging.Logger, *messages: str
) -> list[str]:
    """Subscribe to *handler*, log *messages* on the loop, return the topics and texts."""
    endpoint = handler.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    async with LogSubscriber(endpoint) as sub:
        await handler.wait_for_subscribers(1, timeout=10)
        for text in messages:
            log.warning(text)
        with anyio.fail_after(10):
            received = [await sub.receive() for _ in messages]
    return [f"{m.topic} {m.text}" for m in received]


async def test_dictconfig_from_the_json_example_publishes(
    configured: list[logging.Logger],
) -> None:
    """examples/logging.json, loaded with json and given to dictConfig, makes a working handler."""
    log = logging.getLogger("zmqlog.tests.config.json")
    configured.append(log)
    logging.config.dictConfig(example_config("tcp://127.0.0.1:*", log.name))
    handler = only_zmq_handler(log)
    assert (handler.root_topic, handler.level) == ("shop", logging.DEBUG)
    assert handler.socket.getsockopt(zmq.SNDHWM) == 100_000
    assert handler.socket.getsockopt(zmq.LINGER) == 1000
    [line] = await receive_after_subscribing(handler, log, "db::pool empty")
    assert line.startswith("shop.WARNING.db WARNING test_config.py:")
    await handler.aclose()


async def test_dictconfig_formatter_applies_to_every_level(
    configured: list[logging.Logger],
) -> None:
    """A dictConfig "formatter" replaces pyzmq's per-level formats for all levels."""
    log = logging.getLogger("zmqlog.tests.config.formatter")
    configured.append(log)
    config = example_config("tcp://127.0.0.1:*", log.name)
    config["formatters"]["wire"] = {"format": "%(name)s says %(message)s"}
    config["handlers"]["zmq"]["formatter"] = "wire"
    logging.config.dictConfig(config)
    handler = only_zmq_handler(log)
    [line] = await receive_after_subscribing(handler, log, "hi")
    assert line == f"shop.WARNING {log.name} says hi"
    await handler.aclose()


def test_dictconfig_with_a_bad_endpoint_names_the_handler_and_the_cause(
    configured: list[logging.Logger],
) -> None:
    """dictConfig wraps zmq's error in ValueError naming the handler; the cause is kept."""
    log = logging.getLogger("zmqlog.tests.config.bad")
    configured.append(log)
    with pytest.raises(ValueError, match="Unable to configure handler 'zmq'") as error:
        logging.config.dictConfig(example_config("127.0.0.1:5555", log.name))
    assert isinstance(error.value.__cause__, zmq.ZMQError)


async def test_fileconfig_configures_the_handler(
    configured: list[logging.Logger], tmp_path: Path
) -> None:
    """An ini file for fileConfig passes the endpoint in args and the options in kwargs."""
    name = "zmqlog.tests.config.ini"
    log = logging.getLogger(name)
    configured.append(log)
    ini = tmp_path / "logging.ini"
    ini.write_text(
        f"""
[loggers]
keys=root,app

[handlers]
keys=zmq

[formatters]
keys=

[logger_root]
handlers=

[logger_app]
level=INFO
handlers=zmq
qualname={name}
propagate=0

[handler_zmq]
class=zmqlog.AsyncPUBHandler
level=INFO
args=("ipc://{tmp_path}/ini.sock",)
kwargs={{"root_topic": "ini", "sndhwm": 5000, "linger": 0.5}}
""",
        encoding="utf-8",
    )
    logging.config.fileConfig(ini, disable_existing_loggers=False)
    handler = only_zmq_handler(log)
    assert (handler.root_topic, handler.socket.getsockopt(zmq.SNDHWM)) == ("ini", 5000)
    [line] = await receive_after_subscribing(handler, log, "from ini")
    assert line.startswith("ini.WARNING WARNING test_config.py:")
    await handler.aclose()


async def test_dictconfig_example_service_runs_with_tail(tmp_path: Path) -> None:
    """examples/dictconfig_service.py publishes what `zmqlog tail` then prints."""
    endpoint = f"ipc://{tmp_path}/svc.sock"
    env = {**os.environ, "NO_COLOR": "1"}
    service = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "dictconfig_service.py"),
        "--endpoint",
        endpoint,
        "--seconds",
        "0",
        "--subscribers",
        "1",
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    tail = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zmqlog",
        "tail",
        endpoint,
        "--count",
        "3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        with anyio.fail_after(30):
            out, tail_err = await tail.communicate()
            _, service_err = await service.communicate()
    finally:
        for proc in (service, tail):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert (service.returncode, tail.returncode) == (0, 0), (service_err, tail_err)
    lines = out.decode().splitlines()
    assert lines[:2] == ["shop.INFO | service up", "shop.INFO.orders | order 1 shipped"]
    assert lines[2].startswith("shop.WARNING | WARNING dictconfig_service.py:")
    # The console handler from the same file got the WARNING too.
    assert b"WARNING  shop: service stopping after 1 orders" in service_err

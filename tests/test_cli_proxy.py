"""`zmqlog proxy`, run as a user runs it."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import anyio
import pytest
import zmq

from tests.proxying import running_proxy
from zmqlog import LogPublisher, LogSubscriber
from zmqlog._cli import main


async def test_proxy_prints_its_endpoints_and_forwards(logger: logging.Logger) -> None:
    """The printed endpoints are the real ones: a publisher and a subscriber meet through them."""
    async with running_proxy() as proxy:
        assert not proxy.frontend.endswith(":*")
        async with (
            LogSubscriber(proxy.backend) as sub,
            LogPublisher(proxy.frontend, bind=False, root_topic="app", logger=logger) as pub,
        ):
            await pub.wait_for_subscribers(1, timeout=10)  # subscriptions flow upstream
            logger.info("through the proxy")
            with anyio.fail_after(10):
                message = await sub.receive()
    assert (message.topic, message.text) == ("app.INFO", "through the proxy\n")


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["ctrl-c", "sigterm"]
)
async def test_proxy_stops_cleanly_on_a_signal(
    logger: logging.Logger, sig: signal.Signals, code: int
) -> None:
    """Ctrl-C (130) and SIGTERM (0) stop the proxy with a summary and no traceback."""
    async with running_proxy() as proxy:
        async with (
            LogSubscriber(proxy.backend) as sub,
            LogPublisher(proxy.frontend, bind=False, logger=logger) as pub,
        ):
            await pub.wait_for_subscribers(1, timeout=10)
            logger.info("one")
            with anyio.fail_after(10):
                await sub.receive()
        proxy.proc.send_signal(sig)
        with anyio.fail_after(20):
            _, err = await proxy.proc.communicate()
    assert proxy.proc.returncode == code, err
    assert "Traceback" not in err.decode()
    assert "stopped after forwarding 2 frames (" in err.decode()  # one log message


def test_frontend_port_in_use_is_one_line_and_exit_1(
    context: zmq.Context[zmq.Socket[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A frontend that cannot be bound is named with ZeroMQ's reason; the exit code is 1."""
    taken = context.socket(zmq.PUB)
    try:
        port = taken.bind_to_random_port("tcp://127.0.0.1")
        endpoint = f"tcp://127.0.0.1:{port}"
        assert main(["proxy", "--frontend", endpoint, "--backend", "tcp://127.0.0.1:*"]) == 1
    finally:
        taken.close(linger=0)
    err = capsys.readouterr().err
    assert err == f"zmqlog proxy: cannot bind the frontend to {endpoint}: Address already in use\n"


def test_malformed_backend_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A backend endpoint ZeroMQ cannot parse is refused before anything runs."""
    front = f"ipc://{tmp_path}/front.sock"
    assert main(["proxy", "--frontend", front, "--backend", "127.0.0.1:5560"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zmqlog proxy: cannot bind the backend to 127.0.0.1:5560: ")


def test_proxy_needs_both_endpoints(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --backend argparse says what is missing and exits 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(["proxy", "--frontend", "tcp://127.0.0.1:5559"])
    assert exit_info.value.code == 2
    assert "--backend" in capsys.readouterr().err

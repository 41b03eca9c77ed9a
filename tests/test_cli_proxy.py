"""`zmqlog proxy`, run as a user runs it."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import anyio
import pytest
import zmq

import zmqlog
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


@pytest.mark.parametrize(
    ("side", "peers"), [("frontend", "publishers"), ("backend", "subscribers")]
)
def test_an_allow_list_without_a_key_pair_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, side: str, peers: str
) -> None:
    """--X-authorized-keys without --X-secret-key names both flags, before anything is bound."""
    zmqlog.generate_keypair(tmp_path, "peer")
    argv = ["proxy", "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*"]
    assert main([*argv, f"--{side}-authorized-keys", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"zmqlog proxy: --{side}-authorized-keys needs --{side}-secret-key: {peers} are "
    )
    assert err.count("\n") == 1


def _bad_key_files(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Arguments with one unusable key file each, and the file the error must name."""
    public, secret = zmqlog.generate_keypair(tmp_path / "proxy", "proxy")
    loose = tmp_path / "loose.key_secret"
    loose.write_bytes(secret.read_bytes())
    loose.chmod(0o644)
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "nope.key_secret"
    return {
        "missing": (["--frontend-secret-key", str(missing)], str(missing)),
        "public for secret": (["--backend-secret-key", str(public)], str(public)),
        "readable by others": (["--frontend-secret-key", str(loose)], str(loose)),
        "empty allow-list": (
            ["--backend-secret-key", str(secret), "--backend-authorized-keys", str(empty)],
            str(empty),
        ),
    }


@pytest.mark.parametrize(
    "case", ["missing", "public for secret", "readable by others", "empty allow-list"]
)
def test_an_unusable_key_file_is_one_line_naming_it_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    """A key file the proxy cannot use stops it at once, naming the flag and the file."""
    options, named = _bad_key_files(tmp_path)[case]
    argv = ["proxy", "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*"]
    assert main([*argv, *options]) == 2
    err = capsys.readouterr().err
    flag = options[-2]
    assert err.startswith(f"zmqlog proxy: {flag}: key file "), err
    assert named in err
    assert err.count("\n") == 1


# An interface that does not exist: reachable from other hosts as far as the warning
# can tell, and a bind that fails without listening anywhere or asking DNS.
_NO_SUCH_NIC = "tcp://nosuchnic0:5559"


@pytest.mark.parametrize("curve", [(), ("backend",), ("frontend", "backend")])
def test_plaintext_on_a_reachable_address_is_warned_per_side(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, curve: tuple[str, ...]
) -> None:
    """Each side binding a reachable TCP address without CURVE gets the publisher's warning."""
    _, secret = zmqlog.generate_keypair(tmp_path, "proxy")
    options = [option for side in curve for option in (f"--{side}-secret-key", str(secret))]
    argv = ["proxy", "--frontend", _NO_SUCH_NIC, "--backend", _NO_SUCH_NIC]
    assert main([*argv, *options]) == 1  # the bind fails, after the warnings
    lines = capsys.readouterr().err.splitlines()
    warned = [side for side in ("frontend", "backend") if side not in curve]
    assert lines[:-1] == [
        f"zmqlog proxy: warning: the {side} {role} unencrypted on {_NO_SUCH_NIC}, which "
        f"other hosts can reach; bind to 127.0.0.1 or ipc://, or enable CURVE with "
        f"--{side}-secret-key (and --{side}-authorized-keys)"
        for side, role in (("frontend", "takes in logs"), ("backend", "serves logs"))
        if side in warned
    ]
    assert lines[-1].startswith(f"zmqlog proxy: cannot bind the frontend to {_NO_SUCH_NIC}: ")


def test_loopback_and_ipc_are_not_warned(
    capsys: pytest.CaptureFixture[str], context: zmq.Context[zmq.Socket[bytes]], tmp_path: Path
) -> None:
    """Plaintext on 127.0.0.1 or ipc:// is what the warning recommends: no warning."""
    taken = context.socket(zmq.PUB)
    try:
        port = taken.bind_to_random_port("tcp://127.0.0.1")
        argv = [
            "proxy",
            "--frontend",
            f"tcp://127.0.0.1:{port}",
            "--backend",
            f"ipc://{tmp_path}/b",
        ]
        assert main(argv) == 1  # the frontend's port is taken: stop before running
    finally:
        taken.close(linger=0)
    assert "warning" not in capsys.readouterr().err

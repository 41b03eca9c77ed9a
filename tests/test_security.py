"""CURVE encryption, ZAP allow-lists, key files and the plaintext warning."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import zmq
import zmq.asyncio
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import parse_monitor_message

import zmqlog
from tests.proxying import running_proxy
from zmqlog import _security
from zmqlog._cli import main

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")

_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


@dataclass
class Keys:
    """Key pairs: (public file, secret file) each."""

    server: tuple[Path, Path]
    alice: tuple[Path, Path]  # in clients/, the publisher's allow-list
    mallory: tuple[Path, Path]  # a valid key nobody authorized
    rogue: tuple[Path, Path]  # a server key the subscriber does not expect
    clients: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    root = tmp_path_factory.mktemp("keys")
    return Keys(
        server=zmqlog.generate_keypair(root, "server"),
        alice=zmqlog.generate_keypair(root / "clients", "alice"),
        mallory=zmqlog.generate_keypair(root / "others", "mallory"),
        rogue=zmqlog.generate_keypair(root / "others", "rogue"),
        clients=root / "clients",
    )


@contextlib.asynccontextmanager
async def handshake_failures(
    handler: zmqlog.AsyncPUBHandler,
) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """Watch the publisher's socket; yield a function awaiting the next failed handshake."""
    # The handler's own socket is a plain one (as pyzmq's PUBHandler's is) unless the
    # test gave it an asyncio context: watch it through an asyncio view either way.
    raw = handler.socket.get_monitor_socket(_HANDSHAKE_FAILED)
    monitor = raw if isinstance(raw, zmq.asyncio.Socket) else zmq.asyncio.Socket.from_socket(raw)

    async def next_failure() -> int:
        with anyio.fail_after(5):
            event: int = parse_monitor_message(await monitor.recv_multipart())["event"]
            return event

    try:
        yield next_failure
    finally:
        handler.socket.disable_monitor()
        raw.close(linger=0)


async def receives_nothing(sub: zmqlog.LogSubscriber, seconds: float = 0.5) -> bool:
    with anyio.move_on_after(seconds):
        await sub.receive()
        return False
    return True


def curve_publisher(
    keys: Keys, logger: logging.Logger, endpoint: str = "tcp://127.0.0.1:*", **kwargs: Any
) -> zmqlog.LogPublisher:
    kwargs.setdefault("authorized_keys", keys.clients)
    return zmqlog.LogPublisher(
        endpoint, logger=logger, curve_secret_key_file=keys.server[1], **kwargs
    )


# -- who gets in --------------------------------------------------------------------


async def test_an_authorized_client_receives(keys: Keys, logger: logging.Logger) -> None:
    """A subscriber whose key is in the allow-list, pinning the right server key, receives."""
    async with (
        curve_publisher(keys, logger) as pub,
        zmqlog.LogSubscriber(
            pub.endpoint, curve_server_key_file=keys.server[0], curve_secret_key_file=keys.alice[1]
        ) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("for alice")
        with anyio.fail_after(5):
            message = await sub.receive()
    assert message.text == "for alice\n"


@pytest.mark.parametrize(
    ("case", "expected_event"),
    [
        ("unknown client key", zmq.EVENT_HANDSHAKE_FAILED_AUTH),
        # ZeroMQ reports these as a protocol error or, racing the peer's close, with
        # no detail: both are failures, and the subscriber never got in.
        ("wrong server key pinned", _HANDSHAKE_FAILED),
        ("plaintext subscriber", _HANDSHAKE_FAILED),
    ],
)
async def test_a_refused_subscriber_receives_nothing(
    keys: Keys, logger: logging.Logger, case: str, expected_event: int
) -> None:
    """The handshake fails on the publisher's side, and a record logged after it never arrives."""
    options = {
        "unknown client key": {
            "curve_server_key_file": keys.server[0],
            "curve_secret_key_file": keys.mallory[1],
        },
        "wrong server key pinned": {
            "curve_server_key_file": keys.rogue[0],
            "curve_secret_key_file": keys.alice[1],
        },
        "plaintext subscriber": {},
    }[case]
    async with curve_publisher(keys, logger) as pub, handshake_failures(pub.handler) as failure:
        async with zmqlog.LogSubscriber(pub.endpoint, **options) as sub:
            assert await failure() & expected_event
            logger.info("secret for alice only")
            assert await receives_nothing(sub)
        assert pub.handler.subscriptions == 0


async def test_without_an_allow_list_any_client_key_is_accepted(
    keys: Keys, logger: logging.Logger
) -> None:
    """CURVE without authorized_keys encrypts, but admits a subscriber with a throwaway key."""
    async with (
        curve_publisher(keys, logger, authorized_keys=None) as pub,
        zmqlog.LogSubscriber(pub.endpoint, curve_server_key_file=keys.server[0]) as sub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("anyone with the server key reads this")
        with anyio.fail_after(5):
            message = await sub.receive()
    assert message.text == "anyone with the server key reads this\n"


async def test_authorized_keys_may_be_z85_keys_or_key_files(
    keys: Keys, logger: logging.Logger
) -> None:
    """A list of Z85 public keys and .key paths authorizes exactly those keys."""
    mallory_key = zmq.auth.load_certificate(keys.mallory[0])[0].decode()
    allowed = [mallory_key, keys.alice[0]]
    async with curve_publisher(keys, logger, authorized_keys=allowed) as pub:
        subs = [
            zmqlog.LogSubscriber(
                pub.endpoint, curve_server_key_file=keys.server[0], curve_secret_key_file=secret
            )
            for secret in (keys.alice[1], keys.mallory[1])
        ]
        async with subs[0], subs[1]:
            await pub.wait_for_subscribers(2, timeout=5)
            logger.info("both")
            with anyio.fail_after(5):
                texts = [(await sub.receive()).text for sub in subs]
    assert texts == ["both\n", "both\n"]


async def test_a_connecting_publisher_serves_a_binding_subscriber(
    keys: Keys, logger: logging.Logger, tmp_path: Path
) -> None:
    """CURVE roles do not follow bind/connect: a publisher may connect to its subscriber."""
    async with (
        zmqlog.LogSubscriber(
            f"ipc://{tmp_path}/in.log",
            bind=True,
            curve_server_key_file=keys.server[0],
            curve_secret_key_file=keys.alice[1],
        ) as sub,
        curve_publisher(keys, logger, sub.endpoints[0], bind=False) as pub,
    ):
        await pub.wait_for_subscribers(1, timeout=5)
        logger.info("inbound")
        with anyio.fail_after(5):
            message = await sub.receive()
    assert message.text == "inbound\n"


def test_pyzmq_certificates_work_once_private(keys: Keys, tmp_path: Path) -> None:
    """Files from zmq.auth.create_certificates are refused until chmod 600, then used."""
    with umask(0o022):
        public_file, secret_file = zmq.auth.create_certificates(tmp_path, "legacy")
    with pytest.raises(zmqlog.KeyFileError, match="chmod 600"):
        zmqlog.LogSubscriber(
            "tcp://127.0.0.1:1",
            curve_server_key_file=keys.server[0],
            curve_secret_key_file=secret_file,
        )
    Path(secret_file).chmod(0o600)
    zmqlog.AsyncPUBHandler(
        "tcp://127.0.0.1:*", curve_secret_key_file=secret_file, authorized_keys=[Path(public_file)]
    ).close()


def test_subscribing_commands_share_the_key_options() -> None:
    """--server-key and --secret-key land under LogSubscriber's keyword names."""
    parser = argparse.ArgumentParser()
    _security.add_curve_client_arguments(parser)
    args = parser.parse_args(["--server-key", "s.key", "--secret-key", "me.key_secret"])
    assert zmqlog.LogSubscriber.__init__.__kwdefaults__ is not None
    for name, value in [
        ("curve_server_key_file", "s.key"),
        ("curve_secret_key_file", "me.key_secret"),
    ]:
        assert getattr(args, name) == value
        assert name in zmqlog.LogSubscriber.__init__.__kwdefaults__


# -- what crosses the wire ----------------------------------------------------------


@contextlib.asynccontextmanager
async def tcp_relay(port: int) -> AsyncIterator[tuple[int, bytearray]]:
    """Relay TCP between 127.0.0.1:<new port> and 127.0.0.1:*port*, recording every byte."""
    captured = bytearray()
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                captured.extend(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        tasks.add(asyncio.create_task(pipe(reader, upstream_writer)))
        tasks.add(asyncio.create_task(pipe(upstream_reader, writer)))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], captured
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@pytest.mark.parametrize("curve", [True, False], ids=["curve", "plaintext control"])
async def test_log_text_on_the_wire_is_encrypted(
    keys: Keys, logger: logging.Logger, curve: bool
) -> None:
    """With CURVE the captured TCP stream lacks the log text; without it, it holds it."""
    text = "card 4111-1111-1111-1111 declined"
    secure: dict[str, Any] = {
        "curve_secret_key_file": keys.server[1],
        "authorized_keys": keys.clients,
    }
    pinned: dict[str, Any] = {
        "curve_server_key_file": keys.server[0],
        "curve_secret_key_file": keys.alice[1],
    }
    async with zmqlog.LogPublisher(
        "tcp://127.0.0.1:*", logger=logger, **(secure if curve else {})
    ) as pub:
        port = int(pub.endpoint.rpartition(":")[2])
        async with (
            tcp_relay(port) as (relay_port, captured),
            zmqlog.LogSubscriber(
                f"tcp://127.0.0.1:{relay_port}", **(pinned if curve else {})
            ) as sub,
        ):
            await pub.wait_for_subscribers(1, timeout=5)
            logger.info(text)
            with anyio.fail_after(5):
                message = await sub.receive()
    assert message.text == f"{text}\n"
    assert (text.encode() in captured) is not curve


# -- lifetimes ------------------------------------------------------------------------


async def test_a_publisher_restarted_in_the_same_process_still_authenticates(
    keys: Keys, logger: logging.Logger
) -> None:
    """One subscriber, two CURVE publishers in turn on the same port: both reach it."""
    received = []
    async with curve_publisher(keys, logger) as first:
        endpoint = first.endpoint
        sub = zmqlog.LogSubscriber(
            endpoint, curve_server_key_file=keys.server[0], curve_secret_key_file=keys.alice[1]
        )
        async with sub:
            await first.wait_for_subscribers(1, timeout=5)
            logger.info("first")
            with anyio.fail_after(5):
                received.append((await sub.receive()).text)
            await first.aclose()
            async with curve_publisher(keys, logger, endpoint) as second:
                await second.wait_for_subscribers(1, timeout=5)
                logger.info("second")
                with anyio.fail_after(5):
                    received.append((await sub.receive()).text)
    assert received == ["first\n", "second\n"]


async def test_publishers_sharing_a_context_keep_their_own_allow_lists(
    keys: Keys, logger: logging.Logger, tmp_path: Path
) -> None:
    """Two publishers on one context, one authenticator: each admits only its own keys,
    and the context takes a new publisher after both closed."""
    context = zmq.asyncio.Context()
    try:
        for _round in range(3):
            alice_only = curve_publisher(keys, logger, context=context)
            mallory_only = curve_publisher(
                keys, logger, context=context, authorized_keys=[keys.mallory[0]]
            )
            async with (
                alice_only,
                mallory_only,
                handshake_failures(mallory_only.handler) as failure,
            ):
                alice = zmqlog.LogSubscriber(
                    [alice_only.endpoint, mallory_only.endpoint],
                    curve_server_key_file=keys.server[0],
                    curve_secret_key_file=keys.alice[1],
                )
                assert len(_security._registry) == 1
                async with alice:
                    await alice_only.wait_for_subscribers(1, timeout=5)
                    assert await failure() == zmq.EVENT_HANDSHAKE_FAILED_AUTH
                    assert mallory_only.handler.subscriptions == 0
            assert _security._registry == {}
    finally:
        context.term()


async def test_a_context_with_its_own_authenticator_is_refused(
    keys: Keys, context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    """authorized_keys on a context where the user runs a zmq.auth authenticator fails clearly."""
    auth = ThreadAuthenticator(context)
    auth.start()
    try:
        with pytest.raises(zmqlog.UsageError, match="already has a ZAP authenticator"):
            zmqlog.AsyncPUBHandler(
                "tcp://127.0.0.1:*",
                context,
                curve_secret_key_file=keys.server[1],
                authorized_keys=keys.clients,
            )
    finally:
        auth.stop()
    assert _security._registry == {}


def test_a_handler_built_outside_a_loop_authenticates(keys: Keys, logger: logging.Logger) -> None:
    """A handler made before any loop runs (as dictConfig does) serves CURVE clients later."""
    handler = zmqlog.AsyncPUBHandler(
        "tcp://127.0.0.1:*", curve_secret_key_file=keys.server[1], authorized_keys=keys.clients
    )
    logger.addHandler(handler)
    endpoint = handler.socket.getsockopt_string(zmq.LAST_ENDPOINT)

    async def receive_one() -> str:
        async with zmqlog.LogSubscriber(
            endpoint, curve_server_key_file=keys.server[0], curve_secret_key_file=keys.alice[1]
        ) as sub:
            await handler.wait_for_subscribers(1, timeout=5)
            logger.info("built early")
            with anyio.fail_after(5):
                return (await sub.receive()).text

    try:
        assert asyncio.run(receive_one()) == "built early\n"
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert _security._registry == {}


# -- key files ------------------------------------------------------------------------


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_secret_key_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    """generate_keypair creates the secret file 0600 even under umask 000."""
    with umask(0):
        public_file, secret_file = zmqlog.generate_keypair(tmp_path, "server")
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(public_file.stat().st_mode) == 0o644


def test_key_files_are_pyzmq_certificates(tmp_path: Path) -> None:
    """pyzmq's zmq.auth reads the pair, and the public key matches the secret one."""
    public_file, secret_file = zmqlog.generate_keypair(tmp_path, "node")
    public, none = zmq.auth.load_certificate(public_file)
    public_again, secret = zmq.auth.load_certificate(secret_file)
    assert none is None
    assert secret is not None
    assert public == public_again == zmq.curve_public(secret)
    assert (public_file.name, secret_file.name) == ("node.key", "node.key_secret")


def test_existing_key_files_are_never_overwritten(tmp_path: Path) -> None:
    """A second pair with the same name is refused, and the first pair stays as it was."""
    _, secret_file = zmqlog.generate_keypair(tmp_path, "server")
    before = secret_file.read_bytes()
    with pytest.raises(zmqlog.KeyFileError, match="already exists"):
        zmqlog.generate_keypair(tmp_path, "server")
    assert secret_file.read_bytes() == before


@pytest.mark.parametrize("name", ["", "..", "a/b"])
def test_a_key_name_must_be_a_plain_file_name(tmp_path: Path, name: str) -> None:
    """Names that would escape the directory are refused."""
    with pytest.raises(zmqlog.UsageError, match="plain file name"):
        zmqlog.generate_keypair(tmp_path, name)


async def test_a_missing_key_file_is_named(tmp_path: Path, logger: logging.Logger) -> None:
    """A missing secret key file stops the publisher's start with its path and the fix."""
    missing = tmp_path / "nope.key_secret"
    with pytest.raises(zmqlog.KeyFileError, match="does not exist") as info:
        async with zmqlog.LogPublisher(
            "tcp://127.0.0.1:*", logger=logger, curve_secret_key_file=missing
        ):
            pass
    assert info.value.path == str(missing)
    assert f"{missing}: does not exist; create a key pair with 'zmqlog keys" in str(info.value)
    assert logger.handlers == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_secret_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    """A 0644 secret key is refused with the chmod that fixes it, before any socket exists."""
    _, secret_file = zmqlog.generate_keypair(tmp_path, "server")
    secret_file.chmod(0o644)
    with pytest.raises(zmqlog.KeyFileError, match=f"chmod 600 {secret_file}"):
        zmqlog.AsyncPUBHandler("tcp://127.0.0.1:*", curve_secret_key_file=secret_file)


def _write_private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("hello, I am not a key\n", "holds no secret key"),
        ('curve\n    public-key = "short"\n    secret-key = "short"\n', "malformed secret key"),
        ('curve\n    secret-key = "' + "~" * 40 + '"\n', "malformed secret key"),
        (
            'curve\n    public-key = "{public}"\n    secret-key = "{secret}"\n',
            "does not belong to its secret key",
        ),
    ],
    ids=["not a key file", "short key", "not Z85", "mismatched pair"],
)
def test_a_malformed_secret_key_file_is_named(tmp_path: Path, content: str, problem: str) -> None:
    """Malformed secret key files fail with the file's name and what is wrong."""
    public = zmq.curve_keypair()[0].decode()
    secret = zmq.curve_keypair()[1].decode()
    bad = _write_private(tmp_path / "bad.key_secret", content.format(public=public, secret=secret))
    with pytest.raises(zmqlog.KeyFileError, match=problem) as info:
        zmqlog.AsyncPUBHandler("tcp://127.0.0.1:*", curve_secret_key_file=bad)
    assert str(bad) in str(info.value)


def test_a_malformed_server_key_file_is_named(tmp_path: Path) -> None:
    """The subscriber checks the pinned server key when it is created."""
    bad = _write_private(tmp_path / "server.key", 'curve\n    public-key = "xyz"\n')
    with pytest.raises(zmqlog.KeyFileError, match="malformed public key") as info:
        zmqlog.LogSubscriber("tcp://127.0.0.1:1", curve_server_key_file=bad)
    assert info.value.path == str(bad)


def test_a_public_key_file_is_not_a_secret_key(keys: Keys) -> None:
    """Passing NAME.key where NAME.key_secret belongs says which file to give."""
    with pytest.raises(zmqlog.KeyFileError, match=r"give the NAME\.key_secret file"):
        zmqlog.LogSubscriber(
            "tcp://127.0.0.1:1",
            curve_server_key_file=keys.server[0],
            curve_secret_key_file=keys.alice[0],
        )


def _rss() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _special_file(kind: str, tmp_path: Path) -> Path:
    """A path that is not a regular file of key size: made in *tmp_path* where it can be."""
    if kind == "fifo":
        path = tmp_path / "trap.key_secret"
        os.mkfifo(path, 0o600)  # opening it for reading would wait for a writer
        return path
    if kind == "directory":
        path = tmp_path / "dir.key_secret"
        path.mkdir(mode=0o700)
        return path
    if kind == "huge":
        path = tmp_path / "huge.key_secret"
        with path.open("wb") as file:
            file.truncate(1 << 30)  # 1 GiB, sparse: costs no disk
        path.chmod(0o600)
        return path
    return Path("/dev/zero")


SPECIAL_FILES = {
    "fifo": "is a FIFO (named pipe), not a key file",
    "directory": "is a directory, not a key file",
    "huge": "is 1,073,741,824 bytes, and a key file is a few hundred",
    "dev-zero": "is a character device, not a key file",
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIFOs, /dev/zero, /proc")
@pytest.mark.timeout(10)  # a FIFO that blocks the constructor must fail, not hang
@pytest.mark.parametrize("kind", sorted(SPECIAL_FILES))
@pytest.mark.parametrize("role", ["secret", "server", "publisher", "authorized"])
def test_only_regular_key_files_are_read(kind: str, role: str, keys: Keys, tmp_path: Path) -> None:
    """A FIFO, a directory, /dev/zero or a 1 GiB file: a KeyFileError at once, nothing read."""
    path = _special_file(kind, tmp_path)
    load: dict[str, Callable[[], object]] = {
        "secret": lambda: zmqlog.LogSubscriber(
            "tcp://127.0.0.1:1", curve_server_key_file=keys.server[0], curve_secret_key_file=path
        ),
        "server": lambda: zmqlog.LogSubscriber("tcp://127.0.0.1:1", curve_server_key_file=path),
        "publisher": lambda: _security.ServerSecurity(curve_secret_key_file=path),
        "authorized": lambda: _security.ServerSecurity(keys.server[1], authorized_keys=[path]),
    }
    before = _rss()
    with pytest.raises(zmqlog.KeyFileError) as info:
        load[role]()
    assert info.value.path == str(path)
    assert SPECIAL_FILES[kind] in info.value.reason
    assert "zmqlog keys DIR NAME" in info.value.reason  # and what to give instead
    assert _rss() - before < 16 << 20


def test_a_fifo_in_the_authorized_keys_directory_is_named(keys: Keys, tmp_path: Path) -> None:
    """A named pipe called x.key among the allowed keys stops start-up, naming it."""
    folder = tmp_path / "allowed"
    folder.mkdir()
    (folder / "alice.key").write_bytes(keys.alice[0].read_bytes())
    os.mkfifo(folder / "trap.key")
    with pytest.raises(zmqlog.KeyFileError, match="FIFO") as info:
        _security.ServerSecurity(keys.server[1], authorized_keys=folder)
    assert info.value.path == str(folder / "trap.key")


def test_a_key_file_just_over_the_size_cap_is_refused(keys: Keys, tmp_path: Path) -> None:
    """A real key padded with comments is read up to 64 KiB, and refused beyond."""
    text = keys.server[0].read_text()
    fits = tmp_path / "fits.key"
    fits.write_text(text + "#" * ((64 << 10) - len(text) - 1) + "\n")
    zmqlog.LogSubscriber("tcp://127.0.0.1:1", curve_server_key_file=fits)  # accepted
    too_big = tmp_path / "too-big.key"
    too_big.write_text(text + "#" * ((64 << 10) - len(text)) + "\n")
    with pytest.raises(zmqlog.KeyFileError, match="is 65,537 bytes"):
        zmqlog.LogSubscriber("tcp://127.0.0.1:1", curve_server_key_file=too_big)


def test_a_malformed_authorized_key_file_is_named(keys: Keys, tmp_path: Path) -> None:
    """One bad file in the authorized_keys directory stops start-up, naming it."""
    bad = _write_private(tmp_path / "eve.key", "not a key\n")
    with pytest.raises(zmqlog.KeyFileError, match="holds no 'public-key") as info:
        zmqlog.AsyncPUBHandler(
            "tcp://127.0.0.1:*", curve_secret_key_file=keys.server[1], authorized_keys=tmp_path
        )
    assert info.value.path == str(bad)


@pytest.mark.parametrize(
    ("authorized", "error", "message"),
    [
        ("EMPTY_DIR", zmqlog.KeyFileError, "holds no .key files"),
        ([], zmqlog.UsageError, "authorized_keys is empty"),
        (["not-a-key"], zmqlog.UsageError, "not a 40-character Z85 public key"),
    ],
)
def test_an_allow_list_that_admits_nobody_is_refused(
    keys: Keys, tmp_path: Path, authorized: Any, error: type[Exception], message: str
) -> None:
    """An empty or malformed allow-list is a mistake, not a locked door."""
    if authorized == "EMPTY_DIR":
        authorized = tmp_path
    with pytest.raises(error, match=message):
        zmqlog.AsyncPUBHandler(
            "tcp://127.0.0.1:*", curve_secret_key_file=keys.server[1], authorized_keys=authorized
        )


def test_half_configured_curve_is_refused(keys: Keys, context: zmq.Context[Any]) -> None:
    """Options that cannot work alone say which option is missing."""
    with pytest.raises(zmqlog.UsageError, match="authorized_keys needs curve_secret_key_file"):
        zmqlog.AsyncPUBHandler("tcp://127.0.0.1:*", authorized_keys=keys.clients)
    with pytest.raises(zmqlog.UsageError, match="authorized_keys is for a publisher that is"):
        zmqlog.AsyncPUBHandler(
            "tcp://127.0.0.1:*",
            bind=False,
            curve_server_key_file=keys.server[0],
            authorized_keys=keys.clients,
        )
    with pytest.raises(zmqlog.UsageError, match="authorized_keys is for a subscriber that is"):
        zmqlog.LogSubscriber(
            "tcp://127.0.0.1:1", curve_server_key_file=keys.server[0], authorized_keys=keys.clients
        )
    with pytest.raises(zmqlog.UsageError, match="authorized_keys needs curve_secret_key_file"):
        zmqlog.LogSubscriber("tcp://127.0.0.1:1", bind=True, authorized_keys=keys.clients)
    own = context.socket(zmq.PUB)
    with pytest.raises(zmqlog.UsageError, match="set the CURVE options on your own socket"):
        zmqlog.AsyncPUBHandler(own, curve_secret_key_file=keys.server[1])
    own.close(linger=0)


# -- the plaintext warning ----------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "exposed"),
    [
        ("tcp://127.0.0.1:5555", False),
        ("tcp://127.0.0.2:*", False),
        ("tcp://localhost:5555", False),
        ("tcp://[::1]:5555", False),
        ("tcp://lo:5555", False),
        ("ipc:///tmp/app.log", False),
        ("inproc://logs", False),
        ("tcp://*:5555", True),
        ("tcp://0.0.0.0:5555", True),
        ("tcp://[::]:5555", True),
        ("tcp://192.168.1.10:5555", True),
        ("tcp://eth0:5555", True),
        ("tcp://logs.example.com:5555", True),
    ],
)
def test_which_binds_other_hosts_can_reach(endpoint: str, exposed: bool) -> None:
    """Loopback, ipc:// and inproc:// are private; wildcards, addresses and names are not."""
    assert _security.is_exposed_bind(endpoint) is exposed


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def zmqlog_warnings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[logging.LogRecord]]:
    """Records of the 'zmqlog' logger, with the once-a-process warning not yet given."""
    monkeypatch.setattr(_security, "_warned", False)
    capture = _Capture()
    log = logging.getLogger("zmqlog")
    log.addHandler(capture)
    try:
        yield capture.records
    finally:
        log.removeHandler(capture)


# 192.0.2.0/24 is reserved for documentation: binding it fails without opening a port,
# after the warning was (or was not) logged.
_UNREACHABLE = "tcp://192.0.2.1:*"


def test_a_plaintext_bind_other_hosts_can_reach_warns_once(
    zmqlog_warnings: list[logging.LogRecord],
) -> None:
    """Two plaintext publishers binding a non-loopback address: one warning, naming it."""
    for _ in range(2):
        with pytest.raises(zmq.ZMQError):
            zmqlog.AsyncPUBHandler(_UNREACHABLE)
    assert [r.levelno for r in zmqlog_warnings] == [logging.WARNING]
    assert _UNREACHABLE in zmqlog_warnings[0].getMessage()


def test_curve_and_loopback_binds_do_not_warn(
    keys: Keys, zmqlog_warnings: list[logging.LogRecord]
) -> None:
    """Neither an encrypted publisher nor one bound to loopback warns."""
    with pytest.raises(zmq.ZMQError):
        zmqlog.AsyncPUBHandler(_UNREACHABLE, curve_secret_key_file=keys.server[1])
    zmqlog.AsyncPUBHandler("tcp://127.0.0.1:*").close()
    assert zmqlog_warnings == []


# -- the command line ---------------------------------------------------------------


def test_zmqlog_keys_writes_a_pair_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`zmqlog keys DIR NAME` prints both paths; running it again fails and changes nothing."""
    assert main(["keys", str(tmp_path / "keys"), "server"]) == 0
    out = capsys.readouterr().out
    secret_file = tmp_path / "keys" / "server.key_secret"
    assert str(tmp_path / "keys" / "server.key") in out
    assert str(secret_file) in out
    before = secret_file.read_bytes()
    assert main(["keys", str(tmp_path / "keys"), "server"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert secret_file.read_bytes() == before


@pytest.mark.timeout(60)
def test_secure_examples_talk_with_keys_from_the_cli(tmp_path: Path) -> None:
    """Keys made with `zmqlog keys` let secure_subscriber.py read secure_service.py."""
    root = Path(__file__).resolve().parent.parent
    keys_dir = tmp_path / "keys"

    def python(*args: str) -> list[str]:
        return [sys.executable, *args]

    for directory, name in ((keys_dir, "server"), (keys_dir / "authorized", "alice")):
        made = subprocess.run(
            python("-m", "zmqlog", "keys", str(directory), name),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert made.returncode == 0, made.stderr
    endpoint = f"ipc://{tmp_path}/shop.log"
    common = ["--endpoint", endpoint, "--keys-dir", str(keys_dir)]
    subscriber = subprocess.Popen(
        python("examples/secure_subscriber.py", *common, "--name", "alice", "--count", "2"),
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        service = subprocess.run(
            python("examples/secure_service.py", *common, "--seconds", "2"),
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert service.returncode == 0, service.stderr
        out, err = subscriber.communicate(timeout=20)
    finally:
        subscriber.kill()
        subscriber.wait()
    assert subscriber.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert all(line.split()[0] == "INFO" for line in lines)


# -- publishers as CURVE clients ----------------------------------------------------


@pytest.fixture
def fan_in(tmp_path: Path) -> Keys:
    """A collector's key pair, the publishers it admits, and one it does not."""
    root = tmp_path / "fan-in"
    return Keys(
        server=zmqlog.generate_keypair(root / "collector", "collector"),
        alice=zmqlog.generate_keypair(root / "publishers", "worker1"),
        mallory=zmqlog.generate_keypair(root / "elsewhere", "intruder"),
        rogue=zmqlog.generate_keypair(root / "elsewhere", "rogue"),
        clients=root / "publishers",
    )


async def test_a_publisher_connects_encrypted_to_a_subscriber_that_is_the_server(
    fan_in: Keys, logger: logging.Logger
) -> None:
    """A bound subscriber with a key pair of its own is the CURVE server: a publisher in
    its allow-list connects as client and is heard; one not in it, or in plaintext, is not."""
    async with zmqlog.LogSubscriber(
        "tcp://127.0.0.1:*",
        bind=True,
        curve_secret_key_file=fan_in.server[1],
        authorized_keys=fan_in.clients,
    ) as sub:
        endpoint = sub.endpoints[0]
        listed = zmqlog.LogPublisher(
            endpoint,
            logger=logger,
            bind=False,
            curve_server_key_file=fan_in.server[0],
            curve_secret_key_file=fan_in.alice[1],
        )
        intruder_log = logging.getLogger("zmqlog.tests.intruder")
        intruder_log.propagate = False
        unlisted = zmqlog.LogPublisher(
            endpoint,
            logger=intruder_log,
            bind=False,
            curve_server_key_file=fan_in.server[0],
            curve_secret_key_file=fan_in.mallory[1],
        )
        plaintext = zmqlog.LogPublisher(endpoint, logger=intruder_log, bind=False)
        async with listed, unlisted, plaintext:
            await listed.wait_for_subscribers(1, timeout=5)
            for _ in range(5):
                intruder_log.warning("let me in")
            logger.info("from a listed publisher")
            with anyio.fail_after(5):
                message = await sub.receive()
            assert message.text == "from a listed publisher\n"
            with anyio.move_on_after(0.3):  # nothing else comes through
                extra = await sub.receive()
                raise AssertionError(f"an unlisted publisher got through: {extra}")
            assert unlisted.handler.subscriptions == 0
            assert plaintext.handler.subscriptions == 0


async def test_a_publisher_connects_encrypted_through_the_proxy_frontend(
    fan_in: Keys, logger: logging.Logger
) -> None:
    """zmqlog proxy with --frontend-secret-key: a publisher that is its CURVE client
    reaches a subscriber behind it."""
    options = [
        "--frontend-secret-key",
        str(fan_in.server[1]),
        "--frontend-authorized-keys",
        str(fan_in.clients),
    ]
    async with (
        running_proxy(options=options) as (_, frontend, backend),
        zmqlog.LogSubscriber(backend) as sub,
        zmqlog.LogPublisher(
            frontend,
            logger=logger,
            bind=False,
            curve_server_key_file=fan_in.server[0],
            curve_secret_key_file=fan_in.alice[1],
            wire_format="json",
        ) as pub,
    ):
        await pub.wait_for_subscribers(1, timeout=10)
        logger.info("through the proxy")
        with anyio.fail_after(5):
            message = await sub.receive()
    assert message.record.getMessage() == "through the proxy"


def test_a_plaintext_publisher_that_connects_across_the_network_is_warned(
    context: zmq.Context[Any], zmqlog_warnings: list[logging.LogRecord]
) -> None:
    """Sending logs unencrypted to another host says so, once, with the fix."""
    sock = context.socket(zmq.XPUB)
    try:
        # Only the warning is under test: nothing is connected.
        zmqlog._security.ServerSecurity().apply(sock, "tcp://192.0.2.7:5559", bind=False)
    finally:
        sock.close(linger=0)
    assert [r.getMessage() for r in zmqlog_warnings] == [
        "zmqlog is sending logs unencrypted to tcp://192.0.2.7:5559, across the network; "
        "enable CURVE with curve_server_key_file= (the peer's public key) and "
        "curve_secret_key_file="
    ]

"""`zmqlog proxy` as a CURVE server on each side, tried with raw pyzmq clients on loopback.

Every raw client makes exactly one handshake (``RECONNECT_IVL=-1``), so the counts the
proxy prints on exit are known in advance.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
import zmq
import zmq.asyncio

import zmqlog
from tests.proxying import RunningProxy, handshake_counts, running_proxy
from zmqlog._security import load_public_key, load_secret_key

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")

_OUTCOMES = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
# How a refused client sees it depends on who notices first; the proxy's counts say why.
_FAILED = {
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
    zmq.EVENT_HANDSHAKE_FAILED_AUTH,
}
# ZMTP's greeting starts with these bytes; a server sends them as soon as it accepts.
_SIGNATURE_LENGTH = 10


@dataclass
class Keys:
    """Key files: a pair per proxy side, an allow-list per side, one outsider."""

    frontend: tuple[Path, Path]
    backend: tuple[Path, Path]
    publishers: Path  # the frontend's allow-list: alice
    subscribers: Path  # the backend's allow-list: bob
    alice: tuple[Path, Path]
    bob: tuple[Path, Path]
    mallory: tuple[Path, Path]  # a valid pair nobody authorized

    def frontend_options(self) -> list[str]:
        return [
            "--frontend-secret-key",
            str(self.frontend[1]),
            "--frontend-authorized-keys",
            str(self.publishers),
        ]

    def backend_options(self) -> list[str]:
        return [
            "--backend-secret-key",
            str(self.backend[1]),
            "--backend-authorized-keys",
            str(self.subscribers),
        ]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    root = tmp_path_factory.mktemp("keys")
    return Keys(
        frontend=zmqlog.generate_keypair(root / "proxy", "frontend"),
        backend=zmqlog.generate_keypair(root / "proxy", "backend"),
        publishers=root / "publishers",
        subscribers=root / "subscribers",
        alice=zmqlog.generate_keypair(root / "publishers", "alice"),
        bob=zmqlog.generate_keypair(root / "subscribers", "bob"),
        mallory=zmqlog.generate_keypair(root / "outsiders", "mallory"),
    )


class Client:
    """A raw pyzmq socket that connects once, with a monitor telling how its handshake ended."""

    def __init__(
        self,
        ctx: zmq.asyncio.Context,
        socket_type: int,
        endpoint: str,
        server_key: Path | None = None,
        own: tuple[Path, Path] | None = None,
    ) -> None:
        self.sock = ctx.socket(socket_type)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, -1)  # one handshake: exact counts
        if server_key is not None:
            public, secret = zmq.curve_keypair() if own is None else load_secret_key(own[1])
            self.sock.setsockopt(zmq.CURVE_SERVERKEY, load_public_key(server_key))
            self.sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
            self.sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
        self.monitor = self.sock.get_monitor_socket(_OUTCOMES)
        self.sock.connect(endpoint)

    async def outcome(self) -> int:
        """The event that ended this client's handshake, seen from the client."""
        frames = await self.monitor.recv_multipart()
        return int.from_bytes(frames[0][:2], "little")

    def close(self) -> None:
        if not self.sock.closed:
            self.sock.disable_monitor()
            self.monitor.close(linger=0)
            self.sock.close(linger=0)


class Clients:
    """Makes clients on a context of its own; closes them all at the end of the test."""

    def __init__(self) -> None:
        self._ctx = zmq.asyncio.Context()
        self._made: list[Client] = []

    def __call__(
        self,
        socket_type: int,
        endpoint: str,
        server_key: Path | None = None,
        own: tuple[Path, Path] | None = None,
    ) -> Client:
        client = Client(self._ctx, socket_type, endpoint, server_key, own)
        self._made.append(client)
        return client

    def close(self) -> None:
        for client in self._made:
            client.close()
        self._ctx.term()


@pytest.fixture
def connect() -> Iterator[Clients]:
    clients = Clients()
    yield clients
    clients.close()


async def stop(proxy: RunningProxy) -> tuple[int | None, str]:
    """SIGTERM the proxy; return its exit code and stderr."""
    proxy.proc.send_signal(signal.SIGTERM)
    with anyio.fail_after(20):
        _, err = await proxy.proc.communicate()
    return proxy.proc.returncode, err.decode()


def counts(**nonzero: int) -> dict[str, int]:
    """What handshake_counts() returns when only *nonzero* are counted."""
    found = dict.fromkeys(
        ("succeeded", "unauthorized", "mismatched", "undecryptable", "malformed", "abandoned"), 0
    )
    found |= nonzero
    kinds = ("unauthorized", "mismatched", "undecryptable", "malformed")
    found["refused"] = sum(found[kind] for kind in kinds)
    found.setdefault("in_progress", 0)
    return found


def plaintext_seen(found: dict[str, int], plaintext: int) -> dict[str, int]:
    """*found* with *plaintext* peers counted as refused for a mechanism mismatch.

    A plaintext client may read the CURVE server's whole greeting and hang up before
    its own greeting was sent in full; the server then saw an abandoned handshake.
    Which one it saw varies; that it saw each plaintext peer exactly once does not.
    """
    moved = found["abandoned"] - (plaintext - found["mismatched"])
    assert 0 <= found["mismatched"] <= plaintext, found
    return {
        **found,
        "mismatched": plaintext,
        "refused": found["refused"] + plaintext - found["mismatched"],
        "abandoned": moved,
    }


async def test_frontend_admits_listed_publishers_only(keys: Keys, connect: Clients) -> None:
    """A listed publisher's logs pass; unlisted, plaintext and mis-pinned ones never connect."""
    async with running_proxy(options=keys.frontend_options()) as proxy:
        sub = connect(zmq.SUB, proxy.backend)
        sub.sock.subscribe(b"")
        alice = connect(zmq.XPUB, proxy.frontend, keys.frontend[0], keys.alice)
        with anyio.fail_after(10):
            assert await alice.outcome() == zmq.EVENT_HANDSHAKE_SUCCEEDED
            assert await alice.sock.recv() == b"\x01"  # the subscriber's, through the proxy
        outsiders = {
            "unlisted": connect(zmq.XPUB, proxy.frontend, keys.frontend[0], keys.mallory),
            "plaintext": connect(zmq.XPUB, proxy.frontend),
            "pins the backend": connect(zmq.XPUB, proxy.frontend, keys.backend[0], keys.alice),
        }
        with anyio.fail_after(10):
            seen = {name: await client.outcome() for name, client in outsiders.items()}
        assert set(seen.values()) <= _FAILED, seen
        for client in outsiders.values():
            await client.sock.send_multipart([b"evil.INFO", b"injected"])
        await alice.sock.send_multipart([b"app.INFO", b"from alice"])
        with anyio.fail_after(10):
            assert await sub.sock.recv_multipart() == [b"app.INFO", b"from alice"]
        assert await sub.sock.poll(0) == 0
        code, err = await stop(proxy)
    assert code == 0, err
    frontend = plaintext_seen(handshake_counts(err, "frontend"), plaintext=1)
    assert frontend == counts(succeeded=1, unauthorized=1, mismatched=1, undecryptable=1)
    assert handshake_counts(err, "backend") == counts(succeeded=1)
    assert "stopped after forwarding 2 frames (" in err  # alice's one message


async def test_backend_serves_listed_subscribers_only(keys: Keys, connect: Clients) -> None:
    """A listed subscriber reads; unlisted, throwaway, plaintext, mis-pinned clients get nothing."""
    async with running_proxy(options=keys.backend_options()) as proxy:
        publisher = connect(zmq.XPUB, proxy.frontend)
        bob = connect(zmq.SUB, proxy.backend, keys.backend[0], keys.bob)
        bob.sock.subscribe(b"")
        with anyio.fail_after(10):
            assert await bob.outcome() == zmq.EVENT_HANDSHAKE_SUCCEEDED
            assert await publisher.sock.recv() == b"\x01"
        outsiders = {
            "unlisted": connect(zmq.SUB, proxy.backend, keys.backend[0], keys.mallory),
            "throwaway key": connect(zmq.SUB, proxy.backend, keys.backend[0]),
            "plaintext": connect(zmq.SUB, proxy.backend),
            "pins the frontend": connect(zmq.SUB, proxy.backend, keys.frontend[0], keys.bob),
        }
        for client in outsiders.values():
            client.sock.subscribe(b"")
        with anyio.fail_after(10):
            seen = {name: await client.outcome() for name, client in outsiders.items()}
        assert set(seen.values()) <= _FAILED, seen
        await publisher.sock.send_multipart([b"app.INFO", b"for bob"])
        with anyio.fail_after(10):
            assert await bob.sock.recv_multipart() == [b"app.INFO", b"for bob"]
        assert [await client.sock.poll(0) for client in outsiders.values()] == [0, 0, 0, 0]
        code, err = await stop(proxy)
    assert code == 0, err
    backend = plaintext_seen(handshake_counts(err, "backend"), plaintext=1)
    assert backend == counts(succeeded=1, unauthorized=2, mismatched=1, undecryptable=1)
    assert handshake_counts(err, "frontend") == counts(succeeded=1)


async def _touch(endpoint: str) -> None:
    """Open a TCP connection, read the server's first greeting bytes, close it."""
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        await reader.readexactly(_SIGNATURE_LENGTH)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_refused_handshakes_are_counted_exactly_and_never_logged(
    keys: Keys, connect: Clients
) -> None:
    """Hundreds of refused or abandoned handshakes: exact counts, and not one line each."""
    attempts = 60
    options = [*keys.frontend_options(), *keys.backend_options()]
    async with running_proxy(options=options) as proxy:
        for _ in range(attempts):
            unlisted = connect(zmq.XPUB, proxy.frontend, keys.frontend[0], keys.mallory)
            plaintext = connect(zmq.SUB, proxy.backend)
            with anyio.fail_after(10):
                assert await unlisted.outcome() == zmq.EVENT_HANDSHAKE_FAILED_AUTH
                assert await plaintext.outcome() in _FAILED
                await _touch(proxy.frontend)
                await _touch(proxy.backend)
            unlisted.close()
            plaintext.close()
        code, err = await stop(proxy)
    assert code == 0, err
    assert handshake_counts(err, "frontend") == counts(unauthorized=attempts, abandoned=attempts)
    backend = plaintext_seen(handshake_counts(err, "backend"), plaintext=attempts)
    assert backend == counts(mismatched=attempts, abandoned=attempts)
    # The start line, what was forwarded, one line per side: nothing per attempt.
    assert len(err.splitlines()) == 4, err


async def test_stop_waits_a_bounded_time_for_a_handshake_that_never_ends(keys: Keys) -> None:
    """A peer that connects and stays silent does not hold the stop; it is reported as such."""
    async with running_proxy(options=keys.backend_options()) as proxy:
        host, port = proxy.backend.removeprefix("tcp://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            with anyio.fail_after(10):
                await reader.readexactly(_SIGNATURE_LENGTH)  # accepted, and nothing more
            code, err = await stop(proxy)
        finally:
            writer.close()
            await writer.wait_closed()
    assert code == 0, err
    assert handshake_counts(err, "backend") == counts(in_progress=1)


async def test_each_side_has_its_own_allow_list(keys: Keys, connect: Clients) -> None:
    """Without an allow-list the frontend admits any key, while the backend's still refuses."""
    options = ["--frontend-secret-key", str(keys.frontend[1]), *keys.backend_options()]
    async with running_proxy(options=options) as proxy:
        anyone = connect(zmq.XPUB, proxy.frontend, keys.frontend[0])  # a throwaway key
        mallory = connect(zmq.SUB, proxy.backend, keys.backend[0], keys.mallory)
        bob = connect(zmq.SUB, proxy.backend, keys.backend[0], keys.bob)
        with anyio.fail_after(10):
            outcomes = [await client.outcome() for client in (anyone, mallory, bob)]
        assert outcomes == [
            zmq.EVENT_HANDSHAKE_SUCCEEDED,
            zmq.EVENT_HANDSHAKE_FAILED_AUTH,
            zmq.EVENT_HANDSHAKE_SUCCEEDED,
        ]
        code, err = await stop(proxy)
    assert code == 0, err
    assert handshake_counts(err, "frontend") == counts(succeeded=1)
    assert handshake_counts(err, "backend") == counts(succeeded=1, unauthorized=1)

"""A publisher against peers that attack it: bounded memory, a live loop, nothing echoed.

Each flood runs against a service in its own process (tests/scripts/flooded.py), from
an attacker in a third (tests/scripts/peer_attack.py), on loopback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

import zmqlog

SCRIPTS = Path(__file__).parent / "scripts"
SECONDS = 2.0


def flooded(mode: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "flooded.py"), mode, str(SECONDS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize(
    "mode",
    [
        "big",  # twelve 8 MiB subscription frames: took a service to 1 GiB and froze it 6 s
        "toggle",  # subscribe/unsubscribe flood: +149 MiB
        "distinct",  # new subscriptions without end: +436 MiB and 1.2 s frozen
        "data",  # frames that are no subscription: +314 MiB
    ],
)
@pytest.mark.timeout(90)
def test_a_flooding_peer_neither_blows_up_memory_nor_freezes_the_loop(mode: str) -> None:
    """Under each flood the service grows by less than 100 MiB, its event loop is never
    held for 250 ms (a ticker's oversleep, counting the time the loop's thread ran, not
    the time a loaded machine gave its CPU to another process), and it still publishes
    to an honest subscriber afterwards."""
    report = flooded(mode)
    assert float(report["rss_growth_mib"]) < 100, report  # type: ignore[arg-type]
    assert float(report["max_held_s"]) < 0.25, report  # type: ignore[arg-type]
    assert report["delivered_after"] is True, report
    if mode == "distinct":
        assert int(report["socket_resets"]) >= 1, report  # type: ignore[call-overload]


async def test_refused_curve_clients_are_counted_not_published(tmp_path: Path) -> None:
    """With the root logger at DEBUG, clients retrying refused handshakes produce no
    record per attempt: at most a summary a minute reaches the published stream."""
    server = zmqlog.generate_keypair(tmp_path / "server", "server")
    alice = zmqlog.generate_keypair(tmp_path / "clients", "alice")
    mallory = zmqlog.generate_keypair(tmp_path / "others", "mallory")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    handler = zmqlog.AsyncPUBHandler(
        "tcp://127.0.0.1:*",
        curve_secret_key_file=server[1],
        authorized_keys=tmp_path / "clients",
    )
    root.addHandler(handler)
    endpoint = handler.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    refused = []
    try:
        async with zmqlog.LogSubscriber(
            endpoint, curve_server_key_file=server[0], curve_secret_key_file=alice[1]
        ) as sub:
            await handler.wait_for_subscribers(1, timeout=5)
            context = zmq.asyncio.Context()
            try:
                for _ in range(30):  # thirty refused clients, each retrying meanwhile
                    peer = context.socket(zmq.SUB)
                    peer.curve_serverkey = zmqlog._security.load_public_key(server[0])
                    peer.curve_publickey, peer.curve_secretkey = zmqlog._security.load_secret_key(
                        mallory[1]
                    )
                    peer.subscribe(b"")
                    peer.connect(endpoint)
                    refused.append(peer)
                authenticator = zmqlog._security._registry[id(handler.ctx)]
                for _ in range(500):  # bounded: nothing signals a refusal to the test
                    if authenticator.refused >= 30:
                        break
                    await asyncio.sleep(0.01)
                assert authenticator.refused >= 30
                root.info("the end")
                texts = []
                while True:
                    message = await asyncio.wait_for(sub.receive(), 5)
                    if message.text == "the end\n":
                        break
                    texts.append(message.text)
            finally:
                for peer in refused:
                    peer.close(linger=0)
                context.term()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
    # One summary, however many attempts; none of pyzmq's per-handshake lines.
    assert len(texts) <= 1, texts
    assert all("refused" in text for text in texts)

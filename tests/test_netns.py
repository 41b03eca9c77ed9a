"""The multi-host harness (tests/netns.py): hosts that reach each other, and nothing left behind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import anyio
import pytest

from tests import netns


@pytest.fixture(autouse=True)
def _needs_namespaces() -> None:
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(reason)


def _ip(*args: str) -> str:
    return subprocess.run(
        ["ip", *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


_ECHO = """
import socket, sys
server = socket.create_server((sys.argv[1], 7000))
print("listening", flush=True)
conn, _ = server.accept()
conn.sendall(conn.recv(100))
"""
_CALL = """
import socket, sys
with socket.create_connection((sys.argv[1], 7000), timeout=10) as conn:
    conn.sendall(b"across hosts")
    print(conn.recv(100).decode())
"""


async def test_hosts_reach_each_other_on_their_addresses_only() -> None:
    """A host connects to another's address; each has its /24 and loopback, no other route."""
    async with netns.network(["a", "b"]) as net:
        server = await net.spawn(
            "a", sys.executable, "-c", _ECHO, net.address("a"), stdout=asyncio.subprocess.PIPE
        )
        assert server.stdout is not None
        with anyio.fail_after(20):
            assert await server.stdout.readline() == b"listening\n"
            client = await net.spawn(
                "b", sys.executable, "-c", _CALL, net.address("a"), stdout=asyncio.subprocess.PIPE
            )
            out, _ = await client.communicate()
        assert out == b"across hosts\n"
        routes = _ip("-n", net.namespace("b"), "-4", "route").splitlines()
        assert [route.split()[0] for route in routes] == [f"{netns.SUBNET}.0/24"]


async def _fail_inside_a_network(names: list[str], pids: list[int]) -> None:
    async with netns.network(["a", "b"]) as net:
        names += [net.namespace("a"), net.namespace("b")]
        pids.append((await net.spawn("a", "sleep", "60")).pid)
        raise RuntimeError("the test failed")


async def test_a_failing_test_leaves_no_namespace_and_no_process() -> None:
    """An exception inside the network still kills its processes and deletes its namespaces."""
    names: list[str] = []
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="the test failed"):
        await _fail_inside_a_network(names, pids)
    left = _ip("netns", "list").split()
    assert len(names) == 2
    assert [name for name in names if name in left] == []
    assert [pid for pid in pids if _alive(pid)] == []


async def test_namespaces_of_a_run_that_died_are_removed() -> None:
    """A namespace named for a process that is gone, and what runs in it, go at the next start."""
    finished = await asyncio.create_subprocess_exec("true")
    await finished.wait()  # its pid names no process now
    stale = f"{netns.PREFIX}-{finished.pid}-0-crashed"
    _ip("netns", "add", stale)
    orphan = await asyncio.create_subprocess_exec("ip", "netns", "exec", stale, "sleep", "60")
    try:
        async with netns.network(["a"]):
            assert stale not in _ip("netns", "list")
        with anyio.fail_after(10):
            assert await orphan.wait() == -9
    finally:
        if orphan.returncode is None:
            orphan.kill()
            await orphan.wait()
        netns.delete([stale])

"""Hosts for tests that need more than loopback: Linux network namespaces on one switch.

``async with network(["pub1", "proxy", "sub"]) as net`` makes one namespace per host,
each with an ``eth0`` holding an address of one private /24 (``net.address(host)``),
wired by veth pairs to a bridge in a namespace of its own, the switch. Nothing leaves
those namespaces: they have no route but their /24, and the host's own network stack
is never touched (every interface is created inside a namespace).
``await net.spawn(host, *argv)`` runs a program inside a host.

Everything is deleted on the way out, even when the test fails or is interrupted: the
processes started inside are killed, then the namespaces are deleted, which deletes
their interfaces and the bridge. Namespaces are named ``zlt-<pid>-<n>-<host>``; a
network also deletes the namespaces left by a run whose process no longer exists (one
killed with SIGKILL), and an ``atexit`` hook deletes this process's own.

Creating a network takes a few ``ip -batch`` calls (tens of milliseconds). Where
namespaces cannot be created (not Linux, not root, no ``ip``), :func:`unavailable`
says why, for ``pytest.skip``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["Network", "delete", "network", "remove_stale", "unavailable"]

PREFIX = "zlt"
# One private /24 for every network: each network has a bridge of its own, so two
# networks (two test runs at once) never see each other's addresses.
SUBNET = "10.231.87"
_NAME = re.compile(rf"^{PREFIX}-(?P<pid>\d+)-\d+-\S+$")
_numbers = itertools.count()
_mine: set[str] = set()  # namespaces of this process not deleted yet


def _run_ip(args: Sequence[str], batch: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS`` (with *batch* as ``ip -batch -`` input); never raises for its status."""
    argv = ["ip", *args, *(["-batch", "-"] if batch is not None else [])]
    return subprocess.run(
        argv, input=batch, capture_output=True, text=True, timeout=30, check=False
    )


@functools.cache
def unavailable() -> str | None:
    """Why this machine cannot run network-namespace tests, or None if it can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux only"
    if shutil.which("ip") is None:
        return "no 'ip' command (install iproute2)"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (CI runs the suite as root)"
    probe = f"{PREFIX}-{os.getpid()}-probe-x"
    made = _run_ip(["netns", "add", probe])
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    _run_ip(["netns", "del", probe])
    return None


def _namespaces() -> list[str]:
    listed = _run_ip(["netns", "list"])
    return [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    """Whether process *pid* exists and is not a zombie (killed, not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # "pid (command) state ...": the command may hold spaces and parentheses.
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def delete(names: Sequence[str]) -> None:
    """Kill every process inside the namespaces *names*, then delete them."""
    if not names:
        return
    for name in names:
        pids = _run_ip(["netns", "pids", name]).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
    _run_ip(["-force"], batch="".join(f"netns del {name}\n" for name in names))
    _mine.difference_update(names)


def remove_stale() -> None:
    """Delete namespaces left by runs whose process is gone."""
    stale = []
    for name in _namespaces():
        match = _NAME.match(name)
        if match and not _alive(int(match["pid"])):
            stale.append(name)
    delete(stale)


@atexit.register
def _remove_mine() -> None:
    delete(sorted(_mine))


class Network:
    """Hosts (network namespaces) on one switch; see the module's docstring."""

    def __init__(self, hosts: Sequence[str]) -> None:
        if len(set(hosts)) != len(hosts) or not hosts or len(hosts) > 200:
            raise ValueError(f"give 1 to 200 distinct host names, not {hosts!r}")
        self._stem = f"{PREFIX}-{os.getpid()}-{next(_numbers)}"
        self._switch = f"{self._stem}-switch"
        self._hosts = {host: f"{self._stem}-{host}" for host in hosts}
        self._addresses = {host: f"{SUBNET}.{index}" for index, host in enumerate(hosts, 1)}
        self._procs: list[asyncio.subprocess.Process] = []

    def address(self, host: str) -> str:
        """The IPv4 address of *host* on the switch."""
        return self._addresses[host]

    def namespace(self, host: str) -> str:
        """The name of *host*'s network namespace (for ``ip netns exec``)."""
        return self._hosts[host]

    def create(self) -> None:
        """Make the namespaces, the switch, the links and the addresses."""
        everything = [self._switch, *self._hosts.values()]
        _mine.update(everything)
        root = [f"netns add {name}" for name in everything]
        switch = ["link add br0 type bridge", "link set dev br0 up"]
        for index, name in enumerate(self._hosts.values(), 1):
            port = f"port{index}"
            # Both ends are made inside their namespaces: the host's own stack never
            # sees them, so no name clash and nothing to clean up there.
            root.append(
                f"link add eth0 netns {name} type veth peer name {port} netns {self._switch}"
            )
            switch += [f"link set dev {port} master br0", f"link set dev {port} up"]
        self._batch([], root)
        self._batch(["-n", self._switch], switch)
        for host, name in self._hosts.items():
            self._batch(
                ["-n", name],
                [
                    "link set dev lo up",
                    f"addr add {self.address(host)}/24 dev eth0",
                    "link set dev eth0 up",
                ],
            )

    @staticmethod
    def _batch(options: list[str], commands: list[str]) -> None:
        done = _run_ip(options, batch="".join(f"{command}\n" for command in commands))
        if done.returncode != 0:
            raise RuntimeError(f"ip {' '.join(options)} -batch failed: {done.stderr.strip()}")

    async def spawn(self, host: str, *argv: str, **kwargs: Any) -> asyncio.subprocess.Process:
        """Start *argv* inside *host*; it is killed, if still running, when the network goes.

        Keyword arguments go to :func:`asyncio.create_subprocess_exec` (``stdin=``,
        ``stdout=``...). ``ip netns exec`` replaces itself with the program, so the
        process's pid is the program's (``proc.kill()`` reaches it).
        """
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self._hosts[host], *argv, **kwargs
        )
        self._procs.append(proc)
        return proc

    async def aclose(self) -> None:
        """Kill the processes started in the network, delete it, reap. Safe to call twice.

        Everything but the reaping is done before the first ``await``, so a second
        cancellation cannot leave a namespace behind.
        """
        for proc in self._procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        delete([self._switch, *self._hosts.values()])
        procs, self._procs = self._procs, []
        for proc in procs:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)


@asynccontextmanager
async def network(hosts: Sequence[str]) -> AsyncIterator[Network]:
    """A :class:`Network` of *hosts*, deleted on the way out (see the module's docstring)."""
    remove_stale()
    net = Network(hosts)
    try:
        net.create()
        yield net
    finally:
        await net.aclose()

"""Fan-in across hosts: publishers on two hosts, `zmqlog proxy` on a third, subscribers on a fourth.

Each host is a network namespace made by the test (tests/netns.py), on a switch of its
own. Three publisher processes (two on one host) each log 20,000 JSON records through
the proxy to two subscriber processes; the proxy's backend is a CURVE server with an
allow-list of the two subscribers. Run with ``-s`` to see the throughput measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

import zmqlog
from tests import netns
from tests.proxying import handshake_counts

SCRIPTS = Path(__file__).resolve().parent / "scripts"
HOSTS = ("pub1", "pub2", "proxy", "sub")
PUBLISHERS = {"w1": "pub1", "w2": "pub1", "w3": "pub2"}  # root topic: host
SUBSCRIBERS = ("s1", "s2")
RECORDS = 20_000
# Each subscriber subscribes to "" and to a prefix of its own: 3 distinct prefixes.
SUBSCRIPTIONS = 1 + len(SUBSCRIBERS)
FRONTEND_PORT, BACKEND_PORT = 5559, 5560


@dataclass
class Keys:
    """The key layout of docs/across-hosts-draft.md, all under one directory.

    The proxy holds its two key pairs and one allow-list per side (public keys only);
    each publisher and subscriber holds its own pair and the public key of the proxy
    side it connects to.
    """

    root: Path

    def proxy(self, side: str) -> Path:
        return self.root / "proxy" / f"{side}.key_secret"

    def proxy_public(self, side: str) -> Path:
        return self.root / "proxy" / f"{side}.key"

    def allowed(self, side: str) -> Path:
        return self.root / "proxy" / ("publishers" if side == "frontend" else "subscribers")

    def own(self, name: str) -> Path:
        return self.root / name / f"{name}.key_secret"


def make_keys(root: Path) -> Keys:
    keys = Keys(root)
    for side in ("frontend", "backend"):
        zmqlog.generate_keypair(root / "proxy", side)
        keys.allowed(side).mkdir()
    clients = {**dict.fromkeys(PUBLISHERS, "frontend"), **dict.fromkeys(SUBSCRIBERS, "backend")}
    for name, side in clients.items():
        public, _ = zmqlog.generate_keypair(root / name, name)
        shutil.copy(public, keys.allowed(side))
    zmqlog.generate_keypair(root / "mallory", "mallory")  # listed nowhere
    return keys


def cpu_seconds(pid: int) -> float:
    """User and system CPU time process *pid* has used so far."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rpartition(b")")[2].split()
    # utime and stime, fields 14 and 15 of proc(5), counted from the state (field 3).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Child:
    """A program in a host whose stdout is lines (JSON ones from tests/scripts)."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, err: Path) -> None:
        self.name, self.proc, self._err = name, proc, err

    def stderr(self) -> str:
        return self._err.read_text(errors="replace")

    async def line(self) -> str:
        assert self.proc.stdout is not None
        raw = await self.proc.stdout.readline()
        if not raw:
            await self.proc.wait()
            raise AssertionError(
                f"{self.name} ended (exit {self.proc.returncode}): {self.stderr()[-2000:]}"
            )
        return raw.decode()

    async def next(self, key: str) -> Any:
        """The value of the next JSON line holding *key* (other lines are skipped)."""
        return (await self.next_line(key))[key]

    async def next_line(self, key: str) -> dict[str, Any]:
        """The next JSON line holding *key*, whole (other lines are skipped)."""
        while True:
            found = json.loads(await self.line())
            if key in found:
                return cast("dict[str, Any]", found)

    async def send_line(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()


class Fanin:
    """Starts the scenario's programs in their hosts."""

    def __init__(self, net: netns.Network, keys: Keys, logs: Path) -> None:
        self.net, self.keys, self.logs = net, keys, logs
        proxy = net.address("proxy")
        self.frontend = f"tcp://{proxy}:{FRONTEND_PORT}"
        self.backend = f"tcp://{proxy}:{BACKEND_PORT}"
        self._runs = 0

    async def spawn(self, host: str, name: str, *argv: str) -> Child:
        self._runs += 1
        err = self.logs / f"{self._runs:02d}-{name}.err"
        with err.open("wb") as err_file:
            proc = await self.net.spawn(
                host,
                sys.executable,
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err_file,
            )
        return Child(name, proc, err)

    async def proxy(self, *, frontend_curve: bool) -> Child:
        options = [
            "--backend-secret-key",
            str(self.keys.proxy("backend")),
            "--backend-authorized-keys",
            str(self.keys.allowed("backend")),
        ]
        if frontend_curve:
            options += [
                "--frontend-secret-key",
                str(self.keys.proxy("frontend")),
                "--frontend-authorized-keys",
                str(self.keys.allowed("frontend")),
            ]
        proxy = await self.spawn(
            "proxy",
            "proxy",
            *("-m", "zmqlog", "proxy", "--frontend", self.frontend, "--backend", self.backend),
            *options,
        )
        lines = [await proxy.line(), await proxy.line()]
        assert lines == [f"frontend {self.frontend}\n", f"backend {self.backend}\n"], lines
        return proxy

    async def subscriber(self, name: str, own: str | None, *more: str) -> Child:
        curve = ["--server-key", str(self.keys.proxy_public("backend"))] if own else []
        if own:
            curve += ["--secret-key", str(self.keys.own(own))]
        return await self.spawn(
            "sub",
            name,
            str(SCRIPTS / "fanin_subscriber.py"),
            *("--backend", self.backend, "--name", name),
            *curve,
            *more,
        )

    async def publisher(
        self, name: str, *, curve: str | None, hold: int | None, subscriptions: int = SUBSCRIPTIONS
    ) -> Child:
        options = ["--hold", str(hold)] if hold is not None else []
        if curve is not None:
            options += [
                *("--server-key", str(self.keys.proxy_public("frontend"))),
                *("--secret-key", str(self.keys.own(curve))),
            ]
        return await self.spawn(
            PUBLISHERS.get(name, "pub2"),
            name,
            str(SCRIPTS / "fanin_publisher.py"),
            *("--frontend", self.frontend, "--name", name, "--records", str(RECORDS)),
            *("--subscriptions", str(subscriptions)),
            *options,
        )


@dataclass
class Outcome:
    summaries: dict[str, dict[str, Any]]  # per subscriber
    publisher_stats: dict[str, dict[str, int]]
    outsiders: dict[str, dict[str, Any]]  # subscribers that must receive nothing
    proxy_err: str  # the (last) proxy's stderr, exit report included
    proxy_cpu: float  # CPU seconds the (last) proxy used once its sockets were bound


async def fanin(fan: Fanin, *, frontend_curve: bool, kill_proxy: bool) -> Outcome:
    """Run the scenario of issue 14 (item 3) once; return what every program reported.

    *kill_proxy*: once the first subscriber has received 3,000 records, the proxy is
    killed with SIGKILL and started again on the same endpoints. The publishers hold
    their second half until it runs and the subscribers are subscribed to it again, so
    the last record of each publisher arrives: a subscriber's ``stats.gaps`` must then
    equal exactly the records that did not arrive.

    *frontend_curve*: publishers connect as CURVE clients with keys listed in the
    frontend's allow-list (``LogPublisher(..., bind=False, curve_server_key_file=...,
    curve_secret_key_file=...)``), and an unlisted and a plaintext publisher try too.
    """
    proxy = await fan.proxy(frontend_curve=frontend_curve)
    started = cpu_seconds(proxy.proc.pid)
    expect = ("--publishers", *PUBLISHERS, "--records", str(RECORDS))
    subscribers = {name: await fan.subscriber(name, name, *expect) for name in SUBSCRIBERS}
    outsiders = {
        "unlisted": await fan.subscriber("mallory", "mallory", "--until-stdin-closes"),
        "plaintext": await fan.subscriber("plaintext", None, "--until-stdin-closes"),
    }
    hold = RECORDS // 2 if kill_proxy else None
    publishers = {
        name: await fan.publisher(name, curve=name if frontend_curve else None, hold=hold)
        for name in PUBLISHERS
    }
    if frontend_curve:
        # They log without waiting (no subscription can reach them); none may arrive.
        for name, curve in (("x-unlisted", "mallory"), ("x-plaintext", None)):
            await fan.publisher(name, curve=curve, hold=None, subscriptions=0)
    if kill_proxy:
        # Killed once s1 has 3,000 records and some from every publisher: a publisher
        # whose stream began only as the proxy died would lose its first records,
        # which no gap can count (a subscriber counts from the first number it sees).
        while True:
            progress = await subscribers["s1"].next_line("progress")
            if progress["progress"] >= 3000 and progress["heard_from"] == len(PUBLISHERS):
                break
        proxy.proc.send_signal(signal.SIGKILL)
        await proxy.proc.wait()
        proxy = await fan.proxy(frontend_curve=frontend_curve)
        started = cpu_seconds(proxy.proc.pid)
        for publisher in publishers.values():
            assert await publisher.next("held") == hold
        for publisher in publishers.values():
            await publisher.send_line("go on")
    summaries = {name: await sub.next("summary") for name, sub in subscribers.items()}
    stats = {name: await publisher.next("stats") for name, publisher in publishers.items()}
    for publisher in publishers.values():
        assert await publisher.proc.wait() == 0, publisher.stderr()
    nothing = {}
    for name, outsider in outsiders.items():
        assert outsider.proc.stdin is not None
        outsider.proc.stdin.close()
        nothing[name] = await outsider.next("summary")
    used = cpu_seconds(proxy.proc.pid) - started
    proxy.proc.send_signal(signal.SIGTERM)
    assert await proxy.proc.wait() == 0, proxy.stderr()
    return Outcome(summaries, stats, nothing, proxy.stderr(), used)


@pytest.fixture
async def fan(tmp_path: Path) -> AsyncIterator[Fanin]:
    """The four hosts, the keys, a directory for the programs' stderr."""
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(reason)
    logs = tmp_path / "logs"
    logs.mkdir()
    keys = make_keys(tmp_path / "keys")
    async with netns.network(HOSTS) as net:
        yield Fanin(net, keys, logs)


async def test_every_record_of_every_publisher_crosses_the_proxy_in_order(fan: Fanin) -> None:
    """3 x 20,000 JSON records from CURVE publishers reach both listed subscribers in
    order; outsiders on either side (an unlisted key, plaintext) get and send nothing."""
    with anyio.fail_after(45):
        outcome = await fanin(fan, frontend_curve=True, kill_proxy=False)
    complete = {
        "received": RECORDS,
        "distinct": RECORDS,
        "in_order": True,
        "first": 0,
        "last": RECORDS - 1,
        "seq_is_number": True,
    }
    for name, summary in outcome.summaries.items():
        assert summary["publishers"] == dict.fromkeys(PUBLISHERS, complete), name
        assert summary["unexpected"] == [], name
        assert summary["stats"] == {
            "received": 3 * RECORDS,
            "invalid": 0,
            "gaps": 0,
            "resets": 0,
        }, name
    for name, stats in outcome.publisher_stats.items():
        assert (stats["sent"], stats["dropped"], stats["errors"]) == (RECORDS, 0, 0), name
    assert [found["received"] for found in outcome.outsiders.values()] == [0, 0]
    err = outcome.proxy_err
    # Only the listed publishers' records were forwarded: the outsiders' never entered.
    assert f"stopped after forwarding {2 * 3 * RECORDS} frames (" in err
    assert "warning:" not in err  # CURVE on both sides: no plaintext warning
    frontend, backend = handshake_counts(err, "frontend"), handshake_counts(err, "backend")
    assert frontend["succeeded"] == len(PUBLISHERS), err
    # The unlisted publisher's and the plaintext publisher's attempts: refused.
    assert frontend["unauthorized"] > 0, err
    assert frontend["mismatched"] + frontend["abandoned"] > 0, err
    assert backend["succeeded"] == len(SUBSCRIBERS), err
    # mallory's and the plaintext subscriber's retries: refused every time.
    assert backend["unauthorized"] > 0, err
    assert backend["mismatched"] + backend["abandoned"] > 0, err
    # Measured at each subscriber: records over the time from its first record to its
    # last, with all the programs sharing this machine's CPUs; and the proxy's own CPU
    # time for those records (decrypting nothing, encrypting them for two subscribers).
    rates = {name: 3 * RECORDS / s["seconds"] for name, s in outcome.summaries.items()}
    print(
        "\nthrough the proxy, across namespaces: "
        + ", ".join(f"{name} {rate:,.0f} records/s" for name, rate in rates.items())
        + f"; the proxy used {outcome.proxy_cpu:.2f} s of CPU for {3 * RECORDS:,} records"
        f" ({3 * RECORDS / max(outcome.proxy_cpu, 0.01):,.0f} records per CPU-second)"
    )


async def test_a_proxy_killed_mid_stream_loses_only_what_gaps_count(fan: Fanin) -> None:
    """kill -9 the CURVE proxy mid-stream, restart it: subscribers resume; gaps = records
    lost."""
    with anyio.fail_after(45):
        outcome = await fanin(fan, frontend_curve=True, kill_proxy=True)
    for name, summary in outcome.summaries.items():
        lost = 0
        for publisher, found in summary["publishers"].items():
            assert found["in_order"], (name, publisher)
            assert found["distinct"] == found["received"], (name, publisher)
            assert (found["first"], found["last"]) == (0, RECORDS - 1), (name, publisher)
            assert found["seq_is_number"], (name, publisher)
            lost += RECORDS - found["received"]
        assert summary["unexpected"] == [], name
        assert summary["stats"]["gaps"] == lost, name
        assert summary["stats"]["received"] == 3 * RECORDS - lost, name
        print(f"\n{name}: {lost} of {3 * RECORDS} records lost with the proxy, all counted")
    for name, stats in outcome.publisher_stats.items():
        assert (stats["sent"], stats["dropped"]) == (RECORDS, 0), name

"""The README's demo and the examples, run as a user runs them."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from tests.proxying import running_proxy

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def test_demo_prints_every_record_and_exits_by_itself() -> None:
    """`zmqlog demo` publishes, receives and prints every record, one per line, then exits 0."""
    result = run("-m", "zmqlog", "demo", "--requests", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "demo done: 6 records published and received"
    assert sum("demo.INFO.http" in line for line in lines) == 3
    # The traceback's last line ends the record; the next record starts a line of its own.
    after = lines[lines.index("ConnectionError: database went away") + 1]
    assert after.startswith("[INFO   ] demo.INFO ")
    assert after.endswith("| service stopping")


def test_demo_runs_on_an_inproc_endpoint() -> None:
    """Publisher and subscriber share a context, so inproc:// works (no 10 s hang)."""
    result = run("-m", "zmqlog", "demo", "--requests", "1", "--endpoint", "inproc://demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "demo done: 4 records published and received"


@pytest.mark.parametrize("endpoint", ["foo", "tcp://127.0.0.1:busy"], ids=["malformed", "busy"])
def test_demo_on_an_endpoint_it_cannot_bind_is_one_line_and_exit_1(endpoint: str) -> None:
    """A malformed endpoint or a port in use: one line naming it and why, exit code 1."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        endpoint = endpoint.replace("busy", str(busy.getsockname()[1]))
        result = run("-m", "zmqlog", "demo", "--endpoint", endpoint)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"zmqlog demo: cannot bind to {endpoint}: ")
    assert result.stderr.count("\n") == 1


def test_demo_help_shows_the_defaults() -> None:
    """`zmqlog demo --help` says how many requests it handles unless told otherwise."""
    result = run("-m", "zmqlog", "demo", "--help")
    assert result.returncode == 0
    assert "(default: 20)" in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["demo", "--requests", "-1"],
            "zmqlog demo: error: argument --requests: must be 0 or more",
        ),
        (["demo", "--requests", "x"], "zmqlog demo: error: argument --requests: expected a whole"),
        (["demo", "--endpoint", "tcp://127.0.0.1:70000"], "zmqlog demo: error: argument --end"),
        (["demo", "--endpoint", "\udcff"], "zmqlog demo: error: argument --endpoint: '\\udcff'"),
        ([], "zmqlog: error: the following arguments are required: COMMAND"),
        (["keys", "kk", "a/b"], "zmqlog keys: error: NAME is a plain file name such as 'server'"),
        (["keys", "kk", ".."], "zmqlog keys: error: NAME is a plain file name such as 'server'"),
    ],
    ids=[
        "negative-requests",
        "word-requests",
        "port",
        "undecodable",
        "no-command",
        "key-name-path",
        "key-name-dots",
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], error: str, tmp_path: Path) -> None:
    """Arguments the CLI refuses: one line on stderr naming what to fix, exit code 2."""
    result = subprocess.run(
        [sys.executable, "-m", "zmqlog", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(error)
    assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # `keys` created no directory


@pytest.mark.timeout(60)
def test_service_and_subscriber_examples_talk(tmp_path: Path) -> None:
    """examples/subscriber.py prints what examples/service.py publishes."""
    endpoint = f"ipc://{tmp_path}/shop.log"
    subscriber = subprocess.Popen(
        [sys.executable, "examples/subscriber.py", "--endpoint", endpoint, "--count", "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        service = run("examples/service.py", "--endpoint", endpoint, "--seconds", "3")
        assert service.returncode == 0, service.stderr
        out, err = subscriber.communicate(timeout=20)
    finally:
        subscriber.kill()
        subscriber.wait()
    assert subscriber.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    assert all(line.split()[0] in {"INFO", "WARNING"} for line in lines)


@pytest.mark.timeout(60)
async def test_fanin_worker_waiting_for_two_tails_of_one_prefix_says_why() -> None:
    """Two tails of everything are one subscription behind a proxy: a clear line, exit 1."""
    async with running_proxy() as proxy:
        tails = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "zmqlog",
                "tail",
                proxy.backend,
                "--count",
                "1",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        try:
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "examples" / "fanin_worker.py"),
                "--frontend",
                proxy.frontend,
                "--name",
                "w1",
                "--jobs",
                "1",
                "--subscribers",
                "2",
                "--wait",
                "2",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            with anyio.fail_after(30):
                _, err = await worker.communicate()
            assert worker.returncode == 1
            assert err.decode().startswith(
                "fanin_worker w1: fewer than 2 distinct topic prefixes subscribed behind "
                f"the proxy at {proxy.frontend} within 2 s; viewers of the same prefix count once"
            )
            assert err.count(b"\n") == 1
            # Waiting for the one subscription they make works, and both tails see the jobs.
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "examples" / "fanin_worker.py"),
                "--frontend",
                proxy.frontend,
                "--name",
                "w1",
                "--jobs",
                "100",
                "--subscribers",
                "1",
                "--interval",
                "0.02",
                stderr=asyncio.subprocess.PIPE,
            )
            # The tails may have joined the proxy at different moments: each shows the
            # first job that reached it.
            with anyio.fail_after(30):
                _, err = await worker.communicate()
                shown = [await tail.communicate() for tail in tails]
            assert worker.returncode == 0, err
            for out, tail_err in shown:
                assert re.fullmatch(rb"w1\.INFO\.jobs \| w1 finished job \d+\n", out), tail_err
        finally:
            for proc in tails:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()

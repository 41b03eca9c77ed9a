"""The README's demo and the examples, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    """`zmqlog demo` publishes, receives and prints every record, then exits 0."""
    result = run("-m", "zmqlog", "demo", "--requests", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "demo done: 6 records published and received"
    assert sum("demo.INFO.http" in line for line in lines) == 3
    assert any("ConnectionError: database went away" in line for line in lines)


def test_bad_arguments_exit_nonzero_with_a_message() -> None:
    """A negative request count is refused with a one-line message."""
    result = run("-m", "zmqlog", "demo", "--requests", "-1")
    assert result.returncode == 2
    assert "--requests must be 0 or more" in result.stderr


def test_no_command_prints_usage() -> None:
    """Without a command the CLI shows its usage and fails."""
    result = run("-m", "zmqlog")
    assert result.returncode == 2
    assert "usage: zmqlog" in result.stderr


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

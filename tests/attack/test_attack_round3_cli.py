"""ATTACK round 3: command-line arguments that ``zmqlog tail`` refuses and ``zmqlog proxy``
did not, and output a terminal's encoding cannot carry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _zmqlog(
    *argv: str | bytes, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m zmqlog ARGV``; one that is still running after 5 s is a failure."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "zmqlog", *argv],
            capture_output=True,
            text=True,
            errors="backslashreplace",
            timeout=5,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as error:  # run() has killed it
        raise AssertionError(f"still running after 5 s: {error.stderr!r}") from None


def test_proxy_refuses_a_port_zeromq_would_wrap_round() -> None:
    """``--frontend tcp://127.0.0.1:99999`` bound port 34463 without a word (and ran on):
    usage error, exit 2, as ``zmqlog tail`` and ``LogPublisher`` do."""
    done = _zmqlog("proxy", "--frontend", "tcp://127.0.0.1:99999", "--backend", "tcp://127.0.0.1:*")
    assert done.returncode == 2, done.stderr
    assert "has port 99999, above 65535" in done.stderr
    assert done.stdout == ""  # nothing was bound


def test_proxy_refuses_an_endpoint_that_is_not_utf8() -> None:
    """An argument of undecodable bytes is one line and exit 2, not a UnicodeEncodeError
    traceback from inside pyzmq's bind()."""
    done = _zmqlog("proxy", "--frontend", "tcp://127.0.0.1:*", "--backend", b"tcp://127.0.0.1:\xff")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "is not valid UTF-8 text" in done.stderr


def test_keys_reports_its_files_on_a_stdout_that_cannot_encode_their_names(tmp_path: Path) -> None:
    """With a non-UTF-8 stdout (a Latin-1 terminal, ``PYTHONIOENCODING``), keys wrote both
    files, then ended in a UnicodeEncodeError traceback, exit 1, as if it had failed."""
    directory = tmp_path / "клю"
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    done = _zmqlog("keys", str(directory), "server", env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert (directory / "server.key").is_file()
    assert "server.key_secret" in done.stdout

"""A real ``rsyslogd`` for tests: a generated config in a tmp dir, started and always stopped.

The daemon runs in the foreground (``-n``) with its own config, pid file and work
directory, and only the modules the config loads: no ``imuxsock``, so it never touches
syslog's ``/dev/log``, and nothing of the host's ``/etc/rsyslog.conf``. Its stdout and
stderr (where it reports config errors) go to a file in the same directory, shown
whenever a wait fails.

Tests skip, with the reason, only where rsyslogd or its ZeroMQ modules are not
installed (Debian packages ``rsyslog`` and ``rsyslog-czmq``; ``.ci/run`` installs
them).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Final

import pytest

# Debian puts rsyslogd in /usr/sbin, which is not on every user's PATH.
_CANDIDATES: Final = ("/usr/sbin/rsyslogd", "/sbin/rsyslogd")
_MODULES: Final = ("imczmq", "omczmq", "mmjsonparse")
_STOP_TIMEOUT: Final = 10.0
_PR_SET_PDEATHSIG: Final = 1

# czmq gives every socket a high-water mark of 1,000 messages, and omczmq's own
# sendhwm parameter is broken in 8.2302 (it sets the send timeout instead): its PUB
# socket drops part of a 10,000-record burst unless czmq's default is raised.
ZMQ_ENV: Final = {"ZSYS_SNDHWM": "100000", "ZSYS_RCVHWM": "100000"}


@functools.cache
def rsyslogd_path() -> str | None:
    """The rsyslogd executable, or None if it is not installed."""
    found = shutil.which("rsyslogd")
    if found is not None:
        return found
    return next((path for path in _CANDIDATES if os.access(path, os.X_OK)), None)


@functools.cache
def missing_reason() -> str | None:
    """Why rsyslog tests cannot run here, or None if rsyslogd loads every module they use."""
    path = rsyslogd_path()
    if path is None:
        return "rsyslogd is not installed (apt-get install rsyslog rsyslog-czmq)"
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "modules.conf"
        modules = "".join(f'module(load="{name}")\n' for name in _MODULES)
        # rsyslogd refuses a config without an action.
        config.write_text(f'{modules}action(type="omfile" file="{directory}/unused")\n')
        check = subprocess.run(
            [path, "-N1", "-f", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    if check.returncode != 0:
        return (
            f"rsyslogd cannot load {', '.join(_MODULES)} (apt-get install rsyslog-czmq): "
            f"{check.stderr.strip() or check.stdout.strip()}"
        )
    return None


def require_rsyslogd() -> str:
    """The rsyslogd executable; skips the calling test if it or its modules are missing."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    path = rsyslogd_path()
    assert path is not None
    return path


# Loaded here, not in the child: between fork and exec the child must not take locks
# (dlopen's) that another thread of the test process may have held at fork time.
_LIBC: Final = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process is killed outright (no
    # finally runs), the kernel sends rsyslogd SIGTERM instead of leaving it running.
    # The "parent" is the thread that started it: start() runs on the test's thread.
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Rsyslogd:
    """One rsyslogd process running *config* from *directory*."""

    def __init__(
        self, config: str, directory: Path, *, env: Mapping[str, str] | None = None
    ) -> None:
        self.directory = directory
        self.config_file = directory / "rsyslog.conf"
        self.pid_file = directory / "rsyslogd.pid"
        self.output_file = directory / "rsyslogd.output"
        self.config_file.write_text(config, encoding="utf-8")
        self._env = {**os.environ, **(env or {})}
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    def check_config(self) -> None:
        """Fail with rsyslogd's own message if it rejects the config (``rsyslogd -N1``)."""
        check = subprocess.run(
            [require_rsyslogd(), "-N1", "-f", str(self.config_file)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=self._env,
        )
        assert check.returncode == 0, f"rsyslogd rejects the config:\n{check.stderr}{check.stdout}"

    def start(self) -> None:
        """Start the daemon in the foreground; it runs until :meth:`stop`."""
        assert self._proc is None, "start() once per Rsyslogd"
        self._output = self.output_file.open("wb")
        self._proc = subprocess.Popen(
            [require_rsyslogd(), "-n", "-f", str(self.config_file), "-i", str(self.pid_file)],
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            env=self._env,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        """The daemon's process id."""
        assert self._proc is not None, "rsyslogd is not running"
        return self._proc.pid

    @property
    def output(self) -> str:
        """What rsyslogd printed so far (config errors, internal messages)."""
        try:
            return self.output_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def check_running(self) -> None:
        """Fail, with rsyslogd's output, if the daemon has exited."""
        assert self._proc is not None, "rsyslogd was never started"
        code = self._proc.poll()
        assert code is None, f"rsyslogd exited with status {code}:\n{self.output}"

    async def wait_until(
        self, ready: Callable[[], bool], *, what: str, timeout: float = 15.0
    ) -> None:
        """Poll *ready* (every 20 ms, at most *timeout* s) while checking rsyslogd still runs."""
        deadline = time.monotonic() + timeout
        while not ready():
            self.check_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s\n{self.output}")
            await asyncio.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM, a bounded wait, then SIGKILL; safe to call twice."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(_STOP_TIMEOUT)
        finally:
            if self._output is not None:
                self._output.close()
                self._output = None


@contextlib.contextmanager
def running_rsyslogd(
    config: str, directory: Path, *, env: Mapping[str, str] | None = None
) -> Iterator[Rsyslogd]:
    """Check *config*, start rsyslogd with it in *directory*, and stop it on the way out."""
    require_rsyslogd()
    directory.mkdir(parents=True, exist_ok=True)
    daemon = Rsyslogd(config, directory, env=env)
    daemon.check_config()
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()

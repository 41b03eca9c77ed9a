"""Smoke tests for the benchmarks in ``bench/``: they run, end, and report every case.

Tiny workloads only and no assertions on timings: these tests guard against the
harness rotting (an API change in zmqlog, a hung subscriber process), not against
performance regressions, which need a quiet machine and ``bench/README.md``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _run(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _rows(stdout: str, cases: tuple[str, ...]) -> dict[str, str]:
    rows = {}
    for line in stdout.splitlines():
        name = line.split(" ", 1)[0]
        if name in cases:
            rows[name] = line
    return rows


@pytest.mark.timeout(20)
def test_publisher_benchmark_reports_every_case() -> None:
    cases = ("null", "pyzmq", "queue+pyzmq", "raw", "zmqlog-text", "zmqlog-json")
    proc = _run("run.py", "--n", "2000", "--repeats", "1", "--idle", "0.3", timeout=18)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _rows(proc.stdout, cases)
    assert set(rows) == set(cases), proc.stdout
    for name, row in rows.items():
        assert "error" not in row, row
        if "skipped" not in row:
            assert row.count("%") == (0 if name == "null" else 1), row


@pytest.mark.timeout(20)
def test_publisher_benchmark_json_output() -> None:
    proc = _run(
        "run.py",
        "--n",
        "1000",
        "--repeats",
        "1",
        "--idle",
        "0.3",
        "--cases",
        "null",
        "raw",
        "--json",
        timeout=18,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert set(data["cases"]) == {"null", "raw"}
    raw = data["cases"]["raw"]
    assert raw["status"] == "ok"
    assert raw["median"]["caller_ns"] > 0
    assert len(raw["runs"]) == 1


@pytest.mark.timeout(20)
def test_subscriber_benchmark_reports_every_case() -> None:
    cases = ("raw-sync", "raw-async", "zmqlog-text", "zmqlog-json")
    proc = _run("subscriber.py", "--n", "2000", "--repeats", "1", "--warmup", "0", timeout=18)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _rows(proc.stdout, cases)
    assert set(rows) == set(cases), proc.stdout
    assert not any("error" in row for row in rows.values()), proc.stdout


@pytest.mark.timeout(20)
def test_loop_lag_benchmark_reports_every_case() -> None:
    cases = ("null", "pyzmq", "zmqlog")
    proc = _run("loop_lag.py", "--duration", "0.3", timeout=18)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _rows(proc.stdout, cases)
    assert set(rows) == set(cases), proc.stdout
    assert not any("error" in row for row in rows.values()), proc.stdout


@pytest.mark.timeout(20)
def test_json_codec_benchmark_reports_every_record() -> None:
    cases = ("plain", "args", "extra", "exc_info")
    proc = _run("json_codec.py", "--n", "50", "--repeats", "1", timeout=18)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _rows(proc.stdout, cases)
    assert set(rows) == set(cases), proc.stdout
    assert not any("error" in row for row in rows.values()), proc.stdout

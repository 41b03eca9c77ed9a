"""Smoke tests for the benchmarks in ``bench/``: they run, end, and report every case.

Tiny workloads only and no assertions on timings: these tests guard against the
harness rotting (an API change in zmqlog, a hung subscriber process), not against
performance regressions, which need a quiet machine and ``bench/README.md``.
"""

from __future__ import annotations

import json
import shutil
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
def test_publisher_benchmark_can_time_the_caller_by_its_cpu_time() -> None:
    """``--caller-clock thread`` times the logging calls by the thread's CPU time, and
    says so in the configuration it reports."""
    proc = _run(
        "run.py",
        *("--n", "1000", "--repeats", "1", "--idle", "0.3", "--no-memory"),
        *("--cases", "null", "--caller-clock", "thread", "--json"),
        timeout=18,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["config"]["caller_clock"] == "thread"
    assert data["cases"]["null"]["median"]["caller_ns"] > 0


@pytest.mark.timeout(20)
def test_subscriber_benchmark_reports_every_case() -> None:
    cases = ("raw-sync", "raw-async", "zmqlog-text", "zmqlog-json", "zmqlog-json-record")
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


@pytest.mark.timeout(20)
def test_json_libs_benchmark_reports_every_library() -> None:
    """Each library is timed or says why not (orjson is optional); msgspec, a dependency, runs."""
    cases = ("json", "orjson", "msgspec", "json+convert", "orjson+convert", "msgspec-struct")
    proc = _run("json_libs.py", "--n", "20", "--repeats", "1", timeout=18)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _rows(proc.stdout, (*cases, "zmqlog"))
    assert set(rows) == {*cases, "zmqlog"}, proc.stdout
    assert "skipped" not in rows["msgspec-struct"] + rows["zmqlog"], proc.stdout
    for name in ("orjson", "orjson+convert"):
        assert "skipped" not in rows[name] or "orjson not installed" in rows[name], proc.stdout


@pytest.mark.timeout(90)
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instructions_benchmark_counts_a_record() -> None:
    """Two runs of one case under callgrind; a record costs a positive count."""
    proc = _run(
        "instructions.py",
        "--n",
        "50",
        "--cases",
        "zmqlog-json",
        "--modes",
        "caller",
        "--json",
        timeout=85,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    per_record = json.loads(proc.stdout)["results"]["zmqlog-json"]["caller"]
    assert per_record > 1000, proc.stdout  # a logging call is thousands of instructions


def _in_git_checkout() -> bool:
    proc = subprocess.run(
        ["git", "-C", str(BENCH), "rev-parse", "--verify", "--quiet", "HEAD"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


@pytest.mark.timeout(30)
@pytest.mark.skipif(not _in_git_checkout(), reason="compare.py exports revisions with git")
def test_compare_measures_each_side_with_its_own_zmqlog() -> None:
    proc = _run(
        "compare.py",
        "--baseline",
        "HEAD",
        "--n",
        "2000",
        "--repeats",
        "1",
        "--warmup",
        "0",
        "--cases",
        "zmqlog-text",
        "--json",
        "--",
        "--idle",
        "0.3",
        timeout=28,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["config"]["cases"] == ["null", "pyzmq", "zmqlog-text"]
    baseline = Path(data["sides"]["baseline"]["zmqlog_file"])
    candidate = Path(data["sides"]["candidate"]["zmqlog_file"]).resolve()
    assert candidate == BENCH.parent / "src" / "zmqlog" / "__init__.py"
    assert not baseline.is_relative_to(BENCH.parent)
    assert not baseline.exists()  # the exported copy is removed afterwards
    for case in data["cases"].values():
        assert case["baseline"]["status"] == case["candidate"]["status"] == "ok", case
        assert case["baseline"]["caller_ns"] > 0
        assert case["candidate"]["caller_ns"] > 0

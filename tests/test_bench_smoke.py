"""Smoke tests for the benchmarks in ``bench/``: they run, end, and report every case.

Tiny workloads only and no assertions on timings: these tests guard against the
harness rotting (an API change in zmqlog, a hung subscriber process), not against
performance regressions, which need a quiet machine and ``bench/README.md``.
"""

from __future__ import annotations

import json
import os
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


_TWO_CPUS = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="--pin needs Linux and at least 2 CPUs",
)

# Run in a child, so that the pinning does not outlive the test: a thread started
# before apply() and the thread calling it, each with the CPUs it may use after.
_PIN_PROBE = """
import json, os, sys, threading
sys.path.insert(0, sys.argv[1])
from _common import Pinning
pinning = Pinning.for_this_process()
ready, done = threading.Event(), threading.Event()
ids = []
def other():
    ids.append(threading.get_native_id())
    ready.set()
    done.wait(10)
thread = threading.Thread(target=other)
thread.start()
ready.wait(10)
pinning.apply()
print(json.dumps({
    "caller": sorted(pinning.caller), "rest": sorted(pinning.rest),
    "main_now": sorted(os.sched_getaffinity(0)),
    "other_now": sorted(os.sched_getaffinity(ids[0])),
}))
done.set()
thread.join()
"""


@_TWO_CPUS
@pytest.mark.timeout(20)
def test_pinning_puts_the_logging_thread_alone_on_its_cpu() -> None:
    """``Pinning.apply()`` leaves the calling thread one CPU and moves every other
    thread of the process to the rest."""
    proc = subprocess.run(
        [sys.executable, "-c", _PIN_PROBE, str(BENCH)],
        capture_output=True,
        text=True,
        timeout=18,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout)
    assert len(seen["caller"]) == 1
    assert seen["rest"]
    assert not set(seen["rest"]) & set(seen["caller"])
    assert seen["main_now"] == seen["caller"]
    assert seen["other_now"] == seen["rest"]


@_TWO_CPUS
@pytest.mark.timeout(20)
def test_publisher_benchmark_pins_when_asked() -> None:
    """``--pin`` runs every case, and reports the layout it used."""
    proc = _run(
        "run.py",
        *("--n", "1000", "--repeats", "1", "--idle", "0.3", "--no-memory"),
        *("--cases", "null", "raw", "--pin", "--json"),
        timeout=18,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    cpus = sorted(os.sched_getaffinity(0))
    assert data["config"]["pinning"] == {"caller": cpus[:1], "rest": cpus[1:]}
    assert data["cases"]["raw"]["status"] == "ok", data["cases"]["raw"]
    assert data["cases"]["raw"]["median"]["delivered_fraction"] is not None


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
@pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("callgrind_control") is None,
    reason="valgrind (with callgrind_control) is not installed",
)
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

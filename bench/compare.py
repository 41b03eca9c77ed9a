"""Two revisions of zmqlog measured side by side by one ``bench/run.py``, in one run.

Usage::

    python bench/compare.py --baseline REV [--candidate REV|worktree] [--n N]
                            [--repeats R] [--cases CASE ...] [--warmup W] [--json]
                            [-- RUN_PY_ARGS ...]

Each side's ``src/`` is exported from git (``git archive``) into a temporary
directory, removed afterwards; ``--candidate worktree`` (the default) is this
checkout's own ``src/``, uncommitted changes included. Both sides are measured by
*this* tree's ``bench/run.py``, so the harness is the same; only ``PYTHONPATH``
differs, and the ``zmqlog`` each side really imports is printed. Every repeat runs
``run.py --repeats 1`` once per side, alternating which side goes first, so that
drift on the machine (another job starting, the CPU warming up) hits both sides
alike. Arguments after ``--`` are passed to every ``run.py`` unchanged.

The ratios that matter for a change (caller cost x NullHandler, end-to-end rate x
pyzmq) are taken within each ``run.py`` invocation, where both cases ran seconds
apart, and their median over the repeats is reported; ``c/b`` is candidate over
baseline. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import BENCH_DIR, fmt_num, median, ratio
from run import CASES

WORKTREE = "worktree"
DEFAULT_CASES = ("null", "pyzmq", "zmqlog-text", "zmqlog-json")
#: The references of the two ratios; always measured, whatever --cases says.
REFERENCES = ("null", "pyzmq")
#: Run by each side's interpreter: which zmqlog does run.py's own loader import?
WHICH_ZMQLOG = (
    "import sys; sys.path.insert(0, sys.argv[1]); from _common import load_zmqlog; "
    "module, why = load_zmqlog(); print(module.__file__ if module else '!' + why)"
)


class CompareError(Exception):
    """A side cannot be prepared or measured; the message says what to fix."""


@dataclass
class Side:
    """One revision under test and what ``run.py`` reported for it, repeat by repeat."""

    label: str
    rev: str
    commit: str | None
    subject: str
    src: Path
    zmqlog_file: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)


def git(root: Path, *args: str) -> str:
    """Run git in *root* and return its stdout, stripped."""
    proc = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise CompareError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def prepare(label: str, rev: str, root: Path, scratch: Path) -> Side:
    """Resolve *rev* and give it a ``src/`` directory (exported unless it is the worktree)."""
    if rev == WORKTREE:
        head = git(root, "describe", "--always", "--dirty", "--abbrev=7")
        return Side(label, rev, None, f"working tree at {head}", root / "src")
    try:
        commit = git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except CompareError:
        raise CompareError(f"{label} {rev!r} is not a commit in {root}") from None
    subject = git(root, "log", "-1", "--format=%h %s", commit)
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", commit, "src"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        why = archive.stderr.decode(errors="replace").strip()
        raise CompareError(f"cannot export src/ of {label} {rev!r}: {why}")
    dest = scratch / label
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # a Python from before the extraction filters; the archive is git's own
            tar.extractall(dest)
    return Side(label, rev, commit, subject, dest / "src")


def side_env(side: Side) -> dict[str, str]:
    """The environment of every process measuring *side*: its ``src`` first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(side.src), env.get("PYTHONPATH")]))
    return env


def check_import(side: Side) -> None:
    """Record which ``zmqlog`` the side imports; fail unless it is the side's own copy.

    ``PYTHONPATH`` comes before site-packages, so the side's ``src`` shadows an
    installed (or editable) zmqlog; this proves it rather than assuming it.
    """
    proc = subprocess.run(
        [sys.executable, "-c", WHICH_ZMQLOG, str(BENCH_DIR)],
        capture_output=True,
        text=True,
        env=side_env(side),
        check=False,
    )
    found = proc.stdout.strip()
    if proc.returncode != 0 or not found or found.startswith("!"):
        raise CompareError(
            f"{side.label} ({side.rev}): zmqlog does not import from {side.src}: "
            f"{found[1:] or proc.stderr.strip()}"
        )
    if not Path(found).resolve().is_relative_to(side.src.resolve()):
        raise CompareError(
            f"{side.label} ({side.rev}) imported zmqlog from {found}, not from {side.src}; "
            "something ahead of PYTHONPATH on sys.path provides zmqlog"
        )
    side.zmqlog_file = found


def run_once(side: Side, args: argparse.Namespace, cases: Sequence[str]) -> dict[str, Any]:
    """One ``run.py --repeats 1 --json`` for *side*; return its parsed report."""
    cmd = [
        sys.executable,
        str(BENCH_DIR / "run.py"),
        "--n",
        str(args.n),
        "--repeats",
        "1",
        "--warmup",
        str(args.warmup),
        "--no-memory",
        "--json",
        "--cases",
        *cases,
        *args.run_args,
    ]
    # run.py's own counter gives up after 300 s; this only catches a harness that hangs.
    timeout = 300 + len(cases) * (10 + args.n / 1_000)
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=side_env(side), timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise CompareError(f"run.py for {side.label} did not finish in {timeout:.0f} s") from None
    try:
        report: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise CompareError(
            f"run.py for {side.label} printed no JSON (exit {proc.returncode}): "
            f"{proc.stderr.strip()[-2000:]}"
        ) from None
    return report


@dataclass
class CaseSummary:
    """One case on one side: its status and the medians over the repeats."""

    status: str = "ok"
    reason: str = ""
    caller_ns: float | None = None
    throughput: float | None = None
    caller_x_null: float | None = None
    e2e_x_pyzmq: float | None = None
    delivered: float | None = None
    per_repeat: dict[str, list[float | None]] = field(default_factory=dict)


def summarise(side: Side, case: str) -> CaseSummary:
    """Medians of *case* over *side*'s repeats; the first non-ok status wins."""
    missing = {"status": "error", "reason": "not in run.py's report"}
    entries = [run["cases"].get(case, missing) for run in side.runs]
    for entry in entries:
        if entry["status"] != "ok":
            return CaseSummary(status=entry["status"], reason=entry.get("reason", ""))
    series: dict[str, list[float | None]] = {
        "caller_ns": [e["median"]["caller_ns"] for e in entries],
        "throughput": [e["median"]["throughput"] for e in entries],
        "caller_x_null": [e["ratios"]["caller_ns_vs_null"] for e in entries],
        "e2e_x_pyzmq": [e["ratios"]["throughput_vs_pyzmq"] for e in entries],
        "delivered": [e["median"]["delivered_fraction"] for e in entries],
    }
    return CaseSummary(
        caller_ns=median(series["caller_ns"]),
        throughput=median(series["throughput"]),
        caller_x_null=median(series["caller_x_null"]),
        e2e_x_pyzmq=median(series["e2e_x_pyzmq"]),
        delivered=median(series["delivered"]),
        per_repeat=series,
    )


def compare(args: argparse.Namespace, cases: Sequence[str]) -> list[Side]:
    """Prepare both sides and measure them, interleaved; the exported copies are removed."""
    root = Path(git(BENCH_DIR, "rev-parse", "--show-toplevel"))
    with tempfile.TemporaryDirectory(prefix="zmqlog-compare-") as scratch:
        sides = [
            prepare("baseline", args.baseline, root, Path(scratch)),
            prepare("candidate", args.candidate, root, Path(scratch)),
        ]
        for side in sides:
            check_import(side)
            print(f"{side.label}: {side.subject}; zmqlog from {side.zmqlog_file}", file=sys.stderr)
        for rep in range(args.repeats):
            order = sides if rep % 2 == 0 else sides[::-1]
            for side in order:
                report = run_once(side, args, cases)
                side.environment = report.get("environment", {})
                side.runs.append(report)
                print(f"  repeat {rep + 1}/{args.repeats}: {side.label} done", file=sys.stderr)
        return sides


def render_table(sides: list[Side], cases: Sequence[str], args: argparse.Namespace) -> str:
    """Both sides' medians and ratios, one row per case."""
    base, cand = sides
    header = (
        f"{'case':<12} {'caller ns/rec':>25} {'caller x null':>20} "
        f"{'e2e rec/s':>29} {'e2e x pyzmq':>20} {'delivered':>15}"
    )
    sub = (
        f"{'':<12} {'base':>8} {'cand':>8} {'c/b':>7} {'base':>6} {'cand':>6} {'c/b':>6} "
        f"{'base':>10} {'cand':>10} {'c/b':>7} {'base':>6} {'cand':>6} {'c/b':>6} "
        f"{'base':>7} {'cand':>7}"
    )
    lines = [
        f"bench/run.py --n {args.n} --repeats 1 --warmup {args.warmup} --no-memory "
        f"{' '.join(args.run_args)}".rstrip()
        + f", {args.repeats} repeat(s) per side, sides interleaved; medians over repeats",
    ]
    for side in sides:
        lines.append(f"{side.label:<9}  {side.rev}: {side.subject}")
        lines.append(f"{'':<9}  zmqlog imported from {side.zmqlog_file}")
    lines += [header, sub, "-" * len(sub)]
    for case in cases:
        b, c = summarise(base, case), summarise(cand, case)
        if b.status != "ok" or c.status != "ok":
            why = "; ".join(
                f"{label} {s.status}: {s.reason}"
                for label, s in (("baseline", b), ("candidate", c))
                if s.status != "ok"
            )
            lines.append(f"{case:<12} {why}")
            continue
        lines.append(
            f"{case:<12} "
            f"{fmt_num(b.caller_ns, ',.0f', 8)} {fmt_num(c.caller_ns, ',.0f', 8)} "
            f"{fmt_num(ratio(c.caller_ns, b.caller_ns), '.3f', 7)} "
            f"{fmt_num(b.caller_x_null, '.2f', 6)} {fmt_num(c.caller_x_null, '.2f', 6)} "
            f"{fmt_num(ratio(c.caller_x_null, b.caller_x_null), '.3f', 6)} "
            f"{fmt_num(b.throughput, ',.0f', 10)} {fmt_num(c.throughput, ',.0f', 10)} "
            f"{fmt_num(ratio(c.throughput, b.throughput), '.3f', 7)} "
            f"{fmt_num(b.e2e_x_pyzmq, '.2f', 6)} {fmt_num(c.e2e_x_pyzmq, '.2f', 6)} "
            f"{fmt_num(ratio(c.e2e_x_pyzmq, b.e2e_x_pyzmq), '.3f', 6)} "
            f"{fmt_percent(b.delivered)} {fmt_percent(c.delivered)}"
        )
    lines += [
        "c/b = candidate / baseline: below 1 is better for caller cost, above 1 for e2e rate;",
        "x null / x pyzmq are taken within each run.py run, then their median over the repeats.",
    ]
    return "\n".join(lines)


def fmt_percent(fraction: float | None) -> str:
    """A fraction as a 7-wide percentage; '-' when there is none (the null case)."""
    if fraction is None:
        return "-".rjust(7)
    return f"{fraction * 100:6.1f}%"


def render_json(sides: list[Side], cases: Sequence[str], args: argparse.Namespace) -> str:
    """Machine-readable: both sides, every case's medians and per-repeat values."""
    base, cand = sides
    out: dict[str, Any] = {
        "benchmark": "compare",
        "config": {
            "n": args.n,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "cases": list(cases),
            "run_args": args.run_args,
        },
        "sides": {
            side.label: {
                "rev": side.rev,
                "commit": side.commit,
                "subject": side.subject,
                "zmqlog_file": side.zmqlog_file,
                "environment": side.environment,
            }
            for side in sides
        },
        "cases": {},
    }
    for case in cases:
        b, c = summarise(base, case), summarise(cand, case)
        out["cases"][case] = {
            "baseline": b.__dict__,
            "candidate": c.__dict__,
            "candidate_vs_baseline": {
                "caller_ns": ratio(c.caller_ns, b.caller_ns),
                "throughput": ratio(c.throughput, b.throughput),
                "caller_x_null": ratio(c.caller_x_null, b.caller_x_null),
                "e2e_x_pyzmq": ratio(c.e2e_x_pyzmq, b.e2e_x_pyzmq),
            },
        }
    return json.dumps(out, indent=2)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line interface (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    run_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, run_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description="bench/run.py on two revisions, side by side")
    parser.add_argument("--baseline", required=True, help="git revision measured as the baseline")
    parser.add_argument(
        "--candidate",
        default=WORKTREE,
        help=f"git revision to compare, or {WORKTREE!r} (default): this checkout's src/",
    )
    parser.add_argument("--n", type=int, default=200_000, help="records per run.py run")
    parser.add_argument("--repeats", type=int, default=5, help="run.py runs per side")
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=CASES,
        default=list(DEFAULT_CASES),
        metavar="CASE",
        help=f"subset of: {', '.join(CASES)} (null and pyzmq are always run)",
    )
    parser.add_argument("--warmup", type=int, default=2_000, help="run.py --warmup")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--n and --repeats must be >= 1, --warmup >= 0")
    args.run_args = run_args
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Compare; exit status 1 if a side could not be measured or a case errored."""
    args = parse_args(argv)
    cases = list(dict.fromkeys([*REFERENCES, *args.cases]))
    try:
        sides = compare(args, cases)
    except CompareError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 1
    print(render_json(sides, cases, args) if args.json else render_table(sides, cases, args))
    errored = any(summarise(side, case).status == "error" for side in sides for case in cases)
    return 1 if errored else 0


if __name__ == "__main__":
    sys.exit(main())

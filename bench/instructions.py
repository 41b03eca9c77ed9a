"""Instructions per record under callgrind: the publisher's cost without the noise.

Usage::

    python bench/instructions.py [--n 20000] [--cases CASE ...] [--modes MODE ...] [--json]

Wall-clock figures on a shared 2-vCPU machine move by 10-50% between runs; the number
of instructions a process executes does not. Each measurement runs a small program
under ``valgrind --tool=callgrind`` twice at once, one logging ``--n`` records and
one logging none, with the same set-up and warm-up (200 records), and reports the
difference divided by ``--n``: what one more record costs, start-up excluded.
Start-up and warm-up run without instrumentation (``--instr-atstart=no``, about five
times faster than counting them): each child says when it is warm, and
``callgrind_control --instr=on`` starts the count, so a run takes seconds, not minutes,
more than its records.

Modes:

``caller``  the records are logged with no ``await`` between them and the process
            exits at once: the cost inside ``logger.info`` (for zmqlog: the queueing),
            the drain never running.
``whole``   chunks of 1,000 records with ``await asyncio.sleep(0)`` between them, as
            in ``run.py``, and the ``async with`` exit: logging, the drain and the
            sends. No subscriber is connected, so ZeroMQ drops each message at the PUB
            socket: the sends cost what pyzmq and libzmq spend to refuse them, less
            than a real delivery (the same for every case). The sends are pyzmq's, as
            in a real run: valgrind's slowness would otherwise pass for another thread
            holding the GIL, and the loop task would switch to its ctypes send.

Records are logged from a short function, as in ``run.py``: ``logging`` looks up the
caller's line number, which costs more the deeper the call stands in its function.

Cases: ``null`` (``logging.NullHandler``), ``pyzmq`` (pyzmq's ``PUBHandler``, which
formats and sends in the logging call, so its two modes differ only by the close),
``zmqlog-text``, ``zmqlog-json``. Each mode's ratios are to ``null`` and to ``pyzmq``
in the same mode.
Instructions are not time (a cache miss costs more than an add), so these figures
compare versions of our own code; ``run.py`` says what they amount to.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import MESSAGE, environment, fmt_num, fresh_logger, load_zmqlog, ratio

CASES = ("null", "pyzmq", "zmqlog-text", "zmqlog-json")
MODES = ("caller", "whole")
WARMUP = 200
_COLLECTED = re.compile(r"Collected : (\d+)")
_READY = "warm"  # what a child prints when counting may start


def _log(logger: Any, start: int, stop: int) -> None:
    """Log records *start* to *stop* - 1, as ``run.py`` does: from a short function.

    Where the call stands in its function matters: ``logging`` asks for the caller's
    line number, which CPython 3.11 finds by walking the function's line table from its
    start, so a call deep in a long function costs thousands of instructions more.
    """
    for i in range(start, stop):
        logger.info(MESSAGE, i, 0.123)


async def _child(case: str, mode: str, n: int) -> None:
    """The measured program: log *n* records in *mode* through *case*."""
    logger = fresh_logger(f"bench.instructions.{case}")
    publisher: Any = None
    sock: Any = None
    if case == "null":
        import logging

        logger.addHandler(logging.NullHandler())
    elif case == "pyzmq":
        import zmq
        from zmq.log.handlers import PUBHandler

        sock = zmq.Context.instance().socket(zmq.PUB)
        sock.bind("tcp://127.0.0.1:*")
        logger.addHandler(PUBHandler(sock))
    else:
        zmqlog, reason = load_zmqlog()
        if zmqlog is None:
            raise SystemExit(reason)
        # Under valgrind the loop task's rounds take far longer per record than its
        # check for another thread holding the GIL allows (_CONVOY), so it would switch
        # to the GIL-keeping send, which a real run of this program never uses: off.
        runners = getattr(zmqlog, "_runners", None)
        if runners is not None and hasattr(runners, "_CONVOY"):
            runners._CONVOY = float("inf")
        wire_format = case.removeprefix("zmqlog-")
        publisher = zmqlog.LogPublisher("tcp://127.0.0.1:*", logger=logger, wire_format=wire_format)
        await publisher.__aenter__()
    _log(logger, 0, WARMUP)  # the same in both runs: the paths are warm when counting starts
    await asyncio.sleep(0.05)
    # Counting starts here: the parent turns instrumentation on, then lets us go on.
    print(_READY, flush=True)
    sys.stdin.readline()
    if mode == "caller":
        _log(logger, 0, n)
        sys.stdout.flush()
        os._exit(0)  # nothing after the loop: not the drain, not the close
    for start in range(0, n, 1000):
        _log(logger, start, min(start + 1000, n))
        await asyncio.sleep(0)
    if publisher is not None:
        await publisher.__aexit__(None, None, None)
    if sock is not None:
        sock.close(linger=0)


def _start(case: str, mode: str, n: int) -> subprocess.Popen[str]:
    """Start one run of the child logging *n* records under callgrind."""
    return subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--instr-atstart=no",  # counted from _count_from_here() on
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            case,
            mode,
            str(n),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count_from_here(proc: subprocess.Popen[str], what: str) -> None:
    """Wait until the run *proc* is warm, turn its instrumentation on, and let it go on."""
    assert proc.stdin is not None
    assert proc.stdout is not None
    line = proc.stdout.readline()  # start-up is uninstrumented: seconds
    if line.strip() != _READY:
        proc.kill()
        _, stderr = proc.communicate()
        raise RuntimeError(f"{what}: did not start: {stderr.strip()[-500:]}")
    control = subprocess.run(
        ["callgrind_control", "--instr=on", str(proc.pid)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if control.returncode != 0:
        raise RuntimeError(f"{what}: callgrind_control failed: {control.stderr.strip()[-500:]}")
    proc.stdin.write("go\n")
    proc.stdin.flush()


def _instructions(proc: subprocess.Popen[str], what: str) -> int:
    """What the run *proc* (described by *what*) executed, in instructions."""
    try:
        _, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    found = _COLLECTED.search(stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"{what}: {stderr.strip()[-500:]}")
    return int(found.group(1))


def per_record(case: str, mode: str, n: int) -> float:
    """Instructions one more record costs: the run with *n* records less the run with none.

    The two runs go at once: callgrind counts instructions, which another process on
    the machine does not change, and on two CPUs they take half the time.
    """
    full, empty = _start(case, mode, n), _start(case, mode, 0)
    try:
        _count_from_here(full, f"{case} {mode} n={n}")
        _count_from_here(empty, f"{case} {mode} n=0")
    except BaseException:
        for proc in (full, empty):
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        raise
    try:
        logged = _instructions(full, f"{case} {mode} n={n}")
    finally:
        base = _instructions(empty, f"{case} {mode} n=0")
    return (logged - base) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="records per measured run")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        case, mode, n = args.child
        asyncio.run(_child(case, mode, int(n)))
        return 0
    if args.n < 1:
        parser.error("--n must be at least 1")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("skipped: valgrind (callgrind_control) is not installed (apt-get install valgrind)")
        return 0
    zmqlog, _ = load_zmqlog()
    results: dict[str, dict[str, float | None]] = {}
    errored = False
    for case in args.cases:
        results[case] = {}
        for mode in args.modes:
            try:
                results[case][mode] = per_record(case, mode, args.n)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"{case} {mode}: error: {exc}", file=sys.stderr)
                results[case][mode] = None
                errored = True
    if args.json:
        out = {"config": {"n": args.n}, "environment": environment(zmqlog), "results": results}
        print(json.dumps(out, indent=2))
        return 1 if errored else 0
    print(f"instructions per record under callgrind, N={args.n} (a run of N less a run of 0)")
    columns = "".join(
        f"{mode + ' instr/rec':>20}{'x null':>8}{'x pyzmq':>8}" for mode in args.modes
    )
    header = f"{'case':<13}{columns}"
    print(header)
    print("-" * len(header))
    null, pyzmq = results.get("null", {}), results.get("pyzmq", {})
    for case, by_mode in results.items():
        row = f"{case:<13}"
        for mode in args.modes:
            value = by_mode[mode]
            row += fmt_num(value, ",.0f", 20) + fmt_num(ratio(value, null.get(mode)), ".3f", 8)
            row += fmt_num(ratio(value, pyzmq.get(mode)), ".3f", 8)
        print(row)
    return 1 if errored else 0


if __name__ == "__main__":
    sys.exit(main())

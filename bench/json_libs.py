"""JSON libraries side by side on zmqlog's records: why the decoder uses msgspec.

Usage::

    python bench/json_libs.py [--n N] [--repeats R] [--json]

For each payload (made by ``zmqlog.wire.encode_json``) it times, in this process,
microseconds per payload for:

``json``             ``json.loads(payload)``: parse only, the stdlib.
``orjson``           ``orjson.loads(payload)``: parse only (skipped if not installed).
``msgspec``          ``msgspec.json.decode(payload)``: parse only, untyped.
``json+convert``     ``json.loads`` then ``msgspec.convert`` into zmqlog's record
                     Struct: parse, then validate every field as the spec says.
``orjson+convert``   the same with ``orjson.loads`` (skipped if not installed).
``msgspec-struct``   ``msgspec.json.Decoder(<record Struct>).decode``: parse and
                     validate in one pass.
``zmqlog``           ``zmqlog.wire._jsondecode.read_record``, what the subscriber
                     runs: that decode, with unknown keys refused and only scalars
                     in ``extra`` (so msgspec bounds every number); any other
                     payload (``extra`` below) falls back to the careful path.

Payloads: ``plain`` (``log.info("request %d handled in %.3f ms", 42, 0.123)``),
``extra`` (the same with ``extra={"user": "ann", "order": {"id": 42, "items": [1, 2,
3]}}``) and ``exc_info`` (``log.exception`` with a 3-frame traceback). Figures are the
best of ``--repeats`` runs of ``N`` calls (the least disturbed by other processes),
comparable only within one run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from _common import environment, load_zmqlog

CASES = (
    "json",
    "orjson",
    "msgspec",
    "json+convert",
    "orjson+convert",
    "msgspec-struct",
    "zmqlog",
)


class Skipped(Exception):
    """The case cannot run here (a library is not installed)."""


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _raise(depth: int) -> None:
    if depth:
        _raise(depth - 1)
    raise TimeoutError("gateway did not answer")


def _record(msg: str, *args: object, exc: bool = False, **extra: Any) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            _raise(2)
        except TimeoutError:
            exc_info = sys.exc_info()
    record = logging.LogRecord(
        "shop.payments", logging.INFO, __file__, 88, msg, args, exc_info, "charge"
    )
    record.__dict__.update(extra)
    return record


def payloads(zmqlog: ModuleType) -> dict[str, bytes]:
    """The payloads timed, by name, as zmqlog's publisher writes them."""
    wire = importlib.import_module(f"{zmqlog.__name__}.wire")
    publisher = wire.new_publisher_id()
    made = {
        "plain": _record("request %d handled in %.3f ms", 42, 0.123),
        "extra": _record(
            "request %d handled in %.3f ms",
            42,
            0.123,
            user="ann",
            order={"id": 42, "items": [1, 2, 3]},
        ),
        "exc_info": _record("charge failed", exc=True),
    }
    return {
        name: wire.encode_json(record, None, "shop", publisher=publisher, seq=7)[1]
        for name, record in made.items()
    }


def operations(zmqlog: ModuleType) -> dict[str, Callable[[bytes], object] | str]:
    """Each case's function of one payload, or the reason it is skipped."""
    msgspec = _optional("msgspec")
    orjson = _optional("orjson")
    decoding = _optional(f"{zmqlog.__name__}.wire._jsondecode")
    record_type = getattr(decoding, "JsonRecord", None)
    read_record = getattr(decoding, "read_record", None)
    ops: dict[str, Callable[[bytes], object] | str] = {"json": json.loads}
    ops["orjson"] = orjson.loads if orjson is not None else "orjson not installed"
    if msgspec is None or record_type is None or read_record is None:
        reason = "msgspec or zmqlog's record Struct not available"
        for name in ("msgspec", "json+convert", "orjson+convert", "msgspec-struct", "zmqlog"):
            ops[name] = reason
        return ops
    convert = msgspec.convert
    ops["msgspec"] = msgspec.json.decode
    ops["json+convert"] = lambda payload: convert(json.loads(payload), record_type)
    if orjson is not None:
        loads = orjson.loads
        ops["orjson+convert"] = lambda payload: convert(loads(payload), record_type)
    else:
        ops["orjson+convert"] = "orjson not installed"
    ops["msgspec-struct"] = msgspec.json.Decoder(record_type).decode
    ops["zmqlog"] = read_record
    return ops


def best_us(operation: Callable[[bytes], object], payload: bytes, n: int, repeats: int) -> float:
    """Microseconds per call: the best of *repeats* runs of *n* calls."""
    operation(payload)  # fail here, not in the loop, if it cannot decode
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            operation(payload)
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every case on every payload: ``{case: {payload: us or None}, ...}`` plus reasons."""
    zmqlog, reason = load_zmqlog()
    if zmqlog is None:
        return {"skipped": reason, "cases": {}, "reasons": {}, "sizes": {}}
    made = payloads(zmqlog)
    ops = operations(zmqlog)
    results: dict[str, dict[str, float | None]] = {}
    reasons: dict[str, str] = {}
    for case in CASES:
        operation = ops[case]
        if isinstance(operation, str):
            reasons[case] = operation
            continue
        results[case] = {
            name: best_us(operation, payload, args.n, args.repeats)
            for name, payload in made.items()
        }
    return {
        "skipped": "",
        "cases": results,
        "reasons": reasons,
        "sizes": {name: len(payload) for name, payload in made.items()},
    }


def render_table(measured: dict[str, Any], args: argparse.Namespace) -> str:
    """Microseconds per payload, and each case's ratio to ``json`` (parse only)."""
    if measured["skipped"]:
        return f"skipped: {measured['skipped']}"
    sizes: dict[str, int] = measured["sizes"]
    names = list(sizes)
    header = f"{'case':<16}" + "".join(f" {name + ' us':>12} {'x json':>7}" for name in names)
    lines = [
        f"decode on zmqlog's records: best of {args.repeats} x {args.n} calls; payload bytes: "
        + ", ".join(f"{name} {size}" for name, size in sizes.items()),
        header,
        "-" * len(header),
    ]
    reference: dict[str, float] = measured["cases"]["json"]
    for case in CASES:
        if case in measured["reasons"]:
            lines.append(f"{case:<16} skipped: {measured['reasons'][case]}")
            continue
        row: dict[str, float] = measured["cases"][case]
        lines.append(
            f"{case:<16}"
            + "".join(f" {row[name]:>12.2f} {row[name] / reference[name]:>7.2f}" for name in names)
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line interface (see the module docstring)."""
    parser = argparse.ArgumentParser(description="JSON libraries on zmqlog's records")
    parser.add_argument("--n", type=int, default=20_000, help="calls per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per case and payload")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeats < 1:
        parser.error("--n and --repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table (or JSON)."""
    args = parse_args(argv)
    measured = measure(args)
    if args.json:
        zmqlog, _ = load_zmqlog()
        config = {"n": args.n, "repeats": args.repeats}
        report = {"benchmark": "json_libs", "config": config, "environment": environment(zmqlog)}
        print(json.dumps({**report, **measured}, indent=2))
    else:
        print(render_table(measured, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

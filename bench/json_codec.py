"""Micro-benchmark of zmqlog's JSON wire codec: microseconds per record, no sockets.

Usage::

    python bench/json_codec.py [--n N] [--repeats R] [--json]

For a few typical records it times, in this process:

``encode``         ``wire.encode_json(record, ...)``: what the drain task pays per record.
``snapshot``       ``wire.snapshot_extras(record)``: what ``emit()`` pays in JSON mode.
``decode``         ``wire.decode_json(payload)``: parse, bound and type-check one payload.
``decode+record``  ``decode_json`` then ``wire.record_from_json``: a ``LogRecord`` back.

Records:

``plain``    ``log.info("request handled")``
``args``     ``log.info("request %d handled in %.3f ms", 42, 0.123)``
``extra``    ``args`` plus ``extra={"user": "ann", "order": {"id": 42, "items": [1, 2, 3]}}``
``exc_info`` ``log.exception("charge failed")`` inside an ``except`` (a 3-frame traceback)

Each figure is the median over ``--repeats`` runs of ``N`` calls; numbers are only
comparable within one run on a quiet machine.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import load_zmqlog

OPERATIONS = ("encode", "snapshot", "decode", "decode+record")


def _raise(depth: int) -> None:
    if depth:
        _raise(depth - 1)
    raise TimeoutError("gateway did not answer")


def _make(msg: str, *args: object, **kwargs: Any) -> logging.LogRecord:
    extra = kwargs.pop("extra", None)
    record = logging.LogRecord("shop.payments", logging.INFO, __file__, 88, msg, args, None, "f")
    for key, value in kwargs.items():
        setattr(record, key, value)
    if extra:
        record.__dict__.update(extra)
    return record


def records() -> dict[str, logging.LogRecord]:
    """The typical records, by name."""
    try:
        _raise(2)
    except TimeoutError:
        exc_info = sys.exc_info()
    failed = _make("charge failed", levelno=logging.ERROR, levelname="ERROR", exc_info=exc_info)
    return {
        "plain": _make("request handled"),
        "args": _make("request %d handled in %.3f ms", 42, 0.123),
        "extra": _make(
            "request %d handled in %.3f ms",
            42,
            0.123,
            extra={"user": "ann", "order": {"id": 42, "items": [1, 2, 3]}},
        ),
        "exc_info": failed,
    }


def per_call_us(func: Callable[[], object], n: int, repeats: int) -> float:
    """Median over *repeats* of the time one call of *func* takes, in microseconds."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            func()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def _decode_and_rebuild(wire: Any, payload: bytes) -> logging.LogRecord:
    fields = wire.decode_json(payload)
    assert fields is not None  # checked once before timing
    record: logging.LogRecord = wire.record_from_json(fields)
    return record


def main(argv: list[str] | None = None) -> int:
    """Run every operation on every record and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--n", type=int, default=20_000, help="calls per run (default 20000)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args(argv)
    zmqlog, reason = load_zmqlog()
    if zmqlog is None:
        print(f"skipped: {reason}")
        return 0
    wire: Any = zmqlog.wire
    who = wire.PublisherId("bench-host", 4242, "0123456789abcdef")
    results: dict[str, dict[str, float]] = {}
    for name, record in records().items():
        _, payload = wire.encode_json(record, None, "shop", publisher=who, seq=7)
        fields = wire.decode_json(payload)
        if fields is None:
            print(f"{name} error: the encoded payload does not decode")
            return 1
        operations: dict[str, Callable[[], object]] = {
            "encode": functools.partial(
                wire.encode_json, record, None, "shop", publisher=who, seq=7
            ),
            "snapshot": functools.partial(wire.snapshot_extras, record),
            "decode": functools.partial(wire.decode_json, payload),
            "decode+record": functools.partial(_decode_and_rebuild, wire, payload),
        }
        per_call_us(operations["encode"], min(options.n, 1000), 1)  # warm-up
        results[name] = {
            op: per_call_us(func, options.n, options.repeats) for op, func in operations.items()
        }
        results[name]["payload_bytes"] = len(payload)
    if options.json:
        print(json.dumps({"n": options.n, "repeats": options.repeats, "cases": results}, indent=2))
        return 0
    python = sys.version.split()[0]
    print(f"us/record, median of {options.repeats} x {options.n} calls; Python {python}")
    header = f"{'record':<10}" + "".join(f"{op:>15}" for op in OPERATIONS) + f"{'bytes':>8}"
    print(header)
    for name, row in results.items():
        cells = "".join(f"{row[op]:>15.2f}" for op in OPERATIONS)
        print(f"{name:<10}{cells}{int(row['payload_bytes']):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Out-of-process subscriber that counts log messages for the benchmarks.

Run by ``bench/run.py`` and ``bench/loop_lag.py`` as a child process, so that
receiving never competes with the measured publisher for the GIL.  It connects
a plain pyzmq SUB socket (subscribed to ``b""``) to ``--connect`` and counts
every multipart message whose first frame is not the probe topic.

Protocol (line based, UTF-8):

* stdout ``probe``: printed once, the first time a probe message (first frame
  equal to ``--probe-topic``) arrives.  The parent keeps sending probes until
  it reads this line, which proves the subscription has reached the PUB socket
  without any sleep-and-hope.
* stdin ``done [N]``: the publisher has finished (optionally with the final
  number of records it expects to arrive).  From then on the counter stops
  once no message arrived for ``--idle`` seconds, so lost messages are counted
  as lost instead of hanging the run.  EOF on stdin counts as ``done``.
* stdout, last line: a JSON object ``{"count", "first", "last", "probed"}``
  where ``first``/``last`` are ``time.monotonic()`` stamps of the first and
  last counted arrival.  ``time.monotonic`` is CLOCK_MONOTONIC on Linux and
  macOS, a system-wide clock, so the parent can subtract its own stamps.

The counter also stops as soon as it has counted ``--expect`` messages
(``0`` means "until done + idle"), and unconditionally after ``--max-wait``
seconds so a broken publisher can never wedge the benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import zmq


class _Control:
    """State shared between the stdin reader thread and the receive loop."""

    def __init__(self, expect: int) -> None:
        self.lock = threading.Lock()
        self.expect = expect
        self.done_at: float | None = None

    def read_stdin(self) -> None:
        """Consume control lines from stdin until EOF (run in a daemon thread)."""
        for line in sys.stdin:
            parts = line.split()
            if parts and parts[0] == "done":
                with self.lock:
                    if len(parts) > 1:
                        self.expect = int(parts[1])
                    if self.done_at is None:
                        self.done_at = time.monotonic()
        with self.lock:
            if self.done_at is None:
                self.done_at = time.monotonic()


def main(argv: list[str] | None = None) -> int:
    """Count messages, then print the JSON summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", required=True, help="endpoint of the PUB socket")
    parser.add_argument("--expect", type=int, default=0, help="stop after this many (0: never)")
    parser.add_argument("--probe-topic", default="~bench-probe")
    parser.add_argument("--idle", type=float, default=1.0, help="seconds of silence after done")
    parser.add_argument("--rcvhwm", type=int, default=1000, help="SUB receive HWM (zmq default)")
    parser.add_argument("--max-wait", type=float, default=300.0)
    args = parser.parse_args(argv)

    probe = args.probe_topic.encode("utf8")
    control = _Control(args.expect)
    threading.Thread(target=control.read_stdin, daemon=True).start()

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.linger = 0
    sock.rcvhwm = args.rcvhwm
    # A short receive timeout keeps the hot path a plain blocking recv (which
    # releases the GIL) while still letting us notice "done" and idleness.
    sock.rcvtimeo = 50
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(args.connect)

    started = time.monotonic()
    count = 0
    first = 0.0
    last = 0.0
    probed = False
    recv = sock.recv_multipart
    monotonic = time.monotonic
    expect = args.expect
    try:
        while True:
            try:
                frames = recv()
            except zmq.Again:
                now = monotonic()
                with control.lock:
                    done_at = control.done_at
                    expect = control.expect
                if expect and count >= expect:
                    break
                if done_at is not None and now - max(done_at, last) >= args.idle:
                    break
                if now - started >= args.max_wait:
                    break
                continue
            if frames[0] == probe:
                if not probed:
                    probed = True
                    print("probe", flush=True)
                continue
            last = monotonic()
            if not count:
                first = last
            count += 1
            if count == expect:
                # ``expect`` may be raised later by "done N"; re-read it then.
                with control.lock:
                    expect = control.expect
                if count >= expect:
                    break
    finally:
        sock.close(linger=0)
        ctx.term()
    print(json.dumps({"count": count, "first": first, "last": last, "probed": probed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

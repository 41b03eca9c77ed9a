"""A hostile peer: connect to a publisher and flood it, for tests/test_hostile_peers.py.

Usage: peer_attack.py ENDPOINT MODE SECONDS, where MODE is
  big       twelve subscription frames of 8 MiB each
  toggle    subscribe and unsubscribe one topic, as fast as the socket takes it
  distinct  a new 60-byte subscription each time
  data      frames that are no subscription at all
It prints how many frames it sent, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time

import zmq


def main() -> None:
    endpoint, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.XSUB)  # an XSUB sends raw (un)subscription frames upstream
    sock.setsockopt(zmq.SNDHWM, 100_000)
    sock.connect(endpoint)
    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            if mode == "big":
                if sent == 12:
                    break
                sock.send(b"\x01" + b"x" * (8 << 20))
                sent += 1
                continue
            for _ in range(1000):
                if mode == "toggle":
                    sock.send(b"\x01flood", zmq.NOBLOCK)
                    sock.send(b"\x00flood", zmq.NOBLOCK)
                    sent += 2
                elif mode == "distinct":
                    sock.send(b"\x01%060d" % sent, zmq.NOBLOCK)
                    sent += 1
                else:
                    sock.send(b"\x02" + b"y" * 100, zmq.NOBLOCK)
                    sent += 1
        except zmq.Again:
            time.sleep(0.0005)  # the publisher's queue for us is full: it is keeping up
    print(json.dumps({"sent": sent}), flush=True)
    # No close: with 8 MiB frames still queued, libzmq 4.3.5 crashed (SIGSEGV) in this
    # process while closing them; leaving at once lets the kernel close the connection.
    os._exit(0)


if __name__ == "__main__":
    main()

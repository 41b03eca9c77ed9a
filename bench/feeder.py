"""Out-of-process publisher of pre-encoded frames for ``bench/subscriber.py``.

Reads a pickled ``list[list[bytes]]`` of multipart messages from ``--frames``
(written by the parent itself into a private temporary directory), binds an
XPUB socket to a random port on 127.0.0.1 and then:

1. prints ``port <P>``;
2. waits for the first subscription message (XPUB delivers it as ``b"\\x01..."``),
   which proves the subscriber is attached: no sleep needed;
3. sends ``--n`` messages, cycling through the frames, and prints ``sent``;
4. keeps the socket open until stdin says ``close`` (or reaches EOF), so the
   subscriber can drain at its own pace; then closes with linger 0.

``SNDHWM`` is 0 (unlimited): the parent measures how fast the subscriber can
decode, so nothing may be dropped on the way; ZeroMQ's SUB side never drops,
it stops reading from TCP when its own queue is full, so with an unlimited
send queue here every message arrives.
"""

from __future__ import annotations

import argparse
import pickle
import sys

import zmq


def main(argv: list[str] | None = None) -> int:
    """Publish the frames as described in the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", required=True, help="pickle file with list[list[bytes]]")
    parser.add_argument("--n", type=int, required=True, help="messages to send")
    parser.add_argument("--timeout", type=float, default=10.0, help="max wait for a subscriber")
    args = parser.parse_args(argv)

    with open(args.frames, "rb") as fh:
        messages: list[list[bytes]] = pickle.load(fh)  # our own file, written by the parent

    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.linger = 0
    sock.sndhwm = 0
    try:
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        print(f"port {port}", flush=True)
        if not sock.poll(int(args.timeout * 1000), zmq.POLLIN):
            print("error no subscriber", flush=True)
            return 1
        sock.recv()  # the subscription message
        send = sock.send_multipart
        k = len(messages)
        for i in range(args.n):
            send(messages[i % k])
        print("sent", flush=True)
        for line in sys.stdin:
            if line.strip() == "close":
                break
    finally:
        sock.close(linger=0)
        ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())

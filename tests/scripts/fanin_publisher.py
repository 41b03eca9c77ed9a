"""One publisher host's process in tests/test_multihost.py: JSON records into a proxy.

Connects to the proxy's frontend (``bind=False``), waits for the subscribers behind it,
logs records ``record 0`` .. ``record N-1`` as fast as the handler takes them, and
prints its stats as one JSON line when its publisher is closed. With ``--hold K`` it
stops after record K-1, prints ``{"held": K}``, and goes on only when a line arrives
on stdin and the subscribers are subscribed again, as a fresh connection to the
frontend sees: the test restarts the proxy in between.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

import zmq
import zmq.asyncio

import zmqlog
from zmqlog._security import ClientSecurity


async def wait_for_subscriptions(frontend: str, n: int, curve: ClientSecurity) -> None:
    """Wait until a new connection to the frontend is offered *n* subscriptions.

    The proxy's XSUB hands every new publisher the subscriptions it holds, so this says
    that the subscribers are known to the proxy as it is now, whatever the long-lived
    publisher's socket still remembers from before a restart.
    """
    ctx = zmq.asyncio.Context()
    probe = ctx.socket(zmq.XPUB)
    probe.setsockopt(zmq.LINGER, 0)
    try:
        curve.apply(probe)
        probe.connect(frontend)
        seen: set[bytes] = set()
        while len(seen) < n:
            frame = await probe.recv()
            if frame[:1] == b"\x01":
                seen.add(frame[1:])
    finally:
        probe.close(linger=0)
        ctx.term()


async def log_records(log: logging.Logger, start: int, stop: int) -> None:
    for i in range(start, stop):
        log.info("record %d", i)
        if i % 1000 == 999:
            await asyncio.sleep(0)  # let the drain task send a batch


async def main(args: argparse.Namespace) -> None:
    log = logging.getLogger(f"fanin.{args.name}")
    log.propagate = False
    log.setLevel(logging.INFO)
    curve: dict[str, Any] = {}
    if args.server_key:
        # A CURVE client of the proxy's frontend (issue 14, item 1).
        curve = {
            "curve_server_key_file": args.server_key,
            "curve_secret_key_file": args.secret_key,
        }
    probe_curve = ClientSecurity(args.server_key, args.secret_key)
    held = args.hold if args.hold is not None else args.records
    async with zmqlog.LogPublisher(
        args.frontend,
        bind=False,
        root_topic=args.name,
        logger=log,
        wire_format="json",
        flush_timeout=20,
        **curve,
    ) as pub:
        await pub.wait_for_subscribers(args.subscriptions, timeout=20)
        await log_records(log, 0, held)
        if held < args.records:
            print(json.dumps({"held": held}), flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.readline)
            await asyncio.wait_for(
                wait_for_subscriptions(args.frontend, args.subscriptions, probe_curve), 20
            )
            await log_records(log, held, args.records)
    print(json.dumps({"stats": pub.stats._asdict()}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frontend", required=True)
    parser.add_argument("--name", required=True, help="the root topic")
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--subscriptions", type=int, required=True)
    parser.add_argument("--hold", type=int, help="stop after this many records until told")
    parser.add_argument("--server-key", help="the frontend's public key: connect with CURVE")
    parser.add_argument("--secret-key", help="this publisher's key pair (with --server-key)")
    asyncio.run(main(parser.parse_args()))

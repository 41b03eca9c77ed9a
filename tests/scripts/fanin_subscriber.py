"""The subscriber host's process in tests/test_multihost.py: reads a proxy's backend.

Subscribes to everything (so ``stats.gaps`` is counted) and to a probe prefix of its
own (so that publishers, which count one subscription per distinct prefix behind the
proxy, can wait for each subscriber). Prints ``{"progress": n, "heard_from": k}``
every ``--progress`` records (*k*: how many publishers it has records from), then,
once the last record of every publisher named has arrived, one JSON line: per
publisher the record numbers' count, order and range; the subscriber's stats; and
the seconds from the first record received to the last.

With ``--until-stdin-closes`` it reads until stdin closes instead and prints how many
messages it received: for subscribers that must receive nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import sys
import time
from typing import Any

import zmqlog

_RECORD = re.compile(r"record (\d+)")


def summarize(numbers: list[int], seqs: list[int]) -> dict[str, Any]:
    return {
        "received": len(numbers),
        "distinct": len(set(numbers)),
        "in_order": all(a < b for a, b in itertools.pairwise(numbers)),
        "first": numbers[0] if numbers else None,
        "last": numbers[-1] if numbers else None,
        # The sequence number follows the record number: nothing else used one up.
        "seq_is_number": seqs == numbers,
    }


async def collect(sub: zmqlog.LogSubscriber, args: argparse.Namespace) -> dict[str, Any]:
    numbers: dict[str, list[int]] = {name: [] for name in args.publishers}
    seqs: dict[str, list[int]] = {name: [] for name in args.publishers}
    unexpected: list[str] = []
    finished: set[str] = set()
    last_number = args.records - 1
    first = last = 0.0
    count = 0
    while len(finished) < len(args.publishers):
        message = await sub.receive()
        last = time.monotonic()
        if not count:
            first = last
        count += 1
        if count % args.progress == 0:
            heard_from = sum(bool(seen) for seen in numbers.values())
            print(json.dumps({"progress": count, "heard_from": heard_from}), flush=True)
        match = _RECORD.fullmatch(message.fields["message"] if message.fields else "")
        if message.root_topic not in numbers or match is None:
            unexpected.append(message.topic)
            continue
        number = int(match[1])
        numbers[message.root_topic].append(number)
        seqs[message.root_topic].append(message.seq if message.seq is not None else -1)
        if number == last_number:
            finished.add(message.root_topic)
    return {
        "publishers": {name: summarize(numbers[name], seqs[name]) for name in numbers},
        "unexpected": unexpected[:10],
        "stats": sub.stats._asdict(),
        "seconds": last - first,
    }


async def count_until_stdin_closes(sub: zmqlog.LogSubscriber) -> dict[str, Any]:
    received = 0

    async def receive() -> None:
        nonlocal received
        while True:
            await sub.receive()
            received += 1

    task = asyncio.create_task(receive())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return {"received": received, "stats": sub.stats._asdict()}


async def main(args: argparse.Namespace) -> None:
    async with zmqlog.LogSubscriber(
        args.backend,
        topics=["", f"zz-probe-{args.name}"],
        curve_server_key_file=args.server_key,
        curve_secret_key_file=args.secret_key,
    ) as sub:
        if args.until_stdin_closes:
            summary = await count_until_stdin_closes(sub)
        else:
            summary = await collect(sub, args)
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--publishers", nargs="*", default=[], help="root topics to expect")
    parser.add_argument("--records", type=int, default=0, help="records per publisher")
    parser.add_argument("--progress", type=int, default=1000)
    parser.add_argument("--server-key", help="the backend's public key: connect with CURVE")
    parser.add_argument("--secret-key", help="this subscriber's key pair")
    parser.add_argument("--until-stdin-closes", action="store_true")
    asyncio.run(main(parser.parse_args()))

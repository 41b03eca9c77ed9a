"""A worker process that publishes its logs to a ``zmqlog proxy``, one of many.

Many workers connect to the proxy's frontend, any number of viewers to its backend::

    zmqlog proxy --frontend tcp://127.0.0.1:5559 --backend tcp://127.0.0.1:5560 &
    python examples/fanin_worker.py --frontend tcp://127.0.0.1:5559 --name w1 &
    python examples/fanin_worker.py --frontend tcp://127.0.0.1:5559 --name w2 &
    zmqlog tail tcp://127.0.0.1:5560

``--subscribers N`` makes a worker wait until N topic prefixes are subscribed behind the
proxy before it works. The proxy forwards one subscription per distinct prefix, not one
per subscriber: two ``zmqlog tail`` viewers of everything are one subscription to the
worker, so wait for 1 then, or give each viewer its own ``-t`` prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import zmqlog


async def main(
    frontend: str, name: str, jobs: int, subscribers: int, wait: float, interval: float
) -> int:
    log = logging.getLogger(f"worker.{name}")
    log.setLevel(logging.INFO)
    # bind=False: the proxy is the fixed point; workers come and go.
    async with zmqlog.LogPublisher(frontend, bind=False, root_topic=name, logger=log) as pub:
        if subscribers:
            try:
                await pub.wait_for_subscribers(subscribers, timeout=wait)
            except TimeoutError:
                print(
                    f"fanin_worker {name}: fewer than {subscribers} distinct topic prefixes "
                    f"subscribed behind the proxy at {frontend} within {wait:g} s; viewers "
                    "of the same prefix count once, so wait for fewer or give each its own -t",
                    file=sys.stderr,
                )
                return 1
        for job in range(jobs):
            log.info("jobs::%s finished job %d", name, job)
            await asyncio.sleep(interval)
        log.info("%s done after %d jobs", name, jobs)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frontend", default="tcp://127.0.0.1:5559")
    parser.add_argument("--name", default="worker")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument(
        "--subscribers",
        type=int,
        default=0,
        metavar="N",
        help="wait for N distinct topic prefixes subscribed behind the proxy before working "
        "(viewers of the same prefix count once)",
    )
    parser.add_argument(
        "--wait", type=float, default=10.0, help="seconds to wait for them (default: 10)"
    )
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between jobs")
    args = parser.parse_args()
    sys.exit(
        asyncio.run(
            main(args.frontend, args.name, args.jobs, args.subscribers, args.wait, args.interval)
        )
    )

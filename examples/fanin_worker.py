"""A worker process that publishes its logs to a ``zmqlog proxy``, one of many.

Many workers connect to the proxy's frontend, any number of viewers to its backend::

    zmqlog proxy --frontend tcp://127.0.0.1:5559 --backend tcp://127.0.0.1:5560 &
    python examples/fanin_worker.py --frontend tcp://127.0.0.1:5559 --name w1 &
    python examples/fanin_worker.py --frontend tcp://127.0.0.1:5559 --name w2 &
    zmqlog tail tcp://127.0.0.1:5560
"""

from __future__ import annotations

import argparse
import asyncio
import logging

import zmqlog


async def main(frontend: str, name: str, jobs: int, subscribers: int, interval: float) -> None:
    log = logging.getLogger(f"worker.{name}")
    log.setLevel(logging.INFO)
    # bind=False: the proxy is the fixed point; workers come and go.
    async with zmqlog.LogPublisher(frontend, bind=False, root_topic=name, logger=log) as pub:
        if subscribers:
            # Subscriptions travel upstream through the proxy, one per distinct topic
            # prefix subscribed behind it, so a worker can wait for its audience.
            await pub.wait_for_subscribers(subscribers, timeout=10)
        for job in range(jobs):
            log.info("jobs::%s finished job %d", name, job)
            await asyncio.sleep(interval)
        log.info("%s done after %d jobs", name, jobs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frontend", default="tcp://127.0.0.1:5559")
    parser.add_argument("--name", default="worker")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument(
        "--subscribers", type=int, default=0, help="wait for N subscriptions before working"
    )
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between jobs")
    args = parser.parse_args()
    asyncio.run(main(args.frontend, args.name, args.jobs, args.subscribers, args.interval))

"""Benchmark: the cost of taking an AWS API token from PostgreSQL's shared buckets.

    .venv/bin/python bench/budgets.py                 # a throwaway cluster, 5000 takes
    .venv/bin/python bench/budgets.py --takes 20000 --threads 8

Each take is one upsert on loopback (storage/budgets.py). The bucket's rate is high enough
that no take waits: the figures are the statement's round trip, from one thread and from
`--threads` threads of one process sharing its pool, next to an in-process bucket's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.aws.budget import TokenBucket
from storage.budgets import PostgresBucketStore
from storage.db import Database
from tests.fixtures.database import PostgresCluster


def _timed(take: object, takes: int) -> list[float]:
    assert callable(take)
    costs = []
    for _ in range(takes):
        started = time.perf_counter()
        take()
        costs.append(time.perf_counter() - started)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    cluster = PostgresCluster()
    try:
        url = cluster.create_database()
        Database(url).dispose()
        store = PostgresBucketStore(url)
        rate = burst = 1e9  # never empty: the statement alone
        store.take("warm-up", rate, burst)
        costs = _timed(lambda: store.take("bench", rate, burst), args.takes)
        local = TokenBucket(rate, burst)
        local_costs = _timed(local.take, args.takes)

        per_thread = args.takes // args.threads
        started = time.perf_counter()
        workers = [
            threading.Thread(
                target=_timed, args=(lambda: store.take("bench", rate, burst), per_thread)
            )
            for _ in range(args.threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        store.dispose()
    finally:
        cluster.stop()
    ordered = sorted(costs)
    median = statistics.median(costs)
    print(
        f"shared take, 1 thread: {args.takes} takes, median {median * 1e6:.0f} µs, "
        f"p99 {ordered[int(len(ordered) * 0.99)] * 1e6:.0f} µs, "
        f"mean {statistics.fmean(costs) * 1e6:.0f} µs"
    )
    print(
        f"shared take, {args.threads} threads on one bucket: "
        f"{per_thread * args.threads / elapsed:.0f} takes/s"
    )
    print(f"in-process take: median {statistics.median(local_costs) * 1e6:.1f} µs")


if __name__ == "__main__":
    main()

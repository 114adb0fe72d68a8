"""AWS API budgets in PostgreSQL: one bucket for every process, within burst + rate × t."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from storage.budgets import PostgresBucketStore
from tests.collectors.aws.test_budget import most_in_any_window
from vigil.core.errors import StorageError

JITTER = 0.1
"""Seconds between a token being due and the taker's clock reading it on a busy machine."""


def _hammer(url: str, key: str, rate: float, burst: float, threads: int, takes: int) -> list[float]:
    """In a process of its own: `threads` threads each taking `takes` tokens; the moments
    (time.monotonic: one clock for every process of the machine) each token was ours."""
    store = PostgresBucketStore(url)
    times: list[float] = []
    lock = threading.Lock()

    def taker() -> None:
        for _ in range(takes):
            wait = store.take(key, rate, burst)
            if wait:
                time.sleep(wait)
            with lock:
                times.append(time.monotonic())

    workers = [threading.Thread(target=taker) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    store.dispose()
    return times


def test_processes_and_threads_taking_from_one_bucket_stay_within_burst_plus_rate_t(
    pg_url: str,
) -> None:
    rate, burst, processes, threads, takes = 10.0, 3.0, 3, 2, 4
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pool.apply(time.sleep, (0,))  # started (spawn's imports are not the budget's)
        started = time.monotonic()
        results = [
            pool.apply_async(_hammer, (pg_url, "k", rate, burst, threads, takes))
            for _ in range(processes)
        ]
        times = [t for result in results for t in result.get(timeout=60)]
    total = processes * threads * takes
    assert len(times) == total
    assert most_in_any_window(times, rate, burst, JITTER)
    # The budget was spent, not skipped: 24 requests at 10/s after a burst of 3.
    assert max(times) - started >= (total - burst) / rate - JITTER


def test_an_idle_shared_bucket_sends_its_burst_at_once_then_paces(pg_url: str) -> None:
    store = PostgresBucketStore(pg_url)
    try:
        waits = [store.take("idle", 2.0, 3.0) for _ in range(5)]
        other = store.take("another key", 2.0, 3.0)
    finally:
        store.dispose()
    assert waits[:3] == [0, 0, 0]
    # Reservations: the 4th token is due in 0.5 s, the 5th in 1 s (less the statements' time).
    assert 0.25 < waits[3] <= 0.5 and 0.75 < waits[4] <= 1.0
    assert other == 0  # each key is a bucket of its own


def test_an_unreachable_database_fails_the_take_within_its_timeout(unreachable_url: str) -> None:
    store = PostgresBucketStore(unreachable_url, timeout=1)
    started = time.monotonic()
    with pytest.raises(StorageError) as raised:
        store.take("k", 1.0, 1.0)
    assert time.monotonic() - started < 5
    assert raised.value.retryable
    assert "shared AWS API budgets" in raised.value.message
    assert "s3cret" not in raised.value.message
    store.dispose()

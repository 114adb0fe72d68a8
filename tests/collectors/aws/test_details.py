"""Detail calls a few at a time: the page reads exactly as one call after another would."""

from __future__ import annotations

import threading
import time

import pytest

from collectors.aws.details import each


def test_items_come_back_in_order_and_really_overlap() -> None:
    in_flight, peak, lock = 0, 0, threading.Lock()
    # The first eight items wait for each other: fewer than eight at once breaks the barrier,
    # and a ninth call started while they wait would lift the peak above eight.
    together = threading.Barrier(8, timeout=5)

    def fetch(n: int) -> int:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        if n < 8:
            together.wait()
        time.sleep(0.01 * (n % 3))  # later items finish first
        with lock:
            in_flight -= 1
        return n * n

    assert each(fetch, list(range(40)), workers=8) == [n * n for n in range(40)]
    assert peak == 8  # overlapping up to the workers given, never beyond


def test_an_error_fails_the_page_instead_of_dropping_the_item() -> None:
    def fetch(n: int) -> int:
        if n == 7:
            raise RuntimeError("AccessDenied on item 7")
        return n

    with pytest.raises(RuntimeError, match="item 7"):
        each(fetch, list(range(20)))

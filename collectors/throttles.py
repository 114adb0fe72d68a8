"""Throttling responses, counted per API for the process and per scope.

A budget set too high, or another tool spending the same account's rate, shows first as
throttling: the API answers "slow down" and botocore retries. Each such answer is counted
twice: per (source, service, operation) for the process (`vigil_aws_throttled_total`), and
per API for the scope being collected (the `throttled` column of `vigil collect` and of its
stored run), so the one scope that hit the limit is named.

A scope's tally follows the scope through a context variable: `counting()` around the scope,
and `in_scope_context` for the threads that work for it (collectors/aws/details.py).
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class ScopeTally:
    """The throttling answers one scope received, per "service:operation"; thread-safe."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, api: str) -> None:
        with self._lock:
            self._counts[api] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


_scope: contextvars.ContextVar[ScopeTally | None] = contextvars.ContextVar(
    "vigil_scope_throttles", default=None
)
_process: Counter[tuple[str, str, str]] = Counter()
_process_lock = threading.Lock()


@contextmanager
def counting() -> Iterator[ScopeTally]:
    """Count the throttling answers of what runs inside (this thread, and the threads started
    through `in_scope_context`) as one scope's."""
    tally = ScopeTally()
    token = _scope.set(tally)
    try:
        yield tally
    finally:
        _scope.reset(token)


def in_scope_context(function: Callable[P, R]) -> Callable[P, R]:
    """`function`, to run in another thread as part of the calling thread's scope."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        # One context per thread: a Context can be entered by one thread at a time.
        return context.copy().run(function, *args, **kwargs)

    return run


def note(source: str, service: str, operation: str) -> None:
    """One throttling answer to `service`'s `operation`, for the process and the scope."""
    with _process_lock:
        _process[(source, service, operation)] += 1
    tally = _scope.get()
    if tally is not None:
        tally.add(f"{service}:{operation}")


def add_counted_elsewhere(source: str, counts: Mapping[str, int]) -> None:
    """Add a scope's counts (per "service:operation") that another process received, as the
    pass's process does for its `processes` workers, so that its /metrics counts them."""
    with _process_lock:
        for api, count in counts.items():
            service, _, operation = api.partition(":")
            _process[(source, service, operation)] += count


def process_counts() -> dict[tuple[str, str, str], int]:
    """Throttling answers this process counted, per (source, service, operation)."""
    with _process_lock:
        return dict(_process)

"""API budgets: every AWS request takes a token from a bucket before it is sent.

AWS throttles per account, region and API (DESIGN.md, Executors). Without a budget each of a
process's threads learns the limit alone, through throttling errors and retries; with one,
they share it and wait their turn. A bucket is keyed by (source, role, region, service) or,
where the rate is per API, (..., operation); it admits at most `burst + rate × t` requests over
any window of t seconds. Each request, retries included, takes a token: a retry is a request
AWS counts too.

Where the buckets live is the application's choice, once per process:

- in the process (the default): exact for the threads of one process. Under `processes` on
  SQLite each of the N worker processes spends `1/N` of every rate and burst (`share_among`),
  so together they stay within `burst + rate × t` as long as `burst >= N`; with a smaller
  burst the N workers may each send one request at once, `max(burst, N) + rate × t` at most.
- in a `BucketStore` (`use_store`; vigil/app/budgets.py wires PostgreSQL's): every process and
  machine that takes from the same store shares one bucket per key, exactly, whatever their
  number: worker processes, queue workers, the threads of a pass.

Throttling responses are counted (collectors/throttles.py), retried ones included, per
(source, service, operation) for `vigil_aws_throttled_total` and per API for the scope that
received them: a budget set too high shows there first.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field

from collectors import throttles
from collectors.aws.failures import THROTTLE_CODES
from vigil.core.schema import StrictModel

if TYPE_CHECKING:
    from botocore.client import BaseClient


class ApiRate(StrictModel):
    """One bucket's rate: `rate` requests per second after a burst of `burst`.

    ```yaml
    api_rates:
      ec2: {rate: 20, burst: 100}
      "acm:ListCertificates": {rate: 1}
    ```
    """

    rate: float = Field(gt=0, le=10_000, description="Requests per second.")
    burst: float | None = Field(
        default=None, ge=1, le=100_000, description="Requests admitted at once; default: rate."
    )
    per_operation: bool = Field(
        default=False, description="One bucket per API operation of the service, not one shared."
    )

    @property
    def capacity(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.rate)


DEFAULT_RATES: Mapping[str, ApiRate] = {
    "ec2": ApiRate(rate=20, burst=100),
    "route53": ApiRate(rate=5),
    "acm": ApiRate(rate=10, per_operation=True),
    "acm:ListCertificates": ApiRate(rate=1),
    "rds": ApiRate(rate=12),
    # AWS publishes no per-API figure for ELB's Describe calls; a conservative shared budget.
    "elbv2": ApiRate(rate=10, burst=20),
    "elb": ApiRate(rate=10, burst=20),
}
"""AWS's published request rates (DESIGN.md); a source's `api_rates` overrides them by key."""


class TokenBucket:
    """A bucket admitting `capacity` requests at once and `rate` per second after that.

    `take` reserves the next slot under the lock and sleeps outside it, so waiting callers
    queue in order and never exceed the budget together.
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.capacity = rate, capacity
        self._clock, self._sleep = clock, sleep
        self._tokens, self._updated = capacity, clock()
        self._lock = threading.Lock()
        self.waited = 0.0

    def take(self) -> float:
        """Take one token, waiting until the bucket has one; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            self.waited += wait
        if wait:
            self._sleep(wait)
        return wait


class BucketStore(Protocol):
    """Buckets shared beyond this process: one bucket per key for every process using the store.

    `take` reserves the next token of bucket `key` (refilled at `rate` per second up to
    `burst`, created full on first use) in one atomic step and returns the seconds until that
    token is due: 0 when one was there, else the wait the caller sleeps before sending. A
    store that cannot be reached raises a retryable VigilError, never waits for ever.
    """

    def take(self, key: str, rate: float, burst: float) -> float: ...


_processes = 1
"""How many worker processes collect at once, this one among them (`share_among`): each
spends `1/_processes` of every budget kept in the process."""

_store: BucketStore | None = None
"""Where this process's budgets live when they are shared (None: in the process)."""


def share_among(processes: int) -> None:
    """Let this process spend `1/processes` of every budget: it is one of `processes` worker
    processes collecting at once (the `processes` executor calls this in each worker). Has no
    effect on budgets kept in a store (`use_store`): those are shared exactly."""
    global _processes
    _processes = max(1, processes)


def share_of_concurrency(concurrency: int) -> int:
    """This process's part of a cap on concurrent calls (`service_concurrency`) that its
    fellow worker processes share: together they stay within it while it is at least their
    number (each keeps one at least)."""
    return max(1, concurrency // _processes)


def use_store(store: BucketStore | None) -> BucketStore | None:
    """Keep every budget of this process in `store` from now on (None: in the process again);
    returns the store used before."""
    global _store
    previous, _store = _store, store
    return previous


def current_store() -> BucketStore | None:
    return _store


class Bucket:
    """One budget of a source: spent from the process's store when it has one, else from an
    in-process `TokenBucket` holding the process's share."""

    def __init__(
        self, key: str, rate: float, capacity: float, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.key, self.rate, self.capacity = key, rate, capacity
        self._sleep = sleep
        self._local: TokenBucket | None = None
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take one token, waiting until it is due; returns the seconds waited."""
        store = _store
        if store is None:
            return self._local_bucket().take()
        wait = store.take(self.key, self.rate, self.capacity)
        if wait > 0:
            self._sleep(wait)
        return wait

    def _local_bucket(self) -> TokenBucket:
        with self._lock:
            if self._local is None:
                share = 1.0 / _processes
                self._local = TokenBucket(self.rate * share, self.capacity * share)
            return self._local


class Budgets:
    """The buckets of one source, created on first use; shared by every thread."""

    def __init__(self, source: str, overrides: Mapping[str, ApiRate]) -> None:
        self.source = source
        self.rates = {**DEFAULT_RATES, **overrides}
        self._buckets: dict[tuple[str, ...], Bucket] = {}
        self._lock = threading.Lock()

    def bucket(self, role: str, region: str, service: str, operation: str) -> Bucket | None:
        """The bucket a request spends from; None when no rate applies to it."""
        key, rate = self._rate_for(service, operation)
        if rate is None:
            return None
        full_key = (role, region, *key)
        with self._lock:
            if full_key not in self._buckets:
                # The store's key: every process collecting this source names it alike.
                name = json.dumps([self.source, *full_key], separators=(",", ":"))
                self._buckets[full_key] = Bucket(name, rate.rate, rate.capacity)
            return self._buckets[full_key]

    def _rate_for(self, service: str, operation: str) -> tuple[tuple[str, ...], ApiRate | None]:
        exact = self.rates.get(f"{service}:{operation}")
        if exact is not None:
            return (service, operation), exact
        shared = self.rates.get(service)
        if shared is not None and shared.per_operation:
            return (service, operation), shared
        return (service,), shared

    def attach(self, client: BaseClient, role: str, region: str) -> BaseClient:
        """Make every request `client` sends take a token from its bucket first."""
        service = client.meta.service_model.service_name

        def spend(event_name: str, **_: Any) -> None:
            bucket = self.bucket(role, region, service, event_name.rsplit(".", 1)[-1])
            if bucket is not None:
                bucket.take()

        def count_throttle(event_name: str, response: Any = None, **_: Any) -> None:
            if response is not None and _error_code(response) in THROTTLE_CODES:
                throttles.note(self.source, service, event_name.rsplit(".", 1)[-1])

        client.meta.events.register("before-send", spend, unique_id="vigil-api-budget")
        # First: the retry handler answers needs-retry, and the first answer ends the event.
        client.meta.events.register_first(
            "needs-retry", count_throttle, unique_id="vigil-throttle-count"
        )
        return client


def _error_code(response: Any) -> str | None:
    _http, parsed = response
    code = (parsed or {}).get("Error", {}).get("Code")
    return str(code) if code else None

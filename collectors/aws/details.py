"""Per-item detail calls of one page, a few in flight at a time.

Some list APIs return names only (S3's ListBuckets, DynamoDB's ListTables), so every item
costs several more calls. Made one after another, a scope's wall time is items × calls ×
latency: 1,000 buckets × 7 reads × 30 ms is three and a half minutes. A small pool per page
overlaps them. boto3 clients are thread-safe (sessions are not), and the pages still come
out in order, so the scope reads exactly as before. Services with tight per-account rates
(ACM's 10 DescribeCertificate/s, ELB's Describe calls) are held to them by the API budgets
(budget.py), which every request of the pool spends from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from collectors import throttles

T = TypeVar("T")
R = TypeVar("R")

DETAIL_WORKERS = 8
"""Detail calls in flight per scope: within botocore's pool (`max_pool_connections` >= 10)."""


def each(fetch: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """`[fetch(item) for item in items]`, `workers` (default `DETAIL_WORKERS`) at a time, in
    order; the first error propagates."""
    workers = DETAIL_WORKERS if workers is None else workers
    if len(items) <= 1 or workers <= 1:
        return [fetch(item) for item in items]
    with ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="vigil-detail") as pool:
        # The pool's requests are the scope's: its throttles count against it.
        return list(pool.map(throttles.in_scope_context(fetch), items))

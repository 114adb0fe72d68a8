"""The exporter's collector: cached storage aggregates, formatted at scrape time.

The heavy GROUP BY queries run in `refresh()` (a background thread: after each cycle and
every `metrics.cache_seconds`); a scrape only formats the cached rows, plus the few families
that depend on the current time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from collectors.throttles import process_counts
from storage import runs
from storage.db import Database
from vigil.app import notify
from vigil.app.cycle import CycleStatus
from vigil.app.metrics import snapshot
from vigil.app.metrics.families import (
    build_info,
    cycle_families,
    oldest_open,
    oldest_open_ages,
    render,
    stale_scopes,
    static_families,
)
from vigil.core.errors import VigilError
from vigil.core.model import utcnow

log = logging.getLogger(__name__)


@dataclass
class _Cache:
    """What one refresh read: prebuilt families plus the timestamps ages are computed from."""

    families: list[Metric] = field(default_factory=list)
    rendered: dict[bool, bytes] = field(default_factory=dict)  # OpenMetrics? → exposition
    oldest_open: dict[str, float] = field(default_factory=dict)  # severity → first seen
    scopes: list[runs.ScopeHealth] = field(default_factory=list)
    read_at: float | None = None
    read_seconds: float = 0.0


class VigilCollector:
    """A prometheus_client collector: `collect()` is the scrape; `refresh()` reads storage.

    `intervals` maps each configured source to its collection interval in seconds (used for
    staleness); `status` is the running daemon's cycle record, when there is one.
    """

    def __init__(
        self,
        db: Database,
        *,
        intervals: Mapping[str, float] | None = None,
        status: CycleStatus | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.intervals = dict(intervals or {})
        self.status = status
        self.clock = clock
        self.refresh_errors = 0
        self._cache = _Cache()
        self._refresh_lock = threading.Lock()

    # -- reading storage (off the scrape path) ------------------------------------------

    def refresh(self) -> None:
        """Re-read every aggregate and swap the cache in one assignment (scrapes never see
        half a refresh). A failure keeps the previous cache and counts an error."""
        with self._refresh_lock:
            started = time.perf_counter()
            try:
                aggregates = snapshot.read_aggregates(self.db, now=utcnow())
                outbox = notify.outbox_counts(self.db)
            except (VigilError, sa.exc.SQLAlchemyError) as exc:
                # A database that is down or locked raises SQLAlchemy's errors from a plain
                # read: uncaught, they killed the refresher thread and froze every metric.
                self.refresh_errors += 1
                reason = exc.message if isinstance(exc, VigilError) else type(exc).__name__
                log.warning("metrics refresh failed: %s", reason)
                return
            families = [build_info(), *static_families(aggregates, outbox, self.intervals)]
            cache = _Cache(
                families=families,
                # Formatting tens of thousands of certificate and backup series is the
                # expensive part of a scrape: do it here, once per refresh.
                rendered={om: render(families, openmetrics=om, end=False) for om in (False, True)},
                oldest_open=oldest_open(aggregates.findings),
                scopes=aggregates.scopes,
                read_at=self.clock(),
            )
            cache.read_seconds = time.perf_counter() - started
            self._cache = cache

    # -- the scrape ---------------------------------------------------------------------

    def describe(self) -> list[Metric]:
        # Empty: registering must not run a scrape (and its families vary with storage).
        return []

    def collect(self) -> Iterator[Metric]:
        cache = self._cache
        yield from cache.families or [build_info()]
        yield from self._dynamic(cache)

    def exposition(self, *, openmetrics: bool = False) -> bytes:
        """The scrape: the static part as rendered at the last refresh, plus the few
        families that depend on the current time."""
        cache = self._cache
        static = cache.rendered.get(openmetrics) or render([build_info()], openmetrics, False)
        return static + render(list(self._dynamic(cache)), openmetrics, True)

    def _dynamic(self, cache: _Cache) -> Iterator[Metric]:
        now = self.clock()
        yield oldest_open_ages(cache.oldest_open, now)
        yield stale_scopes(cache.scopes, self.intervals, now)
        yield from self._self_metrics(cache, now)
        yield throttled_family()
        if self.status is not None:
            yield from cycle_families(self.status.snapshot())

    def _self_metrics(self, cache: _Cache, now: float) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "vigil_exporter_cache_age_seconds",
            "Seconds since the exporter last read its aggregates from storage.",
        )
        if cache.read_at is not None:
            age.add_metric([], now - cache.read_at)
        yield age
        yield GaugeMetricFamily(
            "vigil_exporter_refresh_duration_seconds",
            "How long the last read of the aggregates from storage took.",
            value=cache.read_seconds,
        )
        yield CounterMetricFamily(
            "vigil_exporter_refresh_errors",
            "Reads of the aggregates that failed (the previous values are kept).",
            value=self.refresh_errors,
        )


def throttled_family() -> Metric:
    family = CounterMetricFamily(
        "vigil_aws_throttled",
        "Throttling responses AWS sent this process, retried ones included.",
        labels=["source", "service", "operation"],
    )
    for (source, service, operation), count in sorted(process_counts().items()):
        family.add_metric([source, service, operation], count)
    return family


def registry_for(collector: VigilCollector) -> CollectorRegistry:
    """A registry holding only Vigil's collector (no process or GC metrics of the client)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry

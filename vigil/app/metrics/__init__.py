"""The Prometheus exporter: a custom collector over cached storage aggregates, and its server.

Following Prometheus's guidance for exporters, metrics are built at scrape time from what
storage says (never global gauges mutated in loops), so a series disappears when its subject
does. The heavy GROUP BY queries run in a background thread — after each cycle and every
`metrics.cache_seconds` — and a scrape only formats the cached rows, which keeps it well under
100 ms at 100k resources. Times that move on their own (ages, staleness) are computed at
scrape time from cached timestamps, so they are right between refreshes.

`families` builds the metric families (pure), `collector` caches and serves them to a
scrape, `server` is the HTTP(S) endpoint.
"""

from vigil.app.metrics.collector import VigilCollector, registry_for
from vigil.app.metrics.families import SCOPE_LABELS, SCOPE_STATES, render, stale
from vigil.app.metrics.server import MetricsListenError, MetricsServer, ReadyCheck

__all__ = [
    "SCOPE_LABELS",
    "SCOPE_STATES",
    "MetricsListenError",
    "MetricsServer",
    "ReadyCheck",
    "VigilCollector",
    "registry_for",
    "render",
    "stale",
]

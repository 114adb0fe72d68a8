"""The `/metrics` of one `vigil worker` (`--metrics ADDR`): its scopes and its AWS throttling.

The estate's figures come from the daemon's exporter (they are the database's); a worker tells
what only it knows: what it ran, what it is running, and what AWS throttled for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from vigil.app.metrics.collector import throttled_family
from vigil.app.metrics.families import build_info, render


class WorkerCollector:
    """Scrapes read `scopes` (finished scopes by status) and `running` when asked."""

    def __init__(self, scopes: Callable[[], Mapping[str, int]], running: Callable[[], int]) -> None:
        self._scopes = scopes
        self._running = running

    def exposition(self, *, openmetrics: bool = False) -> bytes:
        return render(self._families(), openmetrics, True)

    def _families(self) -> list[Metric]:
        finished = CounterMetricFamily(
            "vigil_worker_scopes",
            "Scopes this worker finished, by how they ended.",
            labels=["status"],
        )
        for status, count in sorted(self._scopes().items()):
            finished.add_metric([status], count)
        running = GaugeMetricFamily(
            "vigil_worker_scopes_running",
            "Scopes this worker is collecting now.",
            value=self._running(),
        )
        return [build_info(), finished, running, throttled_family()]

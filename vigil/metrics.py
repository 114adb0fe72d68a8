"""The Prometheus exporter: a custom collector over cached storage aggregates, and its server.

Following Prometheus's guidance for exporters, metrics are built at scrape time from what
storage says (never global gauges mutated in loops), so a series disappears when its subject
does. The heavy GROUP BY queries run in a background thread — after each cycle and every
`metrics.cache_seconds` — and a scrape only formats the cached rows, which keeps it well under
100 ms at 100k resources. Times that move on their own (ages, staleness) are computed at
scrape time from cached timestamps, so they are right between refreshes.
"""

from __future__ import annotations

import logging
import platform
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.registry import CollectorRegistry

from storage import metrics_queries as queries
from storage.db import Database
from vigil import __version__, notify
from vigil.cycle import OUTCOMES, CycleStatus
from vigil.errors import ConfigError, VigilError
from vigil.model import SEVERITY_ORDER, FindingStatus, utcnow

log = logging.getLogger(__name__)

SCOPE_LABELS = ["source", "account", "region", "type"]
SCOPE_STATES = ("complete", "failed", "running")
STALE_INTERVALS = 3
"""A scope is stale when its last success is older than this many of its source's intervals
(the same window as the `collector.failing` rule's default)."""


@dataclass
class _Cache:
    """What one refresh read: prebuilt families plus the timestamps ages are computed from."""

    families: list[Metric] = field(default_factory=list)
    rendered: dict[bool, bytes] = field(default_factory=dict)  # OpenMetrics? → exposition
    oldest_open: dict[str, float] = field(default_factory=dict)  # severity → first seen
    scopes: list[queries.ScopeHealth] = field(default_factory=list)
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
                aggregates = queries.read_aggregates(self.db, now=utcnow())
                outbox = notify.outbox_counts(self.db)
            except VigilError as exc:
                self.refresh_errors += 1
                log.warning("metrics refresh failed: %s", exc.message)
                return
            families = [_build_info(), *_static_families(aggregates, outbox, self.intervals)]
            cache = _Cache(
                families=families,
                # Formatting tens of thousands of certificate and backup series is the
                # expensive part of a scrape: do it here, once per refresh.
                rendered={om: render(families, openmetrics=om, end=False) for om in (False, True)},
                oldest_open=_oldest_open(aggregates.findings),
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
        yield from cache.families or [_build_info()]
        yield from self._dynamic(cache)

    def exposition(self, *, openmetrics: bool = False) -> bytes:
        """The scrape: the static part as rendered at the last refresh, plus the few
        families that depend on the current time."""
        cache = self._cache
        static = cache.rendered.get(openmetrics) or render([_build_info()], openmetrics, False)
        return static + render(list(self._dynamic(cache)), openmetrics, True)

    def _dynamic(self, cache: _Cache) -> Iterator[Metric]:
        now = self.clock()
        yield _oldest_open_ages(cache.oldest_open, now)
        yield _stale_scopes(cache.scopes, self.intervals, now)
        yield from self._self_metrics(cache, now)
        if self.status is not None:
            yield from _cycle_families(self.status.snapshot())

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


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _static_families(
    aggregates: queries.Aggregates, outbox: Mapping[str, int], intervals: Mapping[str, float]
) -> list[Metric]:
    families = [
        *_inventory_families(aggregates),
        *_finding_families(aggregates.findings),
        _certificate_family(aggregates.certificates),
        _backup_family(aggregates.backups),
        *_scope_families(aggregates.scopes),
    ]
    interval = GaugeMetricFamily(
        "vigil_source_collect_interval_seconds",
        "How often each configured source is collected (cron: the gap between its next runs).",
        labels=["source"],
    )
    for source, seconds in sorted(intervals.items()):
        interval.add_metric([source], seconds)
    families.append(interval)
    notifications = GaugeMetricFamily(
        "vigil_notifications",
        "Notifications in the outbox by state: pending, sent, failed (retrying), dead.",
        labels=["state"],
    )
    for state in ("pending", "sent", "failed", "dead"):
        notifications.add_metric([state], outbox.get(state, 0))
    families.append(notifications)
    return families


def _inventory_families(aggregates: queries.Aggregates) -> Iterator[Metric]:
    labels = list(queries.RESOURCE_LABELS)
    present = GaugeMetricFamily(
        "vigil_resources", "Present resources in the inventory.", labels=labels
    )
    for key, count in aggregates.resources:
        present.add_metric(list(key), count)
    yield present
    deleted = GaugeMetricFamily(
        "vigil_resources_deleted_24h",
        "Resources deleted (seen gone by a completed scope) in the last 24 hours.",
        labels=labels,
    )
    for key, count in aggregates.deleted_24h:
        deleted.add_metric(list(key), count)
    yield deleted


def _finding_families(groups: Iterable[queries.FindingGroup]) -> Iterator[Metric]:
    families = {
        FindingStatus.OPEN.value: GaugeMetricFamily(
            "vigil_findings_open",
            "Open findings by rule and severity.",
            labels=["rule", "severity"],
        ),
        FindingStatus.SILENCED.value: GaugeMetricFamily(
            "vigil_findings_silenced",
            "Findings a silence covers, by rule and severity.",
            labels=["rule", "severity"],
        ),
    }
    for group in groups:
        if group.status in families:
            families[group.status].add_metric([group.rule, group.severity], group.count)
    yield from families.values()


def _oldest_open(groups: Iterable[queries.FindingGroup]) -> dict[str, float]:
    oldest: dict[str, float] = {}
    for group in groups:
        first = _ts(group.oldest_first_seen)
        if group.status == FindingStatus.OPEN.value and first is not None:
            oldest[group.severity] = min(first, oldest.get(group.severity, first))
    return oldest


def _oldest_open_ages(oldest: Mapping[str, float], now: float) -> Metric:
    family = GaugeMetricFamily(
        "vigil_findings_oldest_open_age_seconds",
        "Age of the oldest open finding of each severity.",
        labels=["severity"],
    )
    for severity in SEVERITY_ORDER:
        if severity.value in oldest:
            family.add_metric([severity.value], max(0.0, now - oldest[severity.value]))
    return family


def _certificate_family(certificates: Iterable[queries.Certificate]) -> Metric:
    family = GaugeMetricFamily(
        "vigil_certificate_not_after_seconds",
        "When each certificate expires, as Unix time (alert on this minus time()).",
        labels=["source", "account", "region", "name", "common_name", "id"],
    )
    for cert in certificates:
        if cert.not_after is not None:
            labels = [cert.source, cert.account, cert.region, cert.name, cert.common_name]
            family.add_metric([*labels, cert.native_id], cert.not_after.timestamp())
    return family


def _backup_family(backups: Iterable[queries.Backup]) -> Metric:
    family = GaugeMetricFamily(
        "vigil_backup_newest_timestamp_seconds",
        "Newest restore point of each protected disk or database, as Unix time.",
        labels=["source", "account", "region", "type", "name", "id"],
    )
    for backup in backups:
        labels = [backup.source, backup.account, backup.region, backup.type, backup.name]
        family.add_metric([*labels, backup.native_id], backup.newest.timestamp())
    return family


def _scope_families(scopes: list[queries.ScopeHealth]) -> Iterator[Metric]:
    success = GaugeMetricFamily(
        "vigil_scope_last_success_timestamp_seconds",
        "When each scope last completed, as Unix time.",
        labels=SCOPE_LABELS,
    )
    duration = GaugeMetricFamily(
        "vigil_scope_last_duration_seconds",
        "How long each scope's newest finished run took.",
        labels=SCOPE_LABELS,
    )
    status = GaugeMetricFamily(
        "vigil_scope_status",
        "Status of each scope's newest run: 1 for the current state, 0 for the others.",
        labels=[*SCOPE_LABELS, "status"],
    )
    errors = CounterMetricFamily(
        "vigil_scope_errors", "Runs of each scope that failed.", labels=SCOPE_LABELS
    )
    for scope in scopes:
        labels = [scope.source, scope.account, scope.region, scope.type]
        if (last := _ts(scope.last_success)) is not None:
            success.add_metric(labels, last)
        if scope.last_duration_seconds is not None:
            duration.add_metric(labels, scope.last_duration_seconds)
        for state in SCOPE_STATES:
            status.add_metric([*labels, state], 1.0 if scope.status == state else 0.0)
        errors.add_metric(labels, scope.errors_total)
    return iter((success, duration, status, errors))


def stale(
    scope: queries.ScopeHealth, interval: float, now: float, newest_success: float | None
) -> bool:
    """Whether a scope's data is stale: no success within STALE_INTERVALS intervals.

    A plan pseudo-scope (type `*`, recorded when a source could not even be listed) counts
    only until any scope of its source succeeds after it.
    """
    window = STALE_INTERVALS * interval
    if scope.type == "*":
        started = _ts(scope.started_at) or 0.0
        return scope.status == "failed" and (newest_success or 0.0) < started
    last = _ts(scope.last_success)
    if last is not None:
        return now - last > window
    if scope.status == "failed":
        return True
    return now - (_ts(scope.started_at) or now) > window


def _stale_scopes(
    scopes: Iterable[queries.ScopeHealth], intervals: Mapping[str, float], now: float
) -> Metric:
    family = GaugeMetricFamily(
        "vigil_scopes_stale",
        f"Scopes of each source with no success in the last {STALE_INTERVALS} intervals.",
        labels=["source"],
    )
    scopes = [s for s in scopes if not intervals or s.source in intervals]
    newest: dict[str, float] = {}
    for scope in scopes:
        if (last := _ts(scope.last_success)) is not None:
            newest[scope.source] = max(last, newest.get(scope.source, last))
    counts = dict.fromkeys(intervals, 0)
    default = min(intervals.values(), default=900.0)
    for scope in scopes:
        interval = intervals.get(scope.source, default)
        counts.setdefault(scope.source, 0)
        counts[scope.source] += stale(scope, interval, now, newest.get(scope.source))
    for source, count in sorted(counts.items()):
        family.add_metric([source], count)
    return family


def _build_info() -> Metric:
    family = GaugeMetricFamily(
        "vigil_build_info", "Vigil's version; always 1.", labels=["version", "python_version"]
    )
    family.add_metric([__version__, platform.python_version()], 1)
    return family


def _cycle_families(status: CycleStatus) -> Iterator[Metric]:
    cycles = CounterMetricFamily(
        "vigil_cycles",
        "Cycles (collect, check, notify) this daemon ran, by outcome.",
        labels=["outcome"],
    )
    for outcome in OUTCOMES:
        cycles.add_metric([outcome], status.outcomes.get(outcome, 0))
    yield cycles
    yield GaugeMetricFamily(
        "vigil_daemon_start_timestamp_seconds",
        "When this daemon started, as Unix time.",
        value=status.started_at.timestamp(),
    )
    last = GaugeMetricFamily(
        "vigil_cycle_last_success_timestamp_seconds",
        "When a cycle last finished with its check run, as Unix time.",
    )
    if status.last_success is not None:
        last.add_metric([], status.last_success.timestamp())
    yield last
    seconds = GaugeMetricFamily(
        "vigil_cycle_last_duration_seconds", "How long the last finished cycle took."
    )
    if status.last_seconds is not None:
        seconds.add_metric([], status.last_seconds)
    yield seconds


class _Fixed:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def render(families: list[Metric], openmetrics: bool, end: bool) -> bytes:
    """`families` in the text format, or OpenMetrics (whose `# EOF` only the last part has)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))  # type: ignore[arg-type]
    if not openmetrics:
        return generate_latest(registry)
    text = openmetrics_latest(registry)
    return text if end else text.removesuffix(b"# EOF\n")


def registry_for(collector: VigilCollector) -> CollectorRegistry:
    """A registry holding only Vigil's collector (no process or GC metrics of the client)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


ReadyCheck = Callable[[], tuple[bool, str]]


class MetricsServer:
    """HTTP(S) on `metrics.listen`: `/metrics`, `/healthz` (alive), `/readyz` (`ready()`)."""

    def __init__(
        self,
        collector: VigilCollector,
        address: tuple[str, int],
        *,
        ready: ReadyCheck,
        tls: tuple[str, str] | None = None,
    ) -> None:
        handler = _handler(collector, ready)
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        server_class = type(
            "_Server", (_QuietServer,), {"address_family": family, "daemon_threads": True}
        )
        try:
            self.httpd = server_class(address, handler)
        except OSError as exc:
            raise MetricsListenError(address, exc) from None
        if tls is not None:
            # The handshake happens in the connection's own thread, on first read: a slow or
            # plain-HTTP client cannot stall the accept loop.
            self.httpd.socket = _tls_context(*tls).wrap_socket(
                self.httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="vigil-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hung up or spoke plain HTTP to HTTPS: not worth a traceback.
        log.debug("metrics connection from %s failed", client_address, exc_info=True)


class MetricsListenError(VigilError):
    """`metrics.listen` cannot be bound (in use, or not an address of this machine)."""

    exit_code = 2

    def __init__(self, address: tuple[str, int], exc: OSError) -> None:
        super().__init__(
            f"cannot listen on {address[0]}:{address[1]} (metrics.listen): {exc.strerror}; "
            "pick a free port or another address in the config's metrics.listen"
        )


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"metrics.tls_cert / metrics.tls_key: cannot load {cert} and {key}: {exc}",
            fix="point tls_cert at a PEM certificate (chain) and tls_key at its PEM private key",
        ) from None
    return context


def _handler(collector: VigilCollector, ready: ReadyCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"vigil/{__version__}"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                om = "application/openmetrics-text" in self.headers.get("Accept", "")
                body = collector.exposition(openmetrics=om)
                self._send(200, body, OPENMETRICS_TYPE if om else CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b"ok\n")
            elif path == "/readyz":
                ok, reason = ready()
                self._send(200 if ok else 503, f"{reason}\n".encode())
            elif path == "/":
                self._send(200, b"vigil exporter: /metrics /healthz /readyz\n")
            else:
                self._send(404, b"not found: try /metrics, /healthz or /readyz\n")

        def _send(self, code: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http %s", format % args)

    return Handler

"""Metric families built from storage aggregates and the daemon's status (pure functions).

Every family is built whole from what storage says at a refresh (or the clock at a scrape),
never mutated in place: a series disappears when its subject does. Label sets are bounded by
sources, accounts, regions, types, rules and scopes, except one series per certificate and
per protected disk or database, by design (Prometheus users alert on each).
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.registry import CollectorRegistry

from storage import findings, inventory, runs
from vigil import __version__
from vigil.app.cycle import OUTCOMES, CycleStatus
from vigil.app.metrics import snapshot
from vigil.core.facts import STALE_AFTER_INTERVALS
from vigil.core.model import SEVERITY_ORDER, FindingStatus, RunStatus

SCOPE_LABELS = ["source", "account", "region", "type"]
SCOPE_STATES = (RunStatus.COMPLETE, RunStatus.FAILED, RunStatus.RUNNING)
"""A scope is stale when its last success is older than this many of its source's intervals
(the same window as the `collector.failing` rule's default)."""


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def static_families(
    aggregates: snapshot.Aggregates, outbox: Mapping[str, int], intervals: Mapping[str, float]
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


def _inventory_families(aggregates: snapshot.Aggregates) -> Iterator[Metric]:
    labels = list(inventory.RESOURCE_LABELS)
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


def _finding_families(groups: Iterable[findings.FindingGroup]) -> Iterator[Metric]:
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


def oldest_open(groups: Iterable[findings.FindingGroup]) -> dict[str, float]:
    oldest: dict[str, float] = {}
    for group in groups:
        first = _ts(group.oldest_first_seen)
        if group.status == FindingStatus.OPEN.value and first is not None:
            oldest[group.severity] = min(first, oldest.get(group.severity, first))
    return oldest


def oldest_open_ages(oldest: Mapping[str, float], now: float) -> Metric:
    family = GaugeMetricFamily(
        "vigil_findings_oldest_open_age_seconds",
        "Age of the oldest open finding of each severity.",
        labels=["severity"],
    )
    for severity in SEVERITY_ORDER:
        if severity.value in oldest:
            family.add_metric([severity.value], max(0.0, now - oldest[severity.value]))
    return family


def _certificate_family(certificates: Iterable[inventory.Certificate]) -> Metric:
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


def _backup_family(backups: Iterable[inventory.Backup]) -> Metric:
    family = GaugeMetricFamily(
        "vigil_backup_newest_timestamp_seconds",
        "Newest restore point of each protected disk or database, as Unix time.",
        labels=["source", "account", "region", "type", "name", "id"],
    )
    for backup in backups:
        labels = [backup.source, backup.account, backup.region, backup.type, backup.name]
        family.add_metric([*labels, backup.native_id], backup.newest.timestamp())
    return family


def _scope_families(scopes: list[runs.ScopeHealth]) -> Iterator[Metric]:
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
    scope: runs.ScopeHealth, interval: float, now: float, newest_success: float | None
) -> bool:
    """Whether a scope's data is stale: no success within STALE_AFTER_INTERVALS intervals.

    A plan pseudo-scope (type `*`, recorded when a source could not even be listed) counts
    only until any scope of its source succeeds after it.
    """
    window = STALE_AFTER_INTERVALS * interval
    if scope.type == "*":
        started = _ts(scope.started_at) or 0.0
        return scope.status == RunStatus.FAILED and (newest_success or 0.0) < started
    last = _ts(scope.last_success)
    if last is not None:
        return now - last > window
    if scope.status == RunStatus.FAILED:
        return True
    return now - (_ts(scope.started_at) or now) > window


def stale_scopes(
    scopes: Iterable[runs.ScopeHealth], intervals: Mapping[str, float], now: float
) -> Metric:
    family = GaugeMetricFamily(
        "vigil_scopes_stale",
        f"Scopes of each source with no success in the last {STALE_AFTER_INTERVALS} intervals.",
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


def build_info() -> Metric:
    family = GaugeMetricFamily(
        "vigil_build_info", "Vigil's version; always 1.", labels=["version", "python_version"]
    )
    family.add_metric([__version__, platform.python_version()], 1)
    return family


def cycle_families(status: CycleStatus) -> Iterator[Metric]:
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
    registry.register(_Fixed(families))
    if not openmetrics:
        return generate_latest(registry)
    text: bytes = openmetrics_latest(registry)  # type: ignore[no-untyped-call]
    return text if end else text.removesuffix(b"# EOF\n")

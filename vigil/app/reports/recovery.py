"""The report's disaster-recovery section: per public entry point, every component behind it
with its backup, its last proven restore, its replicas and its zones.

Entry points and what sits behind them come from the stored links (storage/exposure.py): a
component is listed under each outermost entry point (the name users type) it is reachable
from. Links are the present ones, so the section is left out of `--as-of` reports rather
than mixing today's paths with yesterday's inventory. Every status says "unknown" where the
inventory cannot tell (no restore evidence read, links unknown, snapshots where the resource
lives not known), never "none": backups are judged with the rules' own knowledge test
(`rules.backup.snapshots_known`, the table's scope known) and the configured
`backup.missing` params (what needs a backup).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from rules.backup import (
    BackupMissing,
    BackupParams,
    is_table,
    needs_backup,
    point_in_time_recovery,
    restore_history,
    snapshots_known,
    table_backed_up,
)
from rules.config import RulesConfig, own_params
from rules.view import InventoryView
from storage import inventory
from storage.db import Database
from storage.exposure import entry_points, outermost
from vigil.app.check import scope_states
from vigil.core.facts import USABLE_SNAPSHOT_STATES
from vigil.core.model import Resource, ResourceType, iso, utcnow
from vigil.core.timeutil import format_duration, instant_or_none

if TYPE_CHECKING:
    from vigil.app.reports.contents import Report

COMPONENT_TYPES = (
    ResourceType.LOAD_BALANCER.value,
    ResourceType.CDN.value,
    ResourceType.SERVER.value,
    ResourceType.DISK.value,
    ResourceType.DATABASE.value,
    ResourceType.CACHE.value,
    ResourceType.BUCKET.value,
    ResourceType.FUNCTION.value,
    ResourceType.KUBERNETES_CLUSTER.value,
)
"""What can sit behind an entry point and matters when a region or a resource is lost."""
COLUMNS = ("component", "type", "backup", "last_restore", "replicas", "zones")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Component:
    """One resource behind an entry point, with its recovery facts as short text."""

    uid: str
    type: str
    name: str
    backup: str
    last_restore: str
    replicas: str
    zones: str

    def to_dict(self) -> dict[str, str]:
        return {
            "uid": self.uid,
            "component": self.name,
            "type": self.type,
            "backup": self.backup,
            "last_restore": self.last_restore,
            "replicas": self.replicas,
            "zones": self.zones,
        }


@dataclass(frozen=True)
class EntryPointRecovery:
    """A public entry point and the components reachable from it."""

    name: str
    uid: str
    components: tuple[Component, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_point": self.name,
            "uid": self.uid,
            "components": [c.to_dict() for c in self.components],
        }


def backup_params(rules_config: RulesConfig | None) -> BackupParams:
    """The configured `backup.missing` params (what needs a backup), else the defaults."""
    configured = rules_config.params.get(BackupMissing.id, {}) if rules_config else {}
    return BackupParams.model_validate(own_params(configured))


def disaster_recovery(
    db: Database,
    sources: tuple[str, ...] = (),
    params: BackupParams | None = None,
    *,
    now: datetime | None = None,
) -> list[EntryPointRecovery]:
    """Every outermost entry point with its components, by entry point name."""
    params = params or BackupParams()
    # Scope states only: the knowledge test of the backup rules, on the same scope runs.
    known = InventoryView(
        now=now or utcnow(), scopes=scope_states(db), sources=frozenset(sources) or None
    )
    newest: dict[str, datetime] = {}
    candidates: dict[str, Resource] = {}
    for resource in inventory.inventory(db, inventory.InventoryFilter(sources=sources)):
        if resource.type == ResourceType.SNAPSHOT.value:
            _note_snapshot(resource, newest)
        elif resource.type in COMPONENT_TYPES:
            candidates[resource.uid] = resource
    if not candidates:
        return []
    with db.connect() as conn:
        exposure = entry_points(conn, candidates)
    behind: dict[tuple[str, str], list[Component]] = {}
    for uid, entries in exposure.items():
        for entry in outermost(entries or []):
            if entry.uid == uid:
                continue  # the entry point itself
            component = describe(candidates[uid], newest, params, known)
            behind.setdefault((entry.name, entry.uid), []).append(component)
    return [
        EntryPointRecovery(name, uid, tuple(sorted(found, key=lambda c: (c.type, c.name))))
        for (name, uid), found in sorted(behind.items())
    ]


def _note_snapshot(snapshot: Resource, newest: dict[str, datetime]) -> None:
    attributes = snapshot.attributes
    source = attributes.get("source_uid")
    if not source or str(attributes.get("state") or "").lower() not in USABLE_SNAPSHOT_STATES:
        return
    started = instant_or_none(attributes.get("started_at"))
    if started is not None and (source not in newest or started > newest[source]):
        newest[source] = started


def describe(
    resource: Resource, newest: dict[str, datetime], params: BackupParams, known: InventoryView
) -> Component:
    """A component's recovery facts, as the inventory knows them (`known`: scope states)."""
    return Component(
        uid=resource.uid,
        type=resource.type,
        name=resource.name or resource.native_id,
        backup=_backup(resource, newest, params, known),
        last_restore=_last_restore(resource),
        replicas=_replicas(resource),
        zones=_zones(resource),
    )


def _backup(
    resource: Resource, newest: dict[str, datetime], params: BackupParams, known: InventoryView
) -> str:
    if not needs_backup(resource, params):
        return "not needed"
    if is_table(resource):
        return _table_backup(resource, known)
    snapshot = newest.get(resource.uid)
    if snapshot is not None:
        return f"snapshot {iso(snapshot)}"
    if point_in_time_recovery(resource):
        return "point-in-time recovery"
    # No snapshot seen: "none" only where snapshots are known (unknown is not empty).
    return "none" if snapshots_known(known, resource) else UNKNOWN


def _table_backup(table: Resource, known: InventoryView) -> str:
    """A DynamoDB table's own backups: point-in-time recovery, on-demand backups (counted by
    `on_demand_backups`; `latest_backup_at` may be absent when AWS gave no creation time)."""
    attributes = table.attributes
    backed_up = table_backed_up(table)
    if attributes.get("point_in_time_recovery") is True:
        return "point-in-time recovery"
    if backed_up is True:
        latest = attributes.get("latest_backup_at")
        count = attributes.get("on_demand_backups")
        return f"on-demand backup {latest}" if latest else f"{count} on-demand (time unknown)"
    if backed_up is False and known.observed(table):
        return "none"
    return UNKNOWN  # not read, or its scope is not known lately


def _last_restore(resource: Resource) -> str:
    attributes = resource.attributes
    if not attributes.get("restore_evidence"):
        return UNKNOWN
    at = attributes.get("last_restore_at")
    if not at:
        history = restore_history(resource)
        return f"none in the last {format_duration(history)}" if history else "none on record"
    kind = attributes.get("last_restore_kind")
    return f"{at} (restore test)" if kind == "restore_test" else str(at)


def _replicas(resource: Resource) -> str:
    attributes = resource.attributes
    source = attributes.get("replica_of")
    if source:
        return f"replica of {source}"
    replicas = [str(r) for r in attributes.get("replicas") or []]
    if replicas:
        return f"{len(replicas)}: {', '.join(replicas)}"
    if resource.type in (ResourceType.DATABASE.value, ResourceType.CACHE.value):
        return "none" if "replicas" in attributes else UNKNOWN
    return "—"


def _zones(resource: Resource) -> str:
    attributes = resource.attributes
    zones = [str(z) for z in attributes.get("zones") or []]
    single = attributes.get("availability_zone")
    if attributes.get("multi_az") is True and not zones:
        return "multi-AZ"
    if len(zones) > 1:
        return f"{len(zones)} zones ({', '.join(zones)})"
    if zones or single:
        return f"single zone ({zones[0] if zones else single})"
    return "—"


def rows(entries: Iterable[EntryPointRecovery]) -> Iterator[dict[str, str]]:
    """One row per (entry point, component), for tables."""
    for entry in entries:
        for component in entry.components:
            yield {"entry_point": entry.name} | component.to_dict()


def report_section(report: Report) -> list[EntryPointRecovery] | None:
    """The section's entries for `report`; None for an `--as-of` report (links are today's)."""
    if report.params.as_of_given:
        return None
    return disaster_recovery(
        report.db,
        report.params.sources,
        backup_params(report.rules_config),
        now=report.params.at,
    )


def write_html_section(report: Report) -> Iterator[str]:
    """The HTML section: one table per entry point (every value escaped)."""
    entries = report_section(report)
    yield "<h2>Disaster recovery</h2>"
    if entries is None:
        yield (
            '<p class="meta">Not shown for a report as of a past time: entry points come '
            "from today's links.</p>\n"
        )
        return
    yield (
        '<p class="meta">Per public entry point, the components reachable from it. '
        "<i>unknown</i>: the inventory cannot tell (restores not read, snapshots not collected, "
        "links unknown).</p>\n"
    )
    if not entries:
        yield "<p>No component is reachable from a public entry point (or links are unknown).</p>\n"
    headers = ("Component", "Type", "Backup", "Last proven restore", "Replicas", "Zones")
    for entry in entries:
        yield f"<h3>{escape(entry.name)}</h3>"
        yield "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead>"
        yield "<tbody>\n"
        for c in entry.components:
            cells = (c.name, c.type, c.backup, c.last_restore, c.replicas, c.zones)
            yield "<tr>" + "".join(f"<td>{escape(v, quote=True)}</td>" for v in cells) + "</tr>\n"
        yield "</tbody></table>\n"

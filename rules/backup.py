"""Backup rules: resources that need a backup and have none, or none recent enough.

What needs a backup: every disk attached to a server, every database, and anything tagged
`backup=required`; a `backup` tag of `exempt` or `none` opts out. A backup is a usable
snapshot whose `source_uid` is the resource's uid; for a database with point-in-time recovery
(`backup_retention_days` > 0, or DynamoDB's `point_in_time_recovery`), `latest_restorable_time`
counts as one too: a volatile attribute, current as of the last completed scan of its scope.
"No backup" is only inferred where snapshots are known: the snapshot scope of the resource's
own source, account and region is known (DESIGN.md, Invariants). Elsewhere the backup state is
unknown: no finding opens and a stored one keeps its status, while `collector.failing` reports
the scope.

Restore evidence (`backup.restore_untested`) is read from the resource's own attributes, set by
the scope that owns it: `restore_evidence` names where restores were read (`aws_backup`,
`command`, `file`) and is null when they could not be read; `last_restore_at` is the newest
successful restore or restore test (null: none); `restore_history_days`, when set, is how far
back the record reaches (AWS Backup lists 30 days of jobs), so "none" means none that recently.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from pydantic import Field

from rules.base import describe, finding
from rules.compliance import Controls
from rules.view import InventoryView
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import Duration, StrictModel
from vigil.core.timeutil import format_duration, instant_or_none, parse_duration

_TYPES = (
    ResourceType.DISK.value,
    ResourceType.DATABASE.value,
    ResourceType.SERVER.value,
    ResourceType.BUCKET.value,
)
_COMPLIANCE: Controls = {
    "soc2-2017": ("A1.2",),
    "iso27001-2022": ("A.8.13",),
    "gdpr": ("Art. 32(1)(c)",),
    "hipaa": ("164.308(a)(7)(ii)(A)",),
}


class BackupParams(StrictModel):
    """`rules.params.backup.*`: the tag that opts in or out, and the default RPO."""

    tag: str = "backup"
    required_values: list[str] = Field(default_factory=lambda: ["required"])
    exempt_values: list[str] = Field(default_factory=lambda: ["exempt", "none"])
    rpo_tag: str = "backup-rpo"
    default_rpo: Duration = timedelta(days=7)


def needs_backup(resource: Resource, params: BackupParams) -> bool:
    """Attached disks, databases and resources tagged as required, unless tagged exempt."""
    value = resource.tags.get(params.tag, "").strip().lower()
    if value in params.exempt_values:
        return False
    if value in params.required_values:
        return True
    if resource.type == ResourceType.DATABASE:
        return True
    return resource.type == ResourceType.DISK and bool(resource.attributes.get("attached_to"))


def retention_off(resource: Resource) -> bool:
    """A database whose automated backups are switched off (retention 0 days)."""
    return (
        resource.type == ResourceType.DATABASE
        and resource.attributes.get("backup_retention_days") == 0
    )


def point_in_time_recovery(resource: Resource) -> bool:
    """A database that can be restored to any recent moment: automated backups on (RDS,
    retention above 0 days) or DynamoDB's point-in-time recovery enabled."""
    if resource.type != ResourceType.DATABASE:
        return False
    retention = resource.attributes.get("backup_retention_days")
    enabled = resource.attributes.get("point_in_time_recovery") is True
    return enabled or (isinstance(retention, int) and retention > 0)


def restore_point(resource: Resource) -> datetime | None:
    """A database's latest restorable time, when point-in-time recovery is on (else None)."""
    if not point_in_time_recovery(resource):
        return None
    return instant_or_none(resource.attributes.get("latest_restorable_time"))


def is_table(resource: Resource) -> bool:
    """A DynamoDB table: its backups are its own (point-in-time recovery, on-demand backups),
    never snapshots, so it is judged on its attributes alone."""
    return resource.type == ResourceType.DATABASE and resource.attributes.get("kind") == "table"


def table_backed_up(resource: Resource) -> bool | None:
    """Whether a table has point-in-time recovery or an on-demand backup; None when unknown."""
    pitr = resource.attributes.get("point_in_time_recovery")
    backups = resource.attributes.get("on_demand_backups")
    if pitr is True or (isinstance(backups, int) and backups > 0):
        return True
    if pitr is False and backups == 0:
        return False
    return None


def _automated(resource: Resource) -> bool:
    retention = resource.attributes.get("backup_retention_days")
    return resource.type == ResourceType.DATABASE and isinstance(retention, int) and retention > 0


class BackupMissing:
    """A disk or database that needs a backup and has none of its own, or has backups off."""

    id = "backup.missing"
    title = "Backup missing"
    severity = Severity.HIGH
    resource_types = _TYPES
    params_model = BackupParams
    remediation = (
        "Schedule snapshots (AWS Backup or Data Lifecycle Manager) for the resource, or set "
        "backup retention above 0 for the database. If it needs no backup, tag it backup=exempt."
    )
    compliance = _COMPLIANCE

    def evaluate(self, view: InventoryView, params: BackupParams) -> Iterator[Finding]:
        for resource in view.of_type(*self.resource_types):
            if not needs_backup(resource, params):
                continue
            if is_table(resource):
                yield from self._judge_table(view, resource)
            elif retention_off(resource):
                yield finding(
                    self,
                    resource,
                    f"database {describe(resource)} has automated backups switched off "
                    "(retention 0 days)",
                    "backup_retention_days is 0: no automated backups, no point-in-time restore.",
                    evidence={"backup_retention_days": 0},
                )
            elif resource.uid in view.newest_backup or _automated(resource):
                continue
            elif not snapshots_known(view, resource):
                # Snapshots there were never collected, or not lately: unknown, not empty.
                view.undecided(self.id, resource.uid)
            else:
                yield finding(
                    self,
                    resource,
                    f"{resource.type} {describe(resource)} has no backup",
                    f"No snapshot in the inventory has source_uid {resource.uid}.",
                    evidence={"snapshots": 0, "reason": _why_needed(resource, params)},
                )

    def _judge_table(self, view: InventoryView, resource: Resource) -> Iterator[Finding]:
        backed_up = table_backed_up(resource)
        if backed_up is None or not view.observed(resource):
            view.undecided(self.id, resource.uid)
        elif not backed_up:
            yield finding(
                self,
                resource,
                f"table {describe(resource)} has neither point-in-time recovery nor a backup",
                "point_in_time_recovery: false; on_demand_backups: 0.",
                evidence={"point_in_time_recovery": False, "on_demand_backups": 0},
            )


def snapshots_known(view: InventoryView, resource: Resource) -> bool:
    """Whether the snapshots where `resource` lives (its source, account, region) are known."""
    return view.known_beside(resource, ResourceType.SNAPSHOT.value)


def _why_needed(resource: Resource, params: BackupParams) -> str:
    if resource.tags.get(params.tag, "").strip().lower() in params.required_values:
        return f"tagged {params.tag}={resource.tags[params.tag]}"
    if resource.type == ResourceType.DATABASE:
        return "every database needs a backup"
    return "attached to " + ", ".join(map(str, resource.attributes.get("attached_to") or []))


class BackupStale:
    """A resource whose newest backup is older than its RPO.

    The RPO is the resource's `backup-rpo` tag (`24h`, `7d`), else `default_rpo` (7 days).
    """

    id = "backup.stale"
    title = "Backup older than its RPO"
    severity = Severity.MEDIUM
    resource_types = _TYPES
    params_model = BackupParams
    remediation = (
        "Check why the backup schedule stopped (AWS Backup job history, DLM policy state) "
        "and take a snapshot now."
    )
    compliance = _COMPLIANCE

    def _judged(self, view: InventoryView, resource: Resource, rpo: timedelta) -> datetime | None:
        """The newest restore point when it is older than `rpo` and nothing newer can hide in
        an unknown input; else None (fresh enough, no backup at all, or undecided).

        A snapshot counts where snapshots are known; a latest restorable time where the
        database's own scope is known (it is as fresh as the last completed scan of it).
        """
        if is_table(resource):
            return self._judged_table(view, resource, rpo)
        snapshot, point = view.newest_backup.get(resource.uid), restore_point(resource)
        if snapshot is None and point is None:
            return None  # no backup at all: backup.missing's finding
        snapshots = snapshots_known(view, resource)
        points = point is None or view.known_beside(resource, resource.type)
        known = [t for t, ok in ((snapshot, snapshots), (point, points)) if t and ok]
        newest = max(known, default=None)
        if newest is not None and view.now - newest <= rpo:
            return None  # a known restore point within the RPO
        if not (snapshots and points):
            view.undecided(self.id, resource.uid)  # a newer one may exist unseen
            return None
        return newest

    def _judged_table(
        self, view: InventoryView, table: Resource, rpo: timedelta
    ) -> datetime | None:
        """A table's newest on-demand backup when older than `rpo`. Point-in-time recovery
        keeps a restore point minutes old at all times (AWS does not report it here)."""
        if table.attributes.get("point_in_time_recovery") is True:
            return None
        newest = instant_or_none(table.attributes.get("latest_backup_at"))
        if newest is None or view.now - newest <= rpo:
            return None
        if not view.observed(table):
            view.undecided(self.id, table.uid)
            return None
        return newest

    def evaluate(self, view: InventoryView, params: BackupParams) -> Iterator[Finding]:
        for resource in view.of_type(*self.resource_types):
            if not needs_backup(resource, params) or retention_off(resource):
                continue
            rpo, rpo_from = rpo_of(resource, params)
            newest = self._judged(view, resource, rpo)
            if newest is None:
                continue
            age = view.now - newest
            yield finding(
                self,
                resource,
                f"{resource.type} {describe(resource)} newest backup is "
                f"{format_duration(age)} old (RPO {format_duration(rpo)})",
                f"Newest restore point {newest:%Y-%m-%d %H:%M}Z; RPO from {rpo_from}.",
                evidence={
                    "newest_backup": newest.isoformat(),
                    "age_seconds": int(age.total_seconds()),
                    "rpo_seconds": int(rpo.total_seconds()),
                    "rpo_from": rpo_from,
                },
            )


def rpo_of(resource: Resource, params: BackupParams) -> tuple[timedelta, str]:
    """The resource's RPO and where it came from; an unreadable tag falls back, and says so."""
    tagged = resource.tags.get(params.rpo_tag)
    if tagged:
        try:
            return parse_duration(tagged), f"tag {params.rpo_tag}={tagged}"
        except ValueError:
            return params.default_rpo, f"default (tag {params.rpo_tag}={tagged!r} is unreadable)"
    return params.default_rpo, "default_rpo"


RESTORE_TIME = "last_restore_at"
RESTORE_SOURCE = "restore_evidence"
RESTORE_HISTORY = "restore_history_days"


class RestoreParams(BackupParams):
    """`rules.params.backup.restore_untested`: the backup tag settings, and how recent the
    newest proven restore must be (a hosts source's `restore_evidence.max_age` overrides it)."""

    max_age: Duration = timedelta(days=90)


class RestoreUntested:
    """A resource that needs a backup and has no successful restore (or AWS Backup restore test)
    within `max_age` (default 90 days): a backup nobody has restored is a hope, not a backup.

    ```yaml
    rules:
      params:
        backup.restore_untested: {max_age: 30d}
    ```

    Judged only where restores were read: `restore_evidence` set and the resource's scope known.
    Aurora cluster members and replicas are judged through their cluster or source. "None on
    record" is judged only where the evidence reaches back `max_age`: AWS Backup's job listing
    keeps `restore_history_days` (30) of history, so with a longer `max_age` a resource with no
    restore job listed is undecided.
    """

    id = "backup.restore_untested"
    title = "Backup restore not tested"
    severity = Severity.MEDIUM
    resource_types = _TYPES
    params_model = RestoreParams
    remediation = (
        "Restore the newest backup into a scratch environment and check the data, or schedule "
        "an AWS Backup restore testing plan for the resource type; on a host, have the restore "
        "drill record its success where restore_evidence reads it."
    )
    compliance = _COMPLIANCE

    def evaluate(self, view: InventoryView, params: RestoreParams) -> Iterator[Finding]:
        for resource in view.of_type(*self.resource_types):
            attributes = resource.attributes
            if not needs_backup(resource, params) or attributes.get("cluster"):
                continue
            if attributes.get("replica_of"):
                continue  # a copy: its source's restores prove the data
            max_age, max_age_from = restore_max_age(resource, params)
            last = instant_or_none(attributes.get(RESTORE_TIME))
            if last is not None and view.now - last <= max_age:
                continue
            if not attributes.get(RESTORE_SOURCE) or not view.observed(resource):
                view.undecided(self.id, resource.uid)  # restores were not read: unknown
                continue
            if attributes.get("restores_unattributed") is True:
                # Completed restores that name no resource: one of them may be this one's.
                view.undecided(self.id, resource.uid)
                continue
            if last is None and not history_covers(resource, max_age):
                # None in the listed history, and the listing does not reach back max_age.
                view.undecided(self.id, resource.uid)
                continue
            yield self._finding(view, resource, last, max_age, max_age_from)

    def _finding(
        self,
        view: InventoryView,
        resource: Resource,
        last: datetime | None,
        max_age: timedelta,
        max_age_from: str,
    ) -> Finding:
        attributes = resource.attributes
        plans = list(attributes.get("restore_test_plans") or [])
        evidence: dict[str, object] = {
            "last_restore_at": last.isoformat() if last else None,
            "max_age_seconds": int(max_age.total_seconds()),
            "max_age_from": max_age_from,
            "restore_evidence": attributes.get(RESTORE_SOURCE),
            "restore_test_plans": plans,
        }
        if last is None:
            title = (
                f"{resource.type} {describe(resource)} has no successful restore on record "
                f"(max age {format_duration(max_age)})"
            )
            detail = f"No completed restore or restore test read from {attributes[RESTORE_SOURCE]}."
        else:
            age = view.now - last
            evidence["age_seconds"] = int(age.total_seconds())
            title = (
                f"{resource.type} {describe(resource)} last proven restore is "
                f"{format_duration(age)} old (max age {format_duration(max_age)})"
            )
            kind = attributes.get("last_restore_kind") or "restore"
            detail = (
                f"Newest successful restore {last:%Y-%m-%d %H:%M}Z ({kind}); "
                f"max age from {max_age_from}."
            )
        if plans:
            detail += f" Restore testing plans for its type: {', '.join(map(str, plans))}."
        return finding(self, resource, title, detail, evidence=evidence)


def restore_history(resource: Resource) -> timedelta | None:
    """How far back the resource's restore evidence reaches (`restore_history_days`, set by
    AWS Backup: its job listing keeps a bounded history); None: the whole record was read."""
    days = resource.attributes.get(RESTORE_HISTORY)
    if isinstance(days, int) and not isinstance(days, bool) and days > 0:
        return timedelta(days=days)
    return None


def history_covers(resource: Resource, max_age: timedelta) -> bool:
    """Whether "no restore on record" proves "none within `max_age`": the evidence reaches back
    at least that far."""
    history = restore_history(resource)
    return history is None or max_age <= history


def restore_max_age(resource: Resource, params: RestoreParams) -> tuple[timedelta, str]:
    """The resource's own `restore_max_age_seconds` (a hosts source's setting), else the param."""
    seconds = resource.attributes.get("restore_max_age_seconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
        return timedelta(seconds=seconds), "the source's restore_evidence.max_age"
    return params.max_age, "max_age"

"""Aggregates for the Prometheus exporter: every count is a GROUP BY in SQL.

The exporter reads these between cycles and caches them; a scrape never runs them. Each query
returns one row per label set (bounded by sources, regions, types, rules and scopes) except
certificates and protected resources, which are one row each by design: Prometheus users
alert on each certificate's expiry and each disk's newest backup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.expressions import attribute, certificate_expiry
from storage.findings import findings_table
from storage.tables import ResourceRow, ScopeRunRow, to_utc
from vigil.core.facts import USABLE_SNAPSHOT_STATES
from vigil.core.model import FindingStatus, ResourceState, ResourceType, RunStatus

resources = ResourceRow.__table__  # type: ignore[attr-defined]
scope_runs = ScopeRunRow.__table__  # type: ignore[attr-defined]

RESOURCE_LABELS = ("source", "provider", "account", "region", "type")


@dataclass(frozen=True)
class FindingGroup:
    rule: str
    severity: str
    status: str
    count: int
    oldest_first_seen: datetime | None


@dataclass(frozen=True)
class Certificate:
    source: str
    account: str
    region: str
    name: str
    native_id: str
    common_name: str
    not_after: datetime | None


@dataclass(frozen=True)
class Backup:
    """A disk or database with at least one restore point, and its newest one."""

    source: str
    account: str
    region: str
    type: str
    name: str
    native_id: str
    newest: datetime


@dataclass(frozen=True)
class ScopeHealth:
    source: str
    account: str
    region: str
    type: str
    status: str  # of the newest run: complete, failed or running
    started_at: datetime | None  # of the newest run
    last_success: datetime | None
    last_duration_seconds: float | None  # of the newest finished run
    errors_total: int


@dataclass(frozen=True)
class Aggregates:
    """Everything the exporter shows from storage, read in one pass."""

    resources: list[tuple[tuple[str, ...], int]]
    deleted_24h: list[tuple[tuple[str, ...], int]]
    findings: list[FindingGroup]
    certificates: list[Certificate]
    backups: list[Backup]
    scopes: list[ScopeHealth]


def read_aggregates(db: Database, *, now: datetime) -> Aggregates:
    """Run every exporter query in one read transaction (a consistent picture)."""
    with db.connect() as conn:
        return Aggregates(
            resources=resource_counts(conn),
            deleted_24h=resource_counts(conn, deleted_since=now - timedelta(hours=24)),
            findings=finding_groups(conn),
            certificates=certificates(conn),
            backups=backups(conn),
            scopes=scope_health(conn),
        )


def resource_counts(
    conn: Connection, *, deleted_since: datetime | None = None
) -> list[tuple[tuple[str, ...], int]]:
    """(source, provider, account, region, type) → present resources, or those deleted since."""
    columns = [resources.c[name] for name in RESOURCE_LABELS]
    query = sa.select(*columns, sa.func.count()).group_by(*columns)
    if deleted_since is None:
        query = query.where(resources.c.state == ResourceState.PRESENT.value)
    else:
        query = query.where(
            resources.c.state == ResourceState.DELETED.value,
            resources.c.deleted_at >= deleted_since,
        )
    return [(tuple(str(v) for v in row[:-1]), int(row[-1])) for row in conn.execute(query)]


def finding_groups(conn: Connection) -> list[FindingGroup]:
    """Open and silenced findings by rule and severity, with the oldest first-seen time."""
    table = findings_table
    query = (
        sa.select(
            table.c.rule,
            table.c.severity,
            table.c.status,
            sa.func.count(),
            sa.func.min(table.c.first_seen),
        )
        .where(table.c.status.in_((FindingStatus.OPEN.value, FindingStatus.SILENCED.value)))
        .group_by(table.c.rule, table.c.severity, table.c.status)
    )
    return [
        FindingGroup(row[0], row[1], row[2], int(row[3]), to_utc(row[4]))
        for row in conn.execute(query)
    ]


def certificates(conn: Connection) -> list[Certificate]:
    """Every present certificate with its expiry (the earliest of leaf and chain)."""
    query = sa.select(
        resources.c.source,
        resources.c.account,
        resources.c.region,
        resources.c.name,
        resources.c.native_id,
        attribute("common_name"),
        certificate_expiry(),
    ).where(
        resources.c.type == ResourceType.CERTIFICATE.value,
        resources.c.state == ResourceState.PRESENT.value,
    )
    return [
        Certificate(
            source=row[0],
            account=row[1],
            region=row[2],
            name=row[3] or "",
            native_id=row[4],
            common_name=row[5] or "",
            not_after=_time(row[6]),
        )
        for row in conn.execute(query)
    ]


def backups(conn: Connection) -> list[Backup]:
    """Disks and databases with a restore point: newest usable snapshot, or for a database
    its latest restorable time (automated backups), whichever is newer."""
    source_uid = attribute("source_uid")
    state = sa.func.lower(sa.func.coalesce(attribute("state"), ""))
    snapshots = (
        sa.select(
            source_uid.label("source_uid"), sa.func.max(attribute("started_at")).label("newest")
        )
        .where(
            resources.c.type == ResourceType.SNAPSHOT.value,
            resources.c.state == ResourceState.PRESENT.value,
            state.in_(USABLE_SNAPSHOT_STATES),
            source_uid.is_not(None),
        )
        .group_by(source_uid)
        .subquery("snapshots")
    )
    restorable = attribute("latest_restorable_time")
    query = (
        sa.select(
            resources.c.source,
            resources.c.account,
            resources.c.region,
            resources.c.type,
            resources.c.name,
            resources.c.native_id,
            snapshots.c.newest,
            restorable,
        )
        .select_from(resources.outerjoin(snapshots, snapshots.c.source_uid == resources.c.uid))
        .where(
            resources.c.type.in_((ResourceType.DISK.value, ResourceType.DATABASE.value)),
            resources.c.state == ResourceState.PRESENT.value,
            sa.or_(snapshots.c.newest.is_not(None), restorable.is_not(None)),
        )
    )
    found = []
    for row in conn.execute(query):
        times = [t for t in (_time(row[6]), _time(row[7])) if t is not None]
        if times:
            source, account, region, type_, name, native_id = (str(v or "") for v in row[:6])
            found.append(Backup(source, account, region, type_, name, native_id, max(times)))
    return found


def scope_health(conn: Connection) -> list[ScopeHealth]:
    """Per scope: newest run's status, last success, newest finished run's duration, and
    how many runs failed."""
    finished = scope_runs.c.status != RunStatus.RUNNING
    summary = (
        sa.select(
            scope_runs.c.scope_key,
            sa.func.max(scope_runs.c.id).label("newest"),
            sa.func.max(sa.case((finished, scope_runs.c.id))).label("newest_finished"),
            sa.func.max(
                sa.case((scope_runs.c.status == RunStatus.COMPLETE, scope_runs.c.finished_at))
            ).label("last_success"),
            sa.func.sum(sa.case((scope_runs.c.status == RunStatus.FAILED, 1), else_=0)).label(
                "errors"
            ),
        )
        .group_by(scope_runs.c.scope_key)
        .subquery("summary")
    )
    last = scope_runs.alias("last_finished")
    query = sa.select(
        scope_runs.c.source,
        scope_runs.c.account,
        scope_runs.c.region,
        scope_runs.c.type,
        scope_runs.c.status,
        scope_runs.c.started_at,
        summary.c.last_success,
        last.c.duration_seconds,
        summary.c.errors,
    ).select_from(
        summary.join(scope_runs, scope_runs.c.id == summary.c.newest).outerjoin(
            last, last.c.id == summary.c.newest_finished
        )
    )
    return [
        ScopeHealth(
            source=row[0],
            account=row[1],
            region=row[2],
            type=row[3],
            status=row[4],
            started_at=to_utc(row[5]),
            last_success=to_utc(row[6]),
            last_duration_seconds=float(row[7]) if row[7] is not None else None,
            errors_total=int(row[8] or 0),
        )
        for row in conn.execute(query)
    ]


def ping(db: Database) -> None:
    """A round trip to the database (raises when it is unreachable)."""
    with db.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


def _time(value: Any) -> datetime | None:
    """A stored ISO time attribute as aware UTC; None when missing or unparsable."""
    if not value:
        return None
    try:
        return to_utc(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None

"""What the exporter shows from storage, read in one transaction (a consistent picture).

Every count is a GROUP BY in SQL: one row per label set (bounded by sources, regions, types,
rules and scopes) except certificates and protected resources, which are one row each by
design: Prometheus users alert on each certificate's expiry and each disk's newest backup.
The collector reads a snapshot between cycles and caches it; a scrape never runs the queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage import findings, inventory, runs
from storage.db import Database


@dataclass(frozen=True)
class Aggregates:
    """Everything the exporter shows from storage."""

    resources: list[tuple[tuple[str, ...], int]]
    deleted_24h: list[tuple[tuple[str, ...], int]]
    findings: list[findings.FindingGroup]
    certificates: list[inventory.Certificate]
    backups: list[inventory.Backup]
    scopes: list[runs.ScopeHealth]


def read_aggregates(db: Database, *, now: datetime) -> Aggregates:
    """Run every exporter query in one read transaction."""
    with db.connect() as conn:
        return Aggregates(
            resources=inventory.resource_counts(conn),
            deleted_24h=inventory.resource_counts(conn, deleted_since=now - timedelta(hours=24)),
            findings=findings.finding_groups(conn),
            certificates=inventory.certificate_expiries(conn),
            backups=inventory.backups(conn),
            scopes=runs.scope_health(conn),
        )

"""Scope runs: which run of each scope the data reflects, and how each scope is doing.

A scope's newest *finished* run is what the inventory reflects (a run in flight has changed
nothing yet); its newest *completed* run is when it was last seen whole. Everything that asks
"is this scope known, stale, failing?" reads it here: the CLI's status table, the dashboard's
source health, the exporter's scope gauges, the reports' scope summaries and the findings
lifecycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.expressions import FINDINGS_WITH_RESOURCES
from storage.tables import findings_table, resources, scope_runs, to_utc
from vigil.core.model import FindingStatus, ResourceState, RunStatus, Severity, iso

_PRESENT = ResourceState.PRESENT.value
_OPEN = FindingStatus.OPEN.value
_SEVERE = (Severity.CRITICAL.value, Severity.HIGH.value)


def newest_finished_runs(at: datetime | None = None) -> sa.Subquery:
    """The id of each scope's newest *finished* run (complete or failed, by `at`).

    What the inventory reflects: a run still in flight has changed nothing yet.
    """
    query = sa.select(sa.func.max(scope_runs.c.id).label("id")).where(
        scope_runs.c.status.in_((RunStatus.COMPLETE, RunStatus.FAILED))
    )
    if at is not None:
        query = query.where(scope_runs.c.finished_at <= at)
    return query.group_by(scope_runs.c.scope_key).subquery("newest_finished")


def last_complete_by_scope(as_of: datetime | None = None) -> sa.Subquery:
    """scope_key -> finish time of its newest completed run (at or before `as_of`)."""
    query = sa.select(
        scope_runs.c.scope_key, sa.func.max(scope_runs.c.finished_at).label("last_complete")
    ).where(scope_runs.c.status == RunStatus.COMPLETE)
    if as_of is not None:
        query = query.where(scope_runs.c.finished_at <= as_of)
    return query.group_by(scope_runs.c.scope_key).subquery("last_complete")


@dataclass(frozen=True)
class ScopeStatus:
    """The newest run of one scope and when it last completed."""

    scope_key: str
    source: str
    provider: str
    account: str
    region: str
    type: str
    status: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    last_complete: datetime | None
    failures_total: int
    throttled: int = 0  # throttling answers the newest run received


def scope_statuses(db: Database, *, source: str | None = None) -> list[ScopeStatus]:
    """One line per scope ever run: its newest run, last success and failure count."""
    newest = (
        sa.select(sa.func.max(scope_runs.c.id).label("id"))
        .group_by(scope_runs.c.scope_key)
        .subquery("newest")
    )
    complete = last_complete_by_scope()
    failures = (
        sa.select(scope_runs.c.scope_key, sa.func.count().label("failures"))
        .where(scope_runs.c.status == RunStatus.FAILED)
        .group_by(scope_runs.c.scope_key)
        .subquery("failures")
    )
    query = (
        sa.select(scope_runs, complete.c.last_complete, failures.c.failures)
        .select_from(
            scope_runs.join(newest, newest.c.id == scope_runs.c.id)
            .outerjoin(complete, complete.c.scope_key == scope_runs.c.scope_key)
            .outerjoin(failures, failures.c.scope_key == scope_runs.c.scope_key)
        )
        .order_by(scope_runs.c.scope_key)
    )
    if source:
        query = query.where(scope_runs.c.source == source)
    with db.connect() as conn:
        return [
            ScopeStatus(
                scope_key=row["scope_key"],
                source=row["source"],
                provider=row["provider"],
                account=row["account"],
                region=row["region"],
                type=row["type"],
                status=row["status"],
                error=row["error"],
                started_at=row["started_at"],
                finished_at=row["finished_at"],
                duration_seconds=row["duration_seconds"],
                last_complete=to_utc(row["last_complete"]),
                failures_total=int(row["failures"] or 0),
                throttled=row["throttled"],
            )
            for row in conn.execute(query).mappings()
        ]


def finished_status(conn: Connection) -> dict[str, str]:
    """scope_key → status of its newest finished (complete or failed) run."""
    newest = newest_finished_runs()
    query = sa.select(scope_runs.c.scope_key, scope_runs.c.status).join(
        newest, newest.c.id == scope_runs.c.id
    )
    return {row.scope_key: row.status for row in conn.execute(query)}


@dataclass(frozen=True)
class SourceHealth:
    """A source's health score and the figures it is made of."""

    source: str
    resources: int
    affected: int  # present resources with an open critical or high finding
    scopes: int
    scopes_ok: int  # scopes whose newest finished run completed
    score: int | None  # None until the source has finished a scan


HEALTH_FORMULA = (
    "score = 100 × (1 − resources with an open critical or high finding ÷ resources)"
    " × (scopes whose last run completed ÷ scopes)"
)


def source_health(db: Database) -> list[SourceHealth]:
    """Per source: HEALTH_FORMULA, from three grouped queries."""
    sizes = (
        sa.select(resources.c.source, sa.func.count())
        .where(resources.c.state == _PRESENT)
        .group_by(resources.c.source)
    )
    affected = (
        sa.select(resources.c.source, sa.func.count(sa.distinct(findings_table.c.resource_uid)))
        .select_from(FINDINGS_WITH_RESOURCES)
        .where(findings_table.c.status == _OPEN, findings_table.c.severity.in_(_SEVERE))
        .where(resources.c.state == _PRESENT)
        .group_by(resources.c.source)
    )
    newest = newest_finished_runs()
    scopes = (
        sa.select(
            scope_runs.c.source,
            sa.func.count(),
            sa.func.sum(sa.case((scope_runs.c.status == RunStatus.COMPLETE, 1), else_=0)),
        )
        .join(newest, newest.c.id == scope_runs.c.id)
        .group_by(scope_runs.c.source)
    )
    with db.connect() as conn:
        size = {row[0]: int(row[1]) for row in conn.execute(sizes)}
        hit = {row[0]: int(row[1]) for row in conn.execute(affected)}
        runs = {row[0]: (int(row[1]), int(row[2] or 0)) for row in conn.execute(scopes)}
    return [
        _health(name, size.get(name, 0), hit.get(name, 0), *runs.get(name, (0, 0)))
        for name in sorted(size.keys() | runs.keys())
    ]


def _health(source: str, total: int, affected: int, scopes: int, ok: int) -> SourceHealth:
    score = None
    if scopes:
        clean = 1 - min(affected, total) / total if total else 1.0
        score = round(100 * clean * ok / scopes)
    return SourceHealth(source, total, affected, scopes, ok, score)


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


@dataclass(frozen=True)
class ScopeSummary:
    """One scope at the report time: its newest finished run and its last completion."""

    scope_key: str
    source: str
    provider: str
    account: str
    region: str
    type: str
    status: str
    last_complete: datetime | None
    error: str | None

    @property
    def incomplete(self) -> bool:
        return self.status != RunStatus.COMPLETE

    @property
    def problem(self) -> str:
        """Why the scope is incomplete, in words; empty when it is not."""
        if not self.incomplete:
            return ""
        if self.last_complete is None:
            return "never completed"
        return f"newest run {self.status}" + (f": {self.error}" if self.error else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope_key,
            "source": self.source,
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "type": self.type,
            "status": self.status,
            "incomplete": self.incomplete,
            "problem": self.problem,
            "last_complete": iso(self.last_complete),
        }


_ERROR_CHARS = 200


def scopes_at(db: Database, at: datetime, sources: tuple[str, ...] = ()) -> list[ScopeSummary]:
    """Every scope started by `at` (of `sources`, when given), ordered by key."""
    newest = (
        sa.select(scope_runs.c.scope_key, sa.func.max(scope_runs.c.id).label("id"))
        .where(scope_runs.c.started_at <= at)
        .group_by(scope_runs.c.scope_key)
        .subquery("newest")
    )
    newest_finished = newest_finished_runs(at)
    complete = last_complete_by_scope(at)
    query = (
        sa.select(
            scope_runs.c.scope_key,
            scope_runs.c.source,
            scope_runs.c.provider,
            scope_runs.c.account,
            scope_runs.c.region,
            scope_runs.c.type,
            complete.c.last_complete,
        )
        .select_from(
            scope_runs.join(newest, newest.c.id == scope_runs.c.id).outerjoin(
                complete, complete.c.scope_key == scope_runs.c.scope_key
            )
        )
        .order_by(scope_runs.c.scope_key)
    )
    if sources:
        query = query.where(scope_runs.c.source.in_(sources))
    outcome = sa.select(scope_runs.c.scope_key, scope_runs.c.status, scope_runs.c.error).join(
        newest_finished, newest_finished.c.id == scope_runs.c.id
    )
    with db.connect() as conn:
        outcomes = {row.scope_key: (row.status, row.error) for row in conn.execute(outcome)}
        rows = list(conn.execute(query).mappings())
    return [_summary(row, outcomes.get(row["scope_key"])) for row in rows]


def _summary(row: sa.RowMapping, outcome: tuple[str, str | None] | None) -> ScopeSummary:
    # A run still in flight at the report time changed nothing yet: what the data
    # reflects is the newest *finished* run, or nothing when none has finished.
    status, error = outcome or ("never completed", None)
    return ScopeSummary(
        scope_key=row["scope_key"],
        source=row["source"],
        provider=row["provider"],
        account=row["account"],
        region=row["region"],
        type=row["type"],
        status=status,
        last_complete=to_utc(row["last_complete"]),
        error=(error or "")[:_ERROR_CHARS] or None,
    )

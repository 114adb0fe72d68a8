"""The dashboard's read queries: aggregates computed in SQL, pages fetched with LIMIT/OFFSET.

Every function here answers in one or a few statements whatever the size of the estate: the
database counts, groups and pages; Python only shapes the few rows that come back. Works the
same on SQLite and PostgreSQL (`date()`, JSON extraction and LIKE through SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.db import Database
from storage.expressions import certificate_expiry
from storage.findings import findings_table
from storage.queries import (
    events,
    last_complete_by_scope,
    newest_finished_runs,
    resources,
    scope_runs,
)
from storage.tables import to_utc
from vigil.core.model import GONE_KINDS, FindingStatus, ResourceState, RunStatus, Severity, iso

PRESENT = ResourceState.PRESENT.value
OPEN = FindingStatus.OPEN.value
SEVERE = (Severity.CRITICAL.value, Severity.HIGH.value)
INVENTORY_FIELDS = ("uid", "type", "name", "native_id", "source", "provider", "account", "region")


_FINDINGS_FROM = findings_table.outerjoin(
    resources, resources.c.uid == findings_table.c.resource_uid
)
# A finding's severity as a number in SQL (critical highest), for "most severe first".
RANK = sa.case({s.value: s.rank for s in Severity}, value=findings_table.c.severity, else_=-1)


@dataclass(frozen=True)
class Page:
    """One page of rows and how many rows match in all."""

    rows: list[dict[str, Any]]
    total: int


@dataclass(frozen=True)
class InventoryQuery:
    """Inventory filters; empty fields match everything. Hashable, so it can key a cache."""

    sources: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    tag_key: str = ""
    tag_value: str = ""  # with tag_key: the tag must hold exactly this value
    text: str = ""  # case-insensitive substring of the name or native id

    def where(self) -> list[sa.ColumnElement[bool]]:
        """The SQL conditions, present resources only."""
        conditions: list[sa.ColumnElement[bool]] = [resources.c.state == PRESENT]
        for column, values in (
            ("source", self.sources),
            ("provider", self.providers),
            ("account", self.accounts),
            ("region", self.regions),
            ("type", self.types),
        ):
            if values:
                conditions.append(resources.c[column].in_(values))
        if self.tag_key:
            tag = resources.c.tags[self.tag_key].as_string()
            conditions.append(tag == self.tag_value if self.tag_value else tag.is_not(None))
        if self.text:
            needle = self.text.lower()
            conditions.append(
                sa.or_(
                    sa.func.lower(resources.c.name).contains(needle, autoescape=True),
                    sa.func.lower(resources.c.native_id).contains(needle, autoescape=True),
                )
            )
        return conditions


def _inventory_select(query: InventoryQuery) -> sa.Select[Any]:
    # last_seen as `vigil inventory` shows it: a completed scan of the scope counts as a sighting.
    complete = last_complete_by_scope()
    seen = sa.case(
        (complete.c.last_complete > resources.c.last_seen, complete.c.last_complete),
        else_=resources.c.last_seen,
    )
    return (
        sa.select(
            *(resources.c[name] for name in INVENTORY_FIELDS),
            resources.c.tags,
            resources.c.first_seen,
            seen.label("last_seen"),
        )
        .select_from(resources.outerjoin(complete, complete.c.scope_key == resources.c.scope_key))
        .where(*query.where())
        .order_by(resources.c.uid)
    )


def _inventory_row(row: sa.RowMapping) -> dict[str, Any]:
    return {
        **{name: row[name] for name in INVENTORY_FIELDS},
        "tags": row["tags"] or {},
        "first_seen": to_utc(row["first_seen"]),
        "last_seen": to_utc(row["last_seen"]),
    }


def inventory_page(
    db: Database, query: InventoryQuery, *, limit: int = 100, offset: int = 0
) -> Page:
    """One page of the filtered inventory (ordered by uid) and the number of matches."""
    count = sa.select(sa.func.count()).select_from(resources).where(*query.where())
    with db.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        result = conn.execute(_inventory_select(query).limit(limit).offset(offset))
        return Page([_inventory_row(row) for row in result.mappings()], total)


def inventory_rows(db: Database, query: InventoryQuery) -> Iterator[dict[str, Any]]:
    """Every matching resource, streamed (for the CSV download)."""
    with db.connect() as conn:
        result = conn.execution_options(yield_per=2000).execute(_inventory_select(query))
        for row in result.mappings():
            yield _inventory_row(row)


def facets(db: Database) -> dict[str, list[str]]:
    """The distinct sources, providers, accounts, regions and types of present resources."""
    found: dict[str, list[str]] = {}
    with db.connect() as conn:
        for column in ("source", "provider", "account", "region", "type"):
            query = (
                sa.select(resources.c[column])
                .where(resources.c.state == PRESENT)
                .group_by(resources.c[column])
                .order_by(resources.c[column])
            )
            found[column] = [row[0] for row in conn.execute(query)]
    return found


def counts_by_source_type(db: Database) -> list[tuple[str, str, int]]:
    """(source, type, present resources), largest first."""
    query = (
        sa.select(resources.c.source, resources.c.type, sa.func.count().label("n"))
        .where(resources.c.state == PRESENT)
        .group_by(resources.c.source, resources.c.type)
        .order_by(sa.desc("n"))
    )
    with db.connect() as conn:
        return [(row[0], row[1], int(row[2])) for row in conn.execute(query)]


@dataclass(frozen=True)
class SeverityCount:
    """Open findings of one severity now and 24 hours earlier."""

    severity: str
    open: int
    day_ago: int


def open_by_severity(db: Database, now: datetime) -> list[SeverityCount]:
    """Open findings per severity, with the count a day before for the trend.

    "Open a day ago" is reconstructed from the lifecycle times: first seen by then and not
    resolved by then (silenced findings left out). A finding resolved and reopened since
    keeps its original first_seen, so the past figure is a close estimate, not a replay.
    """
    then = now - timedelta(days=1)
    was_open = sa.and_(
        findings_table.c.first_seen <= then,
        findings_table.c.status != FindingStatus.SILENCED.value,
        sa.or_(findings_table.c.resolved_at.is_(None), findings_table.c.resolved_at > then),
    )
    query = sa.select(
        findings_table.c.severity,
        sa.func.sum(sa.case((findings_table.c.status == OPEN, 1), else_=0)),
        sa.func.sum(sa.case((was_open, 1), else_=0)),
    ).group_by(findings_table.c.severity)
    with db.connect() as conn:
        rows = {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in conn.execute(query)}
    return [SeverityCount(s.value, *rows.get(s.value, (0, 0))) for s in Severity]


def day_text(value: Any) -> str:
    """A `date()` result as YYYY-MM-DD: text on SQLite, a date on PostgreSQL."""
    return str(value)[:10]


def _days(now: datetime, days: int) -> list[str]:
    return [(now - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days - 1, -1, -1)]


def findings_per_day(db: Database, now: datetime, days: int = 30) -> list[tuple[str, int, int]]:
    """(day, findings first seen that day, findings resolved that day) for the last `days`."""
    since = now - timedelta(days=days)
    counted: dict[str, list[int]] = {day: [0, 0] for day in _days(now, days)}
    with db.connect() as conn:
        for index, column in enumerate((findings_table.c.first_seen, findings_table.c.resolved_at)):
            day = sa.func.date(column)
            query = sa.select(day, sa.func.count()).where(column >= since).group_by(day)
            for row in conn.execute(query):
                counted.setdefault(day_text(row[0]), [0, 0])[index] = int(row[1])
    return [(day, new, resolved) for day, (new, resolved) in sorted(counted.items())]


def inventory_size_per_day(db: Database, now: datetime, days: int = 30) -> list[tuple[str, int]]:
    """(day, resources present at the end of that day), replayed back from today's count.

    Each creation event adds one, each deletion or retirement removes one: the size at the end
    of a day is today's size minus the net of every later day. One grouped query, then a loop
    over days.
    """
    since = now - timedelta(days=days)
    day = sa.func.date(events.c.at)
    net = sa.func.sum(
        sa.case((events.c.kind == "created", 1), (events.c.kind.in_(GONE_KINDS), -1), else_=0)
    )
    query = sa.select(day, net).where(events.c.at >= since).group_by(day)
    present = sa.select(sa.func.count()).select_from(resources).where(resources.c.state == PRESENT)
    with db.connect() as conn:
        nets = {day_text(row[0]): int(row[1] or 0) for row in conn.execute(query)}
        size = int(conn.execute(present).scalar_one())
    sizes: list[tuple[str, int]] = []
    for name in reversed(_days(now, days)):
        sizes.append((name, size))
        size -= nets.get(name, 0)
    return sizes[::-1]


def certificates(
    db: Database, now: datetime, *, within_days: int | None = None, limit: int = 2000
) -> list[dict[str, Any]]:
    """Present certificates by expiry, soonest first; only those expiring within N days if given.

    `not_after` is the certificate's expiry: the earliest of leaf and chain (vigil.core.facts).
    """
    not_after = certificate_expiry()
    query = (
        sa.select(
            resources.c.uid,
            resources.c.name,
            resources.c.native_id,
            resources.c.source,
            resources.c.region,
            not_after.label("not_after"),
            resources.c.attributes["origin"].as_string().label("origin"),
            resources.c.attributes["issuer"].as_string().label("issuer"),
        )
        .where(resources.c.state == PRESENT, resources.c.type == "certificate")
        .where(not_after.is_not(None))
        .order_by(not_after, resources.c.uid)
        .limit(limit)
    )
    if within_days is not None:
        query = query.where(not_after <= iso(now + timedelta(days=within_days)))
    with db.connect() as conn:
        rows = [dict(row) for row in conn.execute(query).mappings()]
    for row in rows:
        expires = datetime.fromisoformat(row["not_after"].replace("Z", "+00:00"))
        row["days_left"] = (expires - now).total_seconds() / 86400
    return rows


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
        .where(resources.c.state == PRESENT)
        .group_by(resources.c.source)
    )
    affected = (
        sa.select(resources.c.source, sa.func.count(sa.distinct(findings_table.c.resource_uid)))
        .select_from(_FINDINGS_FROM)
        .where(findings_table.c.status == OPEN, findings_table.c.severity.in_(SEVERE))
        .where(resources.c.state == PRESENT)
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
class FindingFilter:
    """Findings filters, as `vigil findings` takes them, plus the resource's owner tag."""

    statuses: tuple[str, ...] = (OPEN,)
    severities: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    owner: str = ""  # the resource's `owner` tag, which rules copy into the finding's labels

    def where(self) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        for column, values in (
            ("status", self.statuses),
            ("severity", self.severities),
            ("rule", self.rules),
            ("source", self.sources),
        ):
            if values:
                conditions.append(findings_table.c[column].in_(values))
        if self.owner:
            conditions.append(findings_table.c.labels["owner"].as_string() == self.owner)
        return conditions


def findings_page(db: Database, query: FindingFilter, *, limit: int = 200, offset: int = 0) -> Page:
    """Findings most severe first, then newest (the order of `vigil findings`), paged."""
    select = (
        sa.select(findings_table, resources.c.name.label("resource_name"))
        .select_from(_FINDINGS_FROM)
        .where(*query.where())
        .order_by(RANK.desc(), findings_table.c.last_seen.desc(), findings_table.c.fingerprint)
        .limit(limit)
        .offset(offset)
    )
    count = sa.select(sa.func.count()).select_from(_FINDINGS_FROM).where(*query.where())
    with db.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        return Page([dict(row) for row in conn.execute(select).mappings()], total)


def findings_by_rule(db: Database, query: FindingFilter) -> list[tuple[str, str, int]]:
    """(rule, severity, findings) matching the filter."""
    select = (
        sa.select(findings_table.c.rule, findings_table.c.severity, sa.func.count())
        .select_from(_FINDINGS_FROM)
        .where(*query.where())
        .group_by(findings_table.c.rule, findings_table.c.severity)
    )
    with db.connect() as conn:
        return [(row[0], row[1], int(row[2])) for row in conn.execute(select)]

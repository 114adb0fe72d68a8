"""Read-side queries over the inventory, its history and the scope runs. Streams, never lists."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import volatile
from storage.db import Database
from storage.tables import RECORD_FIELDS, ChangeEventRow, ResourceRow, ScopeRunRow, to_utc
from vigil.core.alerting import ResourceContext
from vigil.core.model import GONE_KINDS, ChangeKind, Resource, ResourceState, RunStatus, iso

resources = ResourceRow.__table__  # type: ignore[attr-defined]
events = ChangeEventRow.__table__  # type: ignore[attr-defined]
scope_runs = ScopeRunRow.__table__  # type: ignore[attr-defined]

_STREAM_BATCH = 2000


@dataclass(frozen=True)
class InventoryFilter:
    """Narrows an inventory query. Empty fields match everything."""

    types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    include_deleted: bool = False

    def apply(self, query: sa.Select[Any], table: sa.Table) -> sa.Select[Any]:
        return where_in(
            query,
            table,
            type=self.types,
            source=self.sources,
            region=self.regions,
            account=self.accounts,
        )


def where_in(query: sa.Select[Any], table: sa.Table, **columns: Sequence[str]) -> sa.Select[Any]:
    """`query` narrowed to rows whose column is one of its values; no values: no narrowing."""
    for column, values in columns.items():
        if values:
            query = query.where(table.c[column].in_(values))
    return query


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


def inventory(
    db: Database, filters: InventoryFilter | None = None, *, as_of: datetime | None = None
) -> Iterator[Resource]:
    """The inventory now, or as it was at `as_of`, ordered by uid."""
    filters = filters or InventoryFilter()
    query = _current_query(filters) if as_of is None else _as_of_query(filters, as_of)
    with db.connect() as conn:
        result = conn.execution_options(yield_per=_STREAM_BATCH).execute(query)
        for row in result.mappings():
            yield _to_resource(row)


def count_resources(db: Database, filters: InventoryFilter | None = None) -> int:
    filters = filters or InventoryFilter()
    query = filters.apply(sa.select(sa.func.count()).select_from(resources), resources)
    if not filters.include_deleted:
        query = query.where(resources.c.state == ResourceState.PRESENT.value)
    with db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _current_query(filters: InventoryFilter) -> sa.Select[Any]:
    complete = last_complete_by_scope()
    seen = sa.case(
        (
            sa.and_(
                resources.c.state == ResourceState.PRESENT.value,
                complete.c.last_complete > resources.c.last_seen,
            ),
            complete.c.last_complete,
        ),
        else_=resources.c.last_seen,
    )
    query = (
        sa.select(
            *(resources.c[name] for name in RECORD_FIELDS),
            resources.c.first_seen,
            resources.c.state,
            seen.label("last_seen"),
            volatile.column(),
        )
        .select_from(
            volatile.joined(
                resources.outerjoin(complete, complete.c.scope_key == resources.c.scope_key),
                resources.c.uid,
            )
        )
        .order_by(resources.c.uid)
    )
    if not filters.include_deleted:
        query = query.where(resources.c.state == ResourceState.PRESENT.value)
    return filters.apply(query, resources)


def _as_of_query(
    filters: InventoryFilter, as_of: datetime, uids: Sequence[str] | None = None
) -> sa.Select[Any]:
    newest = sa.select(sa.func.max(events.c.id).label("id")).where(events.c.at <= as_of)
    if uids is not None:
        newest = newest.where(events.c.uid.in_(uids))
    latest = newest.group_by(events.c.uid).subquery("latest")
    complete = last_complete_by_scope(as_of)
    state = sa.case(
        (events.c.kind == ChangeKind.DELETED.value, ResourceState.DELETED.value),
        (events.c.kind == ChangeKind.RETIRED.value, ResourceState.RETIRED.value),
        else_=ResourceState.PRESENT.value,
    )
    seen = sa.case(
        (
            sa.and_(events.c.kind.not_in(GONE_KINDS), complete.c.last_complete > events.c.at),
            complete.c.last_complete,
        ),
        else_=events.c.at,
    )
    query = (
        sa.select(
            *(events.c[name] for name in RECORD_FIELDS),
            events.c.first_seen,
            state.label("state"),
            seen.label("last_seen"),
        )
        .select_from(
            events.join(latest, latest.c.id == events.c.id).outerjoin(
                complete, complete.c.scope_key == events.c.scope_key
            )
        )
        .order_by(events.c.uid)
    )
    if not filters.include_deleted:
        query = query.where(events.c.kind.not_in(GONE_KINDS))
    return filters.apply(query, events)


def _to_resource(row: sa.RowMapping) -> Resource:
    """A row of `_current_query` (volatile values merged in) or `_as_of_query` (history as it
    was recorded: no later observation belongs in it)."""
    observed = row.get(volatile.VOLATILE_COLUMN)
    return Resource(
        uid=row["uid"],
        source=row["source"],
        provider=row["provider"],
        account=row["account"],
        region=row["region"],
        type=row["type"],
        native_id=row["native_id"],
        name=row["name"],
        tags=row["tags"] or {},
        attributes=volatile.merged(row["attributes"], observed),
        first_seen=to_utc(row["first_seen"]),
        last_seen=to_utc(row["last_seen"]),
        state=row["state"],
    )


@dataclass(frozen=True)
class ChangeEvent:
    """One entry of the drift history, as `vigil changes` shows it."""

    id: int
    uid: str
    native_id: str
    type: str
    source: str
    account: str
    region: str
    kind: str
    name: str
    changes: dict[str, Any]
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "native_id": self.native_id,
            "type": self.type,
            "source": self.source,
            "account": self.account,
            "region": self.region,
            "name": self.name,
            "kind": self.kind,
            "changes": self.changes,
            "at": iso(self.at),
        }


def changes(
    db: Database,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    filters: InventoryFilter | None = None,
    kinds: tuple[str, ...] = (),
) -> Iterator[ChangeEvent]:
    """Change events in time order."""
    query = sa.select(events).order_by(events.c.at, events.c.id)
    if since is not None:
        query = query.where(events.c.at >= since)
    if until is not None:
        query = query.where(events.c.at <= until)
    if kinds:
        query = query.where(events.c.kind.in_(kinds))
    query = (filters or InventoryFilter(include_deleted=True)).apply(query, events)
    with db.connect() as conn:
        result = conn.execution_options(yield_per=_STREAM_BATCH).execute(query)
        for row in result.mappings():
            yield ChangeEvent(
                id=row["id"],
                uid=row["uid"],
                native_id=row["native_id"],
                type=row["type"],
                source=row["source"],
                account=row["account"],
                region=row["region"],
                kind=row["kind"],
                name=row["name"],
                changes=row["changes"] or {},
                at=row["at"],  # UTCDateTime already made it aware
            )


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
            )
            for row in conn.execute(query).mappings()
        ]


def resources_by_uid(
    db: Database, uids: Iterable[str], *, as_of: datetime | None = None
) -> Iterator[Resource]:
    """The present resources among `uids` (absent or deleted ones left out), now or at `as_of`."""
    wanted = list(uids)
    with db.connect() as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = (
                _current_query(InventoryFilter()).where(resources.c.uid.in_(chunk))
                if as_of is None
                else _as_of_query(InventoryFilter(), as_of, chunk)
            )
            for row in conn.execute(query).mappings():
                yield _to_resource(row)


def resource_contexts(conn: Connection, uids: Iterable[str]) -> dict[str, ResourceContext]:
    """uid → name, provider and tags, for the resources among `uids` in any state.

    Takes the caller's connection: the notify hook reads it inside the findings transaction.
    """
    listed = sorted(set(uids))
    found: dict[str, ResourceContext] = {}
    columns = (resources.c.uid, resources.c.name, resources.c.provider, resources.c.tags)
    for start in range(0, len(listed), 500):
        query = sa.select(*columns).where(resources.c.uid.in_(listed[start : start + 500]))
        for row in conn.execute(query):
            found[row.uid] = ResourceContext(row.name or "", row.provider, dict(row.tags or {}))
    return found

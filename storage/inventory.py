"""Resources: the inventory now or at a past time, its pages, facets and counts, and the
facts read off resources in SQL (certificate expiries, newest restore points).

Streams, never lists: `inventory` and `inventory_rows` yield rows as the database returns them.
Counts and groups are computed in SQL whatever the size of the estate; Python only shapes the
few rows that come back. Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import volatile
from storage.db import Database
from storage.expressions import Page, attribute, certificate_expiry, where_in
from storage.runs import last_complete_by_scope
from storage.tables import RECORD_FIELDS, events, resources, to_utc
from vigil.core.alerting import ResourceContext
from vigil.core.facts import USABLE_SNAPSHOT_STATES
from vigil.core.model import GONE_KINDS, ChangeKind, Resource, ResourceState, ResourceType, iso
from vigil.core.timeutil import instant_or_none, parse_instant

_STREAM_BATCH = 2000
PRESENT = ResourceState.PRESENT.value


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


def resource(db: Database, uid: str) -> dict[str, Any] | None:
    """One resource (present or deleted) with every stored field, or None; its attributes carry
    the newest observed volatile values."""
    query = (
        sa.select(resources, volatile.column())
        .select_from(volatile.joined(resources, resources.c.uid))
        .where(resources.c.uid == uid)
    )
    with db.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    found = dict(row)
    found["attributes"] = volatile.merged(found["attributes"], found.pop(volatile.VOLATILE_COLUMN))
    return found


INVENTORY_FIELDS = ("uid", "type", "name", "native_id", "source", "provider", "account", "region")


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


def has_present(db: Database) -> bool:
    """Whether the inventory holds a present resource: one row read, where a count reads all."""
    query = sa.select(resources.c.uid).where(resources.c.state == PRESENT).limit(1)
    with db.connect() as conn:
        return conn.execute(query).first() is not None


def expiring_certificates(
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
        expires = parse_instant(row["not_after"])
        row["days_left"] = (expires - now).total_seconds() / 86400
    return rows


def inventory_counts(
    db: Database, at: datetime, sources: tuple[str, ...] = ()
) -> dict[str, Counter[str]]:
    """Present resources at `at`, counted by type, account, region and source."""
    latest = sa.select(sa.func.max(events.c.id).label("id")).where(events.c.at <= at)
    if sources:
        latest = latest.where(events.c.source.in_(sources))
    newest = latest.group_by(events.c.uid).subquery("newest")
    columns = (events.c.type, events.c.account, events.c.region, events.c.source)
    query = (
        sa.select(*columns, sa.func.count().label("n"))
        .select_from(events.join(newest, newest.c.id == events.c.id))
        .where(events.c.kind.not_in(GONE_KINDS))
        .group_by(*columns)
    )
    keys = ("type", "account", "region", "source")
    counts: dict[str, Counter[str]] = {key: Counter() for key in keys}
    with db.connect() as conn:
        for row in conn.execute(query):
            for key in counts:
                counts[key][getattr(row, key)] += row.n
    return counts


RESOURCE_LABELS = ("source", "provider", "account", "region", "type")


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


@dataclass(frozen=True)
class Certificate:
    source: str
    account: str
    region: str
    name: str
    native_id: str
    common_name: str
    not_after: datetime | None


def certificate_expiries(conn: Connection) -> list[Certificate]:
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
            not_after=instant_or_none(row[6]),
        )
        for row in conn.execute(query)
    ]


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
        times = [t for t in (instant_or_none(row[6]), instant_or_none(row[7])) if t is not None]
        if times:
            source, account, region, type_, name, native_id = (str(v or "") for v in row[:6])
            found.append(Backup(source, account, region, type_, name, native_id, max(times)))
    return found

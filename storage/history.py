"""History: change events (drift), replayed sizes and counts over time, and the past
states that mention a value (what `dns.dangling` asks: did a resource of ours hold it).

Each function answers in one or two statements at any size; `changes` streams.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.db import Database
from storage.expressions import Page, day_text, days_before
from storage.inventory import InventoryFilter
from storage.tables import events, resources
from vigil.core.model import GONE_KINDS, ResourceState, iso

_STREAM_BATCH = 2000


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


def resource_history(db: Database, uid: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """One resource's change events, newest first."""
    select = (
        sa.select(events.c.at, events.c.kind, events.c.changes)
        .where(events.c.uid == uid)
        .order_by(events.c.id.desc())
        .limit(limit)
    )
    with db.connect() as conn:
        return [dict(row) for row in conn.execute(select).mappings()]


def changes_per_day(
    db: Database, since: datetime, *, types: tuple[str, ...] = ()
) -> list[tuple[str, str, int]]:
    """(day, kind, change events) since `since`."""
    day = sa.func.date(events.c.at)
    query = (
        sa.select(day, events.c.kind, sa.func.count())
        .where(events.c.at >= since)
        .group_by(day, events.c.kind)
    )
    if types:
        query = query.where(events.c.type.in_(types))
    with db.connect() as conn:
        return [(day_text(row[0]), row[1], int(row[2])) for row in conn.execute(query)]


def recent_changes(
    db: Database,
    since: datetime,
    *,
    kinds: tuple[str, ...] = (),
    types: tuple[str, ...] = (),
    limit: int = 500,
) -> Page:
    """The newest change events since `since` (at most `limit`) and how many there are."""
    conditions = [events.c.at >= since]
    if kinds:
        conditions.append(events.c.kind.in_(kinds))
    if types:
        conditions.append(events.c.type.in_(types))
    columns = ("at", "kind", "type", "native_id", "name", "source", "region", "uid", "changes")
    select = (
        sa.select(*(events.c[name] for name in columns))
        .where(*conditions)
        .order_by(events.c.id.desc())
        .limit(limit)
    )
    count = sa.select(sa.func.count()).select_from(events).where(*conditions)
    with db.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        return Page([dict(row) for row in conn.execute(select).mappings()], total)


_NEEDLES_PER_QUERY = 100


def states_mentioning(db: Database, needles: Collection[str]) -> Iterator[dict[str, Any]]:
    """Every recorded state (provider, type, attributes) whose attributes mention one of
    `needles` (case-insensitively, as text): deleted and retired resources included.

    A coarse text match that the caller narrows to the attributes it reads; change events hold
    each state after a change, so this covers every state the retention window keeps.
    """
    text = sa.func.lower(sa.cast(events.c.attributes, sa.Text))
    wanted = sorted({n.lower() for n in needles if n})
    with db.connect() as conn:
        for start in range(0, len(wanted), _NEEDLES_PER_QUERY):
            chunk = wanted[start : start + _NEEDLES_PER_QUERY]
            query = sa.select(events.c.provider, events.c.type, events.c.attributes).where(
                sa.or_(*(text.contains(n, autoescape=True) for n in chunk))
            )
            for row in conn.execute(query).mappings():
                yield dict(row)


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
    present = (
        sa.select(sa.func.count())
        .select_from(resources)
        .where(resources.c.state == ResourceState.PRESENT.value)
    )
    with db.connect() as conn:
        nets = {day_text(row[0]): int(row[1] or 0) for row in conn.execute(query)}
        size = int(conn.execute(present).scalar_one())
    sizes: list[tuple[str, int]] = []
    for name in reversed(days_before(now, days)):
        sizes.append((name, size))
        size -= nets.get(name, 0)
    return sizes[::-1]


def change_counts(
    db: Database, since: datetime, until: datetime, sources: tuple[str, ...] = ()
) -> Counter[str]:
    """Change events in [since, until], by kind."""
    query = (
        sa.select(events.c.kind, sa.func.count().label("n"))
        .where(events.c.at >= since, events.c.at <= until)
        .group_by(events.c.kind)
    )
    if sources:
        query = query.where(events.c.source.in_(sources))
    with db.connect() as conn:
        return Counter({row.kind: row.n for row in conn.execute(query)})

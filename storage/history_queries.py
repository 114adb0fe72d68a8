"""The dashboard's queries about one resource and about change events (drift history).

One resource in detail (its stored fields, every finding, its change events), the change
timeline (events per day, the newest events), each in one or two statements at any size, and
the past states that mention a value (what `dns.dangling` asks: did a resource of ours hold it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage import volatile
from storage.aggregates import RANK, Page, day_text
from storage.db import Database
from storage.findings import findings_table
from storage.queries import events, resources
from storage.tables import chunks
from vigil.core.model import FindingStatus, Severity


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


def resource_findings(db: Database, uid: str) -> list[dict[str, Any]]:
    """Every finding of one resource, whatever its status, most severe first."""
    select = (
        sa.select(findings_table)
        .where(findings_table.c.resource_uid == uid)
        .order_by(RANK.desc(), findings_table.c.last_seen.desc())
    )
    with db.connect() as conn:
        return [dict(row) for row in conn.execute(select).mappings()]


def worst_open(db: Database, uids: Collection[str]) -> dict[str, Severity]:
    """uid → the severity of its most severe open finding, for the resources among `uids`
    that have one (silenced and resolved findings left out): one indexed read per chunk."""
    worst: dict[str, Severity] = {}
    query = sa.select(findings_table.c.resource_uid, sa.func.max(RANK)).group_by(
        findings_table.c.resource_uid
    )
    ranked = {s.rank: s for s in Severity}
    with db.connect() as conn:
        for chunk in chunks(sorted(uids)):
            selected = query.where(
                findings_table.c.resource_uid.in_(chunk),
                findings_table.c.status == FindingStatus.OPEN.value,
            )
            for uid, rank in conn.execute(selected):
                if rank in ranked:
                    worst[uid] = ranked[rank]
    return worst


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

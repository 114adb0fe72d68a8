"""The topology query: resources and the links between them, around a start, now or at a time.

A walk of at most `depth` steps, one indexed `IN` query per step and direction (`from_uid` to
go down, `to_uid` to go up) over the links alive at the time, so its cost follows the size of
the neighbourhood, not of the estate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import inventory
from storage.db import Database
from storage.tables import chunks, links, resources
from vigil.core.model import NAMED_BY, Direction, Resource, ResourceState, ResourceType, dns_ref


@dataclass(frozen=True)
class Edge:
    from_uid: str
    kind: str
    to: str
    """The target's uid, or the reference the collector emitted while unresolved."""
    resolved: bool

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_uid, "kind": self.kind, "to": self.to, "resolved": self.resolved}


@dataclass
class Graph:
    nodes: list[Resource] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [node.to_dict() for node in self.nodes],
            "edges": [edge.to_dict() for edge in self.edges],
        }


def alive(as_of: datetime | None) -> sa.ColumnElement[bool]:
    """Links present now, or whose lifetime covers `as_of`."""
    ended: sa.ColumnElement[bool] = links.c.deleted_at.is_(None)
    if as_of is None:
        return ended
    covered: sa.ColumnElement[bool] = sa.and_(
        links.c.first_seen <= as_of, sa.or_(ended, links.c.deleted_at > as_of)
    )
    return covered


def starts(db: Database, name: str, *, as_of: datetime | None = None) -> list[str]:
    """The uids `--from` names: a resource uid, else the DNS records of that name, else the
    load balancers and CDNs whose DNS name it is. Empty: nothing of that name."""
    if any(r.uid == name for r in inventory.resources_by_uid(db, [name], as_of=as_of)):
        return [name]
    wanted = dns_ref(name).removeprefix("dns:")
    with db.connect() as conn:
        candidates = _named(conn, wanted)
    return sorted(r.uid for r in inventory.resources_by_uid(db, candidates, as_of=as_of))


def _named(conn: Connection, wanted: str) -> list[str]:
    """Uids of resources (present or gone: the time is checked after) answering as `wanted`."""
    records = conn.execute(
        sa.select(resources.c.uid).where(
            resources.c.type == ResourceType.DNS_RECORD.value,
            sa.func.lower(resources.c.name).in_([wanted, wanted + "."]),
        )
    )
    found = [uid for (uid,) in records]
    if found:
        return found
    named = conn.execute(
        sa.select(resources.c.uid, resources.c.type, resources.c.attributes).where(
            resources.c.type.in_(list(NAMED_BY)), resources.c.state == ResourceState.PRESENT.value
        )
    )
    return [
        uid
        for uid, type_, attributes in named
        if any(
            dns_ref(str((attributes or {}).get(key) or "")) == "dns:" + wanted
            for key in NAMED_BY[type_]
        )
    ]


def with_links(db: Database, uids: Iterable[str], *, as_of: datetime | None = None) -> set[str]:
    """The uids among `uids` with a link from them alive now, or at `as_of`."""
    found: set[str] = set()
    with db.connect() as conn:
        for chunk in chunks(sorted(set(uids))):
            query = (
                sa.select(links.c.from_uid)
                .where(links.c.from_uid.in_(chunk), alive(as_of))
                .distinct()
            )
            found.update(uid for (uid,) in conn.execute(query))
    return found


def topology(
    db: Database,
    start: Iterable[str] | None,
    *,
    depth: int = 4,
    direction: Direction = Direction.BOTH,
    as_of: datetime | None = None,
) -> Graph:
    """The graph around `start` (None: every link) within `depth` steps."""
    with db.connect() as conn:
        if start is None:
            rows = _all_links(conn, as_of)
        else:
            rows = _walk(conn, set(start), depth, direction, as_of)
    named = {uid for row in rows for uid in (row[0], row[2]) if uid}
    if start is not None:
        named |= set(start)
    nodes = sorted(inventory.resources_by_uid(db, sorted(named), as_of=as_of), key=lambda r: r.uid)
    present = {node.uid for node in nodes}
    edges = [
        Edge(from_uid, kind, to_uid or target, bool(to_uid) and to_uid in present)
        for from_uid, kind, to_uid, target in sorted(rows, key=lambda r: (r[0], r[1], r[3]))
        if from_uid in present
    ]
    return Graph(nodes, edges)


_Row = tuple[str, str, str | None, str]


def _columns() -> tuple[Any, ...]:
    return (links.c.from_uid, links.c.kind, links.c.to_uid, links.c.target)


def _all_links(conn: Connection, as_of: datetime | None) -> list[_Row]:
    return [tuple(row) for row in conn.execute(sa.select(*_columns()).where(alive(as_of)))]


def _walk(
    conn: Connection, start: set[str], depth: int, direction: Direction, as_of: datetime | None
) -> list[_Row]:
    found: dict[tuple[str, str, str], _Row] = {}
    ways = [Direction.DOWN, Direction.UP] if direction == Direction.BOTH else [direction]
    for way in ways:
        column = links.c.from_uid if way == Direction.DOWN else links.c.to_uid
        visited, frontier = set(start), set(start)
        for _ in range(depth):
            step = _step(conn, column, frontier, as_of)
            for row in step:
                found[(row[0], row[1], row[3])] = row
            reached = {row[2] if way == Direction.DOWN else row[0] for row in step}
            frontier = {uid for uid in reached if uid and uid not in visited}
            visited |= frontier
            if not frontier:
                break
    return list(found.values())


def _step(conn: Connection, column: Any, frontier: set[str], as_of: datetime | None) -> list[_Row]:
    rows: list[_Row] = []
    uids = sorted(frontier)
    for chunk in chunks(uids):
        query = sa.select(*_columns()).where(column.in_(chunk), alive(as_of))
        rows.extend(tuple(row) for row in conn.execute(query))
    return rows

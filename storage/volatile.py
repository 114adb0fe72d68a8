"""Volatile attributes: values that move on every read, kept current beside the inventory.

A collector declares them (`volatile_attributes`: RDS `latest_restorable_time`, a host's
`uptime_seconds`). They are left out of the content hash, so on their own they never rewrite a
resource row or record a change event. Instead every completed scope run writes what it
observed of them into `resource_volatile`, in one statement whatever the scope's size
(`upsert`), and readers merge that over the stored attributes (`merged`, `joined`,
`current_attribute`). A failed run writes nothing here either.

Rows stay when their resource is deleted or retired: they are its last observation, which is
what `--include-deleted` shows; a resource that comes back overwrites its row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.tables import ResourceRow, ResourceVolatileRow, UTCDateTime
from vigil.core.model import Resource, canonical_json

volatile = ResourceVolatileRow.__table__  # type: ignore[attr-defined]
resources = ResourceRow.__table__  # type: ignore[attr-defined]

VOLATILE_COLUMN = "volatile_attributes"
"""The label under which `joined` queries carry a resource's volatile values."""

Observation = tuple[str, str]
"""(uid, canonical JSON of the volatile attributes the record carried)."""

# One statement per scope run: the batch travels as one JSON array parameter and the database
# unpacks it, so the cost is one round trip and no per-row parameters, at 10 rows or 100k.
_UPSERT = {
    "sqlite": (
        "INSERT INTO resource_volatile (uid, attributes, observed_at) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), :now "
        "FROM json_each(:batch) WHERE true "  # `WHERE` lets SQLite parse the ON CONFLICT
        "ON CONFLICT (uid) DO UPDATE SET attributes = excluded.attributes, "
        "observed_at = excluded.observed_at"
    ),
    "postgresql": (
        "INSERT INTO resource_volatile (uid, attributes, observed_at) "
        "SELECT item ->> 0, item -> 1, :now "
        "FROM jsonb_array_elements(CAST(:batch AS jsonb)) AS item "
        "ON CONFLICT (uid) DO UPDATE SET attributes = EXCLUDED.attributes, "
        "observed_at = EXCLUDED.observed_at"
    ),
}


def observe(page: Iterable[Resource], keys: tuple[str, ...]) -> list[Observation]:
    """The volatile values each record of a page carries (the per-record work, any thread)."""
    if not keys:
        return []
    found: list[Observation] = []
    for resource in page:
        attributes = resource.attributes
        values = {key: attributes[key] for key in keys if key in attributes}
        if values:
            found.append((resource.uid, canonical_json(values)))
    return found


def upsert(conn: Connection, observed: Mapping[str, str], now: datetime) -> int:
    """Store a completed run's observations (uid -> values JSON) in one statement."""
    if not observed:
        return 0
    batch = ",".join(f"[{json.dumps(uid)},{values}]" for uid, values in observed.items())
    statement = sa.text(_UPSERT[conn.dialect.name]).bindparams(
        sa.bindparam("now", type_=UTCDateTime()), sa.bindparam("batch", type_=sa.Text())
    )
    conn.execute(statement, {"now": now, "batch": f"[{batch}]"})
    return len(observed)


def joined(from_clause: sa.FromClause, uid: sa.ColumnElement[Any]) -> sa.FromClause:
    """`from_clause` with each resource's volatile row (if any) joined on `uid`."""
    return from_clause.outerjoin(volatile, volatile.c.uid == uid)


def column() -> sa.ColumnElement[Any]:
    """The volatile values of a `joined` query, labelled for `merged`."""
    return volatile.c.attributes.label(VOLATILE_COLUMN)


def merged(attributes: Mapping[str, Any] | None, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Stored attributes with the newest observed volatile values over them."""
    current = dict(attributes or {})
    if values:
        current.update(values)
    return current


def current_attribute(name: str) -> sa.ColumnElement[Any]:
    """A resource attribute as text, its observed value where it has one (needs `joined`).

    A volatile row holds every declared key the record carried, so when the row exists it is
    the current answer, JSON null included.
    """
    stored: sa.ColumnElement[Any] = resources.c.attributes[name].as_string()
    observed: sa.ColumnElement[Any] = volatile.c.attributes[name].as_string()
    return sa.case((volatile.c.uid.is_not(None), observed), else_=stored)


def of(conn: Connection, uid: str) -> tuple[dict[str, Any], datetime | None]:
    """One resource's observed volatile values and when they were observed."""
    row = conn.execute(
        sa.select(volatile.c.attributes, volatile.c.observed_at).where(volatile.c.uid == uid)
    ).first()
    if row is None:
        return {}, None
    return dict(row.attributes or {}), row.observed_at

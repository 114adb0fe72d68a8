"""Volatile attributes: values that move on every read, kept current beside the inventory.

A collector declares them (`volatile_attributes`: RDS `latest_restorable_time`, a host's
`uptime_seconds`). They are left out of the content hash, so on their own they never rewrite a
resource row or record a change event. Instead every completed scope run writes what it
observed of them into `resource_volatile`, in one statement whatever the scope's size
(`upsert`), and readers merge that over the stored attributes (`joined`, `column`, `merged`).
A failed run writes nothing here either.

Rows stay when their resource is deleted or retired: they are its last observation, which is
what `--include-deleted` shows; a resource that comes back overwrites its row. Rows go with
their resource when retention deletes it (storage/retention.py, in the same transaction).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.tables import UTCDateTime
from storage.tables import volatile_values as volatile
from vigil.core.canonical import canonical_json
from vigil.core.model import Resource

values_column: sa.Column[Any] = volatile.c["values"]  # `.c.values` is the collection's own method

VOLATILE_COLUMN = "volatile_values"
"""The label under which `joined` queries carry a resource's volatile values."""

Observation = tuple[str, str]
"""(uid, canonical JSON of the volatile attributes the record carried)."""

# One statement per scope run: the batch travels as one JSON array parameter and the database
# unpacks it, so the cost is one round trip and two parameters, at 10 rows or 100k.
_UPSERT = {
    "sqlite": (
        'INSERT INTO resource_volatile (uid, "values", observed_at) '
        "SELECT json_extract(value, '$[0]'), json(json_extract(value, '$[1]')), :now "
        "FROM json_each(:batch) WHERE true "  # `WHERE` lets SQLite parse the ON CONFLICT
        'ON CONFLICT (uid) DO UPDATE SET "values" = excluded."values", '
        "observed_at = excluded.observed_at"
    ),
    "postgresql": (
        'INSERT INTO resource_volatile (uid, "values", observed_at) '
        "SELECT item ->> 0, item -> 1, :now "
        "FROM jsonb_array_elements(CAST(:batch AS jsonb)) AS item "
        'ON CONFLICT (uid) DO UPDATE SET "values" = EXCLUDED."values", '
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


def joined(from_clause: sa.FromClause, uid: sa.ColumnElement[Any]) -> sa.Join:
    """`from_clause` with each resource's volatile row (if any) joined on `uid`."""
    return from_clause.outerjoin(volatile, volatile.c.uid == uid)


def column() -> sa.ColumnElement[Any]:
    """The volatile values of a `joined` query, labelled for `merged`."""
    labelled: sa.ColumnElement[Any] = values_column.label(VOLATILE_COLUMN)
    return labelled


def merged(
    attributes: Mapping[str, Any] | None, values: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Stored attributes with the newest observed volatile values over them."""
    current = dict(attributes or {})
    if values:
        current.update(values)
    return current

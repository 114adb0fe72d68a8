"""The alerting outbox and what was last notified, per route and finding.

Rows are written by the findings transaction (vigil.app.notify.outbox_hook: `states` read, the
planner's `OutboxMessage`s `enqueue`d and its notify states `remember`ed), so a message exists
exactly when its transitions were committed. A sender claims a row (status `sending`, with a
lease in `next_attempt_at`), sends, and records `sent`; a failure goes back to `failed` with
the next attempt time, or to `dead` after the notifier's last attempt. A sender that dies
mid-send leaves a `sending` row whose lease runs out, and the next sender takes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.tables import DEAD, FAILED, PENDING, SENDING, SENT, chunks, outbox
from storage.tables import notify_state as state
from vigil.core.alerting import NotifyState, OutboxMessage, StateKey


@dataclass(frozen=True)
class OutboxEntry(OutboxMessage):
    """An outbox row as read back: the message as enqueued, and how its delivery stands."""

    id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


_MESSAGE_COLUMNS = tuple(f.name for f in fields(OutboxMessage))


def enqueue(conn: Connection, messages: Sequence[OutboxMessage]) -> int:
    """Insert the messages whose key is new, pending and due at once; returns how many."""
    rows = [_new_row(message) for message in messages]
    keys = [row["key"] for row in rows]
    existing: set[str] = set()
    for chunk in chunks(keys):
        existing |= set(
            conn.execute(sa.select(outbox.c.key).where(outbox.c.key.in_(chunk))).scalars()
        )
    fresh = [row for row in rows if row["key"] not in existing]
    if fresh:
        conn.execute(outbox.insert(), fresh)
    return len(fresh)


def _new_row(message: OutboxMessage) -> dict[str, Any]:
    # Field by field, not dataclasses.asdict: that deep-copies the payload (the enqueue cost).
    row = {name: getattr(message, name) for name in _MESSAGE_COLUMNS}
    due_now = {"next_attempt_at": message.created_at, "sent_at": None, "last_error": None}
    return row | {"status": PENDING, "attempts": 0} | due_now


def states(conn: Connection, fingerprints: Iterable[str]) -> dict[StateKey, NotifyState]:
    """(route, fingerprint) → what was last notified, for these findings on every route."""
    listed = sorted(set(fingerprints))
    found: dict[StateKey, NotifyState] = {}
    for chunk in chunks(listed):
        query = sa.select(state).where(state.c.fingerprint.in_(chunk))
        for row in conn.execute(query).mappings():
            found[(row["route"], row["fingerprint"])] = NotifyState(
                row["last_notified_at"], bool(row["firing"])
            )
    return found


def remember(
    conn: Connection,
    entries: Mapping[StateKey, NotifyState],
    known: Iterable[StateKey],
) -> None:
    """Record what was notified; `known` are the (route, fingerprint) pairs already stored."""
    stored = set(known)
    inserts, updates = [], []
    for (route, fp), value in entries.items():
        row = {"last_notified_at": value.last_notified_at, "firing": value.firing}
        if (route, fp) in stored:
            updates.append(row | {"b_route": route, "b_fingerprint": fp})
        else:
            inserts.append(row | {"route": route, "fingerprint": fp})
    if inserts:
        conn.execute(state.insert(), inserts)
    if updates:
        statement = state.update().where(
            state.c.route == sa.bindparam("b_route"),
            state.c.fingerprint == sa.bindparam("b_fingerprint"),
        )
        conn.execute(statement, updates)


def due(db: Database, now: datetime, *, after_id: int = 0, limit: int = 200) -> list[OutboxEntry]:
    """Rows to send now: pending or failed and due, or `sending` with an expired lease."""
    query = (
        sa.select(outbox)
        .where(
            outbox.c.status.in_((PENDING, FAILED, SENDING)),
            outbox.c.next_attempt_at <= now,
            outbox.c.id > after_id,
        )
        .order_by(outbox.c.id)
        .limit(limit)
    )
    with db.connect() as conn:
        return [_entry(row) for row in conn.execute(query).mappings()]


def waiting(db: Database, now: datetime) -> list[OutboxEntry]:
    """Unsent rows not due at `now` (backing off, or leased to a sender), oldest first."""
    query = (
        sa.select(outbox)
        .where(outbox.c.status.in_((PENDING, FAILED, SENDING)), outbox.c.next_attempt_at > now)
        .order_by(outbox.c.id)
    )
    with db.connect() as conn:
        return [_entry(row) for row in conn.execute(query).mappings()]


def claim(db: Database, entry: OutboxEntry, lease_until: datetime) -> bool:
    """Take a row for sending; False when another sender changed it first."""
    statement = (
        outbox.update()
        .where(
            outbox.c.id == entry.id,
            outbox.c.status == entry.status,
            outbox.c.next_attempt_at == entry.next_attempt_at,
        )
        .values(status=SENDING, next_attempt_at=lease_until)
    )
    with db.begin() as conn:
        return bool(conn.execute(statement).rowcount)


def mark_sent(db: Database, entry_id: int, now: datetime) -> None:
    with db.begin() as conn:
        conn.execute(
            outbox.update()
            .where(outbox.c.id == entry_id)
            .values(status=SENT, sent_at=now, attempts=outbox.c.attempts + 1, last_error=None)
        )


def mark_failed(
    db: Database, entry_id: int, *, error: str, next_attempt_at: datetime, dead: bool
) -> None:
    with db.begin() as conn:
        conn.execute(
            outbox.update()
            .where(outbox.c.id == entry_id)
            .values(
                status=DEAD if dead else FAILED,
                attempts=outbox.c.attempts + 1,
                last_error=error[:1000],
                next_attempt_at=next_attempt_at,
            )
        )


def counts(db: Database) -> dict[str, int]:
    """pending (sending included), sent, failed and dead messages."""
    query = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
    result = {PENDING: 0, SENT: 0, FAILED: 0, DEAD: 0}
    with db.connect() as conn:
        for status, number in conn.execute(query):
            bucket = PENDING if status == SENDING else status
            result[bucket] = result.get(bucket, 0) + int(number)
    return result


def entries(db: Database, statuses: tuple[str, ...] = ()) -> Iterator[OutboxEntry]:
    """Outbox rows (of these statuses), newest first."""
    query = sa.select(outbox).order_by(outbox.c.id.desc())
    if statuses:
        query = query.where(outbox.c.status.in_(statuses))
    with db.connect() as conn:
        for row in conn.execute(query).mappings():
            yield _entry(row)


def _entry(row: sa.RowMapping) -> OutboxEntry:
    return OutboxEntry(**{name: row[name] for name in OutboxEntry.__dataclass_fields__})

"""Reconcile: fold a scope's pages into the inventory, recording every change as an event.

A scope run stages what is new or changed as pages arrive; only when the scope completes are
the staged records applied and the resources it no longer returned marked deleted, all in one
transaction. A failed scope discards its staging and changes no resource: a partial scan never
invents deletions or drift. Unchanged resources are compared by content hash and never
rewritten, so a rescan in which nothing changed writes no resource rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.tables import ChangeEventRow, ResourceRow, ScopeRunRow, StagedResourceRow
from vigil.model import Resource, ResourceState, Scope, utcnow

resources = ResourceRow.__table__  # type: ignore[attr-defined]
events = ChangeEventRow.__table__  # type: ignore[attr-defined]
staged = StagedResourceRow.__table__  # type: ignore[attr-defined]
scope_runs = ScopeRunRow.__table__  # type: ignore[attr-defined]

CREATED, CHANGED, DELETED = "created", "changed", "deleted"
_LOOKUP_CHUNK = 500
_EVENT_COLUMNS = (
    "uid",
    "run_id",
    "scope_key",
    "source",
    "provider",
    "account",
    "region",
    "type",
    "native_id",
    "kind",
    "name",
    "tags",
    "attributes",
    "changes",
    "first_seen",
    "at",
)
_RESOURCE_FROM_STAGED = (
    "uid",
    "source",
    "provider",
    "account",
    "region",
    "type",
    "native_id",
    "name",
    "tags",
    "attributes",
    "scope_key",
    "content_hash",
    "first_seen",
)


@dataclass
class RunStats:
    """What one scope run saw and did."""

    run_id: int
    scope: Scope
    started_at: datetime
    pages: int = 0
    seen: int = 0
    created: int = 0
    changed: int = 0
    deleted: int = 0
    finished_at: datetime | None = None
    seen_uids: set[str] = field(default_factory=set, repr=False)


class Reconciler:
    """Applies scope runs to storage. One writer: call it from one thread."""

    def __init__(self, db: Database, *, clock: Any = utcnow) -> None:
        self.db = db
        self.clock = clock

    def start(self, scope: Scope) -> RunStats:
        """Record that a scope run began; returns the run's handle."""
        now = self.clock()
        with self.db.begin() as conn:
            result = conn.execute(
                scope_runs.insert().values(
                    scope_key=scope.key,
                    source=scope.source,
                    provider=scope.provider,
                    account=scope.account,
                    region=scope.region,
                    type=scope.type,
                    status="running",
                    started_at=now,
                )
            )
            run_id = int(result.inserted_primary_key[0])
        return RunStats(run_id=run_id, scope=scope, started_at=now)

    def add_page(self, run: RunStats, page: Sequence[Resource]) -> None:
        """Stage the new and changed records of one page; unchanged ones cost one lookup."""
        run.pages += 1
        fresh = [r for r in page if r.uid not in run.seen_uids]
        run.seen_uids.update(r.uid for r in fresh)
        run.seen += len(fresh)
        if not fresh:
            return
        now = self.clock()
        with self.db.begin() as conn:
            known = _lookup(conn, [r.uid for r in fresh])
            rows = [
                row
                for resource in fresh
                if (row := _stage_row(run, resource, known.get(resource.uid), now)) is not None
            ]
            if rows:
                conn.execute(staged.insert(), rows)
        for row in rows:
            if row["kind"] == CREATED:
                run.created += 1
            else:
                run.changed += 1

    def complete(self, run: RunStats) -> RunStats:
        """Apply the run: staged records, then deletions of what the scope no longer has."""
        now = self.clock()
        with self.db.begin() as conn:
            if run.created or run.changed:
                _apply_staged(conn, run.run_id, now)
            run.deleted = _sweep(conn, run, now)
            _finish(conn, run, now, status="complete")
        return run

    def fail(self, run: RunStats, error: str, *, retryable: bool | None = None) -> RunStats:
        """Discard the run's staging: a failed scope changes no resource."""
        now = self.clock()
        with self.db.begin() as conn:
            conn.execute(staged.delete().where(staged.c.run_id == run.run_id))
            run.created = run.changed = run.deleted = 0
            _finish(conn, run, now, status="failed", error=error, retryable=retryable)
        return run

    def abandon_running(self, reason: str = "abandoned: the collector stopped") -> int:
        """Mark runs left `running` by a crashed or stopped process as failed."""
        now = self.clock()
        with self.db.begin() as conn:
            stale = [
                row.id
                for row in conn.execute(
                    sa.select(scope_runs.c.id).where(scope_runs.c.status == "running")
                )
            ]
            if not stale:
                return 0
            conn.execute(staged.delete().where(staged.c.run_id.in_(stale)))
            conn.execute(
                scope_runs.update()
                .where(scope_runs.c.id.in_(stale))
                .values(status="failed", error=reason, finished_at=now, retryable=True)
            )
        return len(stale)


def _lookup(conn: Connection, uids: list[str]) -> dict[str, sa.Row[Any]]:
    known: dict[str, sa.Row[Any]] = {}
    columns = [
        resources.c.uid,
        resources.c.content_hash,
        resources.c.state,
        resources.c.first_seen,
        resources.c.scope_key,
    ]
    for start in range(0, len(uids), _LOOKUP_CHUNK):
        chunk = uids[start : start + _LOOKUP_CHUNK]
        for row in conn.execute(sa.select(*columns).where(resources.c.uid.in_(chunk))):
            known[row.uid] = row
    return known


def _stage_row(
    run: RunStats, resource: Resource, known: sa.Row[Any] | None, now: datetime
) -> dict[str, Any] | None:
    digest = resource.content_hash()
    present = known is not None and known.state == ResourceState.PRESENT
    # A resource another source used to report moves to this scope, so its sweeps own it.
    if present and known.content_hash == digest and known.scope_key == run.scope.key:  # type: ignore[union-attr]
        return None
    kind = CHANGED if present else CREATED
    return {
        "run_id": run.run_id,
        "uid": resource.uid,
        "kind": kind,
        "source": resource.source,
        "provider": resource.provider,
        "account": resource.account,
        "region": resource.region,
        "type": resource.type,
        "native_id": resource.native_id,
        "name": resource.name,
        "tags": resource.tags,
        "attributes": resource.attributes,
        # Changed rows get their diff when applied, against the row as it is then.
        "changes": {},
        "scope_key": run.scope.key,
        "content_hash": digest,
        "first_seen": known.first_seen if known is not None else now,
        "at": now,
    }


def _apply_staged(conn: Connection, run_id: int, now: datetime) -> None:
    mine = staged.c.run_id == run_id
    _diff_changed(conn, run_id)
    conn.execute(
        events.insert().from_select(
            list(_EVENT_COLUMNS),
            sa.select(
                *(staged.c[name] for name in _EVENT_COLUMNS if name != "at"),
                sa.literal(now, events.c.at.type).label("at"),
            ).where(mine),
        )
    )
    conn.execute(resources.delete().where(resources.c.uid.in_(sa.select(staged.c.uid).where(mine))))
    conn.execute(
        resources.insert().from_select(
            [*_RESOURCE_FROM_STAGED, "state", "last_changed", "last_seen", "deleted_at"],
            sa.select(
                *(staged.c[name] for name in _RESOURCE_FROM_STAGED),
                sa.literal(ResourceState.PRESENT.value).label("state"),
                sa.literal(now, resources.c.last_changed.type).label("last_changed"),
                sa.literal(now, resources.c.last_seen.type).label("last_seen"),
                sa.null().label("deleted_at"),
            ).where(mine),
        )
    )
    conn.execute(staged.delete().where(mine))


def _diff_changed(conn: Connection, run_id: int) -> None:
    """Fill in `changes` (field -> old, new) for the run's changed records."""
    query = (
        sa.select(
            staged.c.id,
            staged.c.name,
            staged.c.tags,
            staged.c.attributes,
            staged.c.source,
            resources.c.source.label("old_source"),
            resources.c.name.label("old_name"),
            resources.c.tags.label("old_tags"),
            resources.c.attributes.label("old_attributes"),
        )
        .join(resources, resources.c.uid == staged.c.uid)
        .where(staged.c.run_id == run_id, staged.c.kind == CHANGED)
    )
    updates = [
        {
            "staged_id": row.id,
            "changes": diff_content(
                {
                    "source": row.old_source,
                    "name": row.old_name,
                    "tags": row.old_tags,
                    "attributes": row.old_attributes,
                },
                {
                    "source": row.source,
                    "name": row.name,
                    "tags": row.tags,
                    "attributes": row.attributes,
                },
            ),
        }
        for row in conn.execute(query)
    ]
    if updates:
        conn.execute(
            staged.update()
            .where(staged.c.id == sa.bindparam("staged_id"))
            .values(changes=sa.bindparam("changes")),
            updates,
        )


def diff_content(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-level differences: `source`, `name`, `tags.<key>`, `attributes.<key>` -> {old, new}."""
    changes: dict[str, dict[str, Any]] = {}
    for key in ("source", "name"):
        if old.get(key) != new.get(key):
            changes[key] = {"old": old.get(key), "new": new.get(key)}
    for section in ("tags", "attributes"):
        before, after = old.get(section) or {}, new.get(section) or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changes[f"{section}.{key}"] = {"old": before.get(key), "new": after.get(key)}
    return changes


def _sweep(conn: Connection, run: RunStats, now: datetime) -> int:
    """Mark deleted what a completed scope no longer returned; returns how many."""
    present = conn.execute(
        sa.select(resources.c.uid).where(
            resources.c.scope_key == run.scope.key,
            resources.c.state == ResourceState.PRESENT.value,
        )
    ).scalars()
    gone = [uid for uid in present if uid not in run.seen_uids]
    for chunk in _chunks(gone, _LOOKUP_CHUNK):
        rows = conn.execute(sa.select(resources).where(resources.c.uid.in_(chunk))).mappings()
        conn.execute(events.insert(), [_deletion_event(row, run.run_id, now) for row in rows])
        conn.execute(
            resources.update()
            .where(resources.c.uid.in_(chunk))
            .values(
                state=ResourceState.DELETED.value,
                deleted_at=now,
                last_changed=now,
                last_seen=now,
            )
        )
    return len(gone)


def _deletion_event(row: sa.RowMapping, run_id: int, now: datetime) -> dict[str, Any]:
    event = {name: row[name] for name in _EVENT_COLUMNS if name in row}
    event.update(run_id=run_id, kind=DELETED, changes={}, at=now)
    return event


def _finish(
    conn: Connection,
    run: RunStats,
    now: datetime,
    *,
    status: str,
    error: str | None = None,
    retryable: bool | None = None,
) -> None:
    run.finished_at = now
    run.seen_uids = set()  # the sweep is done; do not hold the uids any longer
    conn.execute(
        scope_runs.update()
        .where(scope_runs.c.id == run.run_id)
        .values(
            status=status,
            error=error,
            retryable=retryable,
            finished_at=now,
            duration_seconds=(now - run.started_at).total_seconds(),
            pages=run.pages,
            seen=run.seen,
            created=run.created,
            changed=run.changed,
            deleted=run.deleted,
        )
    )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

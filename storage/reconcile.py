"""Reconcile: fold a scope's pages into the inventory, recording every change as an event.

A scope run stages what is new or changed as pages arrive; only when the scope completes are
the staged records applied and the resources it no longer returned marked deleted, all in one
transaction. A failed scope discards its staging and changes no resource: a partial scan never
invents deletions or drift. Unchanged resources are compared by content hash and never
rewritten, so a rescan in which nothing changed writes no resource rows. Volatile attributes
(values that move on every read) are left out of that comparison; a completed run stores what
it observed of them in one statement into their side table (storage/volatile.py).

The hot path is shaped for one writer thread sharing the GIL with many collector threads:
records are turned into storage rows (`prepare_page`, canonical JSON and hash) by the threads
that fetched them; a run loads its scope's content hashes once, so an unchanged record costs a
dict lookup; and whatever touches many rows (applying, classifying, sweeping) is one set-based
statement that runs inside the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from storage import links as link_store
from storage import volatile as volatile_store
from storage.db import Database
from storage.links import LinkKey
from storage.tables import (
    RECORD_FIELDS,
    RESOURCE_COLUMNS,
    chunks,
    events,
    resources,
    scope_runs,
)
from storage.tables import staged_resources as staged
from vigil.core.canonical import canonical_json
from vigil.core.errors import StorageError
from vigil.core.model import (
    ABSENT_RETIRES,
    NAMED_BY,
    Resource,
    ResourceState,
    RunStatus,
    Scope,
    native_ref,
    utcnow,
)

CREATED, CHANGED, DELETED = "created", "changed", "deleted"
_JSON_COLUMNS = frozenset({"tags", "attributes", "changes"})
_EVENT_COLUMNS = (*RECORD_FIELDS, "run_id", "scope_key", "kind", "changes", "first_seen", "at")
_RESOURCE_UPDATED = ("source", "name", "tags", "attributes", "scope_key", "content_hash")

StorageRow = tuple[str, ...]
"""A record as storage writes it: RESOURCE_COLUMNS' values, uid first, content hash last."""


def prepare_page(
    scope: Scope, page: Iterable[Resource], volatile: tuple[str, ...] = ()
) -> list[StorageRow]:
    """A page as storage rows: the per-record CPU work, done by whichever thread calls it."""
    rows: list[StorageRow] = []
    for resource in page:
        tags, attributes, digest = resource.serialized(volatile)
        rows.append(
            (
                resource.uid,
                resource.source,
                resource.provider,
                resource.account,
                resource.region,
                resource.type,
                resource.native_id,
                resource.name,
                tags,
                attributes,
                scope.key,
                digest,
            )
        )
    return rows


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
    throttled: int = 0  # throttling answers the scope received (collectors/throttles.py)
    finished_at: datetime | None = None
    volatile: tuple[str, ...] = ()
    staged: int = 0
    seen_uids: set[str] = field(default_factory=set, repr=False)
    # uid -> content hash of the scope's present resources not yet seen by this run.
    unseen_hashes: dict[str, str] = field(default_factory=dict, repr=False)
    # uid -> observed volatile values (JSON), written when the run completes.
    observed: dict[str, str] = field(default_factory=dict, repr=False)
    links_seen: set[LinkKey] = field(default_factory=set, repr=False)
    # (from, kind, target) -> row id of the scope's present links not yet seen by this run.
    unseen_links: dict[LinkKey, int] = field(default_factory=dict, repr=False)
    links_staged: int = 0
    links_ended: int = 0
    # The references whose resolution this run may change: the ones it staged, and every name
    # (`links.names_of`) a resource it created, changed or deleted answered or answers to.
    touched_refs: set[str] = field(default_factory=set, repr=False)
    # uid -> DNS names of the named records staged (`links.dns_names`), stored with them.
    named_staged: dict[str, set[str]] = field(default_factory=dict, repr=False)


class Reconciler:
    """Applies scope runs to storage. One writer: call it from one thread."""

    def __init__(self, db: Database, *, clock: Any = utcnow, pass_id: str | None = None) -> None:
        self.db = db
        self.clock = clock
        self.pass_id = pass_id  # the queued pass (`executor.kind: queue`) its runs belong to
        self._running: dict[int, RunStats] = {}

    def start(self, scope: Scope, *, volatile: tuple[str, ...] = ()) -> RunStats:
        """Record that a scope run began; returns the run's handle.

        `volatile` names attributes that change on every read; they never count as a change.
        """
        now = self.clock()
        with self.db.connect() as conn:  # read outside the write transaction
            hashes = _present_hashes(conn, scope.key)
            known_links = link_store.present_links(conn, scope.key)
        run = RunStats(
            run_id=self._insert_run(scope, now),
            scope=scope,
            started_at=now,
            volatile=volatile,
            unseen_hashes=hashes,
            unseen_links=known_links,
        )
        self._running[run.run_id] = run
        return run

    def record_failure(
        self, scope: Scope, error: str, *, retryable: bool | None = None
    ) -> RunStats:
        """A run that failed before it fetched anything (planning, or abandoned unstarted)."""
        now = self.clock()
        run = RunStats(run_id=self._insert_run(scope, now), scope=scope, started_at=now)
        return self.fail(run, error, retryable=retryable)

    def _insert_run(self, scope: Scope, now: datetime) -> int:
        with self.db.begin() as conn:
            result = conn.execute(
                scope_runs.insert().values(
                    scope_key=scope.key,
                    source=scope.source,
                    provider=scope.provider,
                    account=scope.account,
                    region=scope.region,
                    type=scope.type,
                    status=RunStatus.RUNNING,
                    started_at=now,
                    pass_id=self.pass_id,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def add_page(self, run: RunStats, page: Sequence[Resource]) -> None:
        """Stage the new and changed records of one page and its first-seen links."""
        self.add_rows(
            run,
            prepare_page(run.scope, page, run.volatile),
            volatile_store.observe(page, run.volatile),
            link_store.prepare_links(page),
        )

    def add_rows(
        self,
        run: RunStats,
        rows: Sequence[StorageRow],
        observed: Iterable[volatile_store.Observation] = (),
        links: Sequence[LinkKey] = (),
    ) -> None:
        """Stage the new and changed rows of one page (from `prepare_page`) and its links (from
        `links.prepare_links`), and keep its volatile observations (from `volatile.observe`)
        for when the run completes.

        An unchanged record costs a set insert and a dict lookup; nothing is written for it.
        """
        run.pages += 1
        for uid, values in observed:
            run.observed.setdefault(uid, values)  # the first record of a uid wins, as below
        seen, unseen = run.seen_uids, run.unseen_hashes
        fresh = []
        for row in rows:
            uid = row[0]
            if uid in seen:
                continue
            seen.add(uid)
            if unseen.pop(uid, None) != row[-1]:
                fresh.append(row)
        run.seen = len(seen)
        _touch_names(run, fresh)
        new_links = _first_seen_links(run, links)
        if fresh or new_links:
            with self.db.begin() as conn:
                if fresh:
                    _insert_staged(conn, run.run_id, fresh)
                if new_links:
                    link_store.stage(conn, run.run_id, new_links)
            run.staged += len(fresh)
            run.links_staged += len(new_links)
            run.touched_refs.update(link_store.references(new_links))

    def complete(self, run: RunStats) -> RunStats:
        """Apply the run: staged records, then deletions of what the scope no longer has."""
        now = self.clock()
        with self.db.begin() as conn:
            _claim(conn, run)
            if run.named_staged:  # the names they answer to until now, then from now on
                run.touched_refs.update(link_store.names_held(conn, list(run.named_staged)))
                link_store.name(conn, run.named_staged)
            if run.staged:
                taken = _apply_staged(conn, run, now)
                self._forget_taken(run, taken)
            run.deleted = _sweep(conn, run, now)
            volatile_store.upsert(conn, run.observed, now)
            _apply_links(conn, run, now)
            _finish(conn, run, now, status=RunStatus.COMPLETE)
        self._running.pop(run.run_id, None)
        return run

    def _forget_taken(self, taker: RunStats, taken: list[tuple[str, str]]) -> None:
        """Runs of the scopes `taker` took resources from must compare them afresh.

        Their hashes were read when they started; a resource that has since moved to
        another scope is no longer theirs, so when they return it, it moves back.
        """
        by_scope: dict[str, list[str]] = {}
        for uid, owner in taken:
            by_scope.setdefault(owner, []).append(uid)
        for other in self._running.values():
            if other is not taker and other.scope.key in by_scope:
                for uid in by_scope[other.scope.key]:
                    other.unseen_hashes.pop(uid, None)

    def fail(self, run: RunStats, error: str, *, retryable: bool | None = None) -> RunStats:
        """Discard the run's staging: a failed scope changes no resource."""
        now = self.clock()
        with self.db.begin() as conn:
            conn.execute(staged.delete().where(staged.c.run_id == run.run_id))
            link_store.discard(conn, [run.run_id])
            run.created = run.changed = run.deleted = 0
            _finish(conn, run, now, status=RunStatus.FAILED, error=error, retryable=retryable)
        self._running.pop(run.run_id, None)
        return run

    def abandon_running(
        self,
        reason: str = "abandoned: the collector stopped",
        *,
        scope_key: str | None = None,
        queued: bool | None = None,
        pass_id: str | None = None,
    ) -> int:
        """Mark runs left `running` by a crashed or stopped process as failed: those of
        `scope_key` only when given; `queued=False` spares the runs of queued passes (their
        workers may be alive: a worker abandons its scope's stale run when the job is retried)."""
        now = self.clock()
        query = sa.select(scope_runs.c.id).where(scope_runs.c.status == RunStatus.RUNNING)
        if scope_key is not None:
            query = query.where(scope_runs.c.scope_key == scope_key)
        if pass_id is not None:
            query = query.where(scope_runs.c.pass_id == pass_id)
        if queued is not None:
            has_pass = scope_runs.c.pass_id.is_not(None)
            query = query.where(has_pass if queued else ~has_pass)
        with self.db.begin() as conn:
            candidates = [row.id for row in conn.execute(query)]
            if not candidates:
                return 0
            # Re-checked under the row locks: a run that completed since the read (its
            # `_claim` held the row) stays complete.
            stale = [
                row.id
                for row in conn.execute(
                    scope_runs.update()
                    .where(scope_runs.c.id.in_(candidates))
                    .where(scope_runs.c.status == RunStatus.RUNNING)
                    .values(status=RunStatus.FAILED, error=reason, finished_at=now, retryable=True)
                    .returning(scope_runs.c.id)
                )
            ]
            if stale:
                conn.execute(staged.delete().where(staged.c.run_id.in_(stale)))
                link_store.discard(conn, stale)
        return len(stale)

    def discard(self, run: RunStats) -> None:
        """Drop what an abandoned run staged (another attempt took its scope over)."""
        with self.db.begin() as conn:
            conn.execute(staged.delete().where(staged.c.run_id == run.run_id))
            link_store.discard(conn, [run.run_id])
        self._running.pop(run.run_id, None)


class RunAbandoned(StorageError):
    """The run was marked failed by someone else (a later attempt at its scope) before it
    completed: it applies nothing."""


def _claim(conn: Connection, run: RunStats) -> None:
    """Lock the run's row for the completing transaction; a run abandoned meanwhile (its worker
    was taken for dead and the scope retried) applies nothing, so one attempt applies."""
    status = conn.execute(
        sa.select(scope_runs.c.status).where(scope_runs.c.id == run.run_id).with_for_update()
    ).scalar_one()
    if status != RunStatus.RUNNING:
        raise RunAbandoned(
            f"scope run {run.run_id} of {run.scope.key} was abandoned ({status}) before it "
            "completed; nothing of it was applied"
        )


def _first_seen_links(run: RunStats, links: Sequence[LinkKey]) -> list[LinkKey]:
    """The links of a page this run sees for the first time and the scope did not have."""
    seen, unseen = run.links_seen, run.unseen_links
    fresh = []
    for key in links:
        if key in seen:
            continue
        seen.add(key)
        if unseen.pop(key, None) is None:
            fresh.append(key)
    return fresh


def _touch_names(run: RunStats, fresh: Sequence[StorageRow]) -> None:
    """Note the names the run's new and changed records answer to (their references)."""
    touched = run.touched_refs
    for row in fresh:
        type_ = row[5]
        touched.add(native_ref(type_, row[6]))
        if type_ in NAMED_BY:
            names = link_store.dns_names(type_, json.loads(row[9]))
            run.named_staged[row[0]] = names
            touched.update(names)


def _apply_links(conn: Connection, run: RunStats, now: datetime) -> None:
    """The run's new links in, its vanished ones ended, then the pending references this run
    could have made resolvable (its own, and those naming what it created, changed or
    deleted) resolved."""
    if run.links_staged:
        link_store.apply(conn, run.run_id, run.scope.key, now)
    run.links_ended = link_store.sweep(conn, run.scope.key, run.unseen_links.values(), now)
    if run.touched_refs:
        link_store.resolve(conn, run.touched_refs)


def _present_hashes(conn: Connection, scope_key: str) -> dict[str, str]:
    """uid -> content hash of a scope's present resources: one indexed range read."""
    rows = conn.execute(
        sa.select(resources.c.uid, resources.c.content_hash).where(
            resources.c.scope_key == scope_key,
            resources.c.state == ResourceState.PRESENT.value,
        )
    )
    return {uid: digest for uid, digest in rows}


def _insert_staged(conn: Connection, run_id: int, rows: list[StorageRow]) -> None:
    """A plain DBAPI executemany: the ingest hot path skips per-row type processing.

    Every row is staged as `created`; `_classify` sorts out the changed ones when the run is
    applied, against the table as it is then.
    """
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    markers = ", ".join([marker] * len(RESOURCE_COLUMNS))
    sql = (
        f"INSERT INTO {staged.name} (run_id, kind, changes, {', '.join(RESOURCE_COLUMNS)}) "
        f"VALUES ({int(run_id)}, '{CREATED}', '{{}}', {markers})"
    )
    conn.exec_driver_sql(sql, rows)


def _apply_staged(conn: Connection, run: RunStats, now: datetime) -> list[tuple[str, str]]:
    """Set-based: events, then updates of known rows, then inserts of new ones.

    Returns (uid, previous scope) of the resources the run took over from other scopes.
    """
    mine = staged.c.run_id == run.run_id
    _classify(conn, run)
    taken: list[tuple[str, str]] = []
    if run.changed:
        taken = _taken_over(conn, run)
        _diff_changed(conn, run)
    when = sa.literal(now, events.c.at.type)
    previous = resources.alias("previous")
    conn.execute(
        events.insert().from_select(
            list(_EVENT_COLUMNS),
            sa.select(
                *(_staged(conn, name) for name in _EVENT_COLUMNS[:-2]),
                sa.func.coalesce(previous.c.first_seen, when).label("first_seen"),
                when.label("at"),
            )
            .select_from(staged.outerjoin(previous, previous.c.uid == staged.c.uid))
            .where(mine),
        )
    )
    _update_known(conn, run, now)
    if run.created:
        _insert_new(conn, run, now)
    conn.execute(staged.delete().where(mine))
    return taken


def _classify(conn: Connection, run: RunStats) -> None:
    """Mark staged records of resources present anywhere as changed; count both kinds."""
    mine = staged.c.run_id == run.run_id
    present = sa.exists().where(
        resources.c.uid == staged.c.uid, resources.c.state == ResourceState.PRESENT.value
    )
    conn.execute(staged.update().where(mine, present).values(kind=CHANGED))
    counts = {
        kind: count
        for kind, count in conn.execute(
            sa.select(staged.c.kind, sa.func.count()).where(mine).group_by(staged.c.kind)
        )
    }
    run.created, run.changed = counts.get(CREATED, 0), counts.get(CHANGED, 0)


def _taken_over(conn: Connection, run: RunStats) -> list[tuple[str, str]]:
    """(uid, owner) of the present resources another scope owns that this run returned."""
    rows = conn.execute(
        sa.select(staged.c.uid, resources.c.scope_key)
        .join(resources, resources.c.uid == staged.c.uid)
        .where(
            staged.c.run_id == run.run_id,
            staged.c.kind == CHANGED,
            resources.c.scope_key != run.scope.key,
        )
    )
    return [(uid, owner) for uid, owner in rows]


def _update_known(conn: Connection, run: RunStats, now: datetime) -> None:
    """Rows already in the table: changed resources (moved from another scope included) and
    deleted ones that came back."""
    conn.execute(
        resources.update()
        .where(resources.c.uid == staged.c.uid, staged.c.run_id == run.run_id)
        .values(
            **{name: _staged(conn, name) for name in _RESOURCE_UPDATED},
            state=ResourceState.PRESENT.value,
            last_changed=now,
            last_seen=now,
            deleted_at=None,
        )
    )


def _insert_new(conn: Connection, run: RunStats, now: datetime) -> None:
    """Resources never stored before."""
    when = sa.literal(now, events.c.at.type)
    mine = staged.c.run_id == run.run_id
    known = sa.select(resources.c.uid).where(resources.c.uid == staged.c.uid)
    conn.execute(
        resources.insert().from_select(
            [*RESOURCE_COLUMNS, "first_seen", "state", "last_changed", "last_seen"],
            sa.select(
                *(_staged(conn, name) for name in RESOURCE_COLUMNS),
                when.label("first_seen"),
                sa.literal(ResourceState.PRESENT.value).label("state"),
                when.label("last_changed"),
                when.label("last_seen"),
            ).where(mine, ~known.exists()),
        )
    )


def _diff_changed(conn: Connection, run: RunStats) -> None:
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
        .where(staged.c.run_id == run.run_id, staged.c.kind == CHANGED)
    )
    updates = [
        {
            "staged_id": row.id,
            "changes": canonical_json(
                diff_content(
                    {
                        "source": row.old_source,
                        "name": row.old_name,
                        "tags": row.old_tags,
                        "attributes": row.old_attributes,
                    },
                    {
                        "source": row.source,
                        "name": row.name,
                        "tags": json.loads(row.tags),
                        "attributes": json.loads(row.attributes),
                    },
                    ignore=run.volatile,
                )
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


def _staged(conn: Connection, name: str) -> sa.ColumnElement[Any]:
    """A staged column as its destination expects it: JSON text becomes JSONB on PostgreSQL."""
    column: sa.ColumnElement[Any] = staged.c[name]
    if name in _JSON_COLUMNS and conn.dialect.name == "postgresql":
        return sa.cast(column, postgresql.JSONB).label(name)
    return column


def diff_content(
    old: dict[str, Any], new: dict[str, Any], *, ignore: tuple[str, ...] = ()
) -> dict[str, dict[str, Any]]:
    """Field-level differences: `source`, `name`, `tags.<key>`, `attributes.<key>` -> {old, new}."""
    changes: dict[str, dict[str, Any]] = {}
    for key in ("source", "name"):
        if old.get(key) != new.get(key):
            changes[key] = {"old": old.get(key), "new": new.get(key)}
    for section in ("tags", "attributes"):
        before, after = old.get(section) or {}, new.get(section) or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key) and not (
                section == "attributes" and key in ignore
            ):
                changes[f"{section}.{key}"] = {"old": before.get(key), "new": after.get(key)}
    return changes


def _sweep(conn: Connection, run: RunStats, now: datetime) -> int:
    """Mark deleted what a completed scope no longer returned; returns how many.

    The candidates are the scope's resources present at the run's start and never seen by
    it; each chunk is re-checked against the table, so one that moved meanwhile stays.
    """
    deleted = 0
    gone_state, gone_kind = ResourceState.DELETED.value, DELETED
    if ABSENT_RETIRES in run.scope.context:
        gone_state, gone_kind = ResourceState.RETIRED.value, ResourceState.RETIRED.value
    mine = (resources.c.scope_key == run.scope.key) & (
        resources.c.state == ResourceState.PRESENT.value
    )
    for chunk in chunks(list(run.unseen_hashes)):
        rows = conn.execute(sa.select(resources).where(resources.c.uid.in_(chunk), mine))
        gone = [_deletion_event(row, run.run_id, now, gone_kind) for row in rows.mappings()]
        if not gone:
            continue
        for event in gone:
            run.touched_refs.update(
                link_store.names_of(event["type"], event["native_id"], event["attributes"])
            )
        conn.execute(events.insert(), gone)
        conn.execute(
            resources.update()
            .where(resources.c.uid.in_([event["uid"] for event in gone]))
            .values(
                state=gone_state,
                deleted_at=now,
                last_changed=now,
                last_seen=now,
            )
        )
        deleted += len(gone)
    return deleted


def _deletion_event(
    row: sa.RowMapping, run_id: int, now: datetime, kind: str = DELETED
) -> dict[str, Any]:
    event = {name: row[name] for name in _EVENT_COLUMNS if name in row}
    event.update(run_id=run_id, kind=kind, changes={}, at=now)
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
    run.seen_uids, run.unseen_hashes, run.observed = set(), {}, {}  # done: let the uids go
    run.links_seen, run.unseen_links = set(), {}
    run.touched_refs, run.named_staged = set(), {}
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
            throttled=run.throttled,
        )
    )

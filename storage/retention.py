"""Bounded history: what `vigil prune` and the daemon's daily prune delete, in small batches.

What is never pruned, because it decides what Vigil knows:
- each scope's newest completed run and newest finished run (known/unknown and staleness are
  read from them), and every run still running;
- each resource's newest change event at or before the cutoff: the checkpoint that keeps
  `inventory --as-of` exact for every time inside the window (the as-of query reads the newest
  event at or before the asked time, and that event survives);
- present resources, open and silenced findings, pending/failing outbox rows, silences and the
  evidence-pack chain.

Each batch is its own short transaction, so a prune never holds the database for long and an
interrupted one leaves a consistent database that the next prune continues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.db import Database
from storage.tables import (
    DEAD,
    SENT,
    events,
    outbox,
    resources,
    scope_runs,
)
from storage.tables import findings_table as findings
from storage.tables import retention_marks as marks
from storage.tables import volatile_values as volatile
from vigil.core.errors import InputError
from vigil.core.model import FindingStatus, ResourceState, RunStatus, iso
from vigil.core.retention import RetentionPolicy

BATCH = 5000
CHANGES = "changes"


@dataclass
class PruneReport:
    """Rows deleted (or, with dry_run, that would be) per kind, and the cutoffs used."""

    dry_run: bool
    deleted: dict[str, int] = field(default_factory=dict)
    cutoffs: dict[str, datetime] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def prune(
    db: Database,
    policy: RetentionPolicy,
    now: datetime,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
) -> PruneReport:
    """Delete history older than the policy's windows, in batches; dry_run only counts."""
    cutoffs = {name: now - getattr(policy, name) for name in _STEPS}
    report = PruneReport(dry_run=dry_run, cutoffs=cutoffs)
    for name, (table, victims) in _STEPS.items():
        query = victims(cutoffs)
        report.deleted[name] = (
            _count(db, query)
            if dry_run
            else _delete_batches(db, table, query, batch, recheck=name in _MUTABLE)
        )
    if not dry_run:
        _raise_mark(db, CHANGES, cutoffs[CHANGES])
    return report


def history_horizon(db: Database) -> datetime | None:
    """The earliest time `inventory --as-of` is exact for, once a prune has run; else None."""
    with db.connect() as conn:
        value = conn.execute(sa.select(marks.c.horizon).where(marks.c.name == CHANGES)).scalar()
    return value if isinstance(value, datetime) else None


def check_as_of(db: Database, as_of: datetime, window: timedelta, now: datetime) -> None:
    """Refuse a time before the kept history: the answer there would be a guess."""
    horizon = history_horizon(db)
    limit = max(filter(None, (horizon, now - window)))
    if as_of < limit:
        raise InputError(
            f"--as-of {iso(as_of)} is before the kept history, which starts at {iso(limit)} "
            f"(retention.changes is {window.days}d)",
            fix=f"ask for a time after {iso(limit)}, or raise retention.changes "
            "(history already pruned does not come back)",
        )


Cutoffs = dict[str, datetime]


def _deleted_resources(cutoffs: Cutoffs) -> sa.Select[Any]:
    """Resources deleted or retired for longer than their window."""
    return sa.select(resources.c.uid).where(
        resources.c.state.in_((ResourceState.DELETED.value, ResourceState.RETIRED.value)),
        resources.c.deleted_at < cutoffs["deleted_resources"],
    )


def _old_events(cutoffs: Cutoffs) -> sa.Select[Any]:
    """Events older than the window except each resource's newest one (the checkpoint), and
    every event of a resource pruned as deleted (or about to be, when only counting)."""
    cutoff = cutoffs[CHANGES]
    checkpoints = (
        sa.select(sa.func.max(events.c.id)).where(events.c.at < cutoff).group_by(events.c.uid)
    )
    superseded = sa.and_(events.c.at < cutoff, events.c.id.not_in(checkpoints))
    gone = sa.or_(
        events.c.uid.in_(_deleted_resources(cutoffs)),
        events.c.uid.not_in(sa.select(resources.c.uid)),
    )
    return sa.select(events.c.id).where(sa.or_(superseded, gone))


def _old_runs(cutoffs: Cutoffs) -> sa.Select[Any]:
    """Finished runs older than the window, except each scope's newest completed and finished."""
    cutoff = cutoffs["scope_runs"]
    finished = scope_runs.c.finished_at.is_not(None)
    newest_finished = sa.select(sa.func.max(scope_runs.c.id)).where(finished)
    newest_complete = sa.select(sa.func.max(scope_runs.c.id)).where(
        scope_runs.c.status == RunStatus.COMPLETE
    )
    return sa.select(scope_runs.c.id).where(
        finished,
        scope_runs.c.finished_at < cutoff,
        scope_runs.c.id.not_in(newest_finished.group_by(scope_runs.c.scope_key)),
        scope_runs.c.id.not_in(newest_complete.group_by(scope_runs.c.scope_key)),
    )


def _sent_notifications(cutoffs: Cutoffs) -> sa.Select[Any]:
    return sa.select(outbox.c.id).where(
        outbox.c.status == SENT, outbox.c.sent_at < cutoffs["outbox_sent"]
    )


def _dead_notifications(cutoffs: Cutoffs) -> sa.Select[Any]:
    # A dead message was never sent: its age counts from enqueueing.
    return sa.select(outbox.c.id).where(
        outbox.c.status == DEAD, outbox.c.created_at < cutoffs["outbox_dead"]
    )


def _resolved_findings(cutoffs: Cutoffs) -> sa.Select[Any]:
    return sa.select(findings.c.fingerprint).where(
        findings.c.status == FindingStatus.RESOLVED.value,
        findings.c.resolved_at < cutoffs["resolved_findings"],
    )


_MUTABLE = frozenset({"deleted_resources", "resolved_findings"})
"""Rows whose condition can stop holding between finding and deleting them; the rest (old
events, superseded runs, sent or dead messages) stay victims once they are."""

_DEPENDENTS: dict[str, tuple[sa.Table, ...]] = {resources.name: (volatile,)}
"""Tables keyed by a resource's uid whose rows go in the same transaction as the resource."""

_STEPS: dict[str, tuple[sa.Table, Callable[[Cutoffs], sa.Select[Any]]]] = {
    # Resources first: their events then count as orphans of the events step.
    "deleted_resources": (resources, _deleted_resources),
    CHANGES: (events, _old_events),
    "scope_runs": (scope_runs, _old_runs),
    "outbox_sent": (outbox, _sent_notifications),
    "outbox_dead": (outbox, _dead_notifications),
    "resolved_findings": (findings, _resolved_findings),
}


def _delete_batches(
    db: Database, table: sa.Table, victims: sa.Select[Any], batch: int, *, recheck: bool
) -> int:
    """Delete the rows `victims` selects (by primary key), `batch` per transaction.

    `recheck` re-applies the condition inside the write transaction, for rows that can change
    back meanwhile (a deleted resource seen again, a resolved finding reopened)."""
    key = next(iter(table.primary_key.columns))
    deleted = 0
    while True:
        # Found on a read connection, deleted in a short write transaction of its own: the
        # search never holds the write lock, and a victim is never a row that came back.
        with db.connect() as conn:
            ids = list(conn.execute(victims.limit(batch)).scalars())
        if not ids:
            return deleted
        still = victims.where(key.in_(ids)) if recheck else sa.select(key).where(key.in_(ids))
        with db.begin() as conn:
            for dependent in _DEPENDENTS.get(table.name, ()):
                conn.execute(dependent.delete().where(dependent.c.uid.in_(still.scalar_subquery())))
            deleted += conn.execute(table.delete().where(key.in_(still.scalar_subquery()))).rowcount


def _count(db: Database, victims: sa.Select[Any]) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(victims.subquery())).scalar_one()
        )


def _raise_mark(db: Database, name: str, horizon: datetime) -> None:
    """Remember the newest cutoff applied; a later, shorter window moves it, never back."""
    current = history_horizon(db)
    if current is not None and current >= horizon:
        return
    with db.begin() as conn:
        conn.execute(marks.delete().where(marks.c.name == name))
        conn.execute(marks.insert().values(name=name, horizon=horizon))

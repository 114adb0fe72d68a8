"""Retention: old history goes, what decides known/unknown and --as-of inside the window stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from storage import inventory, retention, runs
from storage.db import Database
from storage.reconcile import Reconciler
from storage.retention import check_as_of, prune
from storage.tables import DEAD, PENDING, SENT, events, findings_table, outbox, scope_runs
from tests.factories import resource, scope
from tests.factories.storage import scan, stored_finding
from vigil.core.errors import InputError
from vigil.core.retention import RetentionPolicy

START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = START + timedelta(days=600)
POLICY = RetentionPolicy()  # changes 400d: the cutoff is START + 200d


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def history(db: Database) -> Clock:
    """i-1 changes at days 0, 100, 300, 500; i-2 is deleted at day 50; i-3 at day 450."""
    clock = Clock()
    reconciler = Reconciler(db, clock=clock)
    where = scope()
    timeline = [
        (0, [resource("i-1", size="a"), resource("i-2"), resource("i-3")]),
        (50, [resource("i-1", size="a"), resource("i-3")]),
        (100, [resource("i-1", size="b"), resource("i-3")]),
        (300, [resource("i-1", size="c"), resource("i-3")]),
        (450, [resource("i-1", size="c")]),
        (500, [resource("i-1", size="d")]),
    ]
    for day, estate in timeline:
        clock.now = START + timedelta(days=day)
        scan(reconciler, where, [estate])
    clock.now = START + timedelta(days=590)
    scan(reconciler, where, [[resource("i-1", size="d")]], fail=True)
    return clock


def snapshot(db: Database, day: int) -> list[tuple[str, object, str]]:
    at = START + timedelta(days=day)
    present = inventory.inventory(db, as_of=at)
    return [(r.native_id, r.attributes.get("size"), r.state) for r in present]


def count(db: Database, table: sa.Table) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_as_of_is_exact_inside_the_window_after_a_prune(db: Database) -> None:
    history(db)
    days = (200, 250, 299, 300, 301, 449, 450, 500, 599)
    before = {day: snapshot(db, day) for day in days}

    report = prune(db, POLICY, NOW)

    assert {day: snapshot(db, day) for day in days} == before
    assert snapshot(db, 250) == [("i-1", "b", "present"), ("i-3", None, "present")]
    assert snapshot(db, 450) == [("i-1", "c", "present")]
    # i-1's day-0 create is superseded by its day-100 change (the checkpoint); i-2 (deleted
    # at day 50) is older than deleted_resources' 400 days and goes with its history.
    assert report.deleted["deleted_resources"] == 1
    with db.connect() as conn:
        uids = {row.uid.rsplit("/", 1)[-1] for row in conn.execute(sa.select(events.c.uid))}
        first = conn.execute(
            sa.select(sa.func.min(events.c.at)).where(events.c.uid.like("%/i-1"))
        ).scalar_one()
    assert uids == {"i-1", "i-3"}
    assert first.replace(tzinfo=UTC) == START + timedelta(days=100)
    assert retention.history_horizon(db) == NOW - POLICY.changes


def test_a_second_prune_deletes_nothing_more(db: Database) -> None:
    history(db)
    prune(db, POLICY, NOW)
    again = prune(db, POLICY, NOW)
    assert again.total == 0


def test_the_runs_that_decide_known_and_unknown_are_kept(db: Database) -> None:
    history(db)
    before = runs.scope_statuses(db)[0]

    report = prune(db, POLICY, NOW)

    after = runs.scope_statuses(db)[0]
    assert (after.status, after.last_complete) == (before.status, before.last_complete)
    assert after.last_complete == START + timedelta(days=500)
    assert report.deleted["scope_runs"] == 5  # days 0-450; 500 (complete) and 590 (failed) stay
    assert count(db, scope_runs) == 2


def test_a_scope_that_last_completed_long_ago_keeps_that_run(db: Database) -> None:
    clock = Clock()
    reconciler = Reconciler(db, clock=clock)
    scan(reconciler, scope(), [[resource("i-1")]])
    for day in (100, 200, 300):
        clock.now = START + timedelta(days=day)
        scan(reconciler, scope(), [[resource("i-1")]], fail=True)

    prune(db, POLICY, NOW)

    status = runs.scope_statuses(db)[0]
    assert status.last_complete == START
    assert status.status == "failed"
    assert count(db, scope_runs) == 2


def test_dry_run_counts_what_a_prune_deletes_and_deletes_nothing(db: Database) -> None:
    history(db)
    rows = count(db, events), count(db, scope_runs)

    dry = prune(db, POLICY, NOW, dry_run=True)

    assert (count(db, events), count(db, scope_runs)) == rows
    assert retention.history_horizon(db) is None
    assert prune(db, POLICY, NOW, batch=2).deleted == dry.deleted


def add_outbox(
    db: Database, key: str, status: str, created_days: int, sent_days: int | None
) -> None:
    created = START + timedelta(days=created_days)
    with db.begin() as conn:
        conn.execute(
            outbox.insert().values(
                key=key, notifier="slack", route="r", rule="cert.expired", severity="critical",
                summary="s", alerts=1, status=status, attempts=1, payload={},
                created_at=created, next_attempt_at=created,
                sent_at=START + timedelta(days=sent_days) if sent_days is not None else None,
            )
        )  # fmt: skip


def test_sent_and_dead_notifications_go_after_their_windows_undelivered_ones_never(
    db: Database,
) -> None:
    add_outbox(db, "sent-old", SENT, 0, 500)  # sent 100 days before NOW: over 30d
    add_outbox(db, "sent-new", SENT, 0, 590)  # 10 days: kept
    add_outbox(db, "dead-old", DEAD, 400, None)  # 200 days: over 90d
    add_outbox(db, "dead-new", DEAD, 550, None)  # 50 days: kept
    add_outbox(db, "pending", PENDING, 0, None)  # however old: kept

    prune(db, POLICY, NOW)

    with db.connect() as conn:
        keys = set(conn.execute(sa.select(outbox.c.key)).scalars())
    assert keys == {"sent-new", "dead-new", "pending"}


def add_finding(db: Database, fingerprint: str, status: str, resolved_days: int | None) -> None:
    resolved = START + timedelta(days=resolved_days) if resolved_days else None
    stored_finding(db, fingerprint, status, at=START, resolved_at=resolved)


def test_resolved_findings_go_after_their_window_open_ones_never(db: Database) -> None:
    add_finding(db, "resolved-old", "resolved", 100)  # 500 days ago
    add_finding(db, "resolved-new", "resolved", 300)  # 300 days ago
    add_finding(db, "open-old", "open", None)

    prune(db, POLICY, NOW)

    with db.connect() as conn:
        kept = set(conn.execute(sa.select(findings_table.c.fingerprint)).scalars())
    assert kept == {"resolved-new", "open-old"}


def test_as_of_before_the_kept_history_is_refused_naming_the_limit(db: Database) -> None:
    history(db)
    prune(db, POLICY, NOW)
    limit = NOW - POLICY.changes

    check_as_of(db, limit, POLICY.changes, NOW)
    with pytest.raises(InputError) as refused:
        check_as_of(db, limit - timedelta(seconds=1), POLICY.changes, NOW)
    assert "2025-07-20T00:00:00Z" in refused.value.message
    assert "retention.changes" in refused.value.message


def test_a_raised_window_does_not_pretend_pruned_history_came_back(db: Database) -> None:
    history(db)
    prune(db, POLICY, NOW)
    longer = timedelta(days=900)
    with pytest.raises(InputError, match="2025-07-20"):
        check_as_of(db, START + timedelta(days=100), longer, NOW)

"""The dashboard's change queries agree with the row-by-row ones, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from storage import history_queries, queries
from storage.db import Database
from storage.findings import FindingStore
from tests.dashboard.estate import seed
from vigil.app.check import run_check
from vigil.core.model import Severity, utcnow


def test_changes(db: Database) -> None:
    estate = seed(db)
    since = estate.now - timedelta(days=7)
    page = history_queries.recent_changes(db, since, kinds=("deleted",))
    assert [r["native_id"] for r in page.rows] == ["i-0011"]
    per_day = history_queries.changes_per_day(db, since)
    assert sum(n for _, _, n in per_day) == len(list(queries.changes(db, since=since)))


def test_worst_open_is_the_most_severe_open_finding_silenced_and_resolved_left_out(
    db: Database,
) -> None:
    from tests.dashboard.estate import seed_linked

    linked = seed_linked(db)
    FindingStore(db).add_silence(
        rule="network.open_port",
        reason="bastion, reviewed",
        author="sre@example.com",
        expires_at=utcnow() + timedelta(days=1),
        now=utcnow(),
    )
    run_check(db)

    worst = history_queries.worst_open(db, [linked.group, linked.disk, linked.web, "gone"])

    # sg-web's critical network.open_port is silenced: no colour; vol-web's backup.missing is
    # open and escalated (reachable from shop.example.com); i-web has nothing open.
    assert worst == {linked.disk: Severity.CRITICAL}

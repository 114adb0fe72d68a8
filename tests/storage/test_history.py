"""The dashboard's change queries agree with the row-by-row ones, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from storage import history
from storage.db import Database
from tests.dashboard.estate import seed


def test_changes(db: Database) -> None:
    estate = seed(db)
    since = estate.now - timedelta(days=7)
    page = history.recent_changes(db, since, kinds=("deleted",))
    assert [r["native_id"] for r in page.rows] == ["i-0011"]
    per_day = history.changes_per_day(db, since)
    assert sum(n for _, _, n in per_day) == len(list(history.changes(db, since=since)))

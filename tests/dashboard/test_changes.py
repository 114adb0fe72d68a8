"""The changes page: the drift timeline with old and new values."""

from __future__ import annotations

from datetime import timedelta

from storage import history
from storage.db import Database
from tests.dashboard.estate import Estate
from tests.dashboard.helpers import metric, table


def test_counts_and_filters(open_page, estate: Estate, sqlite_db: Database) -> None:
    app = open_page("views/changes.py")
    week = list(history.changes(sqlite_db, since=estate.now - timedelta(days=7)))
    assert metric(app, "Change events") == len(week)
    app.multiselect(key="changes_kind").set_value(["deleted"]).run()
    assert metric(app, "Change events") == 1
    assert table(app, "field")["native_id"].tolist() == ["i-0011"]


def test_old_and_new_values_shown(open_page, estate: Estate) -> None:
    app = open_page("views/changes.py")
    app.multiselect(key="changes_kind").set_value(["changed"]).run()
    rows = table(app, "field")
    renamed = rows[rows["field"] == "tags.Name"].iloc[0]
    assert (renamed["native_id"], renamed["old"], renamed["new"]) == (
        "i-0003",
        "web-3",
        "web-3-renamed",
    )

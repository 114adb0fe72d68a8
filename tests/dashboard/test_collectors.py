"""The collectors page: every scope's status, last success, duration and error."""

from __future__ import annotations

import pandas as pd

from storage import runs
from storage.db import Database
from tests.dashboard.estate import Estate
from tests.dashboard.helpers import metric, table


def test_every_scope_with_its_status(open_page, estate: Estate, sqlite_db: Database) -> None:
    app = open_page("views/collectors.py")
    scopes = runs.scope_statuses(sqlite_db)
    assert metric(app, "Scopes failed") == 1
    assert metric(app, "Scopes complete") == len(scopes) - 1
    shown = table(app, "error")
    assert len(shown) == len(scopes)
    failed = shown.iloc[0]  # failing scopes first
    assert failed["scope"] == estate.failed_scope and failed["status"] == "failed"
    assert "AccessDenied" in failed["error"] and failed["last_success"] is pd.NaT
    assert shown.iloc[1:]["duration_s"].notna().all()

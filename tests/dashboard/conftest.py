"""Fixtures of the dashboard tests: a seeded database and AppTest runs against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage.db import Database
from tests.dashboard.estate import Estate, seed

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture
def estate(sqlite_db: Database) -> Estate:
    return seed(sqlite_db)


@pytest.fixture
def dashboard_env(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The environment `vigil dashboard` gives the app; cwd has no stray vigil.yaml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIGIL_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    yield tmp_path


@pytest.fixture
def open_page(dashboard_env: Path) -> Callable[..., AppTest]:
    """Run the app and open one page (a path under dashboard/, e.g. views/findings.py)."""

    def run(page: str | None = None, **query: str) -> AppTest:
        app = AppTest.from_file(str(APP), default_timeout=60)
        app.query_params.update(query)
        app.run()
        if page:
            app.switch_page(page).run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return run

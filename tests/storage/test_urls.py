"""storage.urls answers plain SQLite URLs without SQLAlchemy, and exactly as SQLAlchemy would."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage.urls import SUPPORTED_BACKENDS, is_plain_sqlite, is_postgresql, url_problem

PLAIN_SQLITE = (
    "sqlite://",
    "sqlite:///vigil.db",
    "sqlite:////var/lib/vigil/vigil.db",
    "sqlite:///~/vigil.db",
    "sqlite:///dir with space/a@b:c.db",
    "sqlite:///%41%zz.db#fragment",
    "sqlite:///:memory:",
    "sqlite:///",
)
OTHERS = (
    "sqlite:///vigil.db?mode=ro",
    "sqlite:///vigil.db?",
    "sqlite://host/vigil.db",
    "sqlite+pysqlite:///vigil.db",
    "postgresql://vigil@db/vigil",
    "postgres://vigil@db:5432/vigil",
    "postgresql+psycopg://vigil:${PW}@db/vigil",
    "postgresql://vigil@db:notaport/vigil",
    "mysql://vigil@db/vigil",
    "vigil.db",
    "",
)


def _sqlalchemy_problem(url: str) -> str | None:
    """url_problem as it was before its SQLite shortcut: SQLAlchemy parses every URL."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return "invalid"
    return None if parsed.get_backend_name() in SUPPORTED_BACKENDS else "unsupported"


@pytest.mark.parametrize("url", PLAIN_SQLITE)
def test_a_plain_sqlite_url_is_one_sqlalchemy_reads_as_sqlite(url: str) -> None:
    assert is_plain_sqlite(url)
    assert sa.make_url(url).get_backend_name() == "sqlite"


@pytest.mark.parametrize("url", OTHERS)
def test_other_urls_are_left_to_sqlalchemy(url: str) -> None:
    assert not is_plain_sqlite(url)


@pytest.mark.parametrize("url", PLAIN_SQLITE + OTHERS)
def test_url_problem_and_is_postgresql_agree_with_sqlalchemy(url: str) -> None:
    problem = url_problem(url)
    assert (problem is None) == (_sqlalchemy_problem(url) is None)
    if problem is not None:
        assert problem.startswith(_sqlalchemy_problem(url) or "")
    try:
        postgresql = sa.make_url(url).get_backend_name() == "postgresql"
    except (sa.exc.ArgumentError, ValueError):
        postgresql = False
    assert is_postgresql(url) == postgresql

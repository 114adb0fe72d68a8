"""Database URLs, checked without connecting: which backend, and what is wrong with one.

Apart from storage.db so that checking a config costs no SQLAlchemy when it needs none: the
usual URL, a SQLite file (`sqlite:///vigil.db`), is answered here, and SQLAlchemy, a tenth of
a second to import, parses only the others (`vigil collect` reaches its first API request
before it loads; DESIGN.md, start-up).
"""

from __future__ import annotations

from vigil.core.urls import redact_url

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
DATABASE_URL_FIX = "use sqlite:///path/to/vigil.db or postgresql+psycopg://user@host/db"


def normalize_url(url: str) -> str:
    """The URL SQLAlchemy is given: users write postgresql://; we drive psycopg 3, not psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_plain_sqlite(url: str) -> bool:
    """Whether SQLAlchemy surely reads `url` as a valid SQLite URL: `sqlite://` (in memory) or
    `sqlite:///` and a path, without a query. Its URL pattern gives such a string the name
    sqlite, no user, host or port, and the rest as the database, which it cannot reject;
    tests/storage/test_urls.py holds this to SQLAlchemy's own parse."""
    return url == "sqlite://" or (url.startswith("sqlite:///") and "?" not in url)


def is_postgresql(database_url: str) -> bool:
    """Whether the URL names a PostgreSQL database (whatever its driver)."""
    if is_plain_sqlite(database_url):
        return False
    import sqlalchemy as sa

    try:
        return sa.make_url(database_url).get_backend_name() == "postgresql"
    except (sa.exc.ArgumentError, ValueError):
        return False


def url_problem(url: str) -> str | None:
    """What is wrong with a database URL (unparseable, unsupported scheme), or None.

    Checked without connecting, so the config loader can name the file and line."""
    if is_plain_sqlite(url):
        return None
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(normalize_url(url))
    except (sa.exc.ArgumentError, ValueError):
        return f"invalid database URL {redact_url(url)!r}"
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        return f"unsupported database scheme {parsed.drivername!r}"
    return None

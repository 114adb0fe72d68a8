"""Opening the database: SQLite (WAL, busy timeout) or PostgreSQL (psycopg 3), migrated."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from storage.urls import DATABASE_URL_FIX, normalize_url
from vigil.core.errors import InputError, StorageError
from vigil.core.urls import redact_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


MIGRATION_LOCK = 0x76696769  # "vigi": the advisory lock a PostgreSQL migration holds


def newest_revision() -> str:
    """The head revision, from the migration file names alone (`0011_resource_links.py`).

    Every command opens the database, and importing Alembic to learn that nothing needs
    migrating costs a quarter of a second; tests/storage/test_migrations.py holds Alembic's
    head to this (each revision id is its file's number, and the highest is the one head).
    """
    names = (path.name for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    return max(name[:4] for name in names)


class Database:
    """One database: an engine plus the schema, migrated to the newest revision on open."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = normalize_url(url)
        self.engine = _create_engine(self.url)
        if migrate:
            self.migrate()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def sqlite_path(self) -> Path | None:
        database = self.engine.url.database
        if not self.is_sqlite or not database or database == ":memory:":
            return None
        return Path(database)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on success and rolled back on error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StorageError(f"database error: {exc.orig}") from exc

    def revision(self) -> str | None:
        """The schema revision the database is at (None: never migrated)."""
        with self.connect() as conn:
            return _current_revision(conn)

    def ping(self) -> None:
        """A round trip to the database (raises when it is unreachable)."""
        with self.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads; a lost or locked database is a StorageError, as in `begin`."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StorageError(f"database error: {exc.orig}") from exc

    def migrate(self) -> None:
        """Bring the schema to the newest revision (one query when it already is)."""
        try:
            with self.engine.begin() as conn:
                if _current_revision(conn) == newest_revision():
                    return
                if conn.dialect.name == "postgresql":
                    # Workers and the daemon may start together: one migrates, the others
                    # wait for it and then find nothing to do.
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                    )
                    if _current_revision(conn) == newest_revision():
                        return
                from alembic import command  # only when there is something to migrate

                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except sa.exc.OperationalError as exc:
            raise StorageError(
                f"cannot open the database {self.engine.url.render_as_string()}: {exc.orig}"
            ) from exc

    def dispose(self) -> None:
        self.engine.dispose()


def _current_revision(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _create_engine(url: str) -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        detail = f" ({exc})" if isinstance(exc, ValueError) else ""
        raise InputError(
            f"invalid database URL {redact_url(url)!r}{detail}",
            fix=DATABASE_URL_FIX,
        ) from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    try:
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=10)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise InputError(f"unsupported database URL {parsed.drivername!r}: {exc}") from None


def _sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine

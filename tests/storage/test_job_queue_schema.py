"""Procrastinate's schema is Vigil's to install (migration 0013), on PostgreSQL only."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from storage.db import Database, alembic_config
from tests.fixtures.database import PostgresCluster

VENDORED = Path("storage/migrations/procrastinate/schema-3.10.0.sql")


def test_the_vendored_schema_is_the_installed_procrastinates() -> None:
    # A Procrastinate upgrade changes its schema: it needs a migration applying the upgrade
    # scripts between the two versions, and a new vendored copy. Until then this fails.
    installed = (resources.files("procrastinate.sql") / "schema.sql").read_text("utf-8")
    assert installed == VENDORED.read_text("utf-8")


def test_postgresql_gets_the_job_queue_and_downgrades_without_it(
    postgres: PostgresCluster,
) -> None:
    url = postgres.create_database()
    db = Database(url)
    with db.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        functions = conn.execute(
            sa.text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%'")
        ).scalar_one()
    assert {"procrastinate_jobs", "procrastinate_workers", "scope_runs"} <= tables
    assert functions > 10
    db.dispose()
    engine = sa.create_engine(url)
    _alembic(engine, "downgrade", "0012")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        functions = conn.execute(
            sa.text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%'")
        ).scalar_one()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("scope_runs")}
    assert not any(t.startswith("procrastinate") for t in tables)
    assert functions == 0
    assert "pass_id" not in columns
    _alembic(engine, "upgrade", "head")  # and back again
    with engine.connect() as conn:
        assert "procrastinate_jobs" in sa.inspect(conn).get_table_names()
    engine.dispose()


def _alembic(engine: sa.Engine, direction: str, revision: str) -> None:
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        getattr(command, direction)(config, revision)


def test_sqlite_has_no_job_queue(sqlite_db: Database) -> None:
    with sqlite_db.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        columns = {c["name"] for c in sa.inspect(conn).get_columns("scope_runs")}
    assert not any(t.startswith("procrastinate") for t in tables)
    assert "pass_id" in columns

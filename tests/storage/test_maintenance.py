"""Vigil's own backup and health check, on a real database of each engine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import inventory, maintenance
from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories import resources, scope
from tests.factories.storage import scan
from vigil.core.errors import InputError, StorageError


def populated(db: Database, count: int = 120) -> Database:
    scan(Reconciler(db), scope(), [resources(count)])
    return db


def set_revision(db: Database, revision: str) -> None:
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Database:
    return populated(Database(sqlite_url))


def test_backup_is_a_consistent_single_file_while_a_writer_holds_a_transaction(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert sqlite_db.sqlite_path is not None
    writer = sqlite3.connect(sqlite_db.sqlite_path)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM resources")  # not committed: the backup must not see it

    result = maintenance.backup(sqlite_db, tmp_path / "copy.db")
    writer.rollback()
    writer.close()

    assert sorted(p.name for p in tmp_path.glob("copy.db*")) == ["copy.db"]
    assert result.revision == maintenance.check(sqlite_db).head
    restored = Database(f"sqlite:///{result.path}")
    assert inventory.count_resources(restored) == 120


def test_backup_refuses_to_overwrite_or_to_copy_onto_itself(
    sqlite_db: Database, tmp_path: Path
) -> None:
    existing = tmp_path / "old.db"
    existing.write_bytes(b"yesterday's backup")
    with pytest.raises(InputError, match="already exists"):
        maintenance.backup(sqlite_db, existing)
    assert existing.read_bytes() == b"yesterday's backup"
    assert sqlite_db.sqlite_path is not None
    with pytest.raises(InputError, match="the database itself"):
        maintenance.backup(sqlite_db, sqlite_db.sqlite_path, overwrite=True)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_backup_of_postgresql_points_at_pg_dump(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="pg_dump"):
        maintenance.backup(db, tmp_path / "copy.db")
    assert not list(tmp_path.glob("copy.db*"))


def test_check_reports_a_sound_current_database_with_its_rows(db: Database) -> None:
    health = maintenance.check(populated(db, 7))

    assert health.schema == "current"
    assert health.healthy
    assert health.problems == []
    assert health.rows["resources"] == 7


def test_check_of_an_unreachable_server_never_prints_its_password() -> None:
    unreachable = Database("postgresql://vigil:hunter2@127.0.0.1:1/vigil", migrate=False)
    with pytest.raises(StorageError) as caught:
        maintenance.check(unreachable)
    assert "hunter2" not in str(caught.value)
    assert "vigil:***@127.0.0.1:1" in str(caught.value)


def test_check_reads_an_older_schema_without_migrating_it(db: Database) -> None:
    set_revision(db, "0003")
    health = maintenance.check(Database(db.url, migrate=False))

    assert health.schema.startswith("behind")
    assert health.healthy
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0003"


def test_check_refuses_a_schema_newer_than_this_version(db: Database) -> None:
    set_revision(db, "9999_from_the_future")
    health = maintenance.check(Database(db.url, migrate=False))

    assert health.schema.startswith("ahead")
    assert not health.healthy


def test_check_finds_damage_in_a_sqlite_file(sqlite_db: Database) -> None:
    path = sqlite_db.sqlite_path
    assert path is not None
    sqlite_db.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 4 * page] = b"\xff" * page  # a b-tree page overwritten
    path.write_bytes(bytes(data))

    try:
        health = maintenance.check(Database(f"sqlite:///{path}", migrate=False))
    except StorageError as exc:  # damage where the schema lives stops the open itself
        assert "malformed" in str(exc)
    else:
        assert health.problems
        assert not health.healthy


def test_check_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no database"):
        maintenance.check(Database(f"sqlite:///{tmp_path / 'absent.db'}", migrate=False))
    assert not list(tmp_path.iterdir())

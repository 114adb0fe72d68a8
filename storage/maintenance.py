"""Vigil's own database care: an online backup of SQLite and a health check of either engine.

The backup uses SQLite's online backup API, so it is consistent while the daemon writes; the
check never migrates or writes, so it is safe to run against a database another Vigil serves.
PostgreSQL is backed up with its own tools (pg_dump): docs/operations.md shows how.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.db import Database, alembic_config
from vigil.core.errors import InputError, StorageError
from vigil.core.urls import redact_url

PG_DUMP_FIX = (
    "back PostgreSQL up with pg_dump --format=custom (docs/operations.md, Backup and restore)"
)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    revision: str | None


@dataclass(frozen=True)
class DatabaseHealth:
    """What `vigil db check` reports: the engine, the schema's revision and any damage."""

    url: str
    engine: str
    revision: str | None
    head: str
    problems: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        if self.revision == self.head:
            return "current"
        if self.revision is None:
            return "empty (the next vigil command creates the schema)"
        if self.revision in _known_revisions():
            return f"behind (the next vigil command migrates {self.revision} → {self.head})"
        return f"ahead: revision {self.revision} is newer than this vigil knows (upgrade vigil)"

    @property
    def healthy(self) -> bool:
        """Nothing damaged and a schema this version can use (behind migrates on open)."""
        return not self.problems and not self.schema.startswith("ahead")


def backup(db: Database, destination: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy a SQLite database online into `destination`, then verify the copy.

    The copy is written beside the destination and renamed into place only once it passed
    `PRAGMA integrity_check`, so an interrupted backup never leaves a half-written file under
    the final name."""
    source = db.sqlite_path
    if source is None:
        raise InputError(
            f"vigil db backup copies SQLite databases; {redact_url(db.url)} is not one",
            fix=PG_DUMP_FIX,
        )
    if destination.exists() and not overwrite:
        raise InputError(
            f"{destination} already exists", fix="choose a new file name, or pass --force"
        )
    if destination.resolve() == source.resolve():
        raise InputError(f"{destination} is the database itself", fix="choose another file")
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    partial.with_name(partial.name + "-journal").unlink(missing_ok=True)
    try:
        _copy_online(db, partial)
        problems = _sqlite_problems(partial)
        if problems:
            raise StorageError(f"the copy failed its integrity check: {'; '.join(problems)}")
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(destination, destination.stat().st_size, _revision_of(destination))


def check(db: Database) -> DatabaseHealth:
    """Integrity, schema revision and row counts, read without migrating anything."""
    path = db.sqlite_path
    if path is not None and not path.exists():
        raise InputError(f"no database at {path}", fix="check database_url or VIGIL_DATABASE_URL")
    head = ScriptDirectory.from_config(alembic_config()).get_current_head() or ""
    try:
        with db.engine.connect() as conn:  # its own error below names the database
            revision = MigrationContext.configure(conn).get_current_revision()
            problems = _sqlite_problems(path) if path else []
            rows = {} if problems else _row_counts(conn)
    except sa.exc.DatabaseError as exc:
        raise StorageError(f"cannot open the database {redact_url(db.url)}: {exc.orig}") from exc
    return DatabaseHealth(
        redact_url(db.url), db.engine.dialect.name, revision, head, problems, rows
    )


def _copy_online(db: Database, target: Path) -> None:
    raw = db.engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            # The copy inherits WAL mode; one self-contained file is what a backup should be.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        raw.close()


def _sqlite_problems(path: Path) -> list[str]:
    """`integrity_check` and `foreign_key_check` findings; empty when the file is sound."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
        conn.close()
    except sqlite3.DatabaseError as exc:  # damage where the check itself must read
        return [str(exc)]
    problems = [line for line in integrity if line != "ok"]
    problems += [f"table {row[0]} row {row[1]} refers to a missing {row[2]}" for row in dangling]
    return problems


def _revision_of(path: Path) -> str | None:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            row = None
    conn.close()
    return row[0] if row else None


def _row_counts(conn: sa.Connection) -> dict[str, int]:
    present = set(sa.inspect(conn).get_table_names())
    return {
        table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        for table in SQLModel.metadata.sorted_tables
        if table.name in present
    }


def _known_revisions() -> set[str]:
    scripts = ScriptDirectory.from_config(alembic_config())
    return {script.revision for script in scripts.walk_revisions()}

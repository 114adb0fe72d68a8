"""One daemon per database: a lock held for the whole life of `vigil run`.

Two daemons on one database would collect everything twice and, worse, send every
notification twice. PostgreSQL gets a session advisory lock (it dies with the connection, so
a crashed daemon never leaves it behind); SQLite gets an OS file lock (flock) on a file beside
the database, which the kernel likewise releases when the process dies. Either way the holder
describes itself (host, pid, start time) so the refused daemon can say who is in the way.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection

from storage.db import Database
from vigil.core.errors import LockedError, StorageError
from vigil.core.model import iso, utcnow

# pg_try_advisory_lock(int, int): a namespace ("VIGL" in ASCII) and the daemon lock's number.
ADVISORY_NAMESPACE = 0x5649474C
ADVISORY_DAEMON = 1


def holder_description() -> dict[str, Any]:
    """Who this process is, as the refused daemon will print it."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": iso(utcnow())}


def describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "an unknown process"
    pid, host, since = (holder.get(key, "?") for key in ("pid", "host", "since"))
    return f"pid {pid} on {host} since {since}"


class DaemonLock(Protocol):
    """Acquire once at start (raising LockedError when held elsewhere), release at exit."""

    def acquire(self) -> None: ...

    def release(self) -> None: ...


def daemon_lock(db: Database) -> DaemonLock:
    """The right lock for `db`'s backend."""
    if db.is_sqlite:
        path = db.sqlite_path
        # An in-memory database belongs to this process alone: nothing to guard.
        return SqliteFileLock(path) if path is not None else _NoLock()
    return PostgresAdvisoryLock(db)


class _NoLock:
    def acquire(self) -> None:
        return None

    def release(self) -> None:
        return None


class SqliteFileLock:
    """flock on `<database>.lock`; the file's text names the holder."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.lock")
        self._lock = FileLock(str(self.path), timeout=0, thread_local=False)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except Timeout:
            raise LockedError(_refusal(self._holder(), f"the lock file {self.path}")) from None
        # filelock opens without O_TRUNC, so the holder's text survives a contender's attempt.
        self.path.write_text(json.dumps(holder_description()) + "\n")

    def release(self) -> None:
        if self._lock.is_locked:
            self.path.write_text("")
            self._lock.release()

    def _holder(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text() or "null")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


LOCK_KEEPALIVES = {
    "tcp_keepalives_idle": "60",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "6",
    "tcp_user_timeout": "120000",
}
"""The lock session's TCP keepalives: a vanished daemon's lock is free within about 2 minutes."""


class PostgresAdvisoryLock:
    """A session advisory lock on a connection kept open while the daemon runs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None

    def acquire(self) -> None:
        holder = holder_description()
        try:
            conn = self.db.engine.connect()
        except sa.exc.OperationalError as exc:
            raise StorageError(
                f"cannot reach the database to take the daemon lock: {exc.orig}"
            ) from exc
        # application_name is what pg_stat_activity shows: the refused daemon reads it back.
        name = f"vigil run pid={holder['pid']} host={holder['host']} since={holder['since']}"
        conn.execute(sa.text("SELECT set_config('application_name', :name, false)"), {"name": name})
        # A daemon whose machine dies or whose network drops never closes its session: without
        # keepalives the server holds the lock until the OS gives up (two hours by default).
        for setting, value in LOCK_KEEPALIVES.items():
            conn.execute(sa.text("SELECT set_config(:s, :v, false)"), {"s": setting, "v": value})
        got = conn.execute(
            sa.text("SELECT pg_try_advisory_lock(:ns, :key)"),
            {"ns": ADVISORY_NAMESPACE, "key": ADVISORY_DAEMON},
        ).scalar_one()
        conn.commit()
        if not got:
            other = _pg_holder(conn)
            conn.close()
            raise LockedError(_refusal(other, f"the advisory lock on {_database_name(self.db)}"))
        self._conn = conn

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(
                sa.text("SELECT pg_advisory_unlock(:ns, :key)"),
                {"ns": ADVISORY_NAMESPACE, "key": ADVISORY_DAEMON},
            )
            self._conn.commit()
        finally:
            # Closing the session releases the lock even if the unlock above failed.
            self._conn.close()
            self._conn = None


def _pg_holder(conn: Connection) -> dict[str, Any] | None:
    row = (
        conn.execute(
            sa.text(
                "SELECT a.pid, a.application_name, a.client_addr, a.backend_start "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :ns "
                "AND l.objid = :key AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"ns": ADVISORY_NAMESPACE, "key": ADVISORY_DAEMON},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    fields = dict(
        part.split("=", 1) for part in str(row["application_name"]).split() if "=" in part
    )
    return {
        "pid": fields.get("pid", f"{row['pid']} (server backend)"),
        "host": fields.get("host", str(row["client_addr"] or "a local socket")),
        "since": fields.get("since", iso(row["backend_start"])),
    }


def _database_name(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=True)


def _refusal(holder: dict[str, Any] | None, what: str) -> str:
    return (
        f"another `vigil run` already runs on this database ({describe(holder)} holds {what}); "
        "one daemon per database, so this one will not start. Stop the other daemon first, "
        "or point this one at a different database."
    )

"""One daemon per database: the lock on SQLite (a file lock) and PostgreSQL (advisory)."""

from __future__ import annotations

import os
import socket

import pytest

from storage.db import Database
from tests.fixtures.cli import VigilCli
from vigil.app.lock import LOCK_KEEPALIVES, daemon_lock
from vigil.core.errors import LockedError


def test_second_holder_is_refused_naming_the_first(db: Database) -> None:
    first = daemon_lock(db)
    first.acquire()
    second_db = Database(db.url)
    try:
        with pytest.raises(LockedError) as refused:
            daemon_lock(second_db).acquire()
        message = refused.value.message
        assert "another `vigil run`" in message
        assert f"pid {os.getpid()} on {socket.gethostname()}" in message
        assert refused.value.exit_code == 1
        first.release()
        again = daemon_lock(second_db)
        again.acquire()  # free once the first daemon let go
        again.release()
    finally:
        first.release()
        second_db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_second_vigil_run_exits_1_with_a_clear_message(
    backend: str, vigil_cli: VigilCli, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        url = request.getfixturevalue("postgres").create_database()
    else:
        url = f"sqlite:///{vigil_cli.database_path}"
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - {name: a, provider: aws, regions: [us-east-1], "
        "endpoint_url: 'http://127.0.0.1:9'}\nmetrics: {listen: '127.0.0.1:0'}\n"
    )
    db = Database(url)
    holder = daemon_lock(db)  # the running daemon's lock, held by this test process
    holder.acquire()
    try:
        result = vigil_cli("run", env={"VIGIL_DATABASE_URL": url}, timeout=60)
    finally:
        holder.release()
        db.dispose()
    assert result.returncode == 1, result.stderr
    assert "another `vigil run` already runs on this database" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_postgres_lock_session_is_probed_so_a_vanished_daemon_frees_it(
    request: pytest.FixtureRequest,
) -> None:
    """The server probes the lock's session every 10 s after a minute of silence: a daemon
    whose host died frees the lock in about two minutes, not the OS default of two hours."""
    db = Database(request.getfixturevalue("postgres").create_database())
    lock = daemon_lock(db)
    lock.acquire()
    try:
        conn = lock._conn  # type: ignore[attr-defined]
        shown = {n: conn.exec_driver_sql(f"SHOW {n}").scalar_one() for n in LOCK_KEEPALIVES}
        assert shown == LOCK_KEEPALIVES  # in force on the lock's own session, over TCP
    finally:
        lock.release()
        db.dispose()

"""The database unavailable in the middle of a pass.

SQLite: another process takes the write lock once the pass has begun and holds it past
Vigil's 30 s busy timeout. PostgreSQL: the server stops mid-pass and comes back. Either way
the command exits non-zero with one clear line (no traceback), the inventory and findings are
as before the pass (nothing half-applied, no deletion invented), and the next pass recovers.
"""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import threading
from collections.abc import Iterator

import pytest

from tests.fixtures.cli import VigilCli
from tests.fixtures.database import PostgresCluster
from tests.reliability.conftest import (
    REGIONS,
    Estate,
    Views,
    configure,
    report,
)

BUSY_TIMEOUT = 30.0
"""storage/db.py's busy timeout: a writer waits this long for the lock, then gives up."""


def assert_clean_failure(result: subprocess.CompletedProcess[str], what: str) -> str:
    """Non-zero, no traceback, an error that says the database is the problem; that line."""
    assert result.returncode != 0, f"{what} succeeded without its database: {result.stdout}"
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("vigil: error:")]
    assert errors and "database" in errors[0], result.stdout + result.stderr
    return errors[0]


class WriteLock:
    """Another process's write transaction on a SQLite file, held until `release()`."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")  # the write lock, as a long migration would hold

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


Snapshot = tuple[set[tuple[str, str]], dict[str, tuple[str, str]], set[tuple[str, str]]]


def snapshot(views: Views) -> Snapshot:
    return views.inventory(), views.open_findings(), views.deleted()


def assert_nothing_half_applied(
    views: Views, estate: Estate, before: Snapshot, live: set[tuple[str, str]], completed: int
) -> str:
    """Unchanged when no scope of the failed pass committed; otherwise only whole scopes
    applied: nothing deleted that exists, no live finding closed, nothing invented."""
    committed = views.runs("complete") - completed
    if committed == 0:
        assert snapshot(views) == before
        return "nothing changed"
    inventory, findings, deleted = snapshot(views)
    assert deleted <= estate.removed
    assert before[0] & live <= inventory <= before[0] | live
    assert not {fp for fp, res in before[1].items() if fp not in findings and res in live}
    return f"{committed} scope(s) committed whole before the fault, nothing half-applied"


@pytest.mark.slow
def test_sqlite_locked_past_the_busy_timeout_fails_cleanly_and_the_next_pass_recovers(
    vigil_cli: VigilCli, moto: str, estate: Estate
) -> None:
    configure(vigil_cli, moto)
    assert vigil_cli("collect").returncode == 0
    assert vigil_cli("check", "--no-notify").returncode == 0
    url = vigil_cli.env["VIGIL_DATABASE_URL"]
    views = Views(url)
    try:
        for region in REGIONS:
            estate.churn(region)
        live = estate.truth()
        before = snapshot(views)

        # Both commands start, read what they need, then meet the lock when they write.
        collect = vigil_cli.start("collect")
        started, completed = views.runs(), views.runs("complete")
        while views.runs() == started and collect.poll() is None:
            threading.Event().wait(0.002)
        lock = WriteLock(str(vigil_cli.database_path))
        check = vigil_cli.start("check", "--no-notify")
        try:
            results = [
                subprocess.CompletedProcess(
                    p.args, p.wait(timeout=BUSY_TIMEOUT * 3), *p.communicate()
                )
                for p in (collect, check)
            ]
        finally:
            lock.release()
        lines = [
            assert_clean_failure(r, name)
            for r, name in zip(results, ("collect", "check"), strict=True)
        ]
        applied = assert_nothing_half_applied(views, estate, before, live, completed)

        again = vigil_cli("collect")
        assert again.returncode == 0, again.stdout + again.stderr
        assert views.inventory() == live
        assert views.deleted() <= estate.removed
        assert vigil_cli("check", "--no-notify").returncode == 0
    finally:
        views.close()
    report(
        f"SQLite locked past the busy timeout [sqlite]: collect exit {results[0].returncode} "
        f"({lines[0]!r}), check exit {results[1].returncode} ({lines[1]!r}); {applied}; "
        "the next collect and check recovered, inventory == moto"
    )


class RestartableCluster(PostgresCluster):
    """The fixture's throwaway cluster, of this module's own (stopping the session's would
    pull it from under other tests), which can stop and start again on the same port."""

    def halt(self) -> None:
        """Stop the server at once, as a crash or a failover would (no clean shutdown)."""
        self.admin.dispose()
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def resume(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
            "-o", options, "-w", "start",
        )  # fmt: skip


@pytest.fixture(scope="module")
def restartable() -> Iterator[RestartableCluster]:
    cluster = RestartableCluster()
    yield cluster
    cluster.stop()


@pytest.mark.slow
def test_postgresql_stopped_mid_pass_fails_cleanly_and_the_next_pass_recovers(
    vigil_cli: VigilCli, moto: str, estate: Estate, restartable: RestartableCluster
) -> None:
    url = restartable.create_database()
    vigil_cli.env["VIGIL_DATABASE_URL"] = url
    configure(vigil_cli, moto)
    assert vigil_cli("collect").returncode == 0
    assert vigil_cli("check", "--no-notify").returncode == 0
    views = Views(url)
    try:
        for region in REGIONS:
            estate.churn(region)
        live = estate.truth()
        before = snapshot(views)

        collect = vigil_cli.start("collect")
        started, completed = views.runs(), views.runs("complete")
        while views.runs() == started and collect.poll() is None:
            threading.Event().wait(0.002)
        views.db.dispose()
        restartable.halt()
        try:
            stdout, stderr = collect.communicate(timeout=120)
            failed = subprocess.CompletedProcess(collect.args, collect.returncode, stdout, stderr)
            lines = [assert_clean_failure(failed, "collect")]
            lines.append(assert_clean_failure(vigil_cli("check", "--no-notify"), "check"))
        finally:
            restartable.resume()
        applied = assert_nothing_half_applied(views, estate, before, live, completed)

        again = vigil_cli("collect")
        assert again.returncode == 0, again.stdout + again.stderr
        assert views.inventory() == live
        assert views.deleted() <= estate.removed
        assert vigil_cli("check", "--no-notify").returncode == 0
    finally:
        views.close()
    report(
        f"PostgreSQL stopped mid-pass and restarted [postgresql]: collect exit "
        f"{failed.returncode} ({lines[0]!r}), check while down ({lines[1]!r}); "
        f"{applied}; the next collect and check recovered, inventory == moto"
    )


@pytest.mark.slow
def test_sqlite_file_size_limit_mid_pass_fails_cleanly_and_the_next_pass_recovers(
    vigil_cli: VigilCli, moto: str, estate: Estate
) -> None:
    """The disk full for SQLite, without root: once the pass has begun, the running process's
    RLIMIT_FSIZE drops to the database files' current size, so no file of it may grow."""
    configure(vigil_cli, moto)
    assert vigil_cli("collect").returncode == 0
    assert vigil_cli("check", "--no-notify").returncode == 0
    url = vigil_cli.env["VIGIL_DATABASE_URL"]
    views = Views(url)
    try:
        for region in REGIONS:
            estate.churn(region)
        live = estate.truth()
        before = snapshot(views)

        collect = vigil_cli.start("collect")
        started, completed = views.runs(), views.runs("complete")
        while views.runs() == started and collect.poll() is None:
            threading.Event().wait(0.002)
        files = [vigil_cli.database_path.with_name(vigil_cli.database_path.name + suffix)
                 for suffix in ("", "-wal", "-shm")]  # fmt: skip
        full = max(f.stat().st_size for f in files if f.exists())
        resource.prlimit(collect.pid, resource.RLIMIT_FSIZE, (full, full))
        stdout, stderr = collect.communicate(timeout=120)
        failed = subprocess.CompletedProcess(collect.args, collect.returncode, stdout, stderr)
        line = assert_clean_failure(failed, "collect")
        applied = assert_nothing_half_applied(views, estate, before, live, completed)
        assert views.healthy() == []

        again = vigil_cli("collect")
        assert again.returncode == 0, again.stdout + again.stderr
        assert views.inventory() == live
        assert views.deleted() <= estate.removed
    finally:
        views.close()
    report(
        f"SQLite files may not grow (RLIMIT_FSIZE) mid-pass [sqlite]: collect exit "
        f"{failed.returncode} ({line!r}); {applied}; integrity ok; the next collect recovered, "
        "inventory == moto"
    )

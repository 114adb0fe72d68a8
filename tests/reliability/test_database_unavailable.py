"""The database unavailable in the middle of a pass.

SQLite: another process takes the write lock once the pass has begun and holds it past
Vigil's 30 s busy timeout; or the running process may no longer grow any file (RLIMIT_FSIZE,
the disk full without root). PostgreSQL: the server stops mid-pass and comes back. Each time
the command exits non-zero with one clear line (no traceback), only whole scopes committed
before the fault are applied (nothing half-applied, no deletion invented, no live finding
closed), and the next pass recovers with the inventory equal to moto's.
"""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.fixtures.cli import VigilCli
from tests.fixtures.database import PostgresCluster
from tests.reliability.conftest import REGIONS, Estate, Views, configure, report

BUSY_TIMEOUT = 30.0
"""storage/db.py's busy timeout: a writer waits this long for the lock, then gives up."""

Snapshot = tuple[set[tuple[str, str]], dict[str, tuple[str, str]], set[tuple[str, str]]]


def snapshot(views: Views) -> Snapshot:
    return views.inventory(), views.open_findings(), views.deleted()


def finished(process: subprocess.Popen[str], timeout: float) -> subprocess.CompletedProcess[str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def assert_clean_failure(result: subprocess.CompletedProcess[str], what: str) -> str:
    """Non-zero, no traceback, an error that says the database is the problem; that line."""
    assert result.returncode != 0, f"{what} succeeded without its database: {result.stdout}"
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("vigil: error:")]
    assert errors and "database" in errors[0], result.stdout + result.stderr
    return errors[0]


@dataclass
class FaultyPass:
    """A `vigil collect` under way over a churned estate, about to meet a fault."""

    cli: VigilCli
    views: Views
    estate: Estate
    collect: subprocess.Popen[str]
    live: set[tuple[str, str]]
    before: Snapshot
    completed: int

    def assert_nothing_half_applied(self) -> str:
        """Unchanged when no scope of the failed pass committed; otherwise only whole scopes
        applied: nothing deleted that exists, no live finding closed, nothing invented."""
        committed = self.views.runs("complete") - self.completed
        if committed == 0:
            assert snapshot(self.views) == self.before
            return "nothing changed"
        inventory, findings, deleted = snapshot(self.views)
        assert deleted <= self.estate.removed
        assert self.before[0] & self.live <= inventory <= self.before[0] | self.live
        closed = {fp for fp, res in self.before[1].items() if fp not in findings}
        assert not {fp for fp in closed if self.before[1][fp] in self.live}
        return f"{committed} scope(s) committed whole before the fault, nothing half-applied"

    def assert_next_pass_recovers(self) -> None:
        again = self.cli("collect")
        assert again.returncode == 0, again.stdout + again.stderr
        assert self.views.inventory() == self.live
        assert self.views.deleted() <= self.estate.removed
        assert self.cli("check", "--no-notify").returncode == 0


@pytest.fixture
def faulty_pass(
    vigil_cli: VigilCli, moto: str, estate: Estate
) -> Iterator[Callable[[], FaultyPass]]:
    """Factory: an established inventory with findings, churned, and a collect started that
    has recorded its first scope run (the pass has begun writing)."""
    views: list[Views] = []

    def start() -> FaultyPass:
        configure(vigil_cli, moto)
        assert vigil_cli("collect").returncode == 0
        assert vigil_cli("check", "--no-notify").returncode == 0
        views.append(Views(vigil_cli.env["VIGIL_DATABASE_URL"]))
        for region in REGIONS:
            estate.churn(region)
        live, before = estate.truth(), snapshot(views[0])
        started, completed = views[0].runs(), views[0].runs("complete")
        collect = vigil_cli.start("collect")
        while views[0].runs() == started and collect.poll() is None:
            threading.Event().wait(0.002)
        return FaultyPass(vigil_cli, views[0], estate, collect, live, before, completed)

    yield start
    for view in views:
        view.close()


class WriteLock:
    """Another process's write transaction on a SQLite file, held until `release()`."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")  # the write lock, as a long migration would hold

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.mark.slow
def test_sqlite_locked_past_the_busy_timeout_fails_cleanly_and_the_next_pass_recovers(
    vigil_cli: VigilCli, faulty_pass: Callable[[], FaultyPass]
) -> None:
    fault = faulty_pass()
    lock = WriteLock(str(vigil_cli.database_path))
    # A check started now reads what it needs, then meets the lock when it writes.
    check = vigil_cli.start("check", "--no-notify")
    try:
        results = [finished(p, BUSY_TIMEOUT * 3) for p in (fault.collect, check)]
    finally:
        lock.release()
    lines = [assert_clean_failure(r, n) for r, n in zip(results, ("collect", "check"), strict=True)]
    applied = fault.assert_nothing_half_applied()
    fault.assert_next_pass_recovers()
    report(
        f"SQLite locked past the busy timeout [sqlite]: collect exit {results[0].returncode} "
        f"({lines[0]!r}), check exit {results[1].returncode} ({lines[1]!r}); {applied}; "
        "the next collect and check recovered, inventory == moto"
    )


@pytest.mark.slow
def test_sqlite_file_size_limit_mid_pass_fails_cleanly_and_the_next_pass_recovers(
    vigil_cli: VigilCli, faulty_pass: Callable[[], FaultyPass]
) -> None:
    """The disk full for SQLite, without root: the running process's RLIMIT_FSIZE drops to
    the database files' current size, so none of them may grow."""
    fault = faulty_pass()
    path = vigil_cli.database_path
    files = [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm")]
    full = max(f.stat().st_size for f in files if f.exists())
    resource.prlimit(fault.collect.pid, resource.RLIMIT_FSIZE, (full, full))
    failed = finished(fault.collect, 120)
    line = assert_clean_failure(failed, "collect")
    applied = fault.assert_nothing_half_applied()
    assert fault.views.healthy() == []
    fault.assert_next_pass_recovers()
    report(
        f"SQLite files may not grow (RLIMIT_FSIZE) mid-pass [sqlite]: collect exit "
        f"{failed.returncode} ({line!r}); {applied}; integrity ok; the next collect and check "
        "recovered, inventory == moto"
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
    vigil_cli: VigilCli, faulty_pass: Callable[[], FaultyPass], restartable: RestartableCluster
) -> None:
    vigil_cli.env["VIGIL_DATABASE_URL"] = restartable.create_database()
    fault = faulty_pass()
    fault.views.db.dispose()
    restartable.halt()
    try:
        failed = finished(fault.collect, 120)
        lines = [assert_clean_failure(failed, "collect")]
        lines.append(assert_clean_failure(vigil_cli("check", "--no-notify"), "check"))
    finally:
        restartable.resume()
    applied = fault.assert_nothing_half_applied()
    fault.assert_next_pass_recovers()
    report(
        f"PostgreSQL stopped mid-pass and restarted [postgresql]: collect exit "
        f"{failed.returncode} ({lines[0]!r}), check while down ({lines[1]!r}); "
        f"{applied}; the next collect and check recovered, inventory == moto"
    )

"""Scans applied through the real reconciler: how storage tests put an estate in a database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa

from storage.db import Database
from storage.reconcile import Reconciler, RunStats
from storage.tables import findings_table
from vigil.core.model import Resource, Scope


def scan(
    reconciler: Reconciler, where: Scope, pages: list[list[Resource]], fail: bool = False
) -> RunStats:
    """One scope run of `pages`, completed (or failed with an access error when `fail`)."""
    run = reconciler.start(where)
    for page in pages:
        reconciler.add_page(run, page)
    if fail:
        return reconciler.fail(run, "AccessDenied: not allowed")
    return reconciler.complete(run)


def stored_finding(
    db: Database,
    fingerprint: str,
    status: str = "open",
    *,
    at: datetime,
    resolved_at: datetime | None = None,
    severity: str = "critical",
) -> None:
    """A finding row as the findings store keeps it (for storage tests that need many states)."""
    with db.begin() as conn:
        conn.execute(
            findings_table.insert().values(
                fingerprint=fingerprint, rule="cert.expired", severity=severity, status=status,
                title=f"finding {fingerprint}", resource_uid="aws/1/r/server/i-1", labels={},
                evidence={}, first_seen=at, last_seen=at, resolved_at=resolved_at,
            )
        )  # fmt: skip


@contextmanager
def write_statements(
    db: Database, prefixes: tuple[str, ...] = ("INSERT", "UPDATE", "DELETE")
) -> Iterator[list[str]]:
    """Every statement sent while the block runs that starts with one of `prefixes`
    (upper-cased, on one line): what a scan costs the database."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        text = " ".join(statement.split()).upper()
        if text.startswith(prefixes):
            seen.append(text)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)

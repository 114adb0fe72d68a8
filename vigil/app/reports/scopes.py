"""The collection scopes a report covers, as they stood at the report time.

A scope is *incomplete* at a time when it had never completed by then, or its newest run
finished by then failed. Reports call such scopes out: what they hold may be stale or
missing, so the controls that depend on them are never counted as passing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.db import Database
from storage.queries import last_complete_by_scope, newest_finished_runs, scope_runs
from storage.tables import to_utc
from vigil.core.model import RunStatus, iso


@dataclass(frozen=True)
class ScopeSummary:
    """One scope at the report time: its newest finished run and its last completion."""

    scope_key: str
    source: str
    provider: str
    account: str
    region: str
    type: str
    status: str
    last_complete: datetime | None
    error: str | None

    @property
    def incomplete(self) -> bool:
        return self.status != RunStatus.COMPLETE

    @property
    def problem(self) -> str:
        """Why the scope is incomplete, in words; empty when it is not."""
        if not self.incomplete:
            return ""
        if self.last_complete is None:
            return "never completed"
        return f"newest run {self.status}" + (f": {self.error}" if self.error else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope_key,
            "source": self.source,
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "type": self.type,
            "status": self.status,
            "incomplete": self.incomplete,
            "problem": self.problem,
            "last_complete": iso(self.last_complete),
        }


_ERROR_CHARS = 200


def scopes_at(db: Database, at: datetime, sources: tuple[str, ...] = ()) -> list[ScopeSummary]:
    """Every scope started by `at` (of `sources`, when given), ordered by key."""
    newest = (
        sa.select(scope_runs.c.scope_key, sa.func.max(scope_runs.c.id).label("id"))
        .where(scope_runs.c.started_at <= at)
        .group_by(scope_runs.c.scope_key)
        .subquery("newest")
    )
    newest_finished = newest_finished_runs(at)
    complete = last_complete_by_scope(at)
    query = (
        sa.select(
            scope_runs.c.scope_key,
            scope_runs.c.source,
            scope_runs.c.provider,
            scope_runs.c.account,
            scope_runs.c.region,
            scope_runs.c.type,
            complete.c.last_complete,
        )
        .select_from(
            scope_runs.join(newest, newest.c.id == scope_runs.c.id).outerjoin(
                complete, complete.c.scope_key == scope_runs.c.scope_key
            )
        )
        .order_by(scope_runs.c.scope_key)
    )
    if sources:
        query = query.where(scope_runs.c.source.in_(sources))
    outcome = sa.select(scope_runs.c.scope_key, scope_runs.c.status, scope_runs.c.error).join(
        newest_finished, newest_finished.c.id == scope_runs.c.id
    )
    with db.connect() as conn:
        outcomes = {row.scope_key: (row.status, row.error) for row in conn.execute(outcome)}
        rows = list(conn.execute(query).mappings())
    return [_summary(row, outcomes.get(row["scope_key"])) for row in rows]


def _summary(row: sa.RowMapping, outcome: tuple[str, str | None] | None) -> ScopeSummary:
    # A run still in flight at the report time changed nothing yet: what the data
    # reflects is the newest *finished* run, or nothing when none has finished.
    status, error = outcome or ("never completed", None)
    return ScopeSummary(
        scope_key=row["scope_key"],
        source=row["source"],
        provider=row["provider"],
        account=row["account"],
        region=row["region"],
        type=row["type"],
        status=status,
        last_complete=to_utc(row["last_complete"]),
        error=(error or "")[:_ERROR_CHARS] or None,
    )

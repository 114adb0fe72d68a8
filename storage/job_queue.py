"""Reads of `executor.kind: queue`: the state of a pass's jobs and the scope runs they made.

The jobs live in Procrastinate's `procrastinate_jobs` (migration 0013 installs its schema);
deferring, cancelling and retrying go through Procrastinate's own API (vigil/app/queue.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.tables import chunks, scope_runs
from vigil.core.model import RunStatus

JOB_ENDED = frozenset({"succeeded", "failed", "cancelled", "aborted"})
"""Procrastinate job statuses after which a job never runs again."""


def job_statuses(db: Database, job_ids: Collection[int]) -> dict[int, str]:
    """Each job's Procrastinate status (`todo`, `doing`, `succeeded`, ...)."""
    statuses: dict[int, str] = {}
    query = sa.text(
        "SELECT id, status::text AS status FROM procrastinate_jobs WHERE id IN :ids"
    ).bindparams(sa.bindparam("ids", expanding=True))
    with db.connect() as conn:
        for part in chunks(sorted(job_ids)):
            statuses.update((row[0], row[1]) for row in conn.execute(query, {"ids": list(part)}))
    return statuses


def jobs_ended_since(
    db: Database, after_event: int, job_ids: tuple[int, int]
) -> tuple[dict[int, str], int]:
    """Jobs between `job_ids` (lowest, highest) that ended in an event after `after_event`, and
    the newest such event's id: a poll reads what happened since the last one, not every job
    of a pass. Event ids are allocated before their transactions commit, so a caller re-reads
    a margin behind the newest id it saw (and sweeps every job now and then)."""
    query = sa.text(
        "SELECT id, job_id, type::text FROM procrastinate_events WHERE id > :after "
        "AND job_id BETWEEN :lowest AND :highest "
        "AND type IN ('succeeded', 'failed', 'cancelled', 'aborted') ORDER BY id"
    )
    ended: dict[int, str] = {}
    newest = after_event
    with db.connect() as conn:
        rows = conn.execute(
            query, {"after": after_event, "lowest": job_ids[0], "highest": job_ids[1]}
        )
        for event, job, kind in rows:
            ended[job] = kind
            newest = event
    return ended, newest


def stalled_jobs(db: Database, job_ids: Collection[int], silent_for: float) -> list[int]:
    """Those of `job_ids` running on a worker that has sent no heartbeat for `silent_for`
    seconds, or that no longer exists (Procrastinate's own definition of a stalled job)."""
    query = sa.text(
        "SELECT job.id FROM procrastinate_jobs job "
        "LEFT JOIN procrastinate_workers worker ON worker.id = job.worker_id "
        "WHERE job.status = 'doing' AND job.id IN :ids AND (worker.id IS NULL "
        "OR worker.last_heartbeat < NOW() - make_interval(secs => :silent_for))"
    ).bindparams(sa.bindparam("ids", expanding=True))
    with db.connect() as conn:
        return [
            row[0]
            for part in chunks(sorted(job_ids))
            for row in conn.execute(query, {"ids": list(part), "silent_for": silent_for})
        ]


def pass_runs(
    db: Database, pass_id: str, scope_keys: Collection[str]
) -> dict[str, Mapping[str, Any]]:
    """The newest finished scope run of each of `scope_keys` in the pass (its last attempt)."""
    newest: dict[str, Mapping[str, Any]] = {}
    with db.connect() as conn:
        for part in chunks(sorted(scope_keys)):
            for row in _finished_runs(conn, pass_id, part):
                newest[row["scope_key"]] = row
    return newest


def _finished_runs(
    conn: Connection, pass_id: str, keys: Collection[str]
) -> list[Mapping[str, Any]]:
    query = (
        sa.select(scope_runs)
        .where(scope_runs.c.pass_id == pass_id)
        .where(scope_runs.c.scope_key.in_(keys))
        .where(scope_runs.c.status != RunStatus.RUNNING)
        .order_by(scope_runs.c.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]

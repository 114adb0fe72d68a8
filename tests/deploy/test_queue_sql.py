"""docs/operations.md, "Scaling out: workers": the job queue's SQL runs on the schema migration
0013 installs, and says what the queue holds. The queue is put in a known state by
Procrastinate's own functions, as workers call them (register, defer, fetch), with the queue
and task names `vigil.app.queue` uses; only a worker going silent is simulated, by ageing its
heartbeat. A job of the workers' periodic task is the decoy the queries must not count."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from storage.db import Database
from tests.deploy.helpers import REPO
from tests.fixtures.database import PostgresCluster
from vigil.app.queue import QUEUE, SCOPE_TASK, STALLED_TASK

OPERATIONS = (REPO / "docs" / "operations.md").read_text()
SECTION = OPERATIONS.split("## Scaling out: workers", 1)[1].split("\n## ", 1)[0]
QUERIES: list[str] = re.findall(r"```sql\n(.*?)```", SECTION, re.DOTALL)


def query(word: str) -> str:
    """The one documented query that mentions `word`."""
    (found,) = [q for q in QUERIES if word in q]
    return found


@pytest.fixture
def queue(postgres: PostgresCluster) -> Iterator[sa.Connection]:
    """Four scope jobs; a live worker and a silent one running one job each."""
    db = Database(postgres.create_database())  # migrated to the head: 0013's queue included
    engine = sa.create_engine(db.url)
    with engine.begin() as conn:
        live, silent = (
            conn.execute(
                sa.text("SELECT worker_id FROM procrastinate_register_worker_v1()")
            ).scalar_one()
            for _ in range(2)
        )
        jobs = [(SCOPE_TASK, f"aws/1/us-east-1/{n}") for n in "abcd"]
        conn.execute(
            sa.text(
                "SELECT procrastinate_defer_jobs_v1(ARRAY["
                + ", ".join(
                    f"(:queue, '{task}', 0, '{lock}', NULL, '{{}}', NULL)"
                    "::procrastinate_job_to_defer_v1"
                    for task, lock in jobs
                )
                + "])"
            ),
            {"queue": QUEUE},
        )
        for worker in (live, silent):
            conn.execute(
                sa.text("SELECT * FROM procrastinate_fetch_job_v2(ARRAY[:queue], :w)"),
                {"queue": QUEUE, "w": worker},
            )
        # The decoy: the periodic task, waiting, and one the silent worker runs.
        conn.execute(
            sa.text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, status, worker_id) "
                "VALUES (:queue, :task, 'todo', NULL), (:queue, :task, 'doing', :w)"
            ),
            {"queue": QUEUE, "task": STALLED_TASK, "w": silent},
        )
        conn.execute(
            sa.text(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '5 minutes' "
                "WHERE id = :w"
            ),
            {"w": silent},
        )
    with engine.connect() as conn:
        conn.info["workers"] = (live, silent)
        yield conn
    engine.dispose()
    db.dispose()


def test_the_section_documents_four_queries_on_procrastinates_tables() -> None:
    assert len(QUERIES) == 4
    assert all("procrastinate_" in q for q in QUERIES)
    assert f"`{SCOPE_TASK}`" in SECTION and f"`{QUEUE}`" in SECTION


def test_queue_depth_counts_waiting_and_running_jobs(queue: sa.Connection) -> None:
    rows = queue.execute(sa.text(query("GROUP BY queue_name, status"))).all()
    # The enum orders statuses as a job moves: waiting first.
    assert [tuple(r) for r in rows] == [(QUEUE, "todo", 2), (QUEUE, "doing", 2)]


def test_oldest_wait_is_that_of_the_jobs_no_worker_took(queue: sa.Connection) -> None:
    waiting, oldest = queue.execute(sa.text(query("oldest_wait"))).one()
    assert waiting == 2
    assert timedelta(0) <= oldest < timedelta(minutes=1)


def test_workers_are_listed_silent_first_with_their_running_scopes(queue: sa.Connection) -> None:
    live, silent = queue.info["workers"]
    rows = queue.execute(sa.text(query("silent_for"))).all()
    assert [(r.id, r.running_scopes) for r in rows] == [(silent, 1), (live, 1)]
    assert rows[0].silent_for >= timedelta(minutes=5) > rows[1].silent_for


def test_stalled_jobs_are_the_silent_workers_also_once_it_is_pruned(
    queue: sa.Connection,
) -> None:
    """Procrastinate prunes a stalled worker's row (its jobs' worker_id becomes NULL): the job
    still shows as stalled until it is retried."""
    live, silent = queue.info["workers"]
    stalled_sql = sa.text(query("interval '30 seconds'"))
    ran_by: dict[str, int] = {
        row.lock: row.worker_id
        for row in queue.execute(
            sa.text("SELECT lock, worker_id FROM procrastinate_jobs WHERE status = 'doing'")
        )
    }
    (stalled,) = queue.execute(stalled_sql).all()
    assert ran_by[stalled.lock] == silent and stalled.attempts == 0
    queue.execute(sa.text("SELECT * FROM procrastinate_prune_stalled_workers_v1(30)"))
    (still,) = queue.execute(stalled_sql).all()
    assert still.lock == stalled.lock and still.last_heartbeat is None
    assert live in ran_by.values()

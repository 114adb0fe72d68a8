"""`executor: {kind: queue}` over time: a `vigil worker` outlives many passes, so what it keeps
from one pass must not shape the next, and the jobs the passes leave in the queue go away
while the scope runs keep the history."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from procrastinate.jobs import Status
from procrastinate.periodic import PeriodicDeferrer

from storage.db import Database
from storage.reconcile import Reconciler
from tests.fixtures.cli import VigilCli
from tests.fixtures.sshd import SshServer
from tests.reliability.conftest import Views, Workers, report
from tests.reliability.test_queue_workers import QUEUE, wait_until
from vigil.app.queue import JOBS_KEPT_HOURS, PRUNE_TASK, SCOPE_TASK, build_app
from vigil.app.queue import QUEUE as QUEUE_NAME
from vigil.core.model import Scope

pytestmark = pytest.mark.slow
T = TypeVar("T")


def hosts_source(server: SshServer, restore_log: Path) -> str:
    """A hosts source reading this machine over the real sshd, with a restore-drill log."""
    return (
        "sources:\n  - name: colo\n    provider: hosts\n"
        f"    ssh: {{user: {server.user}, key_file: {server.client_key}, "
        f"known_hosts: {server.known_hosts}, timeout: 10}}\n"
        f"    targets: [{{host: 127.0.0.1, port: {server.port}, name: local}}]\n"
        f"    restore_evidence: {{file: {restore_log}, covers: [/]}}\n" + QUEUE
    )


def last_restore(views: Views) -> object:
    """The host's last proven restore, as the inventory (the vigil_resources view) says."""
    (server,) = views.rows(
        "SELECT attributes FROM vigil_resources WHERE type = 'server' AND state = 'present'"
    )
    return json.loads(server["attributes"])["last_restore_at"]


def test_one_worker_reads_the_hosts_afresh_in_each_pass(
    queue_cli: VigilCli, queue_url: str, sshd: SshServer, workers: Workers
) -> None:
    """The worker builds the hosts source's collector per pass: a restore drill recorded on
    the host between two passes is in the second pass's inventory, not the first pass's read."""
    log = queue_cli.cwd / "restore-drill.log"
    log.write_text("2026-01-05T03:00:00Z ok\n")
    (queue_cli.cwd / "vigil.yaml").write_text(hosts_source(sshd, log))
    worker = workers.start()
    views = Views(queue_url)
    try:
        started = time.monotonic()
        first = queue_cli("collect")
        assert first.returncode == 0, first.stdout + first.stderr
        assert last_restore(views) == "2026-01-05T03:00:00Z"
        scopes = workers.scopes_run(worker)
        assert scopes >= 2  # the host's server and disk scopes at least

        log.write_text("2026-01-05T03:00:00Z ok\n2026-02-09T04:30:00Z ok\n")  # a new drill
        second = queue_cli("collect")
        took = time.monotonic() - started
        assert second.returncode == 0, second.stdout + second.stderr
        assert last_restore(views) == "2026-02-09T04:30:00Z"
    finally:
        views.close()
    assert worker.poll() is None  # the same process served both passes
    assert workers.scopes_run(worker) == 2 * scopes
    assert len(workers.started) == 1
    report(f"queue: a hosts source, two passes on one worker in {took:.2f}s")


AGED = f"{JOBS_KEPT_HOURS + 1} hours"
"""Past the age at which the queue's ended jobs go."""
RECENT = f"{JOBS_KEPT_HOURS - 1} hours"
"""Not yet that old."""
JOBS = {  # name: (queue, what became of the job, how long ago)
    "old-succeeded": (QUEUE_NAME, "succeeded", AGED),
    "old-failed": (QUEUE_NAME, "failed", AGED),
    "old-cancelled": (QUEUE_NAME, "cancelled", AGED),
    "old-aborted": (QUEUE_NAME, "aborted", AGED),
    "recent-succeeded": (QUEUE_NAME, "succeeded", RECENT),
    "recent-failed": (QUEUE_NAME, "failed", RECENT),
    "old-doing": (QUEUE_NAME, "doing", AGED),  # a scope still running on a live worker
    "old-todo": (QUEUE_NAME, "todo", AGED),  # the next pass's attempt, waiting behind it
    "other-app": ("another-app", "succeeded", AGED),  # not Vigil's queue
}


def scope_of(name: str) -> Scope:
    """Each job's scope is an account of its own, but the todo job's is the doing job's: its
    lock keeps the todo job waiting behind the running one (no worker takes it)."""
    number = list(JOBS).index("old-doing" if name == "old-todo" else name)
    return Scope("aws-test", "aws", str(100000000000 + number), "us-east-1", "server")


def fill_queue(url: str) -> dict[str, int]:
    """JOBS, put in their state through Procrastinate as workers and passes do, each with a
    scope run of its own; only their age is written by hand. Their ids by name."""
    app = build_app(url, 60.0)
    db = Database(url, migrate=False)
    reconciler = Reconciler(db, pass_id="old-pass")

    async def fill() -> dict[str, int]:
        ids: dict[str, int] = {}
        async with app.open_async():
            jobs = app.job_manager
            worker = await jobs.register_worker()  # a live worker: its heartbeat is fresh
            for name, (queue, status, _) in JOBS.items():
                scope = scope_of(name)
                deferrer = app.configure_task(SCOPE_TASK, queue=queue, lock=scope.key)
                job = await deferrer.defer_async(
                    pass_id="old-pass", source="aws-test", digest="d", scope=scope.to_dict(),
                    deadline=0.0,
                )  # fmt: skip
                ids[name] = job
                if status == "cancelled":  # a stopped pass's scope no worker had started
                    assert await jobs.cancel_job_by_id_async(job)
                elif status != "todo":
                    fetched = await jobs.fetch_job([queue], worker)
                    assert fetched is not None and fetched.id == job
                    if status == "aborted":  # a stopped pass's running scope, asked to stop
                        await jobs.cancel_job_by_id_async(job, abort=True)
                    if status != "doing":
                        await jobs.finish_job(fetched, Status(status), delete_job=False)
                reconciler.record_failure(scope, f"the {name} attempt", retryable=True)
        return ids

    try:
        ids = in_a_loop_of_its_own(fill())
        with db.begin() as conn:
            for name, (_, _, ago) in JOBS.items():
                conn.execute(
                    sa.text(
                        "UPDATE procrastinate_events SET at = now() - CAST(:ago AS interval) "
                        "WHERE job_id = :job"
                    ),
                    {"ago": ago, "job": ids[name]},
                )
    finally:
        db.dispose()
    return ids


def in_a_loop_of_its_own(work: Coroutine[Any, Any, T]) -> T:
    """Another test of the session may have left an event loop running in this thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def test_the_hourly_prune_deletes_the_queue_s_old_ended_jobs_and_keeps_the_runs(
    queue_cli: VigilCli, queue_url: str, workers: Workers
) -> None:
    """Deferred as the workers' periodic deferrer defers it, the prune runs on a `vigil worker`:
    Vigil's ended jobs past JOBS_KEPT_HOURS go, whatever their end; recent ones, running and
    waiting ones, another app's, and every scope run stay."""
    Database(queue_url).dispose()  # migrated by Vigil: the queue's schema is installed
    ids = fill_queue(queue_url)
    views = Views(queue_url)
    runs = "SELECT id, scope_key, status, error FROM scope_runs ORDER BY id"
    app = build_app(queue_url, 60.0)
    (prune,) = [
        p for p in app.periodic_registry.periodic_tasks.values() if p.task.name == PRUNE_TASK
    ]
    deferrer = PeriodicDeferrer(app.periodic_registry)
    now = time.time()
    day = list(deferrer.get_timestamps(prune, since=int(now - 86400), until=now))
    assert len(day) == 24 and {b - a for a, b in itertools.pairwise(day)} == {3600}  # hourly

    async def defer_the_latest() -> None:
        async with app.open_async():
            await deferrer.defer_jobs([(prune, day[-1])])

    in_a_loop_of_its_own(defer_the_latest())
    (queue_cli.cwd / "vigil.yaml").write_text("executor:\n  kind: queue\n  stalled_after: 60s\n")
    try:
        history = views.rows(runs)

        def pruned() -> str:  # the status of the prune deferred above (the first)
            rows = views.rows(
                "SELECT status::text AS s FROM procrastinate_jobs "
                f"WHERE task_name = '{PRUNE_TASK}' ORDER BY id LIMIT 1"
            )
            return str(rows[0]["s"])

        started = time.monotonic()
        workers.start()
        wait_until(lambda: pruned() not in ("todo", "doing"), 30, "the worker ran the prune")
        took = time.monotonic() - started
        assert pruned() == "succeeded"
        jobs = views.rows("SELECT id, status::text AS s FROM procrastinate_jobs")
        assert views.rows(runs) == history  # the scope runs keep the history
    finally:
        views.close()
    left = {row["id"]: row["s"] for row in jobs}
    kept = {name: left[job] for name, job in ids.items() if job in left}
    assert kept == {
        "recent-succeeded": "succeeded",
        "recent-failed": "failed",
        "old-doing": "doing",
        "old-todo": "todo",
        "other-app": "succeeded",
    }
    report(f"queue: the prune deleted {len(ids) - len(kept)} old jobs {took:.2f}s into a worker")

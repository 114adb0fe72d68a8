"""`executor.kind: queue`: a pass's scopes are Procrastinate jobs in Vigil's PostgreSQL
database, run by any number of `vigil worker` processes on any machines (DESIGN.md, Executors).

- The pass (`vigil collect`, or the daemon's scheduled pass) plans as under every executor, then
  defers one job per scope in one transaction. Each job is locked by its scope key (a scope runs
  at most once at a time) and carries names, the source's config digest and the pass deadline,
  never a credential: workers read the same config file and environment. The pass then waits for
  every job to end and reads each scope's outcome from the runs the workers recorded.
- A worker runs a job as `threads` runs a scope (`executor.stream_scope`) and writes its own
  scope run (`scope_writer.ScopeWriter`: a transaction per page, one to complete).
- A worker that dies leaves its job `doing`. Once the worker's heartbeat is `stalled_after` old,
  a periodic task on any live worker puts the job back (Procrastinate's stalled jobs); the next
  attempt abandons the dead attempt's run (nothing of it was applied) before it starts.
- SIGTERM: the worker takes no new job, abandons its running scopes at their next page, hands
  them back to the queue (another worker retries them) and exits within `SHUTDOWN_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage import job_queue
from storage.db import Database
from storage.reconcile import Reconciler
from storage.urls import is_postgresql
from vigil.app.executor import STOPPED, Message, WorkerCollectors, stream_scope
from vigil.app.scope_writer import ScopeOutcome, ScopeWriter
from vigil.core.errors import ConfigError, StorageError, VigilError, scrub, secrets_of
from vigil.core.model import RunStatus, Scope
from vigil.core.urls import redact_url

if TYPE_CHECKING:
    import procrastinate
    import psycopg
    from procrastinate.job_context import JobContext

    from vigil.app.collect import Progress
    from vigil.app.config import VigilConfig

log = logging.getLogger(__name__)

QUEUE = "vigil-scopes"
SCOPE_TASK = "vigil.collect_scope"
STALLED_TASK = "vigil.retry_stalled_scopes"
PRUNE_TASK = "vigil.prune_jobs"
HOUSEKEEPING = 100
"""The priority of the workers' own periodic tasks (scopes have Procrastinate's default, 0)."""
JOBS_KEPT_HOURS = 24
"""Ended jobs are deleted after this long (hourly): the scope runs keep the history."""
SHUTDOWN_SECONDS = 8.0
"""How long a stopping worker waits for its scopes to reach a page boundary before it exits
(under the 10 s SIGTERM contract and Kubernetes' default 30 s grace)."""
HARD_STOP_SECONDS = 9.5
"""A stopping worker exits by then whatever its scopes do (the 10 s SIGTERM contract)."""
WORKER_STOPPING = "abandoned: its worker was stopped; the scope was handed back to the queue"
STALE_ATTEMPT = "abandoned: its worker stopped answering; the scope was retried by another worker"
MAX_ATTEMPTS = 5
"""Attempts at one scope's job: a worker stopped mid-scope hands it back (SIGTERM, rollouts)."""
SWEEP_SECONDS = 30.0
"""Between polls of what ended since the last one, the pass reads every job's status this
often (an event committed out of its id's order is never missed for longer)."""
EVENT_MARGIN = 10_000
"""Events re-read behind the newest seen: ids are taken before their transactions commit."""


def require_postgresql(url: str, config_path: str | None) -> None:
    """`queue` keeps its jobs in the database: SQLite cannot be shared by machines."""
    if not is_postgresql(url):
        raise ConfigError(
            "executor kind queue needs a PostgreSQL database_url (its jobs live in the same "
            f"database, shared by every worker); the database is {redact_url(url)}",
            path=config_path,
            fix="set database_url: postgresql+psycopg://... (or VIGIL_DATABASE_URL), "
            "or use executor kind threads or processes",
        )


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL (Procrastinate's own pool uses it)."""
    import sqlalchemy as sa

    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def _driver_connection(db: Database) -> Iterator[psycopg.Connection[Any]]:
    """psycopg's connection under one SQLAlchemy transaction: Procrastinate's calls given it
    run in that transaction (a pass and its jobs are enqueued together or not at all)."""
    with db.begin() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        yield driver


def _job_manager() -> Any:
    """Procrastinate's job manager for calls on a given connection (no pool of its own)."""
    import procrastinate

    return procrastinate.App(connector=procrastinate.SyncPsycopgConnector()).job_manager


# -- the pass's side ---------------------------------------------------------------------


class QueuedPass:
    """Enqueue a pass's scopes and wait for every one to end (DESIGN.md, Executors)."""

    poll_seconds = 0.25

    def __init__(
        self,
        db: Database,
        *,
        stop: threading.Event,
        progress: Progress,
        deadline: timedelta | None,
        stalled_after: timedelta,
    ) -> None:
        self.db = db
        self.stop = stop
        self.progress = progress
        self.deadline = deadline
        self.stalled_after = stalled_after.total_seconds()
        self.pass_id = uuid.uuid4().hex
        self._reconciler = Reconciler(db, pass_id=self.pass_id)
        self._jobs = _job_manager()

    def run(self, scopes: Sequence[Scope], digests: Mapping[str, str]) -> list[ScopeOutcome]:
        ends_at = time.time() + (self.deadline.total_seconds() if self.deadline else 86400.0)
        waiting = self._enqueue(scopes, digests, ends_at)
        try:
            return self._wait(waiting, ends_at)
        except KeyboardInterrupt:
            # Ctrl-C: what no worker started never will; running scopes stop at their page.
            self._abort(waiting)
            raise

    def _wait(self, waiting: dict[int, Scope], ends_at: float) -> list[ScopeOutcome]:
        outcomes: list[ScopeOutcome] = []
        stopped = False
        span = (min(waiting), max(waiting)) if waiting else (0, 0)
        seen_event, swept = 0, time.monotonic()
        while waiting:
            late = self.stop.is_set() or time.time() > ends_at
            if late or time.monotonic() - swept > SWEEP_SECONDS:
                statuses = job_queue.job_statuses(self.db, waiting)  # every job's, now and then
                swept = time.monotonic()
                for job in waiting.keys() - statuses.keys():  # deleted behind the pass's back
                    statuses[job] = "deleted"
            else:  # what ended since the last poll (and a margin behind it)
                statuses, newest = job_queue.jobs_ended_since(
                    self.db, max(0, seen_event - EVENT_MARGIN), span
                )
                seen_event = max(seen_event, newest)
            ended = {
                job: waiting.pop(job)
                for job, status in statuses.items()
                if (status in job_queue.JOB_ENDED or status == "deleted") and job in waiting
            }
            outcomes.extend(self._ended(ended, statuses))
            if self.stop.is_set() and not stopped:
                stopped = True
                outcomes.extend(self._abort(waiting))
            if waiting and late:
                outcomes.extend(self._give_up(waiting, statuses, stopped))
            if waiting:
                time.sleep(self.poll_seconds)
        return outcomes

    def _enqueue(
        self, scopes: Sequence[Scope], digests: Mapping[str, str], ends_at: float
    ) -> dict[int, Scope]:
        from procrastinate.jobs import Job

        jobs = [
            Job(
                id=None,
                queue=QUEUE,
                lock=scope.key,
                queueing_lock=None,
                task_name=SCOPE_TASK,
                task_kwargs={
                    "pass_id": self.pass_id,
                    "source": scope.source,
                    "digest": digests[scope.source],
                    "scope": scope.to_dict(),
                    "deadline": ends_at,
                },
            )
            for scope in scopes
        ]
        if not jobs:
            return {}
        with _driver_connection(self.db) as connection:
            deferred = self._jobs.batch_defer_jobs(jobs, connection=connection)
        return {job.id: scope for job, scope in zip(deferred, scopes, strict=True)}

    def _ended(self, ended: Mapping[int, Scope], statuses: Mapping[int, str]) -> list[ScopeOutcome]:
        if not ended:
            return []
        runs = job_queue.pass_runs(self.db, self.pass_id, [s.key for s in ended.values()])
        outcomes = []
        for job, scope in ended.items():
            run = runs.get(scope.key)
            if run is None:  # the job ended without a word (cancelled, or its worker crashed)
                error = f"job {job} ended {statuses[job]} without recording the scope's run"
                outcome = self._failed(scope, f"{error}; see the workers' logs")
            else:
                outcome = _outcome_of_row(scope, run)
            outcomes.append(self._finished(outcome))
        return outcomes

    def _abort(self, waiting: dict[int, Scope]) -> list[ScopeOutcome]:
        """The pass was stopped: scopes no worker started are cancelled (failed, nothing
        applied); running ones are asked to stop at their next page (their jobs' abort). A job
        that starts between the two calls is asked to stop too."""
        outcomes = []
        with _driver_connection(self.db) as connection:
            for job in list(waiting):
                if self._jobs.cancel_job_by_id(job, connection=connection):  # it was `todo`
                    outcomes.append(self._finished(self._failed(waiting.pop(job), STOPPED)))
                else:
                    self._jobs.cancel_job_by_id(job, abort=True, connection=connection)
        return outcomes

    def _give_up(
        self, waiting: dict[int, Scope], statuses: Mapping[int, str], stopped: bool
    ) -> list[ScopeOutcome]:
        """Past the deadline (or stopped): scopes no worker holds end as failures; a stalled
        worker's are taken back first (Procrastinate's retry, then cancel)."""
        seconds = self.deadline.total_seconds() if self.deadline else 0.0
        reason = (
            STOPPED
            if stopped
            else (f"no live worker started this scope within the pass deadline ({seconds:.0f}s)")
        )
        stalled = set(job_queue.stalled_jobs(self.db, waiting, self.stalled_after))
        outcomes = []
        with _driver_connection(self.db) as connection:
            for job in list(waiting):
                if job in stalled and not _retry_now(self._jobs, job, connection):
                    continue  # a worker retried or finished it meanwhile: the next poll says
                if job not in stalled and statuses.get(job) != "todo":
                    continue
                if self._jobs.cancel_job_by_id(job, connection=connection):
                    scope = waiting.pop(job)
                    error = reason
                    if job in stalled:  # the dead attempt's run: nothing of it applied
                        error = f"{reason}; its worker died"
                        self._reconciler.abandon_running(
                            STALE_ATTEMPT, scope_key=scope.key, pass_id=self.pass_id
                        )
                    outcomes.append(self._finished(self._failed(scope, error)))
        return outcomes

    def _failed(self, scope: Scope, error: str) -> ScopeOutcome:
        run = self._reconciler.record_failure(scope, error, retryable=True)
        return ScopeOutcome(scope, RunStatus.FAILED, error=error, duration=0.0, pages=run.pages)

    def _finished(self, outcome: ScopeOutcome) -> ScopeOutcome:
        self.progress.page(outcome.scope, outcome.seen)
        self.progress.finished(outcome)
        return outcome


def _retry_now(jobs: Any, job: int, connection: psycopg.Connection[Any]) -> bool:
    """Put a stalled job back to `todo` (in a savepoint: a worker may have retried or finished
    it since it was read); whether it was."""
    from procrastinate import sql
    from procrastinate.exceptions import ConnectorException

    try:
        with connection.transaction():
            jobs.connector.get_sync_connector().execute_query_one_with_connection(
                connection,
                query=sql.queries["retry_job"],
                job_id=job,
                retry_at=datetime.now(UTC),
                new_priority=None,
                new_queue_name=None,
                new_lock=None,
            )
    except ConnectorException:
        return False
    return True


def _outcome_of_row(scope: Scope, run: Mapping[str, Any]) -> ScopeOutcome:
    return ScopeOutcome(
        scope=scope,
        status=run["status"],
        error=run["error"],
        pages=run["pages"],
        seen=run["seen"],
        created=run["created"],
        changed=run["changed"],
        deleted=run["deleted"],
        throttled=run["throttled"],
        duration=run["duration_seconds"] or 0.0,
    )


# -- the worker's side -------------------------------------------------------------------


class ScopeInterrupted(Exception):
    """The worker stopped mid-scope: Procrastinate hands the job to another worker."""


@dataclasses.dataclass
class WorkerState:
    """What a `vigil worker`'s jobs share: its config, database and collectors."""

    config: VigilConfig
    db: Database
    collectors: WorkerCollectors
    stopping: threading.Event = dataclasses.field(default_factory=threading.Event)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    scopes: dict[str, int] = dataclasses.field(default_factory=dict)
    running: int = 0

    def count(self, status: str) -> None:
        with self.lock:
            self.scopes[status] = self.scopes.get(status, 0) + 1


_state: WorkerState | None = None


def collect_scope(
    context: JobContext,
    *,
    pass_id: str,
    source: str,
    digest: str,
    scope: dict[str, Any],
    deadline: float,
) -> None:
    """The job of one scope: collect it and record its run (the pass reads the outcome)."""
    state = _state
    assert state is not None, "collect_scope runs only in a vigil worker"
    the_scope = Scope.from_dict(scope)
    reconciler = Reconciler(state.db, pass_id=pass_id)
    if time.time() > deadline:
        error = "no live worker started this scope within the pass deadline"
        reconciler.record_failure(the_scope, error, retryable=True)
        state.count(RunStatus.FAILED)
        return
    # The lock per scope says no other attempt runs: a `running` run of it is a dead one's.
    reconciler.abandon_running(STALE_ATTEMPT, scope_key=the_scope.key)
    with state.lock:
        state.running += 1
    try:
        outcome = _collect(state, reconciler, the_scope, source, digest, context)
    finally:
        with state.lock:
            state.running -= 1
    state.count(outcome.status if outcome else RunStatus.FAILED)
    if outcome is not None and outcome.error == WORKER_STOPPING:
        raise ScopeInterrupted(f"{the_scope.key}: {WORKER_STOPPING}")


def _collect(
    state: WorkerState,
    reconciler: Reconciler,
    scope: Scope,
    source: str,
    digest: str,
    context: JobContext,
) -> ScopeOutcome | None:
    config = state.collectors.config or state.config
    known = {s.name: s for s in config.sources}
    secrets = secrets_of(known[source]) if source in known else ()
    try:
        with state.lock:
            collector = state.collectors.collector_for(source, digest, reconciler.pass_id or "")
    except VigilError as exc:
        error = scrub(exc.message, secrets)
        reconciler.record_failure(scope, error, retryable=exc.retryable)
        return ScopeOutcome(scope, RunStatus.FAILED, error=error)
    # A pass stopped meanwhile (its jobs' abort) applies nothing more, as under threads.
    writer = ScopeWriter(reconciler, {source: secrets}, stopped=context.should_abort)
    outcome: ScopeOutcome | None = None

    def put(message: Message) -> None:
        nonlocal outcome
        if message.error == STOPPED and state.stopping.is_set():
            message = dataclasses.replace(message, error=WORKER_STOPPING)
        outcome = writer.apply(message) or outcome

    stream_scope(collector, scope, put, lambda: state.stopping.is_set() or context.should_abort())
    return outcome


async def retry_stalled_scopes(app: procrastinate.App, silent_for: float) -> None:
    """Put back the jobs of workers silent for `silent_for` seconds (Procrastinate's stalled
    jobs, from worker heartbeats), so a live worker runs them."""
    stalled = await app.job_manager.get_stalled_jobs(
        task_name=SCOPE_TASK, seconds_since_heartbeat=silent_for
    )
    for job in stalled:
        log.warning("job %s (%s) lost its worker; retrying it", job.id, job.lock)
        await app.job_manager.retry_job(job)


def build_app(url: str, stalled_after: float) -> procrastinate.App:
    """The worker's Procrastinate app: the scope task and the stalled-jobs task."""
    import procrastinate

    # A connection waits at most `stalled_after` for the pool: past that the worker is taken
    # for dead anyway (the pool's default, 30 s, would hold a stopping worker past 10 s).
    # Its pool fetches, heartbeats and finishes jobs: a few connections do (psycopg_pool's
    # default keeps 4 open per worker, beside the scopes' own SQLAlchemy pool).
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(url), timeout=stalled_after, min_size=1, max_size=3
    )
    app = procrastinate.App(connector=connector)
    retry = procrastinate.RetryStrategy(
        max_attempts=MAX_ATTEMPTS, retry_exceptions={ScopeInterrupted}
    )
    app.task(name=SCOPE_TASK, queue=QUEUE, pass_context=True, retry=retry)(collect_scope)
    every = max(1, round(stalled_after / 3))

    async def retry_stalled(timestamp: int) -> None:
        await retry_stalled_scopes(app, stalled_after)

    # Ahead of every queued scope: a dead worker's scopes must not wait for the queue to drain.
    task = app.task(
        name=STALLED_TASK, queue=QUEUE, queueing_lock=STALLED_TASK, priority=HOUSEKEEPING
    )(retry_stalled)
    app.periodic(cron=f"* * * * * */{every}", periodic_id="stalled")(task)

    async def prune_jobs(timestamp: int) -> None:
        await app.job_manager.delete_old_jobs(
            nb_hours=JOBS_KEPT_HOURS,
            queue=QUEUE,
            include_failed=True,
            include_cancelled=True,
            include_aborted=True,
        )

    prune = app.task(name=PRUNE_TASK, queue=QUEUE, queueing_lock=PRUNE_TASK, priority=HOUSEKEEPING)(
        prune_jobs
    )
    app.periodic(cron="17 * * * *", periodic_id="prune")(prune)
    return app


def open_worker_database(config: VigilConfig) -> tuple[Database, str]:
    """The worker's database (PostgreSQL: the config's validation said so), reachable and
    migrated (under PostgreSQL's advisory lock, so workers and the daemon starting together
    migrate once)."""
    from vigil.app.config import resolve_database_url

    url = resolve_database_url(config)
    try:
        return Database(url), url
    except StorageError as exc:
        raise StorageError(
            f"vigil worker cannot reach the database {redact_url(url)}: {exc.message}"
        ) from None


def serve(
    config: VigilConfig,
    *,
    concurrency: int,
    on_ready: Callable[[WorkerState], None] | None = None,
) -> int:
    """Run jobs until SIGTERM/SIGINT (exit 0) or the database is lost (exit 1)."""
    global _state
    db, url = open_worker_database(config)
    assert config.path is not None, "a worker loads its config from a file"
    state = WorkerState(config, db, WorkerCollectors(str(config.path), url))
    from vigil.app.budgets import share_budgets

    share_budgets(url)  # every worker spends from the same buckets (DESIGN.md, API budgets)
    _state = state
    stalled_after = config.executor.stalled_after.total_seconds()
    quiet_procrastinate()
    app = build_app(url, stalled_after)
    from vigil.app.gc_tuning import fewer_gc_pauses

    with fewer_gc_pauses():  # scopes parse and prepare rows here, as in a pass's process
        return asyncio.run(_run_worker(app, state, concurrency, stalled_after, on_ready))


async def _run_worker(
    app: procrastinate.App,
    state: WorkerState,
    concurrency: int,
    stalled_after: float,
    on_ready: Callable[[WorkerState], None] | None,
) -> int:
    from procrastinate.exceptions import ConnectorException

    loop = asyncio.get_running_loop()
    # Sync jobs run on the loop's default executor: one thread per concurrent scope.
    loop.set_default_executor(ThreadPoolExecutor(concurrency + 2, thread_name_prefix="vigil-job"))
    exit_code = 0
    async with app.open_async():
        worker = scope_worker_class()(
            app,
            queues=[QUEUE],
            name=f"vigil@{socket.gethostname()}:{os.getpid()}",
            concurrency=concurrency,
            install_signal_handlers=False,
            update_heartbeat_interval=max(0.5, stalled_after / 3),
            stalled_worker_timeout=stalled_after,
            shutdown_graceful_timeout=SHUTDOWN_SECONDS,
            abort_job_polling_interval=1.0,  # a stopped pass's scopes stop within a second
        )

        def stop(signum: int) -> None:
            log.warning("signal %d: stopping; running scopes go back to the queue", signum)
            state.stopping.set()
            worker.stop()
            # A scope stuck in a network call never reaches its next page: past the promise,
            # exit anyway (its job is then a stalled one, retried elsewhere).
            timer = threading.Timer(HARD_STOP_SECONDS, _exit_now)
            timer.daemon = True
            timer.start()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, signum)
        if on_ready is not None:  # ready (its /readyz answers) once a SIGTERM stops it cleanly
            on_ready(state)
        watchdog = asyncio.create_task(_watch_database(state, worker, stalled_after))
        try:
            await worker.run()
        except ConnectorException as exc:  # its shutdown could not reach the database either
            log.debug("the worker stopped on a database error", exc_info=exc)
            state.stopping.clear()
        finally:
            watchdog.cancel()
        if not state.stopping.is_set():
            # Procrastinate stopped by itself: one of its side tasks (the listener, the
            # heartbeat) lost the database.
            _say_database_lost("the job queue's connection failed")
            exit_code = 1
        elif watchdog.done() and not watchdog.cancelled() and watchdog.result():
            exit_code = 1
    return exit_code


def _exit_now() -> None:
    log.error("scopes still running %.1fs after the stop signal: exiting", HARD_STOP_SECONDS)
    logging.shutdown()
    os._exit(0)


def _say_database_lost(detail: str) -> None:
    print(
        f"vigil worker: error: the database is unreachable ({detail}); exiting so that a "
        "supervisor restarts this worker (its running scopes go to other workers)",
        flush=True,
        file=sys.stderr,
    )


class _NoTracebacks(logging.Filter):
    """Procrastinate logs a lost database with a traceback per side task, through its own
    loggers and asyncio's; the message says enough (`--log-level debug` keeps them)."""

    NAMES = ("procrastinate", "asyncio", "psycopg")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in self.NAMES:
            record.exc_info, record.exc_text = None, None
        return True


def quiet_procrastinate() -> None:
    """Procrastinate logs every job at INFO; a worker logs what is worth reading."""
    root = logging.getLogger()
    if root.getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # a retry per connection
        for handler in root.handlers:  # a logger's filter would miss its children's records
            handler.addFilter(_NoTracebacks())


HOLDS_JOB = (
    "SELECT count(*) AS n FROM procrastinate_jobs "
    "WHERE id = %(job_id)s AND worker_id = %(worker_id)s AND status = 'doing'"
)


def scope_worker_class() -> type[Any]:
    """Procrastinate's worker, but one that only ends jobs it still holds.

    Procrastinate finishes and retries a job by its id and status alone. A worker taken for
    dead while it still ran a scope (its heartbeat older than `stalled_after`) has had its
    job retried, maybe fetched by another worker: its late word must not end that attempt's
    job (its run, refused by the row lock, applied nothing either)."""
    from procrastinate.worker import Worker

    class ScopeWorker(Worker):
        async def _persist_job_status(self, job: Any, *args: Any, **kwargs: Any) -> None:
            if not await holds_job(self.app, job.id, self.worker_id):
                log.warning("job %s (%s) was taken over by another worker", job.id, job.lock)
                return
            await super()._persist_job_status(job, *args, **kwargs)

    return ScopeWorker


async def holds_job(app: procrastinate.App, job_id: int, worker_id: int | None) -> bool:
    """Whether the job is still `doing` on `worker_id`."""
    row = await app.connector.execute_query_one_async(
        query=HOLDS_JOB, job_id=job_id, worker_id=worker_id
    )
    return bool(row["n"])


async def _watch_database(state: WorkerState, worker: Any, stalled_after: float) -> bool:
    """Stop the worker when the database stays unreachable for `stalled_after` (its jobs are
    then another worker's); True when it did."""
    lost_since: float | None = None
    while True:
        await asyncio.sleep(max(0.5, stalled_after / 3))
        try:
            await asyncio.to_thread(state.db.ping)
            lost_since = None
        except VigilError as exc:
            lost_since = lost_since or time.monotonic()
            if time.monotonic() - lost_since >= stalled_after:
                _say_database_lost(f"for {stalled_after:.0f}s: {exc.message}")
                state.stopping.set()
                worker.stop()
                return True

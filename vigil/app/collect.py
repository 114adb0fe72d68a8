"""One collection pass: plan scopes, run them concurrently, stream their pages into reconcile.

Workers (threads of this process, or worker processes: `executor.kind`, vigil/app/executor.py)
fetch pages and turn them into storage rows; the calling thread is the only database writer.
A bounded queue between them keeps memory flat (pages are applied as they come, never
gathered into an estate-sized list) and lets the API latency of many scopes overlap: a full
pass takes about as long as its slowest scope.

Storage (SQLAlchemy, the tables, the writer) is imported on first use, not with this module:
given a `DatabaseToOpen`, a pass opens its database while its plans wait on their first API
responses, so `vigil collect` reaches its first request before SQLAlchemy loads (DESIGN.md,
start-up).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from collectors.base import Collector, SourceConfig
from collectors.registry import build_collector, collector_class
from storage.urls import is_plain_sqlite
from vigil.app.budgets import budgets_shared_through
from vigil.app.gc_tuning import fewer_gc_pauses
from vigil.core.errors import ConfigError, VigilError, scrub, secrets_of
from vigil.core.lazy import importing, lazy_import
from vigil.core.model import PLAN_TYPE, RunStatus, Scope

if TYPE_CHECKING:
    from storage import reconcile, retire
    from storage.db import Database
    from storage.reconcile import Reconciler
    from vigil.app import executor as runner
    from vigil.app import inventory_reader
    from vigil.app import scope_writer as writing
    from vigil.app.config import ExecutorConfig
    from vigil.app.executor import Job, Message, WorkerSlot
    from vigil.app.scope_writer import ScopeOutcome, ScopeWriter
else:
    reconcile = lazy_import("storage.reconcile")
    retire = lazy_import("storage.retire")
    runner = lazy_import("vigil.app.executor")
    inventory_reader = lazy_import("vigil.app.inventory_reader")
    writing = lazy_import("vigil.app.scope_writer")

log = logging.getLogger(__name__)


@dataclass
class CollectionResult:
    outcomes: list[ScopeOutcome] = field(default_factory=list)
    duration: float = 0.0
    retired: int = 0

    @property
    def failed(self) -> list[ScopeOutcome]:
        return [o for o in self.outcomes if o.failed]

    @property
    def seen(self) -> int:
        return sum(o.seen for o in self.outcomes)


class Progress(Protocol):
    """Receives progress events; the CLI draws them, tests and the daemon ignore them."""

    def planned(self, total_scopes: int) -> None: ...

    def page(self, scope: Scope, resources: int) -> None: ...

    def finished(self, outcome: ScopeOutcome) -> None: ...


class NoProgress:
    """Progress nobody watches."""

    def planned(self, total_scopes: int) -> None:
        pass

    def page(self, scope: Scope, resources: int) -> None:
        pass

    def finished(self, outcome: ScopeOutcome) -> None:
        pass


@dataclass(frozen=True)
class DatabaseToOpen:
    """A database for the pass to open itself, once its plans are under way.

    `open` opens `url` (migrated); the pass calls it while its plans wait on their first API
    responses instead of before them. Under `processes` and `queue` the pass opens it at once:
    their set-up reads the database before planning.
    """

    url: str
    open: Callable[[], Database]


class Collection:
    """Runs one pass over the given sources. `stop` abandons scopes in flight as failed."""

    reconciler: Reconciler
    writer: ScopeWriter

    def __init__(
        self,
        db: Database | DatabaseToOpen,
        sources: Iterable[SourceConfig],
        *,
        types: set[str] | None = None,
        workers: int = 32,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        collector_factory: Callable[[SourceConfig], Any] | None = None,
        retire: bool = False,
        executor: ExecutorConfig | None = None,
        config_path: str | None = None,
        pass_deadline: timedelta | None = None,
    ) -> None:
        self.processes = executor.pool_size() if executor and executor.kind == "processes" else 0
        self.queued = executor if executor and executor.kind == "queue" else None
        if isinstance(db, DatabaseToOpen) and (
            self.processes or self.queued or not is_plain_sqlite(db.url)
        ):
            # Only a SQLite file opens late: on PostgreSQL the plans' first requests spend
            # the shared budgets (api_budgets), which must be migrated before.
            db = db.open()
        self.url = db.url
        if self.queued is not None:
            from vigil.app.queue import require_postgresql

            require_postgresql(db.url, config_path)
        if self.processes and (config_path is None or collector_factory is not None):
            raise ConfigError(
                "executor kind processes needs the config loaded from a file: its workers "
                "load the same file",
                fix="load the config with --config FILE, or use kind: threads",
            )
        self.config_path = config_path
        self.pass_deadline = pass_deadline
        self._deadline: float | None = None
        # Only a pass over the whole config may retire (never --source/--type).
        self.retire = retire and types is None
        self.sources = list(sources)
        # An error from an unexpected place may quote a credential: stored errors never do.
        self._secrets = {source.name: secrets_of(source) for source in self.sources}
        self.types = types
        self.workers = workers
        self.progress = progress or NoProgress()
        self.stop = stop or threading.Event()
        self._abort = threading.Event()  # ours alone: `stop` may be the daemon's shutdown
        self._builds_collectors = collector_factory is None
        self.collector_factory = collector_factory or self._build_collector
        self._queue: queue.Queue[Message] = queue.Queue(maxsize=max(16, workers * 2))
        # Under `processes`, the flag the workers read for `stop` (a lock-free shared byte: a
        # worker killed mid-read must not leave a lock held for the others).
        self._stop_flag: Any = (
            multiprocessing.get_context("spawn").RawValue("b", 0)
            if self.processes
            else ctypes.c_byte(0)
        )
        self._database: Future[Database] = Future()
        self._to_open = db.open if isinstance(db, DatabaseToOpen) else None
        if not isinstance(db, DatabaseToOpen):
            self._use(db)

    @property
    def db(self) -> Database:
        """The pass's database; a plan's thread that needs it waits for it to open."""
        return self._database.result()

    def _open(self) -> None:
        """Open the database given as a `DatabaseToOpen` (once; a no-op when it is open)."""
        if self._to_open is None:
            return
        opener, self._to_open = self._to_open, None
        try:
            self._use(opener())
        except BaseException as exc:
            self._database.set_exception(exc)  # the plans waiting for it end; the pass raises
            raise

    def _use(self, db: Database) -> None:
        """The storage side of the pass, on the open database."""
        self.reconciler = reconcile.Reconciler(db)
        self.writer = writing.ScopeWriter(
            self.reconciler, self._secrets, stopped=self.stop.is_set, on_page=self.progress.page
        )
        self._database.set_result(db)

    def _build_collector(self, source: SourceConfig) -> Any:
        """The source's collector, given the inventory if it reads it (probes, hosts)."""
        if getattr(collector_class(source.provider), "uses_inventory", False):
            return build_collector(source, inventory_reader.StorageInventory(self.db))
        return build_collector(source)

    def run(self) -> CollectionResult:
        # On PostgreSQL this pass's AWS requests (its plans and its threads' scopes) take
        # their tokens from the budgets every process shares, as its worker processes do.
        with fewer_gc_pauses(), budgets_shared_through(self.url):
            return self._run()

    def plan(self) -> tuple[list[Scope], CollectionResult]:
        """Plan every source without collecting: the scopes, and the failed plans (recorded as
        a collection records them)."""
        result = CollectionResult()
        return [scope for _, scope in self._plan(result)], result

    def _run(self) -> CollectionResult:
        started = time.monotonic()
        if self.pass_deadline is not None:
            self._deadline = started + self.pass_deadline.total_seconds()
        result = CollectionResult()
        planned = self._run_queued(result) if self.queued else self._run_here(result)
        if self._may_retire(result):
            held = [
                (s.provider, s.account, s.region, s.type) for s in (o.scope for o in result.failed)
            ]
            result.retired = retire.retire_unplanned(
                self.db, {scope.key for _, scope in planned}, held=held
            )
        result.duration = time.monotonic() - started
        return result

    def _run_queued(self, result: CollectionResult) -> list[tuple[Collector, Scope]]:
        """Under `queue`: plan here, then the scopes are jobs that workers run."""
        from vigil.app.queue import QueuedPass

        assert self.queued is not None
        planned = self._plan(result)
        self.progress.planned(len(planned) + len(result.outcomes))
        digests = self._digests()
        queued = QueuedPass(
            self.db,
            stop=self.stop,
            progress=self.progress,
            deadline=self.pass_deadline,
            stalled_after=self.queued.stalled_after,
        )
        result.outcomes.extend(queued.run([scope for _, scope in planned], digests))
        return planned

    def _run_here(self, result: CollectionResult) -> list[tuple[Collector, Scope]]:
        """Under `threads` and `processes`: the scopes run here, the writer is this thread."""
        threads = self.processes or self.workers
        slots = [self._worker_slot() for _ in range(self.processes)]
        try:
            with ThreadPoolExecutor(threads, thread_name_prefix="vigil-scope") as pool:
                for slot in slots:  # worker processes start while the pass plans
                    pool.submit(slot.warm)
                planned = self._plan(result)
                self.progress.planned(len(planned) + len(result.outcomes))
                if slots:
                    digests = self._digests()
                    jobs = (runner.Job(s.source, digests[s.source], s) for _, s in planned)
                    pending = runner.Pending(jobs, self._admit)
                    futures = [pool.submit(slot.serve, pending, self._queue.put) for slot in slots]
                else:
                    futures = [pool.submit(self._work, c, scope) for c, scope in planned]
                try:
                    result.outcomes.extend(self._write(len(planned)))
                except BaseException:
                    # The writer died (a storage error): stop the workers and drain the queue,
                    # else they block on a full queue and the pool never shuts down.
                    self._abort.set()
                    self._stop_flag.value = 1
                    self._drain(futures)
                    raise
        finally:
            for slot in slots:
                slot.close()
        return planned

    def _digests(self) -> dict[str, str]:
        """Per source, the digest of its config that a worker's copy must match."""
        return {source.name: runner.source_digest(source) for source in self.sources}

    def _may_retire(self, result: CollectionResult) -> bool:
        """A whole-config pass that planned every source and was not stopped."""
        planned_all = not any(o.scope.type == PLAN_TYPE for o in result.outcomes)
        return self.retire and planned_all and not self.stop.is_set()

    def _plan(self, result: CollectionResult) -> list[tuple[Collector, Scope]]:
        planned: list[tuple[Collector, Scope]] = []
        self._import_collectors()
        with ThreadPoolExecutor(max(1, min(8, len(self.sources)))) as pool:
            futures = [(source, pool.submit(self._plan_source, source)) for source in self.sources]
            try:
                self._open()  # while the plans wait on their first API responses
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # those in flight still end
                raise
        for source, future in futures:
            try:
                collector, scopes = future.result()
            except VigilError as exc:
                result.outcomes.append(self._record_plan_failure(source, exc))
                continue
            except Exception as exc:  # a bug in one source must not stop the others
                log.exception("source %s could not be planned", source.name)
                error = VigilError(f"internal error: {type(exc).__name__}: {exc}")
                result.outcomes.append(self._record_plan_failure(source, error))
                continue
            planned.extend((collector, scope) for scope in scopes)
        return planned

    def _import_collectors(self) -> None:
        """Import the sources' collector modules (boto3 for AWS) before the plans start.

        Then the database opens while the plans wait on their APIs, not while they import:
        with the GIL, imports in two threads take turns, and the first request waited for
        both (~0.05 s of `vigil collect`'s start-up)."""
        if not self._builds_collectors:
            return
        for provider in {source.provider for source in self.sources}:
            # A module that fails to import fails again in its source's plan, which records it.
            with contextlib.suppress(Exception), importing():
                collector_class(provider)

    def _plan_source(self, source: SourceConfig) -> tuple[Collector, list[Scope]]:
        collector = self.collector_factory(source)
        return collector, list(collector.plan(self.types))

    def _record_plan_failure(self, source: SourceConfig, exc: VigilError) -> ScopeOutcome:
        scope = Scope(source.name, source.provider, PLAN_TYPE, PLAN_TYPE, PLAN_TYPE)
        error = scrub(exc.message, self._secrets.get(source.name, ()))
        self.reconciler.record_failure(scope, error, retryable=exc.retryable)
        outcome = writing.ScopeOutcome(scope, RunStatus.FAILED, error=error)
        self.progress.finished(outcome)
        return outcome

    def _work(self, collector: Collector, scope: Scope) -> None:
        """Runs in a worker thread: fetch pages, hand them to the writer, never write."""
        if self._past_deadline():
            self._queue.put(self._no_live_worker(scope))
            return
        runner.stream_scope(collector, scope, self._queue.put, self._stopping)

    def _worker_slot(self) -> WorkerSlot:
        """One worker process of the pass, running its share of the pass's concurrency."""
        assert self.config_path is not None
        concurrency = max(1, -(-self.workers // self.processes))
        url = runner.worker_database_url(self.db.url)
        shared = not self.db.is_sqlite  # AWS budgets shared through PostgreSQL
        return runner.WorkerSlot(
            self._stop_flag, self.config_path, url, concurrency, self.processes, shared
        )

    def _admit(self, job: Job) -> bool:
        """Whether a worker may take `job` now; else it ends here (stopped, or too late)."""
        if self._stopping():
            self._queue.put(
                runner.Message(RunStatus.FAILED, job.scope, error=runner.STOPPED, retryable=True)
            )
            return False
        if self._past_deadline():
            self._queue.put(self._no_live_worker(job.scope))
            return False
        return True

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline

    def _no_live_worker(self, scope: Scope) -> Message:
        assert self.pass_deadline is not None
        seconds = self.pass_deadline.total_seconds()
        return runner.Message(
            RunStatus.FAILED,
            scope,
            error=f"no live worker started this scope within the pass deadline ({seconds:.0f}s)",
            retryable=True,
        )

    def _write(self, expected: int) -> list[ScopeOutcome]:
        """The single writer: apply messages until every scope has ended."""
        outcomes: list[ScopeOutcome] = []
        ended: set[str] = set()
        while len(outcomes) < expected:
            try:
                message = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stopping():
                    self._stop_flag.value = 1
                continue
            if message.scope.key in ended:
                continue  # a late word of a scope that already ended changes nothing
            outcome = self.writer.apply(message)
            if outcome is not None:
                ended.add(message.scope.key)
                outcomes.append(outcome)
                self.progress.finished(outcome)
        return outcomes

    def _stopping(self) -> bool:
        return self.stop.is_set() or self._abort.is_set()

    def _drain(self, futures: list[Future[None]]) -> None:
        while not all(future.done() for future in futures):
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                continue


def collect(
    db: Database | DatabaseToOpen,
    sources: Iterable[SourceConfig],
    *,
    types: set[str] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    retire: bool = False,
    executor: ExecutorConfig | None = None,
    config_path: str | None = None,
    pass_deadline: timedelta | None = None,
) -> CollectionResult:
    """Run one collection pass over `sources` into `db`; `retire` for a whole-config pass.
    `executor` (default threads) says where scopes run; `processes` needs `config_path`.
    Given a `DatabaseToOpen`, the pass opens the database while its plans wait on the API."""
    return Collection(
        db,
        sources,
        types=types,
        progress=progress,
        stop=stop,
        retire=retire,
        executor=executor,
        config_path=config_path,
        pass_deadline=pass_deadline,
    ).run()

"""One collection pass: plan scopes, run them concurrently, stream their pages into reconcile.

Worker threads fetch pages and turn them into storage rows; the calling thread is the only
database writer. A bounded queue between them keeps memory flat (pages are applied as they
come, never gathered into an estate-sized list) and lets the API latency of many scopes
overlap: a full pass takes about as long as its slowest scope.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from collectors.base import Collector, SourceConfig
from collectors.registry import build_collector
from storage.db import Database
from storage.links import LinkKey, prepare_links
from storage.reconcile import Reconciler, RunStats, StorageRow, prepare_page
from storage.retire import retire_unplanned
from storage.volatile import Observation, observe
from vigil.app.gc_tuning import fewer_gc_pauses
from vigil.app.inventory_reader import StorageInventory
from vigil.core.errors import VigilError, scrub, secrets_of
from vigil.core.model import PLAN_TYPE, RunStatus, Scope

log = logging.getLogger(__name__)


@dataclass
class ScopeOutcome:
    """How one scope ended, for the summary table and the exit code."""

    scope: Scope
    status: str
    error: str | None = None
    pages: int = 0
    seen: int = 0
    created: int = 0
    changed: int = 0
    deleted: int = 0
    duration: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status != RunStatus.COMPLETE


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
class _Message:
    kind: str  # start | page | done | failed
    scope: Scope
    rows: list[StorageRow] | None = None
    observed: list[Observation] | None = None
    links: list[LinkKey] | None = None
    error: str | None = None
    retryable: bool | None = None
    volatile: tuple[str, ...] = ()


class Collection:
    """Runs one pass over the given sources. `stop` abandons scopes in flight as failed."""

    def __init__(
        self,
        db: Database,
        sources: Iterable[SourceConfig],
        *,
        types: set[str] | None = None,
        workers: int = 32,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        collector_factory: Callable[[SourceConfig], Any] | None = None,
        retire: bool = False,
    ) -> None:
        self.db = db
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
        inventory = StorageInventory(db)
        self.collector_factory = collector_factory or (
            lambda source: build_collector(source, inventory)
        )
        self.reconciler = Reconciler(db)
        self._queue: queue.Queue[_Message] = queue.Queue(maxsize=max(16, workers * 2))

    def run(self) -> CollectionResult:
        with fewer_gc_pauses():
            return self._run()

    def plan(self) -> tuple[list[Scope], CollectionResult]:
        """Plan every source without collecting: the scopes, and the failed plans (recorded as
        a collection records them)."""
        result = CollectionResult()
        return [scope for _, scope in self._plan(result)], result

    def _run(self) -> CollectionResult:
        started = time.monotonic()
        result = CollectionResult()
        planned = self._plan(result)
        self.progress.planned(len(planned) + len(result.outcomes))
        with ThreadPoolExecutor(self.workers, thread_name_prefix="vigil-scope") as pool:
            futures = [pool.submit(self._work, collector, scope) for collector, scope in planned]
            try:
                result.outcomes.extend(self._write(len(planned)))
            except BaseException:
                # The writer died (a storage error): stop the workers and drain the queue,
                # else they block on a full queue and the pool never shuts down.
                self._abort.set()
                self._drain(futures)
                raise
        if self._may_retire(result):
            held = [
                (s.provider, s.account, s.region, s.type) for s in (o.scope for o in result.failed)
            ]
            result.retired = retire_unplanned(
                self.db, {scope.key for _, scope in planned}, held=held
            )
        result.duration = time.monotonic() - started
        return result

    def _may_retire(self, result: CollectionResult) -> bool:
        """A whole-config pass that planned every source and was not stopped."""
        planned_all = not any(o.scope.type == PLAN_TYPE for o in result.outcomes)
        return self.retire and planned_all and not self.stop.is_set()

    def _plan(self, result: CollectionResult) -> list[tuple[Collector, Scope]]:
        planned: list[tuple[Collector, Scope]] = []
        with ThreadPoolExecutor(max(1, min(8, len(self.sources)))) as pool:
            futures = [(source, pool.submit(self._plan_source, source)) for source in self.sources]
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

    def _plan_source(self, source: SourceConfig) -> tuple[Collector, list[Scope]]:
        collector = self.collector_factory(source)
        return collector, list(collector.plan(self.types))

    def _record_plan_failure(self, source: SourceConfig, exc: VigilError) -> ScopeOutcome:
        scope = Scope(source.name, source.provider, PLAN_TYPE, PLAN_TYPE, PLAN_TYPE)
        error = scrub(exc.message, self._secrets.get(source.name, ()))
        self.reconciler.record_failure(scope, error, retryable=exc.retryable)
        outcome = ScopeOutcome(scope, RunStatus.FAILED, error=error)
        self.progress.finished(outcome)
        return outcome

    def _work(self, collector: Collector, scope: Scope) -> None:
        """Runs in a worker thread: fetch pages, hand them to the writer, never write."""
        put = self._queue.put
        if self._stopping():
            put(
                _Message(
                    RunStatus.FAILED, scope, error="abandoned: collection stopped", retryable=True
                )
            )
            return
        volatile = tuple(getattr(collector, "volatile_attributes", {}).get(scope.type, ()))
        put(_Message("start", scope, volatile=volatile))
        try:
            for page in collector.collect(scope):
                if self._stopping():
                    raise VigilError("abandoned: collection stopped", retryable=True)
                rows, observed = prepare_page(scope, page, volatile), observe(page, volatile)
                links = prepare_links(page)
                put(_Message("page", scope, rows=rows, observed=observed, links=links))
        except VigilError as exc:
            put(_Message("failed", scope, error=exc.message, retryable=exc.retryable))
        except Exception as exc:
            log.exception("scope %s failed unexpectedly", scope.key)
            put(
                _Message(
                    RunStatus.FAILED, scope, error=f"internal error: {type(exc).__name__}: {exc}"
                )
            )
        else:
            put(_Message("done", scope))

    def _write(self, expected: int) -> list[ScopeOutcome]:
        """The single writer: apply messages until every scope has ended."""
        outcomes: list[ScopeOutcome] = []
        runs: dict[str, RunStats] = {}
        while len(outcomes) < expected:
            message = self._queue.get()
            outcome = self._apply(message, runs)
            if outcome is not None:
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

    def _apply(self, message: _Message, runs: dict[str, RunStats]) -> ScopeOutcome | None:
        key = message.scope.key
        if message.kind == "start":
            runs[key] = self.reconciler.start(message.scope, volatile=message.volatile)
            return None
        if message.kind == "page":
            assert message.rows is not None
            self.reconciler.add_rows(
                runs[key], message.rows, message.observed or (), message.links or ()
            )
            self.progress.page(message.scope, len(message.rows))
            return None
        run = runs.pop(key, None)
        if run is not None and message.kind == "done" and not self.stop.is_set():
            self.reconciler.complete(run)
            return _outcome(run, RunStatus.COMPLETE)
        secrets = self._secrets.get(message.scope.source, ())
        error = scrub(message.error or "abandoned: collection stopped", secrets)
        if run is None:  # abandoned before it started: nothing to compare, nothing staged
            run = self.reconciler.record_failure(message.scope, error, retryable=message.retryable)
        else:
            self.reconciler.fail(run, error, retryable=message.retryable)
        return _outcome(run, RunStatus.FAILED, error)


def _outcome(run: RunStats, status: str, error: str | None = None) -> ScopeOutcome:
    return ScopeOutcome(
        scope=run.scope,
        status=status,
        error=error,
        pages=run.pages,
        seen=run.seen,
        created=run.created,
        changed=run.changed,
        deleted=run.deleted,
        duration=(run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0,
    )


def collect(
    db: Database,
    sources: Iterable[SourceConfig],
    *,
    types: set[str] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    retire: bool = False,
) -> CollectionResult:
    """Run one collection pass over `sources` into `db`; `retire` for a whole-config pass."""
    return Collection(db, sources, types=types, progress=progress, stop=stop, retire=retire).run()

"""Where a pass's scopes run: on threads of this process, or in a pool of worker processes.

Either way a scope is streamed the same way (`stream_scope`): fetch pages, turn them into
storage rows, hand them to the one database writer as `Message`s. Under `threads` the messages
go on an in-process queue; under `processes` (DESIGN.md, Executors) a worker process streams
them down its own pipe and a thread of the pass relays them to the same queue, so the writer,
the summary table and the progress are the same under both.

A worker process is a single-worker `ProcessPoolExecutor` (started with `spawn`: a clean
interpreter, never a fork of a process running threads) with its own pipe. A worker that dies
therefore breaks only its own pool and pipe: the scope it was running fails (its run abandoned,
nothing of it applied), the slot starts a fresh worker for the next scope, and the others go
on. Workers are given the config file's path, never a credential: they load the same file
under the same environment, and fail a scope whose source differs from the pass's
(`source_digest`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Any

from collectors import throttles
from collectors.base import Collector, SourceConfig
from collectors.registry import build_collector, collector_class
from storage.links import LinkKey, prepare_links
from storage.reconcile import StorageRow, prepare_page
from storage.volatile import Observation, observe
from vigil.core.errors import VigilError
from vigil.core.model import RunStatus, Scope

if TYPE_CHECKING:
    from vigil.app.config import VigilConfig

log = logging.getLogger(__name__)

STOPPED = "abandoned: collection stopped"
TERMINAL = ("done", RunStatus.FAILED.value)


@dataclasses.dataclass(frozen=True)
class Message:
    """What a scope tells the writer: it started, a page of rows, it is done or it failed."""

    kind: str  # start | page | done | failed
    scope: Scope
    rows: list[StorageRow] | None = None
    observed: list[Observation] | None = None
    links: list[LinkKey] | None = None
    error: str | None = None
    retryable: bool | None = None
    volatile: tuple[str, ...] = ()
    throttled: dict[str, int] | None = None  # done | failed: throttling answers per API


Put = Callable[[Message], None]


def stream_scope(
    collector: Collector, scope: Scope, put: Put, stopping: Callable[[], bool]
) -> None:
    """Fetch one scope's pages and hand them, prepared, to `put`; never write. Every scope
    ends with exactly one `done` or `failed` message, which carries the throttling answers
    the scope received."""
    if stopping():
        put(Message(RunStatus.FAILED, scope, error=STOPPED, retryable=True))
        return
    volatile = tuple(getattr(collector, "volatile_attributes", {}).get(scope.type, ()))
    put(Message("start", scope, volatile=volatile))
    with throttles.counting() as throttled:
        end = _fetch_scope(collector, scope, put, stopping, volatile)
    put(dataclasses.replace(end, throttled=throttled.counts()))


def _fetch_scope(
    collector: Collector,
    scope: Scope,
    put: Put,
    stopping: Callable[[], bool],
    volatile: tuple[str, ...],
) -> Message:
    """Put the scope's pages; the message that ends it."""
    try:
        for page in collector.collect(scope):
            if stopping():
                raise VigilError(STOPPED, retryable=True)
            rows, observed = prepare_page(scope, page, volatile), observe(page, volatile)
            links = prepare_links(page)
            put(Message("page", scope, rows=rows, observed=observed, links=links))
    except VigilError as exc:
        return Message(RunStatus.FAILED, scope, error=exc.message, retryable=exc.retryable)
    except Exception as exc:
        log.exception("scope %s failed unexpectedly", scope.key)
        error = f"internal error: {type(exc).__name__}: {exc}"
        return Message(RunStatus.FAILED, scope, error=error)
    return Message("done", scope)


def source_digest(source: SourceConfig) -> str:
    """A digest of a source's config as loaded (secret values masked, so never in it)."""
    return hashlib.sha256(source.model_dump_json().encode()).hexdigest()[:16]


def worker_database_url(url: str) -> str | None:
    """The database URL a worker may be given: None when it holds a password (the worker
    resolves it from the same config and environment instead)."""
    import sqlalchemy as sa

    return None if sa.make_url(url).password else url


@dataclasses.dataclass(frozen=True)
class Job:
    """One scope sent to a worker: names and the digest, never a credential."""

    source: str
    digest: str
    scope: Scope


# -- the worker process ------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_worker(
    jobs: Connection,
    messages: Connection,
    stop: Synchronized[int],
    config_path: str,
    database_url: str | None,
    processes: int,
    shared_budgets: bool = False,
) -> None:
    # Ctrl-C reaches the whole process group: the pass, not each worker, decides to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # On PostgreSQL every AWS budget is shared through the database (`_share_budgets`); on
    # SQLite the pass's workers split each budget between them (imported here: only a worker
    # process needs the AWS side at start).
    from collectors.aws import budget

    budget.share_among(processes)
    _worker.update(jobs=jobs, messages=messages, stop=stop, config_path=config_path)
    collectors = WorkerCollectors(config_path, database_url)
    _worker.update(collectors=collectors, lock=threading.Lock(), shared_budgets=shared_budgets)
    if shared_budgets and database_url is not None:
        _share_budgets(database_url)


def _share_budgets(database_url: str) -> None:
    from vigil.app.budgets import share_budgets

    share_budgets(database_url)
    _worker["shared_budgets"] = False  # done: once per process


def _ready() -> int:
    """Load the config and the collectors' modules while the pass plans; the worker's pid."""
    from vigil.app.config import load_config

    try:
        config = load_config(_worker["config_path"])
    except VigilError:
        return os.getpid()  # said again, per scope, when a scope needs it
    _worker["collectors"].config = config
    for source in config.sources:
        collector_class(source.provider)
    return os.getpid()


def _serve(concurrency: int) -> None:
    """The worker's one long task: run the jobs the pass sends, `concurrency` at a time, until
    it sends None."""
    from vigil.app.gc_tuning import fewer_gc_pauses

    jobs: Connection = _worker["jobs"]
    # Parsing is where the cyclic GC costs most (the pass's own process has this too).
    with (
        fewer_gc_pauses(),
        ThreadPoolExecutor(concurrency, thread_name_prefix="vigil-scope") as pool,
    ):
        while True:
            try:
                job = jobs.recv()
            except EOFError:  # the pass went away
                return
            if job is None:
                return
            pool.submit(_run_job, job)


def _send(message: Message) -> None:
    with _worker["lock"]:
        _worker["messages"].send(message)


def _run_job(job: Job) -> None:
    stop: Synchronized[int] = _worker["stop"]
    try:
        collector = _collector_for(job)
    except VigilError as exc:
        _send(Message(RunStatus.FAILED, job.scope, error=exc.message, retryable=exc.retryable))
        return
    except Exception as exc:
        log.exception("the worker could not build the collector of %s", job.source)
        _send(Message(RunStatus.FAILED, job.scope, error=f"internal error: {exc!r}"))
        return
    stream_scope(collector, job.scope, _send, lambda: bool(stop.value))


def _collector_for(job: Job) -> Collector:
    with _worker["lock"]:
        collectors: WorkerCollectors = _worker["collectors"]
        collector = collectors.collector_for(job.source, job.digest)
        if _worker["shared_budgets"]:  # the URL holds a password: resolved as the pass did
            from vigil.app.config import resolve_database_url

            assert collectors.config is not None  # loaded to build the collector
            _share_budgets(resolve_database_url(collectors.config))
        return collector


class WorkerCollectors:
    """The collectors of a worker (a process of `processes`, or a `vigil worker`), built once per
    source from the worker's own config file and reloaded when a job's digest says it changed;
    a source whose config still differs from the pass's fails the scope saying so."""

    def __init__(self, config_path: str, database_url: str | None) -> None:
        self.config_path = config_path
        self.database_url = database_url
        self.config: VigilConfig | None = None
        self._built: dict[str, tuple[tuple[str, str], Collector]] = {}

    def collector_for(self, source_name: str, digest: str, pass_id: str = "") -> Collector:
        """The source's collector for a pass: built afresh for each pass (`pass_id`), as a
        pass builds its collectors, so nothing a collector learnt in one pass (the hosts
        source's reads) outlives it."""
        cached = self._built.get(source_name)
        if cached is not None and cached[0] == (digest, pass_id):
            return cached[1]
        from vigil.app.config import load_config, resolve_database_url

        config = self.config
        if config is None or source_digest(config.source(source_name)) != digest:
            config = self.config = load_config(self.config_path)
        source = config.source(source_name)
        if source_digest(source) != digest:
            raise VigilError(
                f"this worker's config of source {source_name!r} differs from the pass's "
                f"({self.config_path} changed since the pass started, or the worker reads "
                "another file); the next pass collects it",
                retryable=True,
            )
        inventory = None
        if getattr(collector_class(source.provider), "uses_inventory", False):
            from storage.db import Database
            from vigil.app.inventory_reader import StorageInventory

            url = self.database_url or resolve_database_url(config)
            inventory = StorageInventory(Database(url, migrate=False))
        collector: Collector = build_collector(source, inventory)
        self._built[source_name] = ((digest, pass_id), collector)
        return collector


# -- the pass's side ---------------------------------------------------------------------


class WorkerSlot:
    """One worker process, the pipes to and from it, and the scopes it is running.

    `serve` feeds it scopes from the pass's shared `pending` until none is left, relaying its
    messages to `put`. A worker that dies fails the scopes it had started (their runs
    abandoned) and hands back those it had not, once; a fresh worker takes over.
    """

    def __init__(
        self,
        stop: Synchronized[int],
        config_path: str,
        database_url: str | None,
        concurrency: int,
        processes: int = 1,
        shared_budgets: bool = False,
    ) -> None:
        self._stop = stop
        self._initargs = (config_path, database_url, processes, shared_budgets)
        self.concurrency = concurrency
        self.pid: int | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._jobs: Connection | None = None
        self._messages: Connection | None = None
        self._task: Future[None] | None = None
        self._starting = threading.Lock()

    def warm(self) -> None:
        """Start the worker now (while the pass plans); a failure is met again in `serve`."""
        with self._starting:
            try:
                self._start()
            except _WorkerDied:
                self.close()

    def serve(self, pending: Pending, put: Put) -> None:
        try:
            while self._serve_one_worker(pending, put):
                pass
        finally:
            # Every scope has ended: the worker exits on its own time, not the pass's.
            self.close(wait=False)

    def _serve_one_worker(self, pending: Pending, put: Put) -> bool:
        """Serve until `pending` is empty (False) or this worker died (True: start another)."""
        first = pending.next()
        if first is None:
            return False
        in_flight: dict[str, tuple[Job, bool]] = {first.scope.key: (first, False)}
        try:
            with self._starting:  # after `warm`, when it is still at it
                if self._task is None:
                    self._start()
            assert self._jobs is not None and self._messages is not None
            self._jobs.send(first)
            while True:
                while len(in_flight) < self.concurrency and (job := pending.next()) is not None:
                    in_flight[job.scope.key] = (job, False)
                    self._jobs.send(job)
                if not in_flight:
                    return False  # `close` lets the worker go
                if self._messages.poll(0.1):
                    message: Message = self._messages.recv()
                    put(message)
                    key = message.scope.key
                    if message.kind == "start" and key in in_flight:
                        in_flight[key] = (in_flight[key][0], True)
                    elif message.kind in TERMINAL:
                        in_flight.pop(key, None)
                        # The worker's own counters die with it: this process's /metrics
                        # counts what its workers were told.
                        throttles.add_counted_elsewhere(
                            message.scope.source, message.throttled or {}
                        )
                elif self._task is not None and self._task.done():
                    raise _WorkerDied(self._died())
        except (_WorkerDied, EOFError, OSError, pickle.UnpicklingError, BrokenProcessPool) as exc:
            died = str(exc) if isinstance(exc, _WorkerDied) else self._died()
            self.close()
            for job, started in in_flight.values():
                if not started and pending.retry(job):
                    continue
                error = f"{died}; nothing of this scope was applied"
                put(Message(RunStatus.FAILED, job.scope, error=error, retryable=True))
            return True

    def _died(self) -> str:
        task = self._task
        exc = task.exception() if task is not None and task.done() else None
        if exc is not None and not isinstance(exc, BrokenProcessPool):
            return f"the worker failed: {type(exc).__name__}: {exc}"
        return f"worker process {self.pid} died while running this scope"

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        jobs_out, jobs_in = context.Pipe(duplex=False)  # (reader, writer)
        messages_in, messages_out = context.Pipe(duplex=False)
        pool = ProcessPoolExecutor(
            1,
            mp_context=context,
            initializer=_init_worker,
            initargs=(jobs_out, messages_out, self._stop, *self._initargs),
        )
        self._pool, self._jobs, self._messages = pool, jobs_in, messages_in
        try:
            # From here the worker holds its ends of the pipes; ours are closed, so a worker
            # that dies mid-message is an end of file, never a read that waits forever.
            self.pid = pool.submit(_ready).result()
        except BrokenProcessPool:
            raise _WorkerDied("a worker process could not start") from None
        finally:
            jobs_out.close()
            messages_out.close()
        self._task = pool.submit(_serve, self.concurrency)

    def close(self, *, wait: bool = True) -> None:
        if self._jobs is not None:
            # The worker's `_serve` ends when told so, or at the end of its pipe.
            with contextlib.suppress(OSError):
                self._jobs.send(None)
            self._jobs.close()
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
        if self._messages is not None:
            self._messages.close()
        self._pool, self._jobs, self._messages, self._task = None, None, None, None


class Pending:
    """The scopes of a pass no worker has taken yet, shared by the slots; each scope is handed
    back (`retry`) at most once, when its worker died before it started."""

    def __init__(self, jobs: Iterable[Job], admit: Callable[[Job], bool]) -> None:
        self._jobs = deque(jobs)
        self._admit = admit
        self._retried: set[str] = set()
        self._lock = threading.Lock()

    def next(self) -> Job | None:
        while True:
            with self._lock:
                if not self._jobs:
                    return None
                job = self._jobs.popleft()
            if self._admit(job):
                return job

    def retry(self, job: Job) -> bool:
        with self._lock:
            if job.scope.key in self._retried:
                return False
            self._retried.add(job.scope.key)
            self._jobs.appendleft(job)
            return True


class _WorkerDied(Exception):
    pass

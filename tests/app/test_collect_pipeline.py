"""The collection pipeline's own failure paths, with an in-memory collector (no cloud needed)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import ClassVar

import pytest

from collectors.base import SourceConfig
from storage import runs
from storage.db import Database
from storage.links import LinkKey
from storage.reconcile import Reconciler, RunStats, StorageRow
from storage.volatile import Observation
from tests.factories import resources, scope
from tests.fixtures.database import PostgresCluster
from vigil.app.collect import Collection, CollectionResult, DatabaseToOpen
from vigil.app.gc_tuning import GC_FIRST_THRESHOLD
from vigil.core.errors import StorageError
from vigil.core.model import Resource, RunStatus, Scope


class PagedCollector:
    """One scope of `pages` pages of one resource each."""

    volatile_attributes: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.scope = scope()

    def plan(self, types: set[str] | None = None) -> Iterable[Scope]:
        return [self.scope]

    def collect(self, target: Scope) -> Iterator[list[Resource]]:
        for index in range(self.pages):
            yield resources(1, within=target, prefix=f"r{index}-")


class BrokenReconciler(Reconciler):
    def add_rows(
        self,
        run: RunStats,
        rows: Sequence[StorageRow],
        observed: Iterable[Observation] = (),
        links: Sequence[LinkKey] = (),
    ) -> None:
        raise StorageError("database error: database is locked")


def _source() -> SourceConfig:
    return SourceConfig(name="mem", provider="aws")


def _run_in_thread(collection: Collection) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            collection.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, errors


def test_a_storage_error_fails_the_pass_instead_of_hanging(sqlite_db: Database) -> None:
    # More pages than the queue holds: the worker would block on a full queue forever.
    collection = Collection(
        sqlite_db, [_source()], workers=1, collector_factory=lambda _: PagedCollector(200)
    )
    collection.reconciler = collection.writer.reconciler = BrokenReconciler(sqlite_db)
    thread, errors = _run_in_thread(collection)
    thread.join(timeout=20)
    assert not thread.is_alive(), "the collection hung after its writer failed"
    assert len(errors) == 1 and isinstance(errors[0], StorageError)


def test_a_storage_error_does_not_set_the_callers_stop_event(sqlite_db: Database) -> None:
    stop = threading.Event()  # the daemon passes its shutdown event here
    collection = Collection(
        sqlite_db, [_source()], workers=1, stop=stop, collector_factory=lambda _: PagedCollector(50)
    )
    collection.reconciler = collection.writer.reconciler = BrokenReconciler(sqlite_db)
    with pytest.raises(StorageError):
        collection.run()
    assert not stop.is_set()


def test_an_unexpected_planning_error_fails_that_source_only(sqlite_db: Database) -> None:
    def factory(source: SourceConfig) -> PagedCollector:
        if source.name == "bad":
            raise KeyError("Regions")
        return PagedCollector(2)

    sources = [
        SourceConfig(name="bad", provider="aws"),
        SourceConfig(name="good", provider="aws"),
    ]
    result: CollectionResult = Collection(
        sqlite_db, sources, workers=2, collector_factory=factory
    ).run()

    assert [o.scope.source for o in result.failed] == ["bad"]
    assert "internal error: KeyError" in (result.failed[0].error or "")
    assert sum(o.seen for o in result.outcomes if not o.failed) == 2


class LeakyCollector(PagedCollector):
    """A collector whose client library fails with an error that quotes the credential."""

    def collect(self, target: Scope) -> Iterator[list[Resource]]:
        raise RuntimeError(f"GET https://api.example.com/v2/nodes?token={SECRET} -> 500")
        yield []  # pragma: no cover


SECRET = "s3cr3t-token-value"


def test_an_unexpected_error_is_stored_without_the_sources_secret(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collectors.aws.config import AwsSourceConfig

    monkeypatch.setenv("LEAKY_KEY", SECRET)
    source = AwsSourceConfig.model_validate(
        {"name": "aws-test", "access_key_id": "${LEAKY_KEY}", "secret_access_key": "${LEAKY_KEY}"}
    )
    collector = LeakyCollector(1)
    result = Collection(sqlite_db, [source], collector_factory=lambda _: collector).run()

    (failed,) = result.failed
    assert "internal error: RuntimeError" in (failed.error or "")
    assert SECRET not in (failed.error or "")
    stored = runs.scope_statuses(sqlite_db)
    assert stored and all(SECRET not in (s.error or "") for s in stored)


class ThresholdWatchingCollector(PagedCollector):
    """Notes the cyclic GC's thresholds while its pages are being fetched."""

    seen: ClassVar[list[tuple[int, int, int]]] = []

    def collect(self, target: Scope) -> Iterator[list[Resource]]:
        self.seen.append(gc.get_threshold())
        yield from super().collect(target)


def test_a_pass_collects_cycles_less_often_and_restores_the_gc_afterwards(
    sqlite_db: Database,
) -> None:
    before = gc.get_threshold()
    collector = ThresholdWatchingCollector(2)
    Collection(sqlite_db, [_source()], collector_factory=lambda _: collector).run()

    assert collector.seen == [(GC_FIRST_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before


class PlanNotingCollector(PagedCollector):
    """Sets `planning` when its plan starts (where a real one sends its first API request)."""

    def __init__(self, pages: int) -> None:
        super().__init__(pages)
        self.planning = threading.Event()

    def plan(self, types: set[str] | None = None) -> Iterable[Scope]:
        self.planning.set()
        return super().plan(types)


def test_a_database_to_open_is_opened_while_the_plans_run(sqlite_db: Database) -> None:
    """`vigil collect`'s first request does not wait for SQLAlchemy and the schema check."""
    collector = PlanNotingCollector(3)
    opened_after_planning: list[bool] = []

    def open_db() -> Database:
        opened_after_planning.append(collector.planning.wait(5))
        return sqlite_db

    result = Collection(
        DatabaseToOpen(sqlite_db.url, open_db), [_source()], collector_factory=lambda _: collector
    ).run()

    assert opened_after_planning == [True]
    assert result.failed == [] and result.seen == 3
    assert [s.status for s in runs.scope_statuses(sqlite_db)] == [RunStatus.COMPLETE]


def test_a_database_that_cannot_open_fails_the_pass_with_its_error() -> None:
    def open_db() -> Database:
        raise StorageError("cannot open the database sqlite:///x.db: unable to open")

    collection = Collection(
        DatabaseToOpen("sqlite:///x.db", open_db),
        [_source()],
        collector_factory=lambda _: PagedCollector(1),
    )
    with pytest.raises(StorageError, match="cannot open the database"):
        collection.run()


def test_a_postgresql_database_opens_before_the_plans_spend_its_shared_budgets(
    postgres: PostgresCluster,
) -> None:
    """On PostgreSQL the plans' first requests take tokens from `api_budgets`: the database is
    opened (and migrated) first, or a fresh one's first pass would fail its plans."""
    collector = PlanNotingCollector(2)
    url = postgres.create_database()
    planned_before_open: list[bool] = []

    def open_db() -> Database:
        planned_before_open.append(collector.planning.is_set())
        return Database(url)

    result = Collection(
        DatabaseToOpen(url, open_db), [_source()], collector_factory=lambda _: collector
    ).run()

    assert planned_before_open == [False]
    assert result.failed == [] and result.seen == 2

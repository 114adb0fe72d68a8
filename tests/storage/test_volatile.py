"""Volatile attributes are current after every completed scan, at the cost of one statement per
scope: never a resource row, never a change event, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from storage import history, inventory
from storage.db import Database
from storage.reconcile import Reconciler, RunStats
from storage.retention import prune
from tests.factories import resource, scope
from tests.factories.storage import write_statements
from vigil.core.model import Resource
from vigil.core.retention import RetentionPolicy

START = datetime(2026, 11, 1, tzinfo=UTC)
WHERE = scope(type_="database")
VOLATILE = ("latest_restorable_time",)


def databases(restorable: datetime, count: int = 3) -> list[Resource]:
    return [
        resource(
            f"db-{n}",
            within=WHERE,
            engine="postgres",
            backup_retention_days=7,
            latest_restorable_time=restorable.isoformat(),
        )
        for n in range(count)
    ]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def rescan(reconciler: Reconciler, pages: list[list[Resource]], *, fail: bool = False) -> RunStats:
    run = reconciler.start(WHERE, volatile=VOLATILE)
    for page in pages:
        reconciler.add_page(run, page)
    return reconciler.fail(run, "AccessDenied") if fail else reconciler.complete(run)


def restorable(items: Iterator[Resource] | list[Resource]) -> set[str]:
    return {item.attributes["latest_restorable_time"] for item in items}


def test_a_rescan_where_only_volatile_values_moved_writes_no_resource_row_and_no_event(
    db: Database,
) -> None:
    clock = Clock()
    reconciler = Reconciler(db, clock=clock)
    rescan(reconciler, [databases(START - timedelta(minutes=5))])
    clock.now = START + timedelta(days=9)
    fresh = clock.now - timedelta(minutes=5)

    with write_statements(db) as writes:
        run = rescan(reconciler, [databases(fresh)[:2], databases(fresh)[2:]])

    assert (run.created, run.changed, run.deleted, run.seen) == (0, 0, 0, 3)
    # What a no-change rescan writes: its scope run (insert, finish) and one volatile upsert.
    assert not [w for w in writes if "INTO RESOURCES " in w or w.startswith("UPDATE RESOURCES")]
    assert [w for w in writes if "RESOURCE_VOLATILE" in w] == [writes[-2]]
    assert len(writes) == 3 and "SCOPE_RUNS" in writes[0] and "SCOPE_RUNS" in writes[-1]
    assert [e.kind for e in history.changes(db)] == ["created"] * 3
    # Every reader sees the new value: the inventory (rules and `vigil inventory` read it),
    # the dashboard's resource page, and the BI view.
    assert restorable(inventory.inventory(db)) == {fresh.isoformat()}
    page = inventory.resource(db, databases(fresh)[0].uid)
    assert page is not None and page["attributes"]["latest_restorable_time"] == fresh.isoformat()
    with db.connect() as conn:
        shown = conn.execute(sa.text("SELECT attributes FROM vigil_resources")).scalars().all()
    assert {json.loads(text)["latest_restorable_time"] for text in shown} == {fresh.isoformat()}
    # History keeps what was recorded with each change, not later observations.
    past = inventory.inventory(db, as_of=START + timedelta(days=1))
    assert restorable(past) == {(START - timedelta(minutes=5)).isoformat()}


def hourly_scans(db: Database, *, last: slice = slice(None), fail: bool = False) -> None:
    """Scans at START, +1h, +2h, each seeing restore points of its own time; the last one
    returns only `last` of the databases, or fails."""
    clock = Clock()
    reconciler = Reconciler(db, clock=clock)
    for hour in range(3):
        clock.now = START + timedelta(hours=hour)
        seen = databases(clock.now)
        rescan(reconciler, [seen[last] if hour == 2 else seen], fail=fail and hour == 2)


def test_a_failed_scan_leaves_the_last_observation(db: Database) -> None:
    hourly_scans(db, fail=True)

    assert restorable(inventory.inventory(db)) == {(START + timedelta(hours=1)).isoformat()}


def test_a_scope_of_thousands_is_one_volatile_statement(db: Database) -> None:
    reconciler = Reconciler(db, clock=Clock())
    estate = databases(START, count=2500)
    rescan(reconciler, [estate[:1000], estate[1000:]])

    with write_statements(db) as writes:
        rescan(reconciler, [estate[:1000], estate[1000:]])

    assert len([w for w in writes if "RESOURCE_VOLATILE" in w]) == 1
    with db.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM resource_volatile")).scalar_one()
    assert stored == 2500


def test_a_collector_without_volatile_attributes_writes_no_volatile_row(db: Database) -> None:
    reconciler = Reconciler(db, clock=Clock())
    run = reconciler.start(WHERE)  # nothing declared volatile
    reconciler.add_page(run, databases(START))
    with write_statements(db) as writes:
        reconciler.complete(run)
    assert not [w for w in writes if "RESOURCE_VOLATILE" in w]


def test_deleted_resources_show_their_last_observation_and_retention_drops_it(
    db: Database,
) -> None:
    hourly_scans(db, last=slice(1, None))  # db-0 is gone from the last scan

    everything = inventory.inventory(db, inventory.InventoryFilter(include_deleted=True))
    gone = {r.native_id: r for r in everything}["db-0"]
    assert gone.state == "deleted"
    assert gone.attributes["latest_restorable_time"] == (START + timedelta(hours=1)).isoformat()

    prune(db, RetentionPolicy(deleted_resources=timedelta(hours=1)), START + timedelta(days=1))

    with db.connect() as conn:
        kept = set(conn.execute(sa.text("SELECT uid FROM resource_volatile")).scalars())
    assert kept == {r.uid for r in inventory.inventory(db)}
    assert len(kept) == 2

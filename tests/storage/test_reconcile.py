"""Reconcile: upserts, change events, deletions only by completed scopes, history replay."""

from __future__ import annotations

import itertools
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import history, inventory, runs
from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories import resource, resources, scope
from tests.factories.storage import scan, write_statements
from vigil.core.model import Resource


class FakeClock:
    """A clock that moves one second per call, so every event has its own time."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def resource_writes(db: Database) -> AbstractContextManager[list[str]]:
    """Every statement that writes to the resources table while the block runs."""
    return write_statements(
        db, ("INSERT INTO RESOURCES", "UPDATE RESOURCES", "DELETE FROM RESOURCES")
    )


def present(db: Database, **filters: tuple[str, ...]) -> dict[str, Resource]:
    return {r.uid: r for r in inventory.inventory(db, inventory.InventoryFilter(**filters))}


def test_first_scan_creates_every_resource_with_a_created_event(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    run = scan(reconciler, scope(), [resources(3), resources(2, prefix="x-")])

    assert (run.created, run.changed, run.deleted, run.seen) == (5, 0, 0, 5)
    assert len(present(db)) == 5
    kinds = [e.kind for e in history.changes(db)]
    assert kinds == ["created"] * 5


def test_rescan_with_no_change_writes_no_resource_rows(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, scope(), [resources(50)])
    with resource_writes(db) as writes:
        run = scan(reconciler, scope(), [resources(25), resources(50)[25:]])
    assert writes == []
    assert (run.created, run.changed, run.deleted, run.seen) == (0, 0, 0, 50)
    assert len(list(history.changes(db))) == 50


def test_rescan_updates_last_seen_without_rewriting_rows(db: Database) -> None:
    clock = FakeClock()
    reconciler = Reconciler(db, clock=clock)
    scan(reconciler, scope(), [resources(2)])
    first = present(db)
    second_run = scan(reconciler, scope(), [resources(2)])
    again = present(db)
    for uid, item in again.items():
        assert item.first_seen == first[uid].first_seen
        assert item.last_seen == second_run.finished_at


def test_changed_attribute_records_old_and_new_values(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, scope(), [[resource("i-1", instance_type="t3.micro", tags={"team": "a"})]])
    run = scan(
        reconciler, scope(), [[resource("i-1", instance_type="t3.large", tags={"team": "b"})]]
    )

    assert (run.created, run.changed) == (0, 1)
    changed = [e for e in history.changes(db) if e.kind == "changed"]
    assert len(changed) == 1
    assert changed[0].changes == {
        "attributes.instance_type": {"old": "t3.micro", "new": "t3.large"},
        "tags.team": {"old": "a", "new": "b"},
    }
    assert present(db)[changed[0].uid].attributes["instance_type"] == "t3.large"


def test_completed_scope_deletes_what_it_no_longer_returns(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, scope(), [resources(3)])
    run = scan(reconciler, scope(), [resources(3)[:1]])

    assert run.deleted == 2
    assert len(present(db)) == 1
    everything = present(db, include_deleted=True)  # type: ignore[arg-type]
    assert sorted(r.state for r in everything.values()) == ["deleted", "deleted", "present"]
    assert [e.kind for e in history.changes(db, kinds=("deleted",))] == ["deleted", "deleted"]


def test_failed_scope_changes_nothing_even_after_staging_pages(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, scope(), [resources(3, version=1)])
    before = present(db)
    events_before = len(list(history.changes(db)))

    run = scan(
        reconciler, scope(), [resources(1, version=2), resources(2, prefix="new-")], fail=True
    )

    assert present(db) == before
    assert len(list(history.changes(db))) == events_before
    statuses = runs.scope_statuses(db)
    assert [(s.status, s.error) for s in statuses] == [("failed", "AccessDenied: not allowed")]
    assert statuses[0].last_complete is not None
    assert run.deleted == 0


def test_completing_one_scope_never_deletes_resources_of_another(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    east, west = scope(region="us-east-1"), scope(region="eu-west-1")
    scan(reconciler, east, [resources(2, within=east)])
    scan(reconciler, west, [resources(2, within=west)])
    scan(reconciler, east, [])

    remaining = present(db)
    assert {r.region for r in remaining.values()} == {"eu-west-1"}
    assert len(remaining) == 2


def test_deleted_resource_that_returns_is_created_again_keeping_first_seen(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, scope(), [resources(1)])
    first_seen = next(iter(present(db).values())).first_seen
    scan(reconciler, scope(), [])
    scan(reconciler, scope(), [resources(1)])

    back = next(iter(present(db).values()))
    assert back.state == "present"
    assert back.first_seen == first_seen
    assert [e.kind for e in history.changes(db)] == ["created", "deleted", "created"]


def test_duplicate_records_across_pages_count_once(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    run = scan(reconciler, scope(), [resources(2), resources(2)])
    assert (run.seen, run.created) == (2, 2)


def test_inventory_as_of_replays_history(db: Database) -> None:
    clock = FakeClock()
    reconciler = Reconciler(db, clock=clock)
    scan(reconciler, scope(), [[resource("i-1", size=1), resource("i-2", size=1)]])
    after_first = clock.now
    scan(reconciler, scope(), [[resource("i-1", size=2), resource("i-3", size=1)]])
    after_second = clock.now

    then = {r.native_id: r.attributes["size"] for r in inventory.inventory(db, as_of=after_first)}
    now = {r.native_id: r.attributes["size"] for r in inventory.inventory(db, as_of=after_second)}
    assert then == {"i-1": 1, "i-2": 1}
    assert now == {"i-1": 2, "i-3": 1}
    before_anything = list(inventory.inventory(db, as_of=after_first - timedelta(hours=1)))
    assert before_anything == []
    with_deleted = inventory.inventory(
        db, inventory.InventoryFilter(include_deleted=True), as_of=after_second
    )
    assert {r.native_id: r.state for r in with_deleted}["i-2"] == "deleted"


def test_resource_reported_by_a_renamed_source_moves_to_it(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    old, new = scope(source="aws-old"), scope(source="aws-new")
    scan(reconciler, old, [resources(2, within=old)])
    scan(reconciler, new, [resources(2, within=new)])
    moved = [e for e in history.changes(db) if e.kind == "changed"]
    assert [e.changes for e in moved] == [{"source": {"old": "aws-old", "new": "aws-new"}}] * 2
    scan(reconciler, new, [resources(1, within=new)])  # the new owner's sweep now deletes
    assert [r.source for r in present(db).values()] == ["aws-new"]


def test_a_resource_taken_over_while_its_owner_runs_moves_back_when_the_owner_returns_it(
    db: Database,
) -> None:
    # Two sources reporting one account run side by side in one pass.
    reconciler = Reconciler(db, clock=FakeClock())
    first, second = scope(source="aws-a"), scope(source="aws-b")
    scan(reconciler, first, [resources(2, within=first)])

    running = reconciler.start(first)  # reads its scope's hashes now
    scan(reconciler, second, [resources(1, within=second)])  # takes r-00000 over meanwhile
    reconciler.add_page(running, resources(2, within=first))
    reconciler.complete(running)

    assert (running.created, running.changed, running.deleted) == (0, 1, 0)
    assert {r.native_id: r.source for r in present(db).values()} == {
        "r-00000": "aws-a",
        "r-00001": "aws-a",
    }
    moves = [e.changes for e in history.changes(db) if e.kind == "changed"]
    assert moves == [
        {"source": {"old": "aws-a", "new": "aws-b"}},
        {"source": {"old": "aws-b", "new": "aws-a"}},
    ]


def test_a_resource_taken_over_while_its_owner_runs_is_not_deleted_by_the_owner(
    db: Database,
) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    first, second = scope(source="aws-a"), scope(source="aws-b")
    scan(reconciler, first, [resources(2, within=first)])

    running = reconciler.start(first)
    scan(reconciler, second, [resources(1, within=second)])
    reconciler.add_page(running, resources(2, within=first)[1:])  # no longer returns r-00000
    reconciler.complete(running)

    assert running.deleted == 0
    assert {r.native_id: r.source for r in present(db).values()} == {
        "r-00000": "aws-b",
        "r-00001": "aws-a",
    }


def test_changes_since_filters_by_time(db: Database) -> None:
    clock = FakeClock()
    reconciler = Reconciler(db, clock=clock)
    scan(reconciler, scope(), [resources(2)])
    midpoint = clock.now + timedelta(milliseconds=500)
    scan(reconciler, scope(), [resources(1)])
    recent = list(history.changes(db, since=midpoint))
    assert [e.kind for e in recent] == ["deleted"]


def test_a_run_that_failed_before_it_started_is_recorded_and_changes_nothing(
    db: Database,
) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, scope(), [resources(2)])
    with resource_writes(db) as writes:
        run = reconciler.record_failure(scope(), "abandoned: collection stopped", retryable=True)
    assert writes == []
    assert (run.created, run.changed, run.deleted) == (0, 0, 0)
    assert len(present(db)) == 2
    status = runs.scope_statuses(db)[0]
    assert (status.status, status.error) == ("failed", "abandoned: collection stopped")


def test_abandoned_runs_are_failed_and_their_staging_discarded(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    run = reconciler.start(scope())
    reconciler.add_page(run, resources(3))
    assert reconciler.abandon_running() == 1
    assert present(db) == {}
    assert runs.scope_statuses(db)[0].status == "failed"


# --- property: random scan sequences, some failing --------------------------------------------

IDS = [f"i-{n}" for n in range(6)]
versions_by_id = st.dictionaries(st.sampled_from(IDS), st.integers(0, 2), max_size=6)
# Examples share the session's database: each one works in an account of its own.
database_properties = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
scan_strategy = st.fixed_dictionaries(
    {
        "scope": st.integers(0, 1),
        "items": versions_by_id,
        "fail": st.booleans(),
        "page_size": st.integers(1, 4),
    }
)


@database_properties
@given(scans=st.lists(scan_strategy, min_size=1, max_size=8))
def test_random_scans_never_touch_failed_scopes_and_history_replays(
    db: Database, scans: list[dict]
) -> None:
    account = uuid.uuid4().hex[:12]  # each example gets its own corner of the database
    source = f"prop-{account}"
    scopes = [scope(source=source, account=account, region=r) for r in ("us-east-1", "eu-west-1")]
    clock = FakeClock()
    reconciler = Reconciler(db, clock=clock)
    model: dict[str, dict[str, int]] = {s.key: {} for s in scopes}
    checkpoints: list[tuple[datetime, dict[str, int]]] = []

    for step in scans:
        where = scopes[step["scope"]]
        records = [resource(i, within=where, version=v) for i, v in sorted(step["items"].items())]
        pages = [
            records[n : n + step["page_size"]] for n in range(0, len(records), step["page_size"])
        ]
        scan(reconciler, where, pages, fail=step["fail"])
        if not step["fail"]:
            model[where.key] = dict(step["items"])
        expected = {
            f"{key}/{native_id}": version
            for key, items in model.items()
            for native_id, version in items.items()
        }
        checkpoints.append((clock.now, expected))
        actual = {
            f"{r.scope_key}/{r.native_id}": r.attributes["version"]
            for r in inventory.inventory(db, inventory.InventoryFilter(sources=(source,)))
        }
        assert actual == expected

    for moment, expected in checkpoints:
        replayed = {
            f"{r.scope_key}/{r.native_id}": r.attributes["version"]
            for r in inventory.inventory(
                db, inventory.InventoryFilter(sources=(source,)), as_of=moment
            )
        }
        assert replayed == expected


round_strategy = st.fixed_dictionaries(
    {
        "items": st.tuples(versions_by_id, versions_by_id),
        "fail": st.tuples(st.booleans(), st.booleans()),
        "order": st.lists(st.integers(0, 1), min_size=12, max_size=12),  # whose page is next
        "first_done": st.integers(0, 1),
    }
)


@database_properties
@given(rounds=st.lists(round_strategy, min_size=1, max_size=5))
def test_interleaved_runs_of_overlapping_sources_keep_history_and_counts_exact(
    db: Database, rounds: list[dict]
) -> None:
    # Two sources report the same resources; their runs interleave page by page, as in a pass.
    account = uuid.uuid4().hex[:12]
    scopes = [scope(source=f"prop-{n}-{account}", account=account) for n in range(2)]
    reconciler = Reconciler(db, clock=FakeClock())
    sources = tuple(s.source for s in scopes)

    def events() -> int:
        return len(list(history.changes(db, filters=inventory.InventoryFilter(sources=sources))))

    for step in rounds:
        runs = [reconciler.start(where) for where in scopes]
        pending = [
            [[resource(i, within=where, version=v)] for i, v in sorted(items.items())]
            for where, items in zip(scopes, step["items"], strict=True)
        ]
        for side in step["order"]:
            if pending[side]:
                reconciler.add_page(runs[side], pending[side].pop(0))
        for side in (step["first_done"], 1 - step["first_done"]):
            for page in pending[side]:
                reconciler.add_page(runs[side], page)
            before = events()
            if step["fail"][side]:
                reconciler.fail(runs[side], "AccessDenied")
                assert events() == before
            else:
                run = reconciler.complete(runs[side])
                assert events() - before == run.created + run.changed + run.deleted

    everything = inventory.InventoryFilter(sources=sources, include_deleted=True)
    current = {
        (r.uid, r.state, r.source, r.attributes.get("version"))
        for r in inventory.inventory(db, everything)
    }
    far = datetime(2100, 1, 1, tzinfo=UTC)
    replayed = {
        (r.uid, r.state, r.source, r.attributes.get("version"))
        for r in inventory.inventory(db, everything, as_of=far)
    }
    assert replayed == current


def test_history_replays_to_the_current_table_including_deletions(db: Database) -> None:
    reconciler = Reconciler(db, clock=FakeClock())
    versions = itertools.count()
    for size in (4, 2, 5, 0, 3):
        scan(reconciler, scope(), [resources(size, version=next(versions))])
    everything = inventory.InventoryFilter(include_deleted=True)
    current = {
        (r.uid, r.state, r.attributes.get("version")) for r in inventory.inventory(db, everything)
    }
    replayed = {
        (r.uid, r.state, r.attributes.get("version"))
        for r in inventory.inventory(db, everything, as_of=datetime(2100, 1, 1, tzinfo=UTC))
    }
    assert replayed == current

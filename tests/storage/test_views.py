"""The SQL views BI tools read agree with `vigil inventory` and `vigil findings`, both engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from storage import inventory
from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from storage.reconcile import Reconciler
from tests.factories import resource, resources, scope
from tests.factories.storage import scan, stored_finding

START = datetime(2026, 11, 1, tzinfo=UTC)


def rows(db: Database, sql: str) -> list[sa.Row[tuple[object, ...]]]:
    with db.connect() as conn:
        return list(conn.execute(sa.text(sql)))


def seeded(db: Database) -> Database:
    clock = [START]
    reconciler = Reconciler(db, clock=lambda: clock[0])
    estate = [*resources(5), resource("i-tagged", tags={"team": "a"}, size_gb=8)]
    scan(reconciler, scope(), [estate])
    clock[0] = START + timedelta(hours=1)
    scan(reconciler, scope(), [estate[1:]])  # r-00000 is deleted
    clock[0] = START + timedelta(hours=2)
    scan(reconciler, scope(), [estate[1:]])  # no change: rows keep their last_seen
    for n, status in enumerate(("open", "open", "resolved", "silenced")):
        stored_finding(db, f"f{n}", status, at=START)
    return db


def test_vigil_resources_counts_and_last_seen_match_the_inventory(db: Database) -> None:
    seeded(db)
    present = rows(db, "SELECT uid, last_seen FROM vigil_resources WHERE state = 'present'")
    listed = list(inventory.inventory(db))

    assert len(present) == inventory.count_resources(db) == len(listed) == 5
    assert len(rows(db, "SELECT uid FROM vigil_resources")) == 6  # the deleted one too
    # The last no-change scan is when they were last seen, as `vigil inventory` says.
    seen = {uid: str(last_seen)[:19].replace("T", " ") for uid, last_seen in present}
    assert set(seen.values()) == {"2026-11-01 02:00:00"}
    assert {r.uid for r in listed} == set(seen)


def test_tags_attributes_and_changes_are_json_text(db: Database) -> None:
    seeded(db)
    ((tags, attributes),) = rows(
        db, "SELECT tags, attributes FROM vigil_resources WHERE native_id = 'i-tagged'"
    )
    assert isinstance(tags, str) and json.loads(tags) == {"team": "a"}
    assert json.loads(attributes)["size_gb"] == 8
    kinds = rows(db, "SELECT kind, changes FROM vigil_changes ORDER BY at")
    assert [k for k, _ in kinds].count("deleted") == 1
    assert all(isinstance(changes, str) for _, changes in kinds)


def test_vigil_findings_matches_vigil_findings(db: Database) -> None:
    seeded(db)
    store = FindingStore(db)
    for statuses in (("open",), ("resolved",), ("open", "resolved", "silenced")):
        in_view = rows(
            db,
            "SELECT fingerprint FROM vigil_findings WHERE status IN ("
            + ", ".join(f"'{s}'" for s in statuses)
            + ")",
        )
        listed = list(store.findings(FindingQuery(statuses=statuses)))
        assert sorted(f for (f,) in in_view) == sorted(f.fingerprint for f in listed)


def test_vigil_scope_runs_has_every_run(db: Database) -> None:
    seeded(db)
    ((count, complete),) = rows(
        db,
        "SELECT COUNT(*), SUM(CASE WHEN status = 'complete' THEN 1 ELSE 0 END) "
        "FROM vigil_scope_runs",
    )
    assert (count, complete) == (3, 3)

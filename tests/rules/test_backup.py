"""backup.missing and backup.stale."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.backup import BackupMissing, BackupStale
from tests.factories.rules import (
    NOW,
    database,
    disk,
    evaluate,
    iso,
    one,
    scope_state,
    snapshot,
    view,
)
from vigil.core.model import Resource, Severity, fingerprint

MISSING = BackupMissing()
STALE = BackupStale()


def test_attached_disk_without_snapshot_is_missing() -> None:
    found = one(evaluate(MISSING, view(disk())))
    assert found.severity is Severity.HIGH
    assert found.title == "disk vol-0001 has no backup"


def test_attached_disk_with_a_snapshot_of_its_own_is_not_missing() -> None:
    volume = disk()
    assert evaluate(MISSING, view(volume, snapshot("snap-1", volume))) == []


def test_a_snapshot_of_another_disk_does_not_count() -> None:
    volume, other = disk("vol-a"), disk("vol-b", attached_to=[])
    assert one(evaluate(MISSING, view(volume, snapshot("snap-1", other)))).native_id == "vol-a"


def test_failed_snapshot_does_not_count_as_a_backup() -> None:
    volume = disk()
    assert len(evaluate(MISSING, view(volume, snapshot("snap-1", volume, state="error")))) == 1


def test_detached_disk_needs_no_backup() -> None:
    assert evaluate(MISSING, view(disk(attached_to=[]))) == []


def test_tag_backup_required_makes_a_detached_disk_need_one() -> None:
    assert len(evaluate(MISSING, view(disk(attached_to=[], tags={"backup": "required"})))) == 1


@pytest.mark.parametrize("value", ["exempt", "none", "Exempt"])
def test_exempt_tag_opts_out(value: str) -> None:
    assert evaluate(MISSING, view(disk(tags={"backup": value}))) == []


def test_database_with_retention_zero_is_missing_even_with_snapshots() -> None:
    db = database(backup_retention_days=0)
    found = one(evaluate(MISSING, view(db, snapshot("rds-1", db))))
    assert "retention 0 days" in found.title


def test_database_with_automated_backups_is_not_missing() -> None:
    assert evaluate(MISSING, view(database())) == []


def test_old_snapshot_is_stale_against_default_rpo() -> None:
    volume = disk()
    found = one(evaluate(STALE, view(volume, snapshot("s", volume, age=timedelta(days=9)))))
    assert found.severity is Severity.MEDIUM
    assert found.title == "disk vol-0001 newest backup is 9d old (RPO 7d)"


def test_new_snapshot_is_not_stale() -> None:
    volume = disk()
    inventory = view(
        volume,
        snapshot("old", volume, age=timedelta(days=30)),
        snapshot("new", volume, age=timedelta(hours=2)),
    )
    assert evaluate(STALE, inventory) == []


def test_rpo_tag_overrides_the_default() -> None:
    volume = disk(tags={"backup-rpo": "24h"})
    found = one(evaluate(STALE, view(volume, snapshot("s", volume, age=timedelta(hours=30)))))
    assert "RPO 1d" in found.title
    assert found.evidence["rpo_from"] == "tag backup-rpo=24h"


def test_unreadable_rpo_tag_falls_back_and_says_so() -> None:
    volume = disk(tags={"backup-rpo": "daily"})
    found = one(evaluate(STALE, view(volume, snapshot("s", volume, age=timedelta(days=8)))))
    assert "unreadable" in found.evidence["rpo_from"]


def test_default_rpo_from_params() -> None:
    volume = disk()
    inventory = view(volume, snapshot("s", volume, age=timedelta(days=2)))
    assert len(evaluate(STALE, inventory, default_rpo="1d")) == 1


def test_database_latest_restorable_time_counts_as_a_backup() -> None:
    db = database(latest_restorable_time=iso(NOW - timedelta(minutes=5)))
    assert evaluate(STALE, view(db, snapshot("rds-old", db, age=timedelta(days=40)))) == []


def test_database_with_old_restore_point_is_stale() -> None:
    db = database(latest_restorable_time=iso(NOW - timedelta(days=10)))
    assert len(evaluate(STALE, view(db))) == 1


def test_no_backup_at_all_is_missing_not_stale() -> None:
    assert evaluate(STALE, view(disk())) == []


def test_no_backup_is_not_inferred_before_snapshots_were_ever_collected() -> None:
    # The snapshot scope never completed (access denied): unknown, not "no snapshots".
    scopes = [scope_state("disk"), scope_state("snapshot", status="failed", last_complete=None)]
    assert evaluate(MISSING, view(disk(), scopes=scopes)) == []
    db = database(backup_retention_days=0)
    off = one(evaluate(MISSING, view(db, scopes=[scope_state("database")])))
    assert "switched off" in off.title  # read from the database itself: still judged


def test_snapshots_known_in_another_region_do_not_make_this_one_known() -> None:
    # The old behaviour: any completed snapshot scope anywhere made "no snapshot" a finding.
    scopes = [
        scope_state("disk"),
        scope_state("snapshot", region="eu-west-1"),
        scope_state("snapshot", status="failed", last_complete=None),
    ]
    inventory = view(disk(), scopes=scopes)
    assert evaluate(MISSING, inventory) == []
    assert inventory.unjudged == {fingerprint(MISSING.id, disk().uid)}


def test_snapshots_of_another_source_do_not_make_this_one_known() -> None:
    scopes = [scope_state("disk"), scope_state("snapshot", source="other-account")]
    assert evaluate(MISSING, view(disk(), scopes=scopes)) == []


def test_a_failed_snapshot_scope_within_the_staleness_window_is_still_known() -> None:
    recent = NOW - timedelta(minutes=20)
    scopes = [scope_state("disk"), scope_state("snapshot", status="failed", last_complete=recent)]
    found = one(evaluate(MISSING, view(disk(), scopes=scopes, collect_every=timedelta(minutes=15))))
    assert found.rule == "backup.missing"


def test_a_failed_snapshot_scope_past_the_staleness_window_is_unknown() -> None:
    old = NOW - timedelta(hours=2)
    scopes = [scope_state("disk"), scope_state("snapshot", status="failed", last_complete=old)]
    assert evaluate(MISSING, view(disk(), scopes=scopes, collect_every=timedelta(minutes=15))) == []


def test_snapshots_of_a_source_no_longer_configured_are_unknown() -> None:
    scopes = [scope_state("disk"), scope_state("snapshot")]
    inventory = view(disk(), scopes=scopes, sources=frozenset({"someone-else"}))
    assert evaluate(MISSING, inventory) == []


def test_stale_is_not_judged_when_a_newer_snapshot_may_be_unseen() -> None:
    old = snapshot("snap-1", disk(), age=timedelta(days=30))
    scopes = [scope_state("disk"), scope_state("snapshot", status="failed", last_complete=None)]
    inventory = view(disk(), old, scopes=scopes)
    assert evaluate(STALE, inventory) == []
    assert inventory.unjudged == {fingerprint(STALE.id, disk().uid)}
    assert one(evaluate(STALE, view(disk(), old))).rule == "backup.stale"  # known: flagged


def test_the_collector_failing_staleness_param_is_the_window_for_known_inputs() -> None:
    # collector.failing says "not stale" for 4h: the snapshots stay known for those 4h too.
    two_hours_ago = NOW - timedelta(hours=2)
    scopes = [
        scope_state("disk"),
        scope_state("snapshot", status="failed", last_complete=two_hours_ago),
    ]
    short = view(disk(), scopes=scopes, collect_every=timedelta(minutes=15))
    assert evaluate(MISSING, short) == []
    configured = view(
        disk(), scopes=scopes, collect_every=timedelta(minutes=15), staleness=timedelta(hours=4)
    )
    assert one(evaluate(MISSING, configured)).rule == "backup.missing"


def table(**attributes: object) -> Resource:
    defaults = {"kind": "table", "engine": "dynamodb", "backup_retention_days": None}
    return database("arn:aws:dynamodb:us-east-1:1:table/carts", **(defaults | attributes))


def test_a_table_without_pitr_or_backup_is_missing() -> None:
    bare = table(point_in_time_recovery=False, on_demand_backups=0)
    found = one(evaluate(MISSING, view(bare, scopes=[scope_state("database")])))
    assert "neither point-in-time recovery nor a backup" in found.title


@pytest.mark.parametrize(
    "backed_up",
    [
        {"point_in_time_recovery": True, "on_demand_backups": 0},
        {"point_in_time_recovery": False, "on_demand_backups": 2},
    ],
)
def test_pitr_or_an_on_demand_backup_is_a_backup(backed_up: dict[str, object]) -> None:
    # Snapshots are not known here: a table's backups are its own attributes.
    assert evaluate(MISSING, view(table(**backed_up), scopes=[scope_state("database")])) == []


def test_a_table_whose_backups_were_not_read_is_unknown() -> None:
    unread = table(point_in_time_recovery=False, on_demand_backups=None)
    inventory = view(unread, scopes=[scope_state("database")])
    assert evaluate(MISSING, inventory) == []
    assert fingerprint(MISSING.id, unread.uid) in inventory.unjudged


def test_a_table_under_a_failing_scope_is_unknown() -> None:
    bare = table(point_in_time_recovery=False, on_demand_backups=0)
    failing = [scope_state("database", status="failed", last_complete=None)]
    assert evaluate(MISSING, view(bare, scopes=failing)) == []


def test_a_table_with_only_an_old_on_demand_backup_is_stale() -> None:
    old = table(
        point_in_time_recovery=False,
        on_demand_backups=1,
        latest_backup_at=iso(NOW - timedelta(days=30)),
    )
    found = one(evaluate(STALE, view(old)))
    assert "newest backup is 30d old" in found.title


def test_pitr_never_goes_stale() -> None:
    continuous = table(
        point_in_time_recovery=True,
        on_demand_backups=1,
        latest_backup_at=iso(NOW - timedelta(days=30)),
    )
    assert evaluate(STALE, view(continuous)) == []


# -- databases: the latest restorable time counts when point-in-time recovery is on -----------


def test_a_database_whose_restore_point_stopped_moving_is_stale() -> None:
    db = database(latest_restorable_time=iso(NOW - timedelta(days=8)))
    found = one(evaluate(STALE, view(db, snapshot("rds-old", db, age=timedelta(days=30)))))
    assert found.title == "database db-1 newest backup is 8d old (RPO 7d)"
    assert found.evidence["newest_backup"] == (NOW - timedelta(days=8)).isoformat()


def dynamodb_table(restorable_age: timedelta) -> Resource:
    return database(
        "orders",
        engine="dynamodb",
        backup_retention_days=None,
        point_in_time_recovery=True,
        latest_restorable_time=iso(NOW - restorable_age),
    )


def test_dynamodb_point_in_time_recovery_counts_its_restore_point() -> None:
    table = dynamodb_table(timedelta(days=9))
    assert one(evaluate(STALE, view(table))).evidence["age_seconds"] == 9 * 86400
    fresh = dynamodb_table(timedelta(minutes=5))
    assert evaluate(STALE, view(fresh, snapshot("old", fresh, age=timedelta(days=30)))) == []


@pytest.mark.parametrize(
    "off",
    [
        {"backup_retention_days": None},  # not known to be on: the time is no restore point
        {"backup_retention_days": None, "point_in_time_recovery": False, "engine": "dynamodb"},
    ],
)
def test_a_restore_point_without_point_in_time_recovery_does_not_count(
    off: dict[str, object],
) -> None:
    db = database(latest_restorable_time=iso(NOW - timedelta(minutes=5)), **off)
    found = one(evaluate(STALE, view(db, snapshot("rds-old", db, age=timedelta(days=10)))))
    assert found.evidence["age_seconds"] == 10 * 86400  # judged on the snapshot alone


def test_a_newer_snapshot_than_the_restore_point_keeps_a_database_fresh() -> None:
    db = database(latest_restorable_time=iso(NOW - timedelta(days=20)))
    assert evaluate(STALE, view(db, snapshot("rds-new", db, age=timedelta(hours=3)))) == []


def test_a_restore_point_of_a_database_scope_not_known_lately_is_not_judged() -> None:
    # The database scope fails: its last observed restore point ages although backups may run.
    db = database(latest_restorable_time=iso(NOW - timedelta(days=8)))
    failing = scope_state("database", status="failed", last_complete=NOW - timedelta(days=8))
    inventory = view(db, scopes=[failing, scope_state("snapshot")])
    assert evaluate(STALE, inventory) == []
    assert inventory.unjudged == {fingerprint(STALE.id, db.uid)}
    # Within the staleness window the failing scope is still known: judged.
    recent = scope_state("database", status="failed", last_complete=NOW - timedelta(minutes=20))
    within = view(db, scopes=[recent, scope_state("snapshot")], collect_every=timedelta(minutes=15))
    assert one(evaluate(STALE, within)).rule == "backup.stale"


def test_an_old_restore_point_with_snapshots_unknown_is_not_judged() -> None:
    db = database(latest_restorable_time=iso(NOW - timedelta(days=8)))
    unknown = scope_state("snapshot", status="failed", last_complete=None)
    inventory = view(db, scopes=[scope_state("database"), unknown])
    assert evaluate(STALE, inventory) == []
    assert inventory.unjudged == {fingerprint(STALE.id, db.uid)}

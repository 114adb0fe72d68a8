"""backup.restore_untested: a resource that needs a backup has no proven restore lately."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.backup import RestoreUntested
from rules.config import RulesConfig
from rules.registry import check_rules_config
from tests.factories.rules import (
    database,
    disk,
    evaluate,
    one,
    restores,
    scope_state,
    server,
    view,
)
from vigil.core.model import Severity, fingerprint

RULE = RestoreUntested()


def test_a_database_never_restored_is_flagged() -> None:
    db = database(**restores(None))
    found = one(evaluate(RULE, view(db)))
    assert found.severity is Severity.MEDIUM
    assert found.title == "database db-1 has no successful restore on record (max age 90d)"
    assert found.evidence["last_restore_at"] is None
    assert found.evidence["restore_evidence"] == "aws_backup"


def test_a_restore_older_than_max_age_is_flagged_with_its_age() -> None:
    volume = disk(**restores(timedelta(days=120)))
    found = one(evaluate(RULE, view(volume)))
    assert found.title == "disk vol-0001 last proven restore is 120d old (max age 90d)"
    assert found.evidence["age_seconds"] == 120 * 86400


def test_a_restore_within_max_age_is_not_flagged() -> None:
    assert evaluate(RULE, view(database(**restores(timedelta(days=89))))) == []


def test_max_age_comes_from_params() -> None:
    db = database(**restores(timedelta(days=40)))
    assert evaluate(RULE, view(db)) == []
    found = one(evaluate(RULE, view(db), max_age="30d"))
    assert found.evidence["max_age_seconds"] == 30 * 86400


def test_a_sources_own_max_age_overrides_the_param() -> None:
    volume = disk(**restores(timedelta(days=10)), restore_max_age_seconds=7 * 86400)
    found = one(evaluate(RULE, view(volume)))
    assert found.evidence["max_age_from"] == "the source's restore_evidence.max_age"


def test_a_restore_test_counts_as_a_restore() -> None:
    db = database(**restores(timedelta(days=3), kind="restore_test"))
    assert evaluate(RULE, view(db)) == []


def test_resources_that_need_no_backup_are_not_judged() -> None:
    detached = disk("vol-spare", attached_to=[], **restores(None))
    exempt = database("db-scratch", tags={"backup": "exempt"}, **restores(None))
    plain_server = server(**restores(None))
    assert evaluate(RULE, view(detached, exempt, plain_server)) == []


def test_a_server_tagged_backup_required_is_judged() -> None:
    tagged = server(tags={"backup": "required"}, **restores(None))
    assert one(evaluate(RULE, view(tagged))).native_id == "i-0001"


def test_cluster_members_and_replicas_are_judged_through_their_cluster_or_source() -> None:
    member = database("db-member", cluster="arn:aws:rds:us-east-1:1:cluster:c", **restores(None))
    replica = database("db-replica", replica_of="db-1", **restores(None))
    assert evaluate(RULE, view(member, replica)) == []


def test_unread_restores_are_unknown_not_missing() -> None:
    unread = database(**restores(None, via=None))
    never = disk()  # collected before restores were read: no evidence attributes at all
    inventory = view(unread, never)
    assert evaluate(RULE, inventory) == []
    assert inventory.unjudged == {fingerprint(RULE.id, unread.uid), fingerprint(RULE.id, never.uid)}


def test_a_resource_whose_scope_is_not_known_is_undecided() -> None:
    db = database(**restores(None))
    scopes = [scope_state("database", status="failed", last_complete=None)]
    inventory = view(db, scopes=scopes)
    assert evaluate(RULE, inventory) == []
    assert inventory.unjudged == {fingerprint(RULE.id, db.uid)}


def test_completed_restores_naming_no_resource_leave_an_old_restore_undecided() -> None:
    db = database(**(restores(timedelta(days=200)) | {"restores_unattributed": True}))
    fresh = database("db-2", **(restores(timedelta(days=1)) | {"restores_unattributed": True}))
    inventory = view(db, fresh)
    assert evaluate(RULE, inventory) == []
    assert inventory.unjudged == {fingerprint(RULE.id, db.uid)}


def test_restore_testing_plans_are_named_in_the_detail() -> None:
    db = database(**(restores(None) | {"restore_test_plans": ["weekly-rds"]}))
    found = one(evaluate(RULE, view(db)))
    assert "weekly-rds" in found.detail


@pytest.mark.parametrize("bad", [{"max_age": "soon"}, {"maxage": "30d"}])
def test_bad_params_are_named_at_config_load(bad: dict[str, str]) -> None:
    problems = check_rules_config(RulesConfig(params={RULE.id: bad}))
    assert problems and all(loc[:2] == ("params", RULE.id) for loc, _ in problems)


def test_no_restore_in_a_bounded_history_shorter_than_max_age_is_undecided() -> None:
    # AWS Backup lists 30 days of restore jobs: none listed proves none in 30 days, not in 90.
    db = database(**restores(None, history_days=30))
    inventory = view(db)
    assert evaluate(RULE, inventory) == []
    assert inventory.unjudged == {fingerprint(RULE.id, db.uid)}


def test_no_restore_in_a_history_reaching_back_max_age_is_flagged() -> None:
    db = database(**restores(None, history_days=30))
    found = one(evaluate(RULE, view(db), max_age="30d"))
    assert found.title == "database db-1 has no successful restore on record (max age 30d)"


def test_a_listed_restore_older_than_max_age_is_flagged_whatever_the_history() -> None:
    volume = disk(**restores(timedelta(days=25), history_days=30))
    found = one(evaluate(RULE, view(volume), max_age="20d"))
    assert found.title == "disk vol-0001 last proven restore is 25d old (max age 20d)"


def test_a_listed_restore_within_max_age_passes_with_a_bounded_history() -> None:
    assert evaluate(RULE, view(database(**restores(timedelta(days=20), history_days=30)))) == []


def test_a_restore_testing_plan_for_the_type_does_not_decide_an_empty_history() -> None:
    # Plans name what should be tested; they prove no restore happened in the unlisted days.
    db = database(**(restores(None, history_days=30) | {"restore_test_plans": ["weekly-rds"]}))
    inventory = view(db)
    assert evaluate(RULE, inventory) == []
    assert inventory.unjudged == {fingerprint(RULE.id, db.uid)}

"""database.replication_broken and database.no_replica: each clause's must-flag case, its
decoy, and the unknown case (a scope not known, an attribute not reported)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rules.config import RulesConfig
from rules.database import NoReplica, ReplicationBroken
from rules.registry import check_rules_config
from tests.factories.rules import evaluate, one, resource, scope_state, view
from vigil.core.model import Resource, Severity, fingerprint

BROKEN = ReplicationBroken()
NO_REPLICA = NoReplica()


def replica(type_: str = "database", **attributes: Any) -> Resource:
    defaults: dict[str, Any] = {
        "engine": "postgresql",
        "role": "replica",
        "running": True,
        "streaming": True,
        "replication_state": "streaming",
        "lag_seconds": 3.0,
        "lag_bytes": 0,
        "upstream": "10.0.0.5:5432",
        "replica_of": "db-1:main",
        "replication": "optional",
        "replica_count": 0,
    }
    return resource(type_, "db-2:main", **(defaults | attributes))


def primary(type_: str = "database", **attributes: Any) -> Resource:
    defaults: dict[str, Any] = {
        "engine": "postgresql",
        "role": "primary",
        "running": True,
        "streaming": None,
        "replication": "required",
        "replica_count": 1,
        "replicas": ["walreceiver@10.0.0.6"],
    }
    return resource(type_, "db-1:main", **(defaults | attributes))


def unjudged(rule: Any, inventory: Any, target: Resource) -> bool:
    return fingerprint(rule.id, target.uid) in inventory.unjudged


# -- database.replication_broken -----------------------------------------------------------


def test_a_replica_not_streaming_is_high_and_names_its_state_and_primary() -> None:
    found = one(evaluate(BROKEN, view(replica(streaming=False, replication_state="startup"))))
    assert found.severity is Severity.HIGH
    assert found.title == "postgresql replica db-2:main of db-1:main is not streaming"
    assert "replication state: startup" in found.detail


def test_a_declared_replica_that_is_down_is_broken() -> None:
    down = replica(running=False, streaming=False, error="connection refused", lag_seconds=None)
    found = one(evaluate(BROKEN, view(down)))
    assert "is down" in found.title and "connection refused" in found.detail


def test_a_replica_lagging_more_than_max_lag_is_broken() -> None:
    found = one(evaluate(BROKEN, view(replica(lag_seconds=301.0))))
    assert "lags 5m behind its primary" in found.title
    assert found.evidence["max_lag"] == 300


def test_max_lag_is_a_param_and_the_boundary_is_not_a_finding() -> None:
    assert evaluate(BROKEN, view(replica(lag_seconds=300.0))) == []
    assert evaluate(BROKEN, view(replica(lag_seconds=61.0)), max_lag="1m")
    assert evaluate(BROKEN, view(replica(lag_seconds=59.0)), max_lag="1m") == []


@pytest.mark.parametrize("type_", ["database", "cache"])
def test_a_healthy_replica_of_either_type_is_fine(type_: str) -> None:
    assert evaluate(BROKEN, view(replica(type_))) == []
    assert evaluate(BROKEN, view(replica(type_, streaming=False)))


def test_primaries_and_cloud_databases_are_not_judged() -> None:
    rds = resource("database", "orders", engine="postgres", replica_of="main-db")
    inventory = view(primary(streaming=False), rds)
    assert evaluate(BROKEN, inventory) == []
    assert not inventory.unjudged


def test_a_streaming_replica_without_a_lag_is_undecided() -> None:
    target = replica(lag_seconds=None)
    inventory = view(target)
    assert evaluate(BROKEN, inventory) == []
    assert unjudged(BROKEN, inventory, target)


def test_an_unknown_streaming_state_is_undecided() -> None:
    target = replica(streaming=None)
    inventory = view(target)
    assert evaluate(BROKEN, inventory) == [] and unjudged(BROKEN, inventory, target)


def test_a_replica_whose_scope_is_failing_is_undecided() -> None:
    target = replica(streaming=False)
    scopes = [scope_state("database", status="failed", last_complete=None)]
    inventory = view(target, scopes=scopes)
    assert evaluate(BROKEN, inventory) == [] and unjudged(BROKEN, inventory, target)


def test_max_lag_is_checked_at_config_load() -> None:
    with pytest.raises(ValidationError, match="max_lag must be above 0"):
        BROKEN.params_model.model_validate({"max_lag": "0s"})
    problems = dict(
        check_rules_config(RulesConfig(params={"database.replication_broken": {"max_lag": "x"}}))
    )
    where = ("params", "database.replication_broken", "max_lag")
    assert "'x' is not a duration" in problems[where]


# -- database.no_replica -------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["database", "cache"])
def test_a_required_replica_that_is_missing_is_flagged(type_: str) -> None:
    found = one(evaluate(NO_REPLICA, view(primary(type_, replica_count=0, replicas=[]))))
    assert found.severity is Severity.MEDIUM
    assert found.title == "postgresql db-1:main requires a replica and has none connected"


def test_a_connected_replica_satisfies_it() -> None:
    assert evaluate(NO_REPLICA, view(primary())) == []


def test_optional_replication_is_not_judged() -> None:
    assert evaluate(NO_REPLICA, view(primary(replication="optional", replica_count=0))) == []


def test_a_replica_is_a_copy_not_a_database_without_one() -> None:
    assert evaluate(NO_REPLICA, view(replica(replication="required", replica_count=0))) == []


@pytest.mark.parametrize(
    "attributes",
    [{"running": False, "replica_count": None}, {"replica_count": None}, {"replica_count": "0"}],
)
def test_a_down_primary_or_unknown_count_is_undecided(attributes: dict[str, Any]) -> None:
    target = primary(**attributes)
    inventory = view(target)
    assert evaluate(NO_REPLICA, inventory) == [] and unjudged(NO_REPLICA, inventory, target)


def test_a_primary_whose_scope_is_failing_is_undecided() -> None:
    target = primary(replica_count=0)
    scopes = [scope_state("database", status="failed", last_complete=None)]
    inventory = view(target, scopes=scopes)
    assert evaluate(NO_REPLICA, inventory) == [] and unjudged(NO_REPLICA, inventory, target)

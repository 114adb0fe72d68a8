"""ha.single_zone and lb.unhealthy_targets: each clause's must-flag case, its decoy, and the
unknown case (a scope not known, an attribute not reported)."""

from __future__ import annotations

from typing import Any

import pytest

from rules.availability import SingleZone, UnhealthyTargets
from tests.factories.rules import evaluate, one, resource, scope_state, view
from vigil.core.model import Resource, Severity, fingerprint

SINGLE = SingleZone()
UNHEALTHY = UnhealthyTargets()


def balancer(native_id: str = "web", **attributes: Any) -> Resource:
    defaults: dict[str, Any] = {
        "kind": "application",
        "scheme": "internet-facing",
        "zones": ["us-east-1a", "us-east-1b"],
        "listeners": [
            {"protocol": "HTTPS", "port": 443, "default_action": "forward", "target_groups": ["tg"]}
        ],
        "targets": [
            {"id": "i-1", "port": 80, "target_group": "tg", "health": "healthy"},
            {"id": "i-2", "port": 80, "target_group": "tg", "health": "healthy"},
        ],
    }
    return resource("load_balancer", native_id, **(defaults | attributes))


def db(native_id: str = "orders", **attributes: Any) -> Resource:
    defaults = {"kind": "instance", "engine": "postgres", "zones": ["us-east-1a"]}
    return resource("database", native_id, **({"multi_az": False} | defaults | attributes))


def cache(native_id: str = "sessions", **attributes: Any) -> Resource:
    defaults = {"kind": "replication_group", "engine": "redis", "zones": ["us-east-1a"]}
    return resource("cache", native_id, **({"multi_az": False} | defaults | attributes))


# -- ha.single_zone ----------------------------------------------------------------------


@pytest.mark.parametrize("make", [db, cache])
def test_a_database_or_cache_in_one_zone_is_flagged(make: Any) -> None:
    found = one(evaluate(SINGLE, view(make())))
    assert found.severity is Severity.MEDIUM
    assert "lives in one availability zone (us-east-1a)" in found.title


def test_a_load_balancer_in_one_zone_is_flagged() -> None:
    found = one(evaluate(SINGLE, view(balancer(zones=["us-east-1a"]))))
    assert found.native_id == "web"


@pytest.mark.parametrize("make", [db, cache, balancer])
def test_two_zones_are_not_single_zone(make: Any) -> None:
    assert evaluate(SINGLE, view(make(zones=["us-east-1a", "us-east-1b"]))) == []


@pytest.mark.parametrize("make", [db, cache])
def test_a_multi_az_standby_counts_as_elsewhere(make: Any) -> None:
    assert evaluate(SINGLE, view(make(multi_az=True))) == []


def test_a_replica_in_another_zone_counts_as_elsewhere() -> None:
    primary = db(replicas=["orders-replica"])
    replica = db("orders-replica", zones=["us-east-1c"], replica_of="orders")
    assert evaluate(SINGLE, view(primary, replica)) == []


def test_a_replica_in_the_same_zone_does_not() -> None:
    primary = db(replicas=["orders-replica"])
    replica = db("orders-replica", replica_of="orders")
    assert one(evaluate(SINGLE, view(primary, replica))).native_id == "orders"


def test_a_replica_in_another_region_counts_as_elsewhere() -> None:
    primary = db(replicas=["orders-replica"])
    replica = db("orders-replica", region="eu-west-1", zones=["eu-west-1a"], replica_of="x")
    assert evaluate(SINGLE, view(primary, replica)) == []


def test_a_replica_the_inventory_does_not_hold_leaves_it_undecided() -> None:
    inventory = view(db(replicas=["somewhere-else"]))
    assert evaluate(SINGLE, inventory) == []
    assert fingerprint(SINGLE.id, db().uid) in inventory.unjudged


def test_aurora_members_and_replicas_are_never_judged_alone() -> None:
    member = db("ledger-1", cluster="ledger")
    replica = db("orders-replica", replica_of="orders")
    assert evaluate(SINGLE, view(member, replica)) == []


def test_an_aurora_cluster_is_judged_as_a_whole() -> None:
    cluster = db("ledger", kind="cluster", engine="aurora-postgresql", zones=["us-east-1a"])
    assert one(evaluate(SINGLE, view(cluster))).native_id == "ledger"


def test_dynamodb_tables_are_never_single_zone() -> None:
    table = db("arn:aws:dynamodb:us-east-1:1:table/carts", kind="table", engine="dynamodb")
    assert evaluate(SINGLE, view(table)) == []


def test_zones_not_reported_are_unknown() -> None:
    inventory = view(db(zones=[]))
    assert evaluate(SINGLE, inventory) == []
    assert fingerprint(SINGLE.id, db().uid) in inventory.unjudged


def test_a_scope_not_known_gives_no_finding() -> None:
    failing = [scope_state("database", status="failed", last_complete=None)]
    inventory = view(db(), scopes=failing)
    assert evaluate(SINGLE, inventory) == []
    assert fingerprint(SINGLE.id, db().uid) in inventory.unjudged


# -- lb.unhealthy_targets ----------------------------------------------------------------


@pytest.mark.parametrize("health", ["unhealthy", "unhealthy.draining", "unavailable"])
def test_an_unhealthy_target_is_high(health: str) -> None:
    targets = [
        {"id": "i-1", "target_group": "tg", "health": "healthy"},
        {"id": "i-2", "target_group": "tg", "health": health},
    ]
    found = one(evaluate(UNHEALTHY, view(balancer(targets=targets))))
    assert found.severity is Severity.HIGH
    assert found.title == "load balancer web has 1 unhealthy target(s) of 2"
    assert f"i-2 ({health})" in found.detail


@pytest.mark.parametrize("health", ["initial", "draining", "unused"])
def test_targets_that_are_not_unhealthy_beside_a_healthy_one_pass(health: str) -> None:
    targets = [
        {"id": "i-1", "target_group": "tg", "health": "healthy"},
        {"id": "i-2", "target_group": "tg", "health": health},
    ]
    assert evaluate(UNHEALTHY, view(balancer(targets=targets))) == []


def test_a_forwarding_listener_without_a_healthy_target_is_critical() -> None:
    targets = [{"id": "i-1", "target_group": "tg", "health": "unhealthy"}]
    found = one(evaluate(UNHEALTHY, view(balancer(targets=targets))))
    assert found.severity is Severity.CRITICAL
    assert "no healthy target behind listener(s) HTTPS:443" in found.title


def test_an_empty_target_group_behind_a_forwarding_listener_is_critical() -> None:
    found = one(evaluate(UNHEALTHY, view(balancer(targets=[]))))
    assert found.severity is Severity.CRITICAL
    assert found.evidence["listeners_without_healthy_target"] == ["HTTPS:443"]


def test_healthy_targets_of_another_group_do_not_serve_the_listener() -> None:
    targets = [{"id": "i-1", "target_group": "other", "health": "healthy"}]
    assert one(evaluate(UNHEALTHY, view(balancer(targets=targets)))).severity is Severity.CRITICAL


def test_a_redirecting_listener_needs_no_targets() -> None:
    listeners = [{"protocol": "HTTP", "port": 80, "default_action": "redirect"}]
    assert evaluate(UNHEALTHY, view(balancer(listeners=listeners, targets=[]))) == []


def test_a_classic_listener_is_served_by_all_of_its_instances() -> None:
    classic = balancer(
        "legacy",
        kind="classic",
        listeners=[{"protocol": "HTTP", "port": 80, "default_action": "forward"}],
        targets=[{"id": "i-1", "port": None, "target_group": None, "health": "healthy"}],
    )
    assert evaluate(UNHEALTHY, view(classic)) == []


def test_targets_not_reported_and_scopes_not_known_are_undecided() -> None:
    unreported = balancer(targets=None)
    failing = [scope_state("load_balancer", status="failed", last_complete=None)]
    sick = balancer(targets=[{"id": "i-1", "target_group": "tg", "health": "unhealthy"}])
    for inventory in (view(unreported), view(sick, scopes=failing)):
        assert evaluate(UNHEALTHY, inventory) == []
        assert fingerprint(UNHEALTHY.id, sick.uid) in inventory.unjudged


def test_targets_of_unknown_health_leave_the_listener_undecided() -> None:
    """CloudStack reports no health unless asked: null is unknown, neither dead nor healthy."""
    lb = balancer(targets=[{"id": "vm-1", "target_group": "tg", "health": None}])
    inventory = view(lb)
    assert evaluate(UNHEALTHY, inventory) == []
    assert fingerprint(UNHEALTHY.id, lb.uid) in inventory.unjudged


def test_an_unhealthy_target_beside_one_of_unknown_health_is_still_high() -> None:
    targets = [
        {"id": "vm-1", "target_group": "tg", "health": None},
        {"id": "vm-2", "target_group": "tg", "health": "unhealthy"},
    ]
    assert one(evaluate(UNHEALTHY, view(balancer(targets=targets)))).severity is Severity.HIGH


def test_no_target_behind_a_balancer_whose_targets_are_not_all_known_is_undecided() -> None:
    """nginx `proxy_pass $upstream;`, HAProxy `use_backend %[...]`: targets exist that Vigil
    cannot list, so an empty listener is unknown, not `no healthy target`."""
    listeners = [{"protocol": "HTTP", "port": 80, "default_action": "forward", "target_groups": []}]
    lb = balancer(kind="nginx", listeners=listeners, targets=[], targets_complete=False)
    inventory = view(lb)
    assert evaluate(UNHEALTHY, inventory) == []
    assert fingerprint(UNHEALTHY.id, lb.uid) in inventory.unjudged


def test_unhealthy_targets_count_even_when_the_targets_are_not_all_known() -> None:
    sick = [{"id": "10.0.0.5", "target_group": "tg", "health": "unhealthy"}]
    found = one(evaluate(UNHEALTHY, view(balancer(targets=sick, targets_complete=False))))
    assert found.severity is Severity.HIGH


def test_an_empty_cloud_target_group_stays_critical_when_complete() -> None:
    found = one(evaluate(UNHEALTHY, view(balancer(targets=[], targets_complete=True))))
    assert found.severity is Severity.CRITICAL

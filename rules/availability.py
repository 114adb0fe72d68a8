"""Availability rules: resources that live in one zone, load balancers without healthy targets.

Both judge a resource on its own attributes, so both need its scope known (`view.observed`)
and the attributes they read present: a resource whose scope is failing, or whose `zones` or
`targets` the collector did not report, is undecided and a stored finding keeps its status.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.base import NoParams, describe, finding
from rules.compliance import Controls
from rules.view import InventoryView
from vigil.core.model import Finding, Resource, ResourceType, Severity

LOAD_BALANCER, DATABASE, CACHE = (
    ResourceType.LOAD_BALANCER.value,
    ResourceType.DATABASE.value,
    ResourceType.CACHE.value,
)
SELF_REPLICATING_KINDS = frozenset({"table"})
"""Database kinds AWS spreads over zones by itself (DynamoDB tables): never single-zone."""
UNHEALTHY = frozenset({"unhealthy", "unhealthy.draining", "unavailable"})
HEALTHY = "healthy"


def zones_of(resource: Resource) -> list[str] | None:
    """The availability zones a resource lives in (`zones`, else `availability_zone`)."""
    zones = resource.attributes.get("zones")
    if isinstance(zones, list) and zones:
        return sorted({str(z) for z in zones})
    single = resource.attributes.get("availability_zone")
    return [single] if isinstance(single, str) and single else None


class SingleZone:
    """A load balancer, database or cache that lives in one availability zone with no standby
    or replica in another.

    A Multi-AZ database or cache has a standby elsewhere; a database whose `replicas` (found in
    the inventory) live in another zone has a replica elsewhere. An Aurora cluster is judged as
    a whole (its `zones`), never its members (`cluster` set) or replicas (`replica_of` set);
    DynamoDB tables never (AWS spreads them over zones). A replica the inventory does not hold
    (another account, or a region not collected) leaves the database undecided.
    """

    id = "ha.single_zone"
    title = "Lives in one availability zone"
    severity = Severity.MEDIUM
    resource_types = (LOAD_BALANCER, DATABASE, CACHE)
    params_model = NoParams
    remediation = (
        "Spread it over at least 2 availability zones: add a subnet in a second zone to the "
        "load balancer, turn on Multi-AZ for the RDS instance or ElastiCache replication group "
        "(or add a replica in another zone), add an Aurora reader in a second zone."
    )
    compliance: Controls = {
        "soc2-2017": ("A1.2",),
        "iso27001-2022": ("A.8.14",),
    }

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        by_native = {(r.account, r.native_id): r for r in view.of_type(DATABASE)}
        for resource in view.of_type(*self.resource_types):
            if not _judged(resource):
                continue
            zones = zones_of(resource)
            if not view.observed(resource) or zones is None:
                view.undecided(self.id, resource.uid)
                continue
            if len(zones) > 1 or resource.attributes.get("multi_az") is True:
                continue
            elsewhere = _replicas_elsewhere(resource, zones, by_native)
            if elsewhere is None:
                view.undecided(self.id, resource.uid)
            elif not elsewhere:
                yield _single_zone_finding(self, resource, zones[0])


def _single_zone_finding(rule: SingleZone, resource: Resource, zone: str) -> Finding:
    replicas = len(resource.attributes.get("replicas") or [])
    return finding(
        rule,
        resource,
        f"{resource.type} {describe(resource)} lives in one availability zone ({zone}) "
        "with no standby or replica in another",
        f"zones: {zone}; multi_az: {resource.attributes.get('multi_az')}; replicas: "
        f"{replicas}. An outage of {zone} takes it down.",
        evidence={"zones": [zone], "multi_az": resource.attributes.get("multi_az")},
    )


def _judged(resource: Resource) -> bool:
    """Aurora members, replicas and DynamoDB tables are never judged on their own."""
    if resource.type != DATABASE:
        return True
    attributes = resource.attributes
    if attributes.get("kind") in SELF_REPLICATING_KINDS or attributes.get("engine") == "dynamodb":
        return False
    return not attributes.get("cluster") and not attributes.get("replica_of")


def _replicas_elsewhere(
    resource: Resource, zones: list[str], by_native: dict[tuple[str, str], Resource]
) -> bool | None:
    """Whether a replica lives outside `zones`; None when one is not in the inventory."""
    for native_id in resource.attributes.get("replicas") or ():
        replica = by_native.get((resource.account, str(native_id)))
        if replica is None:
            return None
        if replica.region != resource.region or set(zones_of(replica) or zones) - set(zones):
            return True
    return False


class UnhealthyTargets:
    """A load balancer with targets whose health is `unhealthy`, `unhealthy.draining` or
    `unavailable` (high); critical when a forwarding listener has no `healthy` target at all,
    empty target groups included.

    A listener's targets are those of its `target_groups` (a classic ELB's: all of its
    instances). `initial`, `draining` and `unused` targets are not unhealthy, but they are not
    healthy either: a listener left with only those serves nothing. A balancer whose
    `targets_complete` is false (a hosts nginx or HAProxy sending some traffic to targets
    chosen per request) may have healthy targets Vigil cannot list: a listener without a
    healthy target there is undecided, not critical (its unhealthy targets still count).
    """

    id = "lb.unhealthy_targets"
    title = "Load balancer targets unhealthy"
    severity = Severity.HIGH
    resource_types = (LOAD_BALANCER,)
    params_model = NoParams
    remediation = (
        "Read the target group's health-check reason (DescribeTargetHealth) and the "
        "application's logs; fix or replace the failing targets, and keep at least 2 "
        "healthy targets in 2 zones behind every forwarding listener."
    )
    compliance: Controls = {"soc2-2017": ("A1.2",), "iso27001-2022": ("A.8.16",)}

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        for balancer in view.of_type(*self.resource_types):
            targets = balancer.attributes.get("targets")
            if not view.observed(balancer) or not isinstance(targets, list):
                view.undecided(self.id, balancer.uid)
                continue
            targets = [t for t in targets if isinstance(t, dict)]
            bad = [t for t in targets if t.get("health") in UNHEALTHY]
            dead, unknown = _dead_listeners(balancer, targets)
            if bad or dead:
                yield _unhealthy_finding(self, balancer, targets, bad, dead)
            elif unknown:  # a target of unknown health may be the healthy one
                view.undecided(self.id, balancer.uid)


def _dead_listeners(balancer: Resource, targets: list[dict[str, Any]]) -> tuple[list[str], bool]:
    """`HTTPS:443`-style names of forwarding listeners without one healthy target, and whether
    a listener is undecided: no healthy target but one whose health is unknown (null)."""
    dead, unknown = [], False
    complete = balancer.attributes.get("targets_complete") is not False
    for listener in balancer.attributes.get("listeners") or ():
        if not isinstance(listener, dict) or listener.get("default_action") != "forward":
            continue
        groups = set(listener.get("target_groups") or ())
        behind = [t for t in targets if not groups or t.get("target_group") in groups]
        if any(t.get("health") == HEALTHY for t in behind):
            continue
        if not complete or any(t.get("health") is None for t in behind):
            unknown = True
        else:
            dead.append(f"{listener.get('protocol')}:{listener.get('port')}")
    return dead, unknown


def _unhealthy_finding(
    rule: UnhealthyTargets,
    balancer: Resource,
    targets: list[dict[str, Any]],
    bad: list[dict[str, Any]],
    dead: list[str],
) -> Finding:
    healthy = sum(1 for t in targets if t.get("health") == HEALTHY)
    if dead:
        title = (
            f"load balancer {describe(balancer)} has no healthy target behind listener(s) "
            f"{', '.join(dead)} ({healthy} of {len(targets)} targets healthy)"
        )
    else:
        title = (
            f"load balancer {describe(balancer)} has {len(bad)} unhealthy target(s) "
            f"of {len(targets)}"
        )
    shown = ", ".join(f"{t.get('id')} ({t.get('health')})" for t in bad[:10])
    return finding(
        rule,
        balancer,
        title,
        (f"Unhealthy: {shown}. " if bad else "")
        + (f"Listeners with no healthy target: {', '.join(dead)}." if dead else ""),
        severity=Severity.CRITICAL if dead else Severity.HIGH,
        evidence={
            "unhealthy": [{"id": t.get("id"), "health": t.get("health")} for t in bad],
            "healthy": healthy,
            "targets": len(targets),
            "listeners_without_healthy_target": dead,
        },
    )

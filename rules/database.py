"""Self-hosted database rules: replicas that stopped replicating, databases without a replica.

Both read what the hosts source reports of a declared database or cache
(collectors/hosts/databases.py): `role`, `running`, `streaming`, `lag_seconds`, `replication`
(the declared `required`/`optional`) and `replica_count`. A resource whose own scope is not
known, or whose deciding attribute was not reported (null), is undecided: its stored finding
keeps its status. Cloud databases (RDS, DynamoDB) carry no `role` and are not judged here;
`ha.single_zone` judges them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pydantic import field_validator

from rules.base import NoParams, describe, finding
from rules.compliance import Controls
from rules.view import InventoryView
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import Duration, StrictModel
from vigil.core.timeutil import format_duration

_TYPES = (ResourceType.DATABASE.value, ResourceType.CACHE.value)
_COMPLIANCE: Controls = {"soc2-2017": ("A1.2",), "iso27001-2022": ("A.8.14",)}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class ReplicationParams(StrictModel):
    """`rules.params.database.replication_broken`: how far a replica may fall behind.

    ```yaml
    database.replication_broken: {max_lag: 5m}
    ```
    """

    max_lag: Duration = timedelta(seconds=300)

    @field_validator("max_lag")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("max_lag must be above 0 (for example 300s or 5m)")
        return value


class ReplicationBroken:
    """A replica that is not replicating: down (a declared `role: replica` whose server does
    not accept connections), not streaming from its primary, or lagging more than `max_lag`
    (default 300 s).

    Only replicas are judged: `role: replica` as the server reports it, or as declared while
    it is down. A replica that streams but whose lag was not reported is undecided.
    """

    id = "database.replication_broken"
    title = "Replica not replicating"
    severity = Severity.HIGH
    resource_types = _TYPES
    params_model = ReplicationParams
    remediation = (
        "On the replica, read the server log and its replication status (PostgreSQL "
        "pg_stat_wal_receiver, Redis INFO replication, MySQL SHOW REPLICA STATUS); check "
        "that the primary is reachable from it, its replication credentials, and that the "
        "primary still holds the WAL/binlog/backlog it needs, else rebuild it from a fresh "
        "base backup."
    )
    compliance = _COMPLIANCE

    def evaluate(self, view: InventoryView, params: ReplicationParams) -> Iterator[Finding]:
        max_lag = params.max_lag.total_seconds()
        for resource in view.of_type(*self.resource_types):
            attributes = resource.attributes
            if attributes.get("role") != "replica":
                continue
            if not view.observed(resource):
                view.undecided(self.id, resource.uid)
                continue
            streaming = attributes.get("streaming")
            lag = _number(attributes.get("lag_seconds"))
            if attributes.get("running") is False:
                yield self._finding(resource, "is down", "its server accepts no connections")
            elif streaming is False:
                state = attributes.get("replication_state") or "no replication link"
                yield self._finding(resource, "is not streaming", f"replication state: {state}")
            elif streaming is not True or lag is None:
                view.undecided(self.id, resource.uid)
            elif lag > max_lag:
                yield self._finding(
                    resource,
                    f"lags {format_duration(timedelta(seconds=lag))} behind its primary",
                    f"lag {lag:g}s is above max_lag {max_lag:g}s",
                    lag=lag,
                    max_lag=max_lag,
                )

    def _finding(self, resource: Resource, what: str, why: str, **extra: Any) -> Finding:
        attributes = resource.attributes
        upstream = attributes.get("replica_of") or attributes.get("upstream")
        of = f" of {upstream}" if upstream else ""
        error = attributes.get("error")
        return finding(
            self,
            resource,
            f"{attributes.get('engine') or resource.type} replica {describe(resource)}{of} {what}",
            f"{why}." + (f" The server said: {error}" if error else ""),
            evidence={
                "running": attributes.get("running"),
                "streaming": attributes.get("streaming"),
                "replication_state": attributes.get("replication_state"),
                "lag_seconds": attributes.get("lag_seconds"),
                "lag_bytes": attributes.get("lag_bytes"),
                "upstream": attributes.get("upstream"),
                **extra,
            },
        )


class NoReplica:
    """A database or cache declared `replication: required` that has no replica connected:
    the self-hosted analogue of `ha.single_zone` (losing its host loses the data since the
    last backup).

    Judged on the primary: a server reporting `role: replica` is itself a copy. A primary that
    is down cannot say which replicas it has: undecided.
    """

    id = "database.no_replica"
    title = "Database without the replica it requires"
    severity = Severity.MEDIUM
    resource_types = _TYPES
    params_model = NoParams
    remediation = (
        "Start (or rebuild) a replica of it on another host: PostgreSQL pg_basebackup -R, "
        "Redis replicaof, MySQL CHANGE REPLICATION SOURCE TO; then declare the replica as a "
        "database of its host so Vigil watches it too."
    )
    compliance = _COMPLIANCE

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        for resource in view.of_type(*self.resource_types):
            attributes = resource.attributes
            if attributes.get("replication") != "required" or attributes.get("role") == "replica":
                continue
            count = attributes.get("replica_count")
            known = isinstance(count, int) and not isinstance(count, bool)
            if not view.observed(resource) or attributes.get("running") is not True or not known:
                view.undecided(self.id, resource.uid)
                continue
            if count == 0:
                kind = attributes.get("engine") or resource.type
                yield finding(
                    self,
                    resource,
                    f"{kind} {describe(resource)} requires a replica and has none connected",
                    "Declared replication: required; the server reports 0 connected replicas.",
                    evidence={"replica_count": 0, "role": attributes.get("role")},
                )

"""A collection pass end to end: moto's server → AWS collectors → pipeline → storage."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from collectors.aws.config import AwsSourceConfig
from storage import history, inventory, runs
from storage.db import Database
from tests.factories.aws import seed_client
from tests.fixtures.awsproxy import AwsProxy
from vigil.app.collect import Collection, collect
from vigil.app.demo_estate import seed_estate
from vigil.core.model import ResourceType

REGIONS = ("us-east-1", "eu-west-1")


def source(endpoint_url: str, **options: Any) -> AwsSourceConfig:
    return AwsSourceConfig(
        name="aws-test", regions=list(REGIONS), endpoint_url=endpoint_url, **options
    )


def by_type(db: Database) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in inventory.inventory(db):
        counts[item.type] = counts.get(item.type, 0) + 1
    return counts


@pytest.fixture
def estate(moto: str) -> Any:
    return seed_estate(moto, regions=REGIONS, servers_per_region=2)


def test_full_pass_collects_every_type_and_rescan_changes_nothing(
    sqlite_db: Database, moto: str, estate: Any
) -> None:
    first = collect(sqlite_db, [source(moto)])

    assert first.failed == []
    counts = by_type(sqlite_db)
    assert set(counts) == {t.value for t in ResourceType}
    assert counts["server"] == estate.counts["server"]
    for type_ in (
        "load_balancer",
        "cdn",
        "bucket",
        "database",
        "cache",
        "kubernetes_cluster",
        "function",
    ):
        assert counts[type_] == estate.counts[type_]
    assert counts["dns_record"] == estate.counts["dns_record"]

    again = collect(sqlite_db, [source(moto)])
    assert again.failed == []
    assert sum(o.created + o.changed + o.deleted for o in again.outcomes) == 0
    assert again.seen == first.seen


def test_denied_region_fails_alone_and_deletes_nothing(
    sqlite_db: Database, moto: str, estate: Any, aws_proxy: Callable[..., AwsProxy]
) -> None:
    assert collect(sqlite_db, [source(moto)]).failed == []
    eu_only = inventory.InventoryFilter(types=("security_group",), regions=("eu-west-1",))
    eu_before = [r.uid for r in inventory.inventory(sqlite_db, eu_only)]
    for region in REGIONS:  # a real deletion in both regions...
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=moto)
        ec2.delete_security_group(GroupId=_deletable_group(ec2))

    proxy = aws_proxy(deny_regions={"eu-west-1"})
    result = collect(sqlite_db, [source(proxy.url, types=["security_group"])])

    failed = {o.scope.region for o in result.failed}
    assert failed == {"eu-west-1"}
    assert all(
        "UnauthorizedOperation" in (o.error or "") or "denied" in (o.error or "").lower()
        for o in result.failed
    )
    deleted = [e for e in history.changes(sqlite_db, kinds=("deleted",))]
    # ...is recorded where the scope completed, and not where the scope failed.
    assert [e.region for e in deleted] == ["us-east-1"]
    assert [r.uid for r in inventory.inventory(sqlite_db, eu_only)] == eu_before


def test_throttled_requests_are_retried_to_success(
    sqlite_db: Database, moto: str, estate: Any, aws_proxy: Callable[..., AwsProxy]
) -> None:
    proxy = aws_proxy(throttle_first_n=3, throttle_operations={"DescribeInstances"})
    result = collect(sqlite_db, [source(proxy.url, types=["server"])])
    assert result.failed == []
    assert len(proxy.outcomes("throttled")) == 3
    assert by_type(sqlite_db) == {"server": estate.counts["server"]}
    # Each scope's run counts the answers its own requests received.
    received = {r: sum(t.region == r for t in proxy.outcomes("throttled")) for r in REGIONS}
    assert {o.scope.region: o.throttled for o in result.outcomes} == received
    assert {s.region: s.throttled for s in runs.scope_statuses(sqlite_db)} == received


def test_scopes_run_concurrently(
    sqlite_db: Database, moto: str, estate: Any, aws_proxy: Callable[..., AwsProxy]
) -> None:
    proxy = aws_proxy(latency=0.3)
    result = collect(sqlite_db, [source(proxy.url, types=["server", "disk", "database"])])
    assert result.failed == []
    statuses = runs.scope_statuses(sqlite_db)
    assert len(statuses) == 6
    # Every scope was in flight at once: each started before any other finished.
    latest_start = max(s.started_at for s in statuses)
    earliest_finish = min(s.finished_at for s in statuses if s.finished_at)
    assert latest_start < earliest_finish


def test_stopping_abandons_scopes_in_flight_without_deleting(
    sqlite_db: Database, moto: str, estate: Any, aws_proxy: Callable[..., AwsProxy]
) -> None:
    assert collect(sqlite_db, [source(moto)]).failed == []
    before = by_type(sqlite_db)
    proxy = aws_proxy(latency=0.5)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()

    result = Collection(sqlite_db, [source(proxy.url)], stop=stop).run()

    assert result.outcomes and all(o.failed for o in result.outcomes)
    assert all("abandoned" in (o.error or "") for o in result.outcomes)
    assert by_type(sqlite_db) == before
    assert list(history.changes(sqlite_db, kinds=("deleted",))) == []


def test_unreachable_endpoint_fails_the_source_plan(
    sqlite_db: Database, aws_credentials: None
) -> None:
    result = collect(sqlite_db, [source("http://127.0.0.1:9", max_attempts=1)])
    assert len(result.outcomes) == 1
    assert result.failed[0].scope.type == "*"
    statuses = runs.scope_statuses(sqlite_db)
    assert statuses[0].status == "failed"


def _deletable_group(ec2: Any) -> str:
    """A security group that nothing references, so moto lets us delete it."""
    groups = ec2.describe_security_groups()["SecurityGroups"]
    used = {
        pair["GroupId"]
        for group in groups
        for permission in group["IpPermissions"]
        for pair in permission.get("UserIdGroupPairs", [])
    }
    attached = {
        g["GroupId"]
        for reservation in ec2.describe_instances()["Reservations"]
        for instance in reservation["Instances"]
        for g in instance.get("SecurityGroups", [])
    }
    for group in groups:
        if group["GroupName"] != "default" and group["GroupId"] not in used | attached:
            return str(group["GroupId"])
    raise AssertionError("the seeded estate has no free security group")


def test_a_database_restore_point_is_current_after_each_pass_with_no_change_event(
    sqlite_db: Database, moto: str
) -> None:
    seed_client(moto, "rds").create_db_instance(
        DBInstanceIdentifier="orders",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=7,
    )
    databases = AwsSourceConfig(
        name="aws-test", regions=["us-east-1"], endpoint_url=moto, types=["database"]
    )

    def restore_point() -> str:
        (orders,) = [r for r in inventory.inventory(sqlite_db) if r.native_id == "orders"]
        return str(orders.attributes["latest_restorable_time"])

    collect(sqlite_db, [databases])
    first = restore_point()
    time.sleep(1.1)  # moto reports "now", to the second
    again = collect(sqlite_db, [databases])

    assert again.failed == [] and restore_point() > first  # moto moves it on every read
    assert sum(o.created + o.changed + o.deleted for o in again.outcomes) == 0
    assert [e.kind for e in history.changes(sqlite_db) if e.native_id == "orders"] == ["created"]

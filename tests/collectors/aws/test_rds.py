"""RDS instances → databases, DB snapshots → snapshots (merged with EBS in one scope)."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws import AwsCollector, rds
from tests.factories.aws import ORIGIN, collect, payload, scope, seed_client, source
from vigil.core.model import Resource


def test_normalize_instance_reads_the_recorded_payload() -> None:
    resource = rds.normalize_instance(payload("describe_db_instances"), ORIGIN)

    assert resource.native_id == "orders"
    assert resource.tags == {"team": "payments"}
    attributes = resource.attributes
    assert attributes["engine"] == "postgres"
    assert attributes["backup_retention_days"] == 0
    assert attributes["multi_az"] is True
    assert attributes["storage_encrypted"] is True
    assert attributes["allocated_storage_gb"] == 100
    assert attributes["endpoint"]


def test_normalize_snapshot_points_at_its_database() -> None:
    resource = rds.normalize_snapshot(payload("describe_db_snapshots"), ORIGIN)

    assert resource.native_id == "orders-manual"
    assert resource.attributes["kind"] == "rds"
    assert resource.attributes["snapshot_type"] == "manual"
    assert resource.attributes["source_uid"] == ORIGIN.uid("database", "orders")


def _database(url: str, name: str, retention: int) -> None:
    seed_client(url, "rds").create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=retention,
    )


def test_collects_databases_and_their_snapshots(moto: str) -> None:
    _database(moto, "orders", retention=7)
    _database(moto, "analytics", retention=0)
    seed_client(moto, "rds").create_db_snapshot(
        DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-manual"
    )
    collector = AwsCollector(source(moto))

    databases = {r.native_id: r for r in collect(collector, scope("database"))}
    snapshots = collect(collector, scope("snapshot"))

    assert databases["analytics"].attributes["backup_retention_days"] == 0
    assert databases["orders"].attributes["latest_restorable_time"] is not None
    manual = [s for s in snapshots if s.native_id == "orders-manual"]
    assert manual[0].attributes["source_uid"] == databases["orders"].uid
    assert {s.attributes["kind"] for s in snapshots} == {"rds"}


def _aurora(url: str, name: str, members: int, **extra: Any) -> str:
    client = seed_client(url, "rds")
    arn = client.create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        **extra,
    )["DBCluster"]["DBClusterArn"]
    for i in range(members):
        client.create_db_instance(
            DBInstanceIdentifier=f"{name}-{i}",
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
    return str(arn)


def test_a_read_replica_names_its_source_and_the_source_its_replicas(moto: str) -> None:
    _database(moto, "orders", retention=7)
    seed_client(moto, "rds").create_db_instance_read_replica(
        DBInstanceIdentifier="orders-ro",
        SourceDBInstanceIdentifier="orders",
        AvailabilityZone="us-east-1b",
    )

    databases = {r.native_id: r.attributes for r in _collect_databases(moto)}

    assert databases["orders"]["replicas"] == ["orders-ro"]
    assert databases["orders"]["replica_of"] is None
    assert databases["orders-ro"]["replica_of"] == "orders"
    assert databases["orders-ro"]["zones"] == ["us-east-1b"]
    assert len(databases["orders"]["zones"]) == 1


def test_an_aurora_cluster_with_its_writer_and_readers(moto: str) -> None:
    arn = _aurora(
        moto,
        "ledger",
        members=2,
        StorageEncrypted=True,
        BackupRetentionPeriod=14,
        AvailabilityZones=["us-east-1a", "us-east-1c"],
    )

    databases = {r.native_id: r.attributes for r in _collect_databases(moto)}

    cluster = databases[arn]
    assert cluster["kind"] == "cluster"
    assert cluster["writer"] == "ledger-0" and cluster["readers"] == ["ledger-1"]
    assert cluster["storage_encrypted"] is True and cluster["backup_retention_days"] == 14
    assert cluster["zones"] == ["us-east-1a", "us-east-1c"] and cluster["multi_az"] is True
    assert databases["ledger-1"]["cluster"] == "ledger"  # members point at their cluster


def test_an_aurora_mysql_backtrack_window_from_a_recorded_payload() -> None:
    # moto does not return BacktrackWindow: a recorded DescribeDBClusters item.
    resource = rds.normalize_cluster(payload("describe_db_clusters"), ORIGIN)

    attributes = resource.attributes
    assert attributes["backtrack_window_s"] == 86400
    assert attributes["zones"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert (attributes["writer"], attributes["readers"]) == ("shop-1", ["shop-2"])
    assert attributes["replica_of"] is None


def test_instances_and_clusters_page_past_one_page(
    moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rds, "PAGE_SIZE", 20)  # the API's minimum MaxRecords
    for i in range(23):
        _database(moto, f"db-{i:02}", retention=1)
    for i in range(21):
        _aurora(moto, f"cl-{i:02}", members=0)

    pages = list(AwsCollector(source(moto)).collect(scope("database")))

    assert len(pages) >= 4
    kinds = [r.attributes["kind"] for page in pages for r in page]
    assert (kinds.count("instance"), kinds.count("cluster")) == (23, 21)


def _collect_databases(url: str) -> list[Resource]:
    return collect(AwsCollector(source(url)), scope("database"))

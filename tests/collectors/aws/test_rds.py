"""RDS instances → databases, DB snapshots → snapshots (merged with EBS in one scope)."""

from __future__ import annotations

from collectors.aws import AwsCollector, rds
from tests.factories.aws import ORIGIN, collect, payload, scope, seed_client, source


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

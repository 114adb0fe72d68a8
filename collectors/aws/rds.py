"""RDS DB instances and Aurora clusters → `database`, DB snapshots → `snapshot` (rds API).

An instance's `cluster` names its Aurora cluster, so rules judge the cluster as a whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.aws.fields import Origin, iso_time, name_of, normalized, paginate, tag_dict
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 100
"""MaxRecords: 100 is the API's maximum for both operations."""


def fetch_instances(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of DescribeDBInstances items. I/O only."""
    return paginate(client, "describe_db_instances", "DBInstances", page_size or PAGE_SIZE)


def fetch_snapshots(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of the account's manual and automated DB snapshots. I/O only."""
    return paginate(client, "describe_db_snapshots", "DBSnapshots", page_size or PAGE_SIZE)


def fetch_clusters(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of DescribeDBClusters items (Aurora and Multi-AZ DB clusters). I/O only."""
    return paginate(client, "describe_db_clusters", "DBClusters", page_size or PAGE_SIZE)


def _zones(*zones: str | None) -> list[str]:
    return sorted({zone for zone in zones if zone})


def normalize_instance(item: dict[str, Any], origin: Origin) -> Resource:
    """One DescribeDBInstances item → a `database` resource."""
    tags = tag_dict(item.get("TagList"))
    identifier = item["DBInstanceIdentifier"]
    endpoint = item.get("Endpoint") or {}
    attributes = {
        "kind": "instance",
        "engine": item.get("Engine"),
        "engine_version": item.get("EngineVersion"),
        "instance_class": item.get("DBInstanceClass"),
        "status": item.get("DBInstanceStatus"),
        "backup_retention_days": item.get("BackupRetentionPeriod"),
        "multi_az": bool(item.get("MultiAZ", False)),
        # moto never reports a Multi-AZ standby's zone; real RDS does (SecondaryAvailabilityZone).
        "zones": _zones(item.get("AvailabilityZone"), item.get("SecondaryAvailabilityZone")),
        "cluster": item.get("DBClusterIdentifier"),
        "replica_of": item.get("ReadReplicaSourceDBInstanceIdentifier"),
        "replicas": sorted(item.get("ReadReplicaDBInstanceIdentifiers", [])),
        "latest_restorable_time": iso_time(item.get("LatestRestorableTime")),
        "storage_encrypted": bool(item.get("StorageEncrypted", False)),
        "publicly_accessible": bool(item.get("PubliclyAccessible", False)),
        "endpoint": endpoint.get("Address"),
        "port": endpoint.get("Port"),
        "allocated_storage_gb": item.get("AllocatedStorage"),
        "availability_zone": item.get("AvailabilityZone"),
        "security_groups": [
            group["VpcSecurityGroupId"] for group in item.get("VpcSecurityGroups", [])
        ],
        "deletion_protection": bool(item.get("DeletionProtection", False)),
        "arn": item.get("DBInstanceArn"),
    }
    return origin.resource(
        ResourceType.DATABASE,
        identifier,
        name=name_of(tags, identifier),
        tags=tags,
        attributes=attributes,
    )


def normalize_cluster(item: dict[str, Any], origin: Origin) -> Resource:
    """One DescribeDBClusters item → a `database` resource, native id its ARN."""
    tags = tag_dict(item.get("TagList"))
    members = sorted(
        (
            {"id": m["DBInstanceIdentifier"], "writer": bool(m.get("IsClusterWriter"))}
            for m in item.get("DBClusterMembers", [])
        ),
        key=lambda member: member["id"],
    )
    zones = _zones(*item.get("AvailabilityZones", []))
    attributes = {
        "kind": "cluster",
        "engine": item.get("Engine"),
        "engine_version": item.get("EngineVersion"),
        "status": item.get("Status"),
        "multi_az": bool(item.get("MultiAZ", False)) or len(zones) > 1,
        "zones": zones,
        "cluster": None,
        "cluster_id": item["DBClusterIdentifier"],
        "members": members,
        "writer": next((m["id"] for m in members if m["writer"]), None),
        "readers": [m["id"] for m in members if not m["writer"]],
        "replica_of": item.get("ReplicationSourceIdentifier"),
        "replicas": sorted(item.get("ReadReplicaIdentifiers", [])),
        "storage_encrypted": bool(item.get("StorageEncrypted", False)),
        "backup_retention_days": item.get("BackupRetentionPeriod"),
        "backtrack_window_s": item.get("BacktrackWindow"),
        "latest_restorable_time": iso_time(item.get("LatestRestorableTime")),
        # Aurora has no cluster-level flag: each member instance carries its own.
        "publicly_accessible": item.get("PubliclyAccessible"),
        "endpoint": item.get("Endpoint"),
        "reader_endpoint": item.get("ReaderEndpoint"),
        "port": item.get("Port"),
        "security_groups": [
            group["VpcSecurityGroupId"] for group in item.get("VpcSecurityGroups", [])
        ],
        "deletion_protection": bool(item.get("DeletionProtection", False)),
        "arn": item.get("DBClusterArn"),
    }
    return origin.resource(
        ResourceType.DATABASE,
        item.get("DBClusterArn") or item["DBClusterIdentifier"],
        name=name_of(tags, item["DBClusterIdentifier"]),
        tags=tags,
        attributes=attributes,
    )


def normalize_snapshot(item: dict[str, Any], origin: Origin) -> Resource:
    """One DescribeDBSnapshots item → a `snapshot` resource pointing at its database's uid."""
    tags = tag_dict(item.get("TagList"))
    identifier = item["DBSnapshotIdentifier"]
    database = item.get("DBInstanceIdentifier")
    attributes = {
        "source_uid": origin.uid(ResourceType.DATABASE, database) if database else None,
        "source_native_id": database,
        "kind": "rds",
        "started_at": iso_time(item.get("SnapshotCreateTime")),
        "state": item.get("Status"),
        "encrypted": bool(item.get("Encrypted", False)),
        "size_gb": item.get("AllocatedStorage"),
        "snapshot_type": item.get("SnapshotType"),
        "engine": item.get("Engine"),
    }
    return origin.resource(
        ResourceType.SNAPSHOT,
        identifier,
        name=name_of(tags, identifier),
        tags=tags,
        attributes=attributes,
    )


def instance_pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `database` resources."""
    return normalized(fetch_instances(client), normalize_instance, origin)


def cluster_pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of Aurora (and Multi-AZ DB) cluster `database` resources."""
    return normalized(fetch_clusters(client), normalize_cluster, origin)


def snapshot_pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of RDS `snapshot` resources."""
    return normalized(fetch_snapshots(client), normalize_snapshot, origin)

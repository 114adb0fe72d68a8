"""DynamoDB tables → `database` (engine `dynamodb`; native id the table ARN).

Per table: DescribeTable, DescribeContinuousBackups (point-in-time recovery) and
ListTagsOfResource; on-demand backups come from one ListBackups pass per region.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.aws.fields import Origin, iso_time, name_of, normalized, paginate, tag_dict
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 100
"""ListTables Limit: 100 is the API's maximum."""


def fetch_tables(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of DescribeTable answers, each with `ContinuousBackups`, `Backups` and `Tags`.
    I/O only."""
    backups = _backups_by_table(client)
    for names in paginate(client, "list_tables", "TableNames", page_size or PAGE_SIZE):
        tables = []
        for name in map(str, names):  # TableNames are strings
            table = dict(client.describe_table(TableName=name)["Table"])
            continuous = client.describe_continuous_backups(TableName=name)
            table["ContinuousBackups"] = continuous.get("ContinuousBackupsDescription", {})
            table["Backups"] = backups.get(name, [])
            tags = client.list_tags_of_resource(ResourceArn=table["TableArn"])
            table["Tags"] = tags.get("Tags", [])
            tables.append(table)
        yield tables


def _backups_by_table(client: BaseClient) -> dict[str, list[dict[str, Any]]]:
    """The region's on-demand and AWS Backup backups, by table name."""
    by_table: dict[str, list[dict[str, Any]]] = {}
    for page in paginate(client, "list_backups", "BackupSummaries", PAGE_SIZE, BackupType="ALL"):
        for backup in page:
            by_table.setdefault(backup["TableName"], []).append(backup)
    return by_table


def _replica_arn(table_arn: str, region: str) -> str:
    """The ARN of the global table's replica in `region` (same name and account)."""
    parts = table_arn.split(":")
    parts[3] = region
    return ":".join(parts)


def normalize_table(item: dict[str, Any], origin: Origin) -> Resource:
    """One DescribeTable answer (with `ContinuousBackups`, `Backups`, `Tags`) → a resource."""
    tags = tag_dict(item.get("Tags"))
    arn = item["TableArn"]
    pitr = item.get("ContinuousBackups", {}).get("PointInTimeRecoveryDescription", {})
    available = [b for b in item.get("Backups", []) if b.get("BackupStatus") == "AVAILABLE"]
    sse = item.get("SSEDescription") or {}
    replica_regions = sorted(
        r["RegionName"] for r in item.get("Replicas", []) if r.get("RegionName") != origin.region
    )
    attributes = {
        "kind": "table",
        "engine": "dynamodb",
        "status": item.get("TableStatus"),
        # DynamoDB itself spreads a table over the region's zones: ha.single_zone never judges it.
        "multi_az": True,
        "zones": [],
        "cluster": None,
        "replica_of": None,
        "replicas": [_replica_arn(arn, region) for region in replica_regions],
        "replica_regions": replica_regions,
        "storage_encrypted": True,  # DynamoDB encrypts every table at rest
        "encryption": sse.get("SSEType") or "AWS_OWNED",
        "backup_retention_days": None,
        "point_in_time_recovery": pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
        "recovery_period_days": pitr.get("RecoveryPeriodInDays"),
        "on_demand_backups": len(available),
        "latest_backup_at": max(
            (iso_time(b.get("BackupCreationDateTime")) or "" for b in available), default=None
        )
        or None,
        "publicly_accessible": False,  # reached through IAM only, never a network endpoint
        "billing_mode": (item.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
        "item_count": item.get("ItemCount"),
        "size_bytes": item.get("TableSizeBytes"),
        "deletion_protection": bool(item.get("DeletionProtectionEnabled", False)),
        "arn": arn,
    }
    return origin.resource(
        ResourceType.DATABASE,
        arn,
        name=name_of(tags, item["TableName"]),
        tags=tags,
        attributes=attributes,
    )


def pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of DynamoDB `database` resources."""
    return normalized(fetch_tables(client), normalize_table, origin)

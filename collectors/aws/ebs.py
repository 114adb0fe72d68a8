"""EBS volumes → `disk`, EBS snapshots owned by the account → `snapshot` (ec2 API).

A snapshot is public when its createVolumePermission grants the group `all`: anyone can
restore the disk. DescribeSnapshots with `RestorableByUserIds=["all"]` names the candidates in
one listing; each is confirmed with DescribeSnapshotAttribute, so a listing that ignores the
filter (moto's does) costs calls but never marks a private snapshot public. Denied either
read, every snapshot's `public` is unknown (None) and the scope still succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from collectors.aws.details import each
from collectors.aws.failures import error_code
from collectors.aws.fields import (
    Origin,
    iso_time,
    name_of,
    normalize_page,
    normalized,
    paginate,
    tag_dict,
)
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

VOLUME_PAGE_SIZE = 500
SNAPSHOT_PAGE_SIZE = 1000


def fetch_volumes(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of DescribeVolumes items. I/O only."""
    return paginate(client, "describe_volumes", "Volumes", page_size or VOLUME_PAGE_SIZE)


def fetch_snapshots(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of the account's own snapshots (OwnerIds=self: not public or shared ones)."""
    size = page_size or SNAPSHOT_PAGE_SIZE
    return paginate(client, "describe_snapshots", "Snapshots", size, OwnerIds=["self"])


PUBLIC_GRANT = "createVolumePermission: all"
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


def fetch_public_snapshot_ids(client: BaseClient) -> set[str] | None:
    """The account's snapshots anyone can restore; None when the account denies the reads."""
    try:
        candidates = [
            item["SnapshotId"]
            for page in paginate(
                client,
                "describe_snapshots",
                "Snapshots",
                SNAPSHOT_PAGE_SIZE,
                OwnerIds=["self"],
                RestorableByUserIds=["all"],
            )
            for item in page
        ]
        confirmed = each(lambda snapshot_id: _restorable_by_all(client, snapshot_id), candidates)
    except ClientError as exc:
        if error_code(exc) in _DENIED:
            return None
        raise
    return {
        snapshot_id for snapshot_id, public in zip(candidates, confirmed, strict=True) if public
    }


def _restorable_by_all(client: BaseClient, snapshot_id: str) -> bool:
    answer = client.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission"
    )
    return any(grant.get("Group") == "all" for grant in answer.get("CreateVolumePermissions", []))


def normalize_volume(item: dict[str, Any], origin: Origin) -> Resource:
    """One DescribeVolumes item → a `disk` resource."""
    tags = tag_dict(item.get("Tags"))
    volume_id = item["VolumeId"]
    attachments = item.get("Attachments", [])
    attributes = {
        "size_gb": item.get("Size"),
        "volume_type": item.get("VolumeType"),
        "encrypted": bool(item.get("Encrypted", False)),
        "state": item.get("State"),
        "iops": item.get("Iops"),
        "throughput": item.get("Throughput"),
        "created_at": iso_time(item.get("CreateTime")),
        "availability_zone": item.get("AvailabilityZone"),
        "attached_to": [entry["InstanceId"] for entry in attachments if "InstanceId" in entry],
        "devices": [entry["Device"] for entry in attachments if "Device" in entry],
        "snapshot_id": item.get("SnapshotId") or None,
        "kms_key_id": item.get("KmsKeyId"),
    }
    return origin.resource(
        ResourceType.DISK,
        volume_id,
        name=name_of(tags, volume_id),
        tags=tags,
        attributes=attributes,
    )


def normalize_snapshot(
    item: dict[str, Any], origin: Origin, public_ids: set[str] | None = None
) -> Resource:
    """One DescribeSnapshots item → a `snapshot` resource pointing at its volume's uid;
    `public_ids` the account's public snapshots (None: unknown)."""
    tags = tag_dict(item.get("Tags"))
    snapshot_id = item["SnapshotId"]
    volume_id = item.get("VolumeId")
    attributes = {
        "source_uid": origin.uid(ResourceType.DISK, volume_id) if volume_id else None,
        "source_native_id": volume_id,
        "kind": "ebs",
        "started_at": iso_time(item.get("StartTime")),
        "state": item.get("State"),
        "encrypted": bool(item.get("Encrypted", False)),
        "size_gb": item.get("VolumeSize"),
        "description": item.get("Description") or "",
        "public": None if public_ids is None else snapshot_id in public_ids,
        "public_reasons": [PUBLIC_GRANT] if public_ids and snapshot_id in public_ids else [],
    }
    return origin.resource(
        ResourceType.SNAPSHOT,
        snapshot_id,
        name=name_of(tags, snapshot_id),
        tags=tags,
        attributes=attributes,
    )


def volume_pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `disk` resources."""
    return normalized(fetch_volumes(client), normalize_volume, origin)


def snapshot_pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of EBS `snapshot` resources, each saying whether it is public."""
    public_ids = fetch_public_snapshot_ids(client)
    for items in fetch_snapshots(client):
        yield normalize_page(
            items, lambda item: normalize_snapshot(item, origin, public_ids), "normalize_snapshot"
        )

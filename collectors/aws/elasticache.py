"""ElastiCache replication groups and standalone clusters → `cache` (Redis, Valkey, Memcached).

A replication group is one cache (native id its group id); a cluster is a cache of its own only
when it belongs to no group. Member clusters are read once, for the groups' security groups and
engine (a replication group names neither); tags come from one ListTagsForResource per cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.aws.fields import Origin, name_of, paginate, tag_dict
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 100
"""MaxRecords: 100 is the API's maximum for both operations (20 its minimum)."""


def fetch_caches(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of standalone clusters, then of replication groups, each with `Tags` (groups also
    `Members`: their clusters). I/O only."""
    size = page_size or PAGE_SIZE
    members: dict[str, list[dict[str, Any]]] = {}
    for page in paginate(
        client, "describe_cache_clusters", "CacheClusters", size, ShowCacheNodeInfo=True
    ):
        standalone = []
        for cluster in page:
            group = cluster.get("ReplicationGroupId")
            if group:
                members.setdefault(group, []).append(cluster)
            else:
                standalone.append(_tagged(client, dict(cluster)))
        if standalone:
            yield standalone
    for page in paginate(client, "describe_replication_groups", "ReplicationGroups", size):
        groups = [dict(group) for group in page]
        for group in groups:
            group["Members"] = members.get(group["ReplicationGroupId"], [])
            _tagged(client, group)
        yield groups


def _tagged(client: BaseClient, item: dict[str, Any]) -> dict[str, Any]:
    item["Tags"] = client.list_tags_for_resource(ResourceName=item["ARN"]).get("TagList", [])
    return item


def _zones(*zones: str | None) -> list[str]:
    return sorted({zone for zone in zones if zone and zone != "Multiple"})


def _groups(clusters: list[dict[str, Any]]) -> list[str]:
    return sorted({g["SecurityGroupId"] for c in clusters for g in c.get("SecurityGroups", [])})


def normalize_group(item: dict[str, Any], origin: Origin) -> Resource:
    """One replication group (with `Members`, `Tags`) → a `cache` resource."""
    tags = tag_dict(item.get("Tags"))
    members = item.get("Members", [])
    node_members = [m for g in item.get("NodeGroups", []) for m in g.get("NodeGroupMembers", [])]
    zones = _zones(*(m.get("PreferredAvailabilityZone") for m in node_members))
    zones = zones or _zones(*(m.get("PreferredAvailabilityZone") for m in members))
    first = members[0] if members else {}
    attributes = {
        "kind": "replication_group",
        "engine": item.get("Engine") or first.get("Engine"),
        "engine_version": first.get("EngineVersion"),
        "status": item.get("Status"),
        "node_type": item.get("CacheNodeType"),
        "node_count": len(item.get("MemberClusters", [])) or len(members),
        "shards": len(item.get("NodeGroups", [])),
        "cluster_mode": bool(item.get("ClusterEnabled", False)),
        "zones": zones,
        "automatic_failover": item.get("AutomaticFailover") in ("enabled", "enabling"),
        "multi_az": item.get("MultiAZ") == "enabled",
        "encrypted": item.get("AtRestEncryptionEnabled"),
        "transit_encryption": bool(item.get("TransitEncryptionEnabled", False)),
        "snapshot_retention_days": item.get("SnapshotRetentionLimit"),
        "security_groups": _groups(members),
        "arn": item.get("ARN"),
    }
    native_id = item["ReplicationGroupId"]
    return origin.resource(
        ResourceType.CACHE,
        native_id,
        name=name_of(tags, native_id),
        tags=tags,
        attributes=attributes,
    )


def normalize_cluster(item: dict[str, Any], origin: Origin) -> Resource:
    """One standalone cache cluster (with `Tags`) → a `cache` resource."""
    tags = tag_dict(item.get("Tags"))
    nodes = item.get("CacheNodes", [])
    zones = _zones(item.get("PreferredAvailabilityZone"))
    zones = _zones(*zones, *(node.get("CustomerAvailabilityZone") for node in nodes))
    attributes = {
        "kind": "cluster",
        "engine": item.get("Engine"),
        "engine_version": item.get("EngineVersion"),
        "status": item.get("CacheClusterStatus"),
        "node_type": item.get("CacheNodeType"),
        "node_count": item.get("NumCacheNodes"),
        "shards": 1,
        "cluster_mode": False,
        "zones": zones,
        "automatic_failover": False,  # a cluster outside a replication group cannot fail over
        "multi_az": len(zones) > 1,  # Memcached nodes spread over zones
        # Absent for Memcached (and in moto): unknown, not unencrypted.
        "encrypted": item.get("AtRestEncryptionEnabled"),
        "transit_encryption": bool(item.get("TransitEncryptionEnabled", False)),
        "snapshot_retention_days": item.get("SnapshotRetentionLimit"),
        "security_groups": _groups([item]),
        "arn": item.get("ARN"),
    }
    native_id = item["CacheClusterId"]
    return origin.resource(
        ResourceType.CACHE,
        native_id,
        name=name_of(tags, native_id),
        tags=tags,
        attributes=attributes,
    )


def _normalize(item: dict[str, Any], origin: Origin) -> Resource:
    if "ReplicationGroupId" in item and "CacheClusterId" not in item:
        return normalize_group(item, origin)
    return normalize_cluster(item, origin)


def pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `cache` resources."""
    for items in fetch_caches(client):
        yield [_normalize(item, origin) for item in items]

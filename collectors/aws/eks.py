"""EKS clusters → `kubernetes_cluster` (ListClusters, then DescribeCluster per name)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.aws.fields import Origin, iso_time, name_of, normalized, paginate
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 100
"""ListClusters maxResults: 100 is the API's maximum."""


def fetch_clusters(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of DescribeCluster answers (tags included). I/O only."""
    for names in paginate(client, "list_clusters", "clusters", page_size or PAGE_SIZE):
        yield [client.describe_cluster(name=str(name))["cluster"] for name in names]


def normalize_cluster(item: dict[str, Any], origin: Origin) -> Resource:
    """One DescribeCluster answer → a `kubernetes_cluster` resource."""
    tags = {str(k): str(v) for k, v in (item.get("tags") or {}).items()}
    vpc = item.get("resourcesVpcConfig") or {}
    public = vpc.get("endpointPublicAccess")
    groups = list(vpc.get("securityGroupIds", []))
    if vpc.get("clusterSecurityGroupId"):
        groups.append(vpc["clusterSecurityGroupId"])
    attributes = {
        "version": item.get("version"),
        "platform_version": item.get("platformVersion"),
        "status": item.get("status"),
        "endpoint": item.get("endpoint"),
        "endpoint_public": public,
        "endpoint_private": vpc.get("endpointPrivateAccess"),
        # AWS answers ["0.0.0.0/0"] when the public endpoint is open to everyone.
        "public_access_cidrs": sorted(vpc.get("publicAccessCidrs", [])) if public else [],
        "security_groups": sorted(set(groups)),
        "role_arn": item.get("roleArn"),
        "created_at": iso_time(item.get("createdAt")),
        "arn": item.get("arn"),
    }
    return origin.resource(
        ResourceType.KUBERNETES_CLUSTER,
        item["name"],
        name=name_of(tags, item["name"]),
        tags=tags,
        attributes=attributes,
    )


def pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `kubernetes_cluster` resources."""
    return normalized(fetch_clusters(client), normalize_cluster, origin)

"""CloudFront distributions → `cdn` (a global service; ListDistributions, ListTagsForResource).

The viewer protocol policy is the weakest over the default and every other cache behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.aws.fields import Origin, host_name, name_of, normalized, tag_dict
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 100
_STRENGTH = ("allow-all", "redirect-to-https", "https-only")


def fetch_distributions(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of distribution summaries, each with its `Tags`. I/O only."""
    paginator = client.get_paginator("list_distributions")
    for page in paginator.paginate(PaginationConfig={"PageSize": page_size or PAGE_SIZE}):
        items = [dict(item) for item in page.get("DistributionList", {}).get("Items", [])]
        for item in items:
            answer = client.list_tags_for_resource(Resource=item["ARN"])
            item["Tags"] = answer.get("Tags", {}).get("Items", [])
        yield items


def weakest_policy(item: dict[str, Any]) -> str | None:
    """The weakest viewer protocol policy over all cache behaviours (unknown values rank lowest)."""
    behaviours = [item.get("DefaultCacheBehavior", {})]
    behaviours += item.get("CacheBehaviors", {}).get("Items", [])
    policies = [str(b["ViewerProtocolPolicy"]) for b in behaviours if b.get("ViewerProtocolPolicy")]
    if not policies:
        return None
    return min(policies, key=lambda p: _STRENGTH.index(p) if p in _STRENGTH else -1)


def normalize_distribution(item: dict[str, Any], origin: Origin) -> Resource:
    """One DistributionSummary (with `Tags`) → a `cdn` resource."""
    tags = tag_dict(item.get("Tags"))
    viewer = item.get("ViewerCertificate", {})
    acm_arn = viewer.get("ACMCertificateArn") or viewer.get("IAMCertificateId")
    attributes = {
        "domain_name": host_name(item.get("DomainName")),
        "aliases": sorted(host_name(a) or a for a in item.get("Aliases", {}).get("Items", [])),
        "viewer_protocol_policy": weakest_policy(item),
        # moto keeps CloudFrontDefaultCertificate set next to an ACM certificate: the ARN wins.
        "certificate": acm_arn or "default",
        "minimum_protocol_version": viewer.get("MinimumProtocolVersion"),
        "origins": [
            {"domain_name": host_name(o.get("DomainName"))}
            for o in item.get("Origins", {}).get("Items", [])
        ],
        "enabled": item.get("Enabled"),
        "status": item.get("Status"),
    }
    return origin.resource(
        ResourceType.CDN,
        item["Id"],
        name=name_of(tags, item.get("Comment") or item["Id"]),
        tags=tags,
        attributes=attributes,
    )


def pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `cdn` resources."""
    return normalized(fetch_distributions(client), normalize_distribution, origin)

"""The explicit map: resource type → the AWS services and page functions that collect it.

A type is regional (one scope per region) or global (one scope per account, region
`global`). A type may read several services: `snapshot` is EBS snapshots plus RDS snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from collectors.aws import (
    acm,
    cloudfront,
    dynamodb,
    ebs,
    ec2,
    eks,
    elasticache,
    elb,
    lambda_,
    rds,
    restores,
    route53,
    s3,
    security_groups,
)
from collectors.base import Page
from vigil.core.model import ResourceType

PagesFn = Callable[..., Iterator[Page]]
"""`(client, origin, *also)`: the service's client, then one client per `Part.also` service."""


@dataclass(frozen=True, slots=True)
class Part:
    """One service's share of a resource type: its client name and page function."""

    service: str
    pages: PagesFn
    also: tuple[str, ...] = ()
    """Further services the page function reads (e.g. s3control for S3's account settings)."""


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """How one resource type is collected."""

    type: str
    parts: tuple[Part, ...]
    regional: bool = True


def _restored(
    service: str, pages: PagesFn, backup_type: str, covers: restores.Covers | None = None
) -> Part:
    """A part whose resources also carry AWS Backup's restore evidence (restores.py)."""
    return Part(service, restores.restored(pages, backup_type, covers), also=("backup",))


TYPES: dict[str, TypeSpec] = {
    spec.type: spec
    for spec in (
        TypeSpec(ResourceType.SERVER, (Part("ec2", ec2.pages),)),
        TypeSpec(ResourceType.DISK, (_restored("ec2", ebs.volume_pages, "EBS"),)),
        TypeSpec(
            ResourceType.SNAPSHOT,
            (Part("ec2", ebs.snapshot_pages), Part("rds", rds.snapshot_pages)),
        ),
        TypeSpec(ResourceType.SECURITY_GROUP, (Part("ec2", security_groups.pages),)),
        TypeSpec(ResourceType.CERTIFICATE, (Part("acm", acm.pages),)),
        TypeSpec(ResourceType.DNS_ZONE, (Part("route53", route53.zone_pages),), regional=False),
        TypeSpec(ResourceType.DNS_RECORD, (Part("route53", route53.record_pages),), regional=False),
        TypeSpec(
            ResourceType.DATABASE,
            (
                _restored("rds", rds.instance_pages, "RDS"),
                _restored("rds", rds.cluster_pages, "Aurora", restores.is_aurora),
                _restored("dynamodb", dynamodb.pages, "DynamoDB"),
            ),
        ),
        TypeSpec(
            ResourceType.LOAD_BALANCER,
            (Part("elbv2", elb.v2_pages), Part("elb", elb.classic_pages)),
        ),
        TypeSpec(ResourceType.CACHE, (Part("elasticache", elasticache.pages),)),
        TypeSpec(ResourceType.KUBERNETES_CLUSTER, (Part("eks", eks.pages),)),
        TypeSpec(ResourceType.FUNCTION, (Part("lambda", lambda_.pages),)),
        TypeSpec(ResourceType.CDN, (Part("cloudfront", cloudfront.pages),), regional=False),
        TypeSpec(ResourceType.BUCKET, (Part("s3", s3.pages, also=("s3control",)),), regional=False),
    )
}

"""The links an AWS resource has, read from its normalized attributes (pure).

Targets in the same account and region get their uid directly (an instance, a volume, a
security group); ARNs name their own account and region. A target known only by a DNS name
(a Route 53 alias or CNAME, a CloudFront origin) becomes a `dns_ref`, and an S3 endpoint a
`native_ref` to its bucket: storage resolves them against the inventory (see storage/links.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from collectors.aws.fields import PROVIDER
from collectors.base import Page
from vigil.core.model import (
    LinkKind,
    Resource,
    ResourceType,
    dns_ref,
    make_uid,
    native_ref,
)

_S3_ENDPOINT = re.compile(r"^(?P<bucket>.+?)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com$")
_S3_WEBSITE_ALIAS = re.compile(r"^s3-website[.-][a-z0-9.-]*amazonaws\.com$")
_NAME_VALUED = ("CNAME",)


def with_links(pages: Iterable[Page]) -> Iterator[Page]:
    """Each page with every resource's links added."""
    for page in pages:
        for resource in page:
            add_links(resource)
        yield page


def add_links(resource: Resource) -> None:
    """Add the links `resource`'s attributes name."""
    emit = _BY_TYPE.get(resource.type)
    if emit is not None:
        emit(resource, resource.attributes)


def _uid(resource: Resource, type_: str, native_id: str) -> str:
    return make_uid(PROVIDER, resource.account, resource.region, type_, native_id)


def arn_uid(arn: str, type_: str, native_id: str | None = None) -> str | None:
    """The uid of the `type_` resource an ARN names (native id the ARN unless given)."""
    parts = arn.split(":")
    if len(parts) < 6 or not parts[3] or not parts[4]:
        return None
    return make_uid(PROVIDER, parts[4], parts[3], type_, native_id or arn)


def _protected(resource: Resource, attributes: dict[str, Any]) -> None:
    for group in attributes.get("security_groups") or []:
        resource.link(LinkKind.PROTECTED_BY, _uid(resource, ResourceType.SECURITY_GROUP, group))


def _certificate(arn: str) -> str:
    """An ACM certificate's uid; another kind (IAM server certificates) by reference."""
    if arn.startswith("arn:") and ":acm:" in arn:
        uid = arn_uid(arn, ResourceType.CERTIFICATE)
        if uid:
            return uid
    return native_ref(ResourceType.CERTIFICATE, arn)


def name_target(name: str) -> str:
    """What a DNS name points at: an S3 endpoint's bucket, else whatever answers as the name."""
    clean = name.strip().rstrip(".").lower()
    clean = clean.removeprefix("dualstack.")
    bucket = _S3_ENDPOINT.match(clean)
    if bucket:
        return native_ref(ResourceType.BUCKET, bucket.group("bucket"))
    return dns_ref(clean)


def _server(resource: Resource, attributes: dict[str, Any]) -> None:
    _protected(resource, attributes)


def _disk(resource: Resource, attributes: dict[str, Any]) -> None:
    for instance in attributes.get("attached_to") or []:
        resource.link(LinkKind.ATTACHED_TO, _uid(resource, ResourceType.SERVER, instance))


def _snapshot(resource: Resource, attributes: dict[str, Any]) -> None:
    if attributes.get("source_uid"):
        resource.link(LinkKind.BACKS_UP, attributes["source_uid"])


def _database(resource: Resource, attributes: dict[str, Any]) -> None:
    _protected(resource, attributes)
    source = attributes.get("replica_of")
    if not source:
        return
    if not source.startswith("arn:"):
        resource.link(LinkKind.REPLICA_OF, _uid(resource, ResourceType.DATABASE, source))
        return
    # An instance is known by its identifier, a cluster by its ARN (see rds.py).
    is_instance = source.split(":")[5:6] == ["db"]
    native_id = source.rsplit(":", 1)[-1] if is_instance else None
    uid = arn_uid(source, ResourceType.DATABASE, native_id)
    if uid:
        resource.link(LinkKind.REPLICA_OF, uid)


def _load_balancer(resource: Resource, attributes: dict[str, Any]) -> None:
    _protected(resource, attributes)
    for target in attributes.get("targets") or []:
        target_id = str(target.get("id") or "")
        if target_id.startswith("i-"):  # instance targets; IP and Lambda targets are not servers
            resource.link(LinkKind.TARGETS, _uid(resource, ResourceType.SERVER, target_id))
    for listener in attributes.get("listeners") or []:
        for arn in listener.get("certificates") or []:
            resource.link(LinkKind.SERVES, _certificate(arn))


def _cdn(resource: Resource, attributes: dict[str, Any]) -> None:
    certificate = attributes.get("certificate")
    if certificate and certificate != "default":
        resource.link(LinkKind.SERVES, _certificate(certificate))
    for origin in attributes.get("origins") or []:
        if origin.get("domain_name"):
            resource.link(LinkKind.ORIGIN, name_target(origin["domain_name"]))


def _dns_record(resource: Resource, attributes: dict[str, Any]) -> None:
    alias = attributes.get("alias_target")
    if alias:
        clean = alias.strip().rstrip(".").lower()
        if _S3_WEBSITE_ALIAS.match(clean):  # a website alias names the bucket by the record
            bucket = resource.name.rstrip(".").lower()
            resource.link(LinkKind.ROUTES_TO, native_ref(ResourceType.BUCKET, bucket))
        else:
            resource.link(LinkKind.ROUTES_TO, name_target(clean))
    if attributes.get("record_type") in _NAME_VALUED:
        for value in attributes.get("values") or []:
            resource.link(LinkKind.ROUTES_TO, name_target(value))


_BY_TYPE: dict[str, Callable[[Resource, dict[str, Any]], None]] = {
    ResourceType.SERVER.value: _server,
    ResourceType.DISK.value: _disk,
    ResourceType.SNAPSHOT.value: _snapshot,
    ResourceType.DATABASE.value: _database,
    ResourceType.CACHE.value: _protected,
    ResourceType.LOAD_BALANCER.value: _load_balancer,
    ResourceType.CDN.value: _cdn,
    ResourceType.DNS_RECORD.value: _dns_record,
}

__all__ = ["add_links", "name_target", "with_links"]

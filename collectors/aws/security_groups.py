"""EC2 security groups → `security_group`, rules flattened to one entry per source.

See docs/attributes.md for the permission entry: `protocol` is `tcp`/`udp`/`icmp`/`icmpv6`,
`all` (AWS `-1`) or an IP protocol number; ports are null where the protocol has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.aws.fields import Origin, name_of, normalized, paginate, tag_dict
from collectors.base import Page
from vigil.core.facts import protocol_name
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 1000

_PORTED = frozenset({"tcp", "udp"})
# (key in the permission, key of the source inside each entry, source_kind)
_SOURCES = (
    ("IpRanges", "CidrIp", "ipv4"),
    ("Ipv6Ranges", "CidrIpv6", "ipv6"),
    ("UserIdGroupPairs", "GroupId", "group"),
    ("PrefixListIds", "PrefixListId", "prefix_list"),
)


def fetch_security_groups(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of DescribeSecurityGroups items. I/O only."""
    return paginate(client, "describe_security_groups", "SecurityGroups", page_size or PAGE_SIZE)


def normalize_security_group(item: dict[str, Any], origin: Origin) -> Resource:
    """One DescribeSecurityGroups item → a `security_group` resource."""
    tags = tag_dict(item.get("Tags"))
    group_id = item["GroupId"]
    attributes = {
        "group_id": group_id,
        "group_name": item.get("GroupName"),
        "vpc_id": item.get("VpcId"),
        "description": item.get("Description", ""),
        "owner_id": item.get("OwnerId"),
        "ingress": normalize_permissions(item.get("IpPermissions", [])),
        "egress": normalize_permissions(item.get("IpPermissionsEgress", [])),
    }
    return origin.resource(
        ResourceType.SECURITY_GROUP,
        group_id,
        name=name_of(tags, item.get("GroupName") or group_id),
        tags=tags,
        attributes=attributes,
    )


def normalize_permissions(permissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """AWS IpPermissions → permission entries, one per source (CIDR, group, prefix list)."""
    return [entry for permission in permissions for entry in _entries(permission)]


def _entries(permission: dict[str, Any]) -> Iterator[dict[str, Any]]:
    protocol = protocol_name(str(permission.get("IpProtocol", "-1")))
    from_port, to_port = _ports(protocol, permission)
    for list_key, source_key, kind in _SOURCES:
        for source in permission.get(list_key, []):
            yield {
                "protocol": protocol,
                "from_port": from_port,
                "to_port": to_port,
                "source": source.get(source_key),
                "source_kind": kind,
                "description": source.get("Description", ""),
            }


def _ports(protocol: str, permission: dict[str, Any]) -> tuple[int | None, int | None]:
    """The inclusive port range, or (None, None) where the protocol has no ports.

    AWS ignores ports for protocols other than TCP and UDP (all their traffic is allowed), and
    for ICMP FromPort/ToPort are the type and code, not ports.
    """
    if protocol not in _PORTED:
        return None, None
    from_port = permission.get("FromPort")
    to_port = permission.get("ToPort")
    if from_port is None or from_port < 0:
        return 0, 65535
    return int(from_port), int(to_port if to_port is not None and to_port >= 0 else 65535)


def pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `security_group` resources."""
    return normalized(fetch_security_groups(client), normalize_security_group, origin)

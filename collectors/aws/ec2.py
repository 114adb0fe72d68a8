"""EC2 instances → `server` resources (ec2:DescribeInstances)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.aws.fields import Origin, iso_time, name_of, normalized, paginate, tag_dict
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 1000
"""DescribeInstances MaxResults; counts reservations, not instances."""


def fetch_instances(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of instance dicts, flattened out of their reservations. I/O only."""
    for reservations in paginate(
        client, "describe_instances", "Reservations", page_size or PAGE_SIZE
    ):
        yield [
            instance
            for reservation in reservations
            for instance in reservation.get("Instances", [])
        ]


def normalize_instance(item: dict[str, Any], origin: Origin) -> Resource:
    """One DescribeInstances instance → a `server` resource."""
    tags = tag_dict(item.get("Tags"))
    instance_id = item["InstanceId"]
    placement = item.get("Placement", {})
    attributes = {
        "state": item.get("State", {}).get("Name"),
        "instance_type": item.get("InstanceType"),
        "private_ips": _private_ips(item),
        "public_ips": _public_ips(item),
        "image_id": item.get("ImageId"),
        "launch_time": iso_time(item.get("LaunchTime")),
        "vpc_id": item.get("VpcId"),
        "subnet_id": item.get("SubnetId"),
        "availability_zone": placement.get("AvailabilityZone"),
        "security_groups": [group["GroupId"] for group in item.get("SecurityGroups", [])],
        "volume_ids": [
            mapping["Ebs"]["VolumeId"]
            for mapping in item.get("BlockDeviceMappings", [])
            if "Ebs" in mapping
        ],
        "key_name": item.get("KeyName"),
        "platform": item.get("PlatformDetails") or item.get("Platform"),
        "architecture": item.get("Architecture"),
        "iam_instance_profile": item.get("IamInstanceProfile", {}).get("Arn"),
    }
    return origin.resource(
        ResourceType.SERVER,
        instance_id,
        name=name_of(tags, instance_id),
        tags=tags,
        attributes=attributes,
    )


def _private_ips(item: dict[str, Any]) -> list[str]:
    """Every private IPv4 and IPv6 address over all interfaces, primary first, no repeats."""
    addresses = [item.get("PrivateIpAddress")]
    for interface in item.get("NetworkInterfaces", []):
        private = interface.get("PrivateIpAddresses", [])
        addresses += [entry.get("PrivateIpAddress") for entry in private]
        addresses += [entry.get("Ipv6Address") for entry in interface.get("Ipv6Addresses", [])]
    return _unique(addresses)


def _public_ips(item: dict[str, Any]) -> list[str]:
    """Public IPv4 addresses (incl. Elastic IPs on secondary interfaces)."""
    addresses = [item.get("PublicIpAddress")]
    for interface in item.get("NetworkInterfaces", []):
        addresses.append(interface.get("Association", {}).get("PublicIp"))
    return _unique(addresses)


def _unique(values: list[str | None]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `server` resources."""
    return normalized(fetch_instances(client), normalize_instance, origin)

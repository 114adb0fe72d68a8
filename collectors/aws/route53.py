"""Route 53 hosted zones → `dns_zone`, record sets → `dns_record` (a global service).

A record's native id is `{zone_id}/{name}/{type}/{set_identifier}`, so weighted or latency
records sharing a name and type stay distinct.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from botocore.client import BaseClient

from collectors.aws.fields import (
    Origin,
    name_of,
    normalize_page,
    normalized,
    paginate,
    tag_dict,
)
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

ZONE_PAGE_SIZE = 100
RECORD_PAGE_SIZE = 300
"""ListResourceRecordSets MaxItems: 300 is the API's maximum."""
TAG_BATCH = 10
"""ListTagsForResources accepts at most 10 ids per call."""


def zone_id(raw: str) -> str:
    """`/hostedzone/Z123` → `Z123`."""
    return raw.rsplit("/", 1)[-1]


def fetch_zones(
    client: BaseClient, page_size: int | None = None, *, with_tags: bool = True
) -> Iterator[list[dict[str, Any]]]:
    """Pages of hosted zones, each with its `Tags` unless `with_tags` is false. I/O only."""
    for page in paginate(client, "list_hosted_zones", "HostedZones", page_size or ZONE_PAGE_SIZE):
        zones = [dict(zone) for zone in page]
        if with_tags:
            _add_tags(client, zones)
        yield zones


def _add_tags(client: BaseClient, zones: list[dict[str, Any]]) -> None:
    """Set each zone's `Tags` with one ListTagsForResources call per 10 zones."""
    by_id = {zone_id(zone["Id"]): zone for zone in zones}
    ids = list(by_id)
    for start in range(0, len(ids), TAG_BATCH):
        answer = client.list_tags_for_resources(
            ResourceType="hostedzone", ResourceIds=ids[start : start + TAG_BATCH]
        )
        for tag_set in answer.get("ResourceTagSets", []):
            by_id[tag_set["ResourceId"]]["Tags"] = tag_set.get("Tags", [])


def fetch_records(
    client: BaseClient, zone: dict[str, Any], page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of one zone's record sets (MaxItems per page). I/O only."""
    size = page_size or RECORD_PAGE_SIZE
    return paginate(
        client, "list_resource_record_sets", "ResourceRecordSets", size, HostedZoneId=zone["Id"]
    )


def normalize_zone(item: dict[str, Any], origin: Origin) -> Resource:
    """One ListHostedZones item (with `Tags`) → a `dns_zone` resource."""
    tags = tag_dict(item.get("Tags"))
    native_id = zone_id(item["Id"])
    config = item.get("Config", {})
    attributes = {
        "zone_id": native_id,
        "zone_name": item.get("Name"),
        "private": bool(config.get("PrivateZone", False)),
        "record_count": item.get("ResourceRecordSetCount"),
        "comment": config.get("Comment", ""),
    }
    return origin.resource(
        ResourceType.DNS_ZONE,
        native_id,
        name=name_of(tags, item.get("Name") or native_id),
        tags=tags,
        attributes=attributes,
    )


def normalize_record(item: dict[str, Any], zone: dict[str, Any], origin: Origin) -> Resource:
    """One ListResourceRecordSets item of `zone` → a `dns_record` resource."""
    zid = zone_id(zone["Id"])
    name = decode_name(item["Name"])
    set_identifier = item.get("SetIdentifier", "")
    alias = item.get("AliasTarget")
    attributes = {
        "zone_id": zid,
        "zone_name": zone.get("Name"),
        "record_type": item["Type"],
        "ttl": item.get("TTL"),
        "values": [record["Value"] for record in item.get("ResourceRecords", [])],
        "alias_target": alias.get("DNSName") if alias else None,
        "set_identifier": set_identifier or None,
    }
    return origin.resource(
        ResourceType.DNS_RECORD,
        f"{zid}/{name}/{item['Type']}/{set_identifier}",
        name=name,
        tags={},
        attributes=attributes,
    )


def decode_name(name: str) -> str:
    """Route 53 escapes `*` (and other specials) as `\\052`-style octal; undo that."""
    if "\\" not in name:
        return name
    out, index = [], 0
    while index < len(name):
        chunk = name[index + 1 : index + 4]
        if name[index] == "\\" and len(chunk) == 3 and chunk.isdigit():
            out.append(chr(int(chunk, 8)))
            index += 4
        else:
            out.append(name[index])
            index += 1
    return "".join(out)


def zone_pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `dns_zone` resources."""
    return normalized(fetch_zones(client), normalize_zone, origin)


def record_pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `dns_record` resources, zone after zone (records carry no tags)."""
    for zones in fetch_zones(client, with_tags=False):
        for zone in zones:
            for items in fetch_records(client, zone):
                yield normalize_page(
                    items, partial(normalize_record, zone=zone, origin=origin), "normalize_record"
                )

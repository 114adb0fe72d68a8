"""libcloud compute: nodes -> server, volumes -> disk, volume snapshots -> snapshot, security
groups -> security_group. `fetch_*` call the driver; `normalize_*` are pure.

libcloud drivers page internally (DigitalOcean follows `links.pages`, OpenStack `*_links`) and
return whole lists; the pages yielded here are slices of those lists.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from collectors.timestamps import iso_time
from vigil.core.model import Resource, ResourceType, make_uid


@dataclass(frozen=True)
class Origin:
    """Where resources come from: the source, the driver (as provider), account and region."""

    source: str
    provider: str
    account: str
    region: str

    def resource(self, type_: str, native_id: str, name: str, **fields: Any) -> Resource:
        return Resource(
            source=self.source,
            provider=self.provider,
            account=self.account,
            region=self.region,
            type=type_,
            native_id=native_id,
            name=name or native_id,
            **fields,
        )


def fetch_snapshots(driver: Any) -> Iterator[tuple[Any, str | None]]:
    """(snapshot, volume id): one call when the driver lists all, else per volume.

    vSphere's `ex_list_snapshots(node)` lists one VM's snapshots, not volume snapshots.
    """
    list_all = getattr(driver, "ex_list_snapshots", None)
    if callable(list_all) and _takes_no_arguments(list_all):
        for snapshot in list_all():
            extra = snapshot.extra or {}
            yield snapshot, extra.get("volume_id") or extra.get("resource_id")
        return
    for volume in driver.list_volumes():
        for snapshot in driver.list_volume_snapshots(volume):
            yield snapshot, str(volume.id)


def _takes_no_arguments(function: Any) -> bool:
    parameters = inspect.signature(function).parameters.values()
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters
    )


def fetch_security_groups(driver: Any) -> Iterator[Any]:
    """Security groups, with each rule's direction.

    OpenStack (neutron): libcloud's rule parser drops `direction` and `ethertype`, which would
    turn the default allow-all *egress* rules into ingress from anywhere; so the raw neutron
    JSON is read on the driver's own (guarded) network connection and the two fields put back.
    Other drivers' groups (nova-style, CloudStack) hold ingress rules only.
    """
    network = getattr(driver, "network_connection", None)
    parse = getattr(driver, "_to_security_group", None)
    if network is None or parse is None:
        yield from driver.ex_list_security_groups()
        return
    for raw in network.request("/v2.0/security-groups").object.get("security_groups", []):
        group = parse(raw)
        by_id = {r.get("id"): r for r in raw.get("security_group_rules", [])}
        for rule in group.rules:
            raw_rule = by_id.get(rule.id, {})
            rule.direction = raw_rule.get("direction")
            rule.ethertype = raw_rule.get("ethertype")
        yield group


_STABLE_ID = {"libvirt": "uuid"}
"""Drivers whose `node.id` is not the machine's identity, and the `extra` key that is:
libvirt's id is the domain's runtime number, -1 for every domain that is shut off."""
_NOT_RUNNING = {"libvirt": "stopped"}
"""libcloud's libvirt driver calls shut off, paused and shutting down all "terminated"; a
domain that is gone is not listed at all, so what it means is "not running"."""
_SYNTHETIC_SIZE = {"vsphere"}
"""Drivers whose `node.size` is made up: vSphere's id is an md5 of memory, CPUs and disk."""


def normalize_node(node: Any, origin: Origin) -> Resource:
    """A libcloud `Node` as a `server`."""
    extra = node.extra or {}
    state = str(node.state)
    if state == "terminated":
        state = _NOT_RUNNING.get(origin.provider, state)
    stable = _STABLE_ID.get(origin.provider)
    native_id = str(extra.get(stable) or node.id) if stable else str(node.id)
    synthetic = origin.provider in _SYNTHETIC_SIZE
    attributes = {
        "state": state,
        "instance_type": None if synthetic else _size(node, extra),
        "private_ips": list(node.private_ips or []),
        "public_ips": list(node.public_ips or []),
        "image_id": _image(node, extra),
        "launch_time": _time(getattr(node, "created_at", None)),
        "availability_zone": extra.get("availability_zone") or _region(extra.get("region")),
        "volume_ids": _volume_ids(extra),
    }
    return origin.resource(
        ResourceType.SERVER, native_id, node.name, tags=_tags(extra), attributes=attributes
    )


def normalize_volume(volume: Any, origin: Origin) -> Resource:
    """A libcloud `StorageVolume` as a `disk`."""
    extra = volume.extra or {}
    attributes = {
        "size_gb": volume.size,
        "state": str(volume.state) if volume.state is not None else extra.get("state"),
        "volume_type": extra.get("volume_type"),
        "encrypted": extra.get("encrypted"),
        "created_at": _time(extra.get("created_at")),
        "availability_zone": extra.get("location") or extra.get("region_slug"),
        "attached_to": _attached_to(extra),
    }
    return origin.resource(
        ResourceType.DISK, str(volume.id), volume.name, tags=_tags(extra), attributes=attributes
    )


def normalize_snapshot(snapshot: Any, volume_id: str | None, origin: Origin) -> Resource:
    """A libcloud `VolumeSnapshot` as a `snapshot` of its volume (`source_uid`)."""
    extra = snapshot.extra or {}
    source_uid = None
    if volume_id:
        source_uid = make_uid(
            origin.provider, origin.account, origin.region, ResourceType.DISK, volume_id
        )
    attributes = {
        "source_uid": source_uid,
        "source_native_id": volume_id,
        "kind": "volume",
        "started_at": _time(snapshot.created or extra.get("created_at")),
        "state": str(snapshot.state) if snapshot.state is not None else extra.get("status"),
        "size_gb": snapshot.size,
    }
    name = snapshot.name or extra.get("name") or ""
    return origin.resource(ResourceType.SNAPSHOT, str(snapshot.id), name, attributes=attributes)


def normalize_security_group(group: Any, origin: Origin) -> Resource:
    """A driver security group (OpenStack, CloudStack style) with normalized permissions."""
    if isinstance(group, str):  # EC2 via libcloud lists names only: rules unknown
        return origin.resource(ResourceType.SECURITY_GROUP, group, group, attributes={})
    if isinstance(group, dict):  # CloudStack and Exoscale return the API's own mappings
        return _cloudstack_group(group, origin)
    rules = list(getattr(group, "rules", None) or [])
    attributes = {
        "group_id": str(group.id),
        "description": getattr(group, "description", None),
        "ingress": [_permission(r) for r in rules if _direction(r) == "ingress"],
        "egress": [_permission(r) for r in rules if _direction(r) == "egress"],
    }
    return origin.resource(
        ResourceType.SECURITY_GROUP, str(group.id), group.name, attributes=attributes
    )


def _cloudstack_group(group: dict[str, Any], origin: Origin) -> Resource:
    def entries(key: str) -> list[dict[str, Any]]:
        return [
            {
                "protocol": str(r.get("protocol") or "all").lower(),
                "from_port": r.get("startport"),
                "to_port": r.get("endport"),
                "source": r.get("cidr") or r.get("securitygroupname"),
                "source_kind": "group" if r.get("securitygroupname") else _kind(r.get("cidr")),
                "description": None,
            }
            for r in group.get(key) or []
        ]

    attributes = {
        "group_id": str(group.get("id")),
        "description": group.get("description"),
        "ingress": entries("ingressrule"),
        "egress": entries("egressrule"),
    }
    native_id = str(group.get("id"))
    name = str(group.get("name") or native_id)
    return origin.resource(ResourceType.SECURITY_GROUP, native_id, name, attributes=attributes)


def _kind(cidr: Any) -> str:
    return "ipv6" if cidr and ":" in str(cidr) else "ipv4"


def _permission(rule: Any) -> dict[str, Any]:
    """One rule as a docs/attributes.md permission entry."""
    protocol = str(rule.ip_protocol).lower() if rule.ip_protocol not in (None, "", "any") else "all"
    ip_range, group = getattr(rule, "ip_range", None), getattr(rule, "group", None)
    if ip_range:
        source, kind = ip_range, "ipv6" if ":" in ip_range else "ipv4"
    elif group:
        source, kind = str(group), "group"
    elif getattr(rule, "ethertype", None) == "IPv6":  # neutron: no prefix, no group = anywhere
        source, kind = "::/0", "ipv6"
    else:
        source, kind = "0.0.0.0/0", "ipv4"
    ports = protocol in ("tcp", "udp")
    return {
        "protocol": protocol,
        "from_port": rule.from_port if ports and rule.from_port is not None else None,
        "to_port": rule.to_port if ports and rule.to_port is not None else None,
        "source": source,
        "source_kind": kind,
        "description": None,
    }


def _direction(rule: Any) -> str:
    return str(getattr(rule, "direction", None) or "ingress")


def _size(node: Any, extra: dict[str, Any]) -> str | None:
    size = getattr(node, "size", None)
    if size is not None:
        return str(size.id)
    return extra.get("size_slug") or extra.get("flavorId")


def _image(node: Any, extra: dict[str, Any]) -> str | None:
    image = getattr(node, "image", None)
    if image is not None:
        return str(image.id)
    raw = extra.get("imageId") or extra.get("image")
    return str(raw.get("id")) if isinstance(raw, dict) else raw


def _region(value: Any) -> str | None:
    return value.get("slug") if isinstance(value, dict) else value


def _volume_ids(extra: dict[str, Any]) -> list[str]:
    attached = extra.get("volumes_attached") or []
    ids = [str(v["id"]) for v in attached if isinstance(v, dict) and "id" in v]
    return ids or [str(v) for v in extra.get("volume_ids") or []]


def _attached_to(extra: dict[str, Any]) -> list[str]:
    attachments = extra.get("attachments") or []
    servers = [str(a["server_id"]) for a in attachments if isinstance(a, dict) and "server_id" in a]
    return servers or [str(d) for d in extra.get("droplet_ids") or []]


def _tags(extra: dict[str, Any]) -> dict[str, str]:
    """DigitalOcean tags (a list) or OpenStack metadata (a mapping) as string tags."""
    tags = extra.get("tags")
    if isinstance(tags, list):
        return {str(t): "" for t in tags}
    metadata = tags if isinstance(tags, dict) else extra.get("metadata")
    if isinstance(metadata, dict):
        return {str(k): str(v) for k, v in metadata.items()}
    return {}


def _time(value: Any) -> str | None:
    """ISO 8601 UTC with Z, like every collector (OpenStack's own strings have no zone and
    microseconds); a value that is not a time is unknown rather than a failed scope."""
    try:
        return iso_time(value)
    except (TypeError, ValueError):
        return None

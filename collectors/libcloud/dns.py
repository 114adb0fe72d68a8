"""libcloud DNS: zones -> dns_zone, records -> dns_record. `fetch_*` call the driver;
`normalize_*` are pure. Record keys follow docs/attributes.md (dns_record).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.libcloud.compute import Origin
from vigil.core.model import Resource, ResourceType


def fetch_records(driver: Any) -> Iterator[tuple[Any, Any]]:
    """(zone, record) for every record of every zone."""
    for zone in driver.list_zones():
        for record in driver.list_records(zone):
            yield zone, record


def normalize_zone(zone: Any, origin: Origin) -> Resource:
    extra = zone.extra or {}
    attributes = {
        "zone_id": str(zone.id),
        "private": bool(extra.get("private", False)),
        "ttl": zone.ttl,
        "zone_type": zone.type,
    }
    return origin.resource(ResourceType.DNS_ZONE, str(zone.id), zone.domain, attributes=attributes)


def record_fqdn(name: str | None, domain: str) -> str:
    """A record's full name: `@`/empty is the apex, a relative name is joined to the zone."""
    domain = domain.rstrip(".").lower()
    if not name or name == "@":
        return domain
    name = name.rstrip(".").lower()
    return name if name == domain or name.endswith(f".{domain}") else f"{name}.{domain}"


def normalize_record(zone: Any, record: Any, origin: Origin) -> Resource:
    fqdn = record_fqdn(record.name, zone.domain)
    record_type = str(record.type)
    value = str(record.data) if record.data is not None else ""
    if record_type in ("CNAME", "MX", "NS", "SRV") and value and not value.endswith("."):
        value = record_fqdn(value, zone.domain) if "." not in value else value
    attributes = {
        "zone_id": str(zone.id),
        "zone_name": zone.domain.rstrip("."),
        "record_type": record_type,
        "ttl": record.ttl,
        "values": [value] if value else [],
        "alias_target": None,
        "set_identifier": None,
    }
    native_id = f"{zone.id}/{fqdn}/{record_type}/{record.id}"
    return origin.resource(ResourceType.DNS_RECORD, native_id, fqdn, attributes=attributes)

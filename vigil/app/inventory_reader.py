"""What collectors may read of the inventory, served from storage.

Collectors know nothing of storage. A source that derives its targets from the inventory
(probes, hosts) declares `uses_inventory = True` and receives this reader from the pipeline.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from storage import inventory
from storage.db import Database
from vigil.core.model import ResourceType

_NAMED_RECORDS = ("A", "AAAA", "CNAME")


class StorageInventory:
    """Read-only views of the current inventory for collectors."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def public_hosts(self) -> Iterable[str]:
        """Names of public DNS records and public addresses of servers, deduplicated."""
        seen: set[str] = set()
        for host in self._public_hosts():
            if host not in seen:
                seen.add(host)
                yield host

    def dns_names(self) -> Iterable[str]:
        """Every A/AAAA/CNAME record name of the DNS inventory."""
        for record in self._of(ResourceType.DNS_RECORD):
            if record.attributes.get("record_type") in _NAMED_RECORDS:
                yield record.name.rstrip(".")

    def last_known(self, uids: Collection[str]) -> Mapping[str, Mapping[str, Any]]:
        """uid -> attributes of the present resources among `uids`."""
        return {r.uid: r.attributes for r in inventory.resources_by_uid(self.db, uids)}

    def servers(self) -> Iterable[tuple[str, str, list[str], list[str]]]:
        """(uid, name, private addresses, public addresses) of every present server."""
        for server in self._of(ResourceType.SERVER):
            attributes = server.attributes
            yield (
                server.uid,
                server.name,
                list(attributes.get("private_ips") or []),
                list(attributes.get("public_ips") or []),
            )

    def host_accounts(self, source: str) -> set[str]:
        """The accounts (for host sources: host names) that still have present resources."""
        found = inventory.inventory(self.db, inventory.InventoryFilter(sources=(source,)))
        return {resource.account for resource in found}

    def _public_hosts(self) -> Iterator[str]:
        private_zones = {
            zone.attributes.get("zone_id")
            for zone in self._of(ResourceType.DNS_ZONE)
            if zone.attributes.get("private")
        }
        for record in self._of(ResourceType.DNS_RECORD):
            attributes = record.attributes
            if attributes.get("zone_id") in private_zones:
                continue
            if attributes.get("record_type") in _NAMED_RECORDS:
                yield record.name.rstrip(".")
        for _, _, _, public in self.servers():
            yield from (address for address in public if _is_public(address))

    def _of(self, type_: ResourceType) -> Iterator[Any]:
        return inventory.inventory(self.db, inventory.InventoryFilter(types=(type_.value,)))


def _is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False

"""`dns.dangling`: DNS records pointing at an address or name nobody in the inventory owns.

A dangling record is a subdomain-takeover risk: whoever next gets the address or the name
gets your traffic. To stay precise, a record is only judged where the inventory can know
the answer:

- **A / AAAA values**: a *public* address is dangling when no present resource holds it
  (`public_ips`, `private_ips`, ...) and it is not inside `owned_ranges`. Private and other
  non-global addresses are not judged: nobody outside can claim them. Nothing is judged
  until at least one `server` scope has completed (no servers known ≠ no servers).
- **CNAME values and alias targets**: a name is dangling when it is not a name the
  inventory knows (records, zones, load balancer / database / server DNS names) and it lies
  either inside a zone of the inventory or under one of `managed_suffixes` (the provider
  domains of resource types Vigil collects, e.g. `elb.amazonaws.com`), and that type has a
  completed scope. Names under `external_domains` are never dangling. Names elsewhere
  (a SaaS provider, a CDN) are not judged unless `judge_unknown_domains: true`.
- Records in private zones follow the same rules; their private addresses are skipped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from pydantic import Field, field_validator

from rules.base import finding
from rules.view import InventoryView, canonical_address
from vigil.core.facts import dns_name
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import StrictModel

DEFAULT_MANAGED_SUFFIXES = {
    "elb.amazonaws.com": ResourceType.LOAD_BALANCER.value,
    "rds.amazonaws.com": ResourceType.DATABASE.value,
    "compute.amazonaws.com": ResourceType.SERVER.value,
    "compute.internal": ResourceType.SERVER.value,
}
_ADDRESS_TYPES = ("A", "AAAA")


class DanglingParams(StrictModel):
    """`rules.params.dns.dangling`.

    ```yaml
    dns.dangling:
      owned_ranges: [203.0.113.0/24]      # addresses you own outside the inventory (EIPs, colo)
      external_domains: [github.io]       # CNAME targets you trust as they are
    ```
    """

    owned_ranges: list[str] = Field(default_factory=list)
    external_domains: list[str] = Field(default_factory=list)
    managed_suffixes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_MANAGED_SUFFIXES),
        description="DNS suffix → the resource type whose names live under it.",
    )
    judge_unknown_domains: bool = False

    @field_validator("owned_ranges")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not a CIDR range such as 203.0.113.0/24") from None
        return values


def under(name: str, suffix: str) -> bool:
    """`a.b.example.com` is under `example.com` (and so is `example.com` itself)."""
    return name == suffix or name.endswith("." + suffix)


class DanglingRecord:
    """A/AAAA, CNAME and alias records whose target no longer exists in the inventory."""

    id = "dns.dangling"
    title = "Dangling DNS record"
    severity = Severity.HIGH
    resource_types = (ResourceType.DNS_RECORD.value,)
    params_model = DanglingParams
    remediation = (
        "Delete the record, or point it at a resource you own. If the target is yours but "
        "outside the inventory, add it to owned_ranges or external_domains."
    )
    compliance = {"soc2": ("CC6.1",), "iso27001": ("A.8.9",)}

    def evaluate(self, view: InventoryView, params: DanglingParams) -> Iterator[Finding]:
        judge = _Judge(view, params)
        for record in view.of_type(*self.resource_types):
            dangling = judge.record(record)
            if not dangling:
                continue
            record_type = str(record.attributes.get("record_type", ""))
            targets = ", ".join(dangling)
            yield finding(
                self,
                record,
                f"DNS record {dns_name(record.name)} {record_type} points at {targets}, "
                "which nothing in the inventory owns",
                f"{len(dangling)} target(s) of {record.native_id} are not held by any present "
                "resource, owned range or allowed domain.",
                evidence={"targets": dangling, "record_type": record_type},
            )


class _Judge:
    """The per-check state of `dns.dangling`: parsed params and which targets to judge."""

    def __init__(self, view: InventoryView, params: DanglingParams) -> None:
        self.view = view
        self.params = params
        self.ranges = [ipaddress.ip_network(r, strict=False) for r in params.owned_ranges]
        self.external = [dns_name(d) for d in params.external_domains]
        self.judge_addresses = ResourceType.SERVER.value in view.collected_types
        self.suffixes = {
            dns_name(suffix): type_ for suffix, type_ in params.managed_suffixes.items()
        }

    def record(self, record: Resource) -> list[str]:
        attributes = record.attributes
        record_type = str(attributes.get("record_type", "")).upper()
        alias = attributes.get("alias_target")
        if alias:
            return [alias] if self.name_dangles(str(alias)) else []
        values: list[Any] = attributes.get("values") or []
        if record_type in _ADDRESS_TYPES:
            return [str(v) for v in values if self.address_dangles(v)]
        if record_type == "CNAME":
            return [str(v) for v in values if self.name_dangles(str(v))]
        return []

    def address_dangles(self, value: Any) -> bool:
        if not self.judge_addresses:
            return False
        address = canonical_address(value)
        if address is None:
            return False
        parsed = ipaddress.ip_address(address)
        if not parsed.is_global:
            return False
        if address in self.view.owned_addresses:
            return False
        return not any(parsed in network for network in self.ranges)

    def _wildcard_known(self, name: str) -> bool:
        """Whether a wildcard record (`*.example.com`) answers for the name."""
        parts = name.split(".")
        known = self.view.known_names
        return any("*." + ".".join(parts[i:]) in known for i in range(1, len(parts)))

    def name_dangles(self, value: str) -> bool:
        name = dns_name(value)
        if not name or name in self.view.known_names or self._wildcard_known(name):
            return False
        if any(under(name, domain) for domain in self.external):
            return False
        if any(under(name, zone) for zone in self.view.zone_names):
            return True
        for suffix, type_ in self.suffixes.items():
            if under(name, suffix):
                return type_ in self.view.collected_types
        return self.params.judge_unknown_domains

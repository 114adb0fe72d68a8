"""`dns.dangling`: DNS records an attacker could take over (DESIGN.md's definition).

A record dangles when whoever next gets its target gets its traffic. Judged as attackers see it:

- **Does not resolve.** A CNAME or alias whose target does not exist: the DNS probe asked the
  resolvers and got NXDOMAIN at the end of the chain. Only NXDOMAIN: a name without address
  records exists (nobody can register it), and a timeout or SERVFAIL is unknown. A target
  inside one of the inventory's zones (not delegated by an NS record) that no record holds
  does not resolve either: the zone's records are the authority, once they are known.
- **Nothing owns it, but it was ours.** A cloud name (under `managed_suffixes`: ELB, RDS,
  CloudFront, Elastic Beanstalk, Azure web apps, Heroku...) or a public A/AAAA address that
  still resolves but that no present resource holds is dangling only when history shows a
  resource of ours held it (deleted resources included), or the address lies in `owned_ranges`
  (your Elastic IP pool). Otherwise it is not judged: another team's live load balancer, a SaaS
  provider's address or a CDN is not ours to flag.

"Nothing owns it" is known only when every configured scope of the owning types is known
(DESIGN.md, Invariants): until then, and while the probe of the record's name did not answer
or its scope is unknown, the record is undecided and a stored finding keeps its status.
Private and other non-global addresses are never judged: nobody outside can claim them. Names
under `external_domains` are never dangling; names that are neither cloud names nor known are
judged (by history) only with `judge_unknown_domains: true`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator

from rules.base import finding
from rules.compliance import Controls
from rules.view import PROBE_PROVIDER, InventoryView, canonical_address
from vigil.core.facts import dns_name
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import StrictModel

LOAD_BALANCER, DATABASE, SERVER, CDN, BUCKET = (
    ResourceType.LOAD_BALANCER.value,
    ResourceType.DATABASE.value,
    ResourceType.SERVER.value,
    ResourceType.CDN.value,
    ResourceType.BUCKET.value,
)
S3_ENDPOINT = re.compile(r"\.s3(?:[.-]website)?(?:[.-][a-z0-9-]+)?\.amazonaws\.com$")
"""A bucket's REST or website endpoint (`b.s3.amazonaws.com`, `b.s3-website-eu-west-1...`)."""
DEFAULT_MANAGED_SUFFIXES = {
    "elb.amazonaws.com": LOAD_BALANCER,
    "rds.amazonaws.com": DATABASE,
    "compute.amazonaws.com": SERVER,
    "compute.internal": SERVER,
    "cloudfront.net": CDN,
    # Cloud names of services Vigil does not collect: nothing in the inventory can own them,
    # so only history (an attribute of ours that held the name) or NXDOMAIN judges them.
    "elasticbeanstalk.com": "",
    "azurewebsites.net": "",
    "cloudapp.azure.com": "",
    "cloudapp.net": "",
    "trafficmanager.net": "",
    "herokuapp.com": "",
    "herokudns.com": "",
}
ADDRESS_OWNERS = (SERVER,)
"""The types whose resources hold addresses (`public_ips`, ...): docs/attributes.md."""
NAME_OWNERS = (LOAD_BALANCER, DATABASE, SERVER, CDN, BUCKET)
_ADDRESS_TYPES = ("A", "AAAA")
NXDOMAIN_REASON = "does not exist (NXDOMAIN)"
HELD_REASON = "held before by a resource of ours, by none now"


class DanglingParams(StrictModel):
    """`rules.params.dns.dangling`.

    ```yaml
    dns.dangling:
      owned_ranges: [203.0.113.0/24]      # your address pool: an unheld address in it dangles
      external_domains: [github.io]       # CNAME targets you trust as they are
    ```
    """

    owned_ranges: list[str] = Field(
        default_factory=list,
        description="Ranges that are yours (an Elastic IP pool): a record pointing at an "
        "address in them that no present resource holds is dangling.",
    )
    external_domains: list[str] = Field(default_factory=list)
    managed_suffixes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_MANAGED_SUFFIXES),
        description="Cloud DNS suffix → the resource type whose names live under it ('' when "
        "Vigil collects no such type).",
    )
    judge_unknown_domains: bool = Field(
        default=False,
        description="Also judge names that are neither cloud names nor external, by history.",
    )

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


@dataclass
class Verdict:
    """What one record's targets are: dangling ones (with why), and whether any is unknown."""

    dangling: dict[str, str] = field(default_factory=dict)
    unknown: bool = False
    ask_history: dict[str, str] = field(default_factory=dict)
    """Target text → the value (canonical address or DNS name) history must have held."""


class DanglingRecord:
    """CNAME and alias records whose target does not resolve, and records pointing at a cloud
    name or an address of ours that nothing holds any more."""

    id = "dns.dangling"
    title = "Dangling DNS record"
    severity = Severity.HIGH
    resource_types = (ResourceType.DNS_RECORD.value,)
    params_model = DanglingParams
    remediation = (
        "Delete the record, or point it at a resource you own: until then whoever claims the "
        "target (the name, the address) receives its traffic."
    )
    compliance: Controls = {"soc2-2017": ("CC6.1",), "iso27001-2022": ("A.8.9",)}

    def evaluate(self, view: InventoryView, params: DanglingParams) -> Iterator[Finding]:
        judge = _Judge(view, params)
        verdicts = [(r, judge.record(r)) for r in view.of_type(*self.resource_types)]
        # One history lookup for the whole check, for the targets only history can decide.
        held = view.held_before(
            {v for _, verdict in verdicts for v in verdict.ask_history.values()}
        )
        for record, verdict in verdicts:
            for target, value in verdict.ask_history.items():
                if value in held:
                    verdict.dangling[target] = HELD_REASON
            if verdict.dangling:
                yield _finding(self, record, verdict.dangling)
            elif verdict.unknown:
                view.undecided(self.id, record.uid)


def _finding(rule: DanglingRecord, record: Resource, dangling: dict[str, str]) -> Finding:
    record_type = str(record.attributes.get("record_type", ""))
    targets = ", ".join(dangling)
    reasons = set(dangling.values())
    why = (
        f"which {reasons.pop()}"
        if len(reasons) == 1
        else "which nothing in the inventory owns or resolves"
    )
    return finding(
        rule,
        record,
        f"DNS record {dns_name(record.name)} {record_type} points at {targets}, {why}",
        "; ".join(f"{target}: {reason}" for target, reason in dangling.items())
        + ". Whoever claims it receives this record's traffic.",
        evidence={"targets": list(dangling), "reasons": dangling, "record_type": record_type},
    )


class _Judge:
    """The per-check state of `dns.dangling`: parsed params and which targets to judge."""

    def __init__(self, view: InventoryView, params: DanglingParams) -> None:
        self.view = view
        self.params = params
        self.ranges = [ipaddress.ip_network(r, strict=False) for r in params.owned_ranges]
        self.external = [dns_name(d) for d in params.external_domains]
        self.suffixes = {
            dns_name(suffix): type_ for suffix, type_ in params.managed_suffixes.items()
        }
        self.addresses_known = view.owners_known(*ADDRESS_OWNERS)
        records = [r for r in view.of_type(ResourceType.DNS_RECORD) if r.provider != PROBE_PROVIDER]
        self.inventory_names = frozenset(dns_name(r.name) for r in records)
        self.delegations = frozenset(
            dns_name(r.name)
            for r in records
            if str(r.attributes.get("record_type", "")).upper() == "NS"
            and dns_name(r.name) not in view.zone_names
        )

    def record(self, record: Resource) -> Verdict:
        verdict = Verdict()
        attributes = record.attributes
        record_type = str(attributes.get("record_type", "")).upper()
        alias = attributes.get("alias_target")
        values: list[Any] = [alias] if alias else list(attributes.get("values") or [])
        if alias or record_type == "CNAME":
            self._nxdomain(record, verdict)
            if verdict.dangling:
                return verdict
            for value in values:
                self._name(str(value), verdict)
        elif record_type in _ADDRESS_TYPES:
            for value in values:
                self._address(value, verdict)
        return verdict

    def _nxdomain(self, record: Resource, verdict: Verdict) -> None:
        """The probe's answer for the record's name: its chain ends in a name that does not
        exist. A probe record whose name the inventory holds leaves it to that record."""
        name = dns_name(record.name if record.provider != PROBE_PROVIDER else record.native_id)
        if record.provider == PROBE_PROVIDER:
            if name in self.inventory_names:
                return
            answer: Resource | None = record
        else:
            answer = self.view.probe_answers.get(name)
        if answer is None:
            return
        attributes = answer.attributes
        if attributes.get("reachable") is False or not self.view.known_beside(
            answer, ResourceType.DNS_RECORD.value
        ):
            verdict.unknown = True  # the resolvers did not answer this time: unknown
            return
        chain = attributes.get("cname_chain") or []
        if attributes.get("nxdomain") is True and chain:
            verdict.dangling[str(chain[-1])] = NXDOMAIN_REASON

    def _address(self, value: Any, verdict: Verdict) -> None:
        address = canonical_address(value)
        if address is None or address in self.view.owned_addresses:
            return
        parsed = ipaddress.ip_address(address)
        if not parsed.is_global:
            return
        if not self.addresses_known:
            verdict.unknown = True
            return
        covering = next((net for net in self.ranges if parsed in net), None)
        if covering is not None:
            verdict.dangling[str(value)] = f"lies in owned range {covering}, held by nothing now"
        else:
            verdict.ask_history[str(value)] = address

    def _name(self, value: str, verdict: Verdict) -> None:
        name = dns_name(value)
        if not name or name in self.view.known_names or self._wildcard_known(name):
            return
        if any(under(name, domain) for domain in self.external):
            return
        zone = self._zone_of(name)
        if zone is not None:
            self._in_zone(value, name, zone, verdict)
            return
        owners = self._owners_of(name)
        if owners is None:
            return  # not a cloud name: nobody claims it from a pool, not judged
        if owners and not self.view.owners_known(*owners):
            verdict.unknown = True
            return
        verdict.ask_history[value] = name

    def _zone_of(self, name: str) -> str | None:
        """The inventory zone that answers for `name` (the longest), unless delegated away."""
        zones = [z for z in self.view.zone_names if under(name, z)]
        if not zones or any(under(name, d) for d in self.delegations):
            return None
        return max(zones, key=len)

    def _in_zone(self, value: str, name: str, zone: str, verdict: Verdict) -> None:
        """A name in a zone of ours that no record holds does not resolve: the zone's records
        are the authority, so this is NXDOMAIN without asking, once those records are known."""
        if not self.view.owners_known(ResourceType.DNS_RECORD.value):
            verdict.unknown = True
            return
        verdict.dangling[value] = f"does not exist in zone {zone} (NXDOMAIN)"

    def _owners_of(self, name: str) -> tuple[str, ...] | None:
        """The types that could own `name` (empty: none Vigil collects); None: not judged."""
        if S3_ENDPOINT.search(name):
            return (BUCKET,)
        for suffix, type_ in self.suffixes.items():
            if under(name, suffix):
                return (type_,) if type_ else ()
        return NAME_OWNERS if self.params.judge_unknown_domains else None

    def _wildcard_known(self, name: str) -> bool:
        """Whether a wildcard record (`*.example.com`) answers for the name."""
        parts = name.split(".")
        known = self.view.known_names
        return any("*." + ".".join(parts[i:]) in known for i in range(1, len(parts)))

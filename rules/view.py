"""`InventoryView`: the inventory of one check, read once and shared by every rule.

`vigil/app/check.py` streams the present resources out of storage once and hands them here with
the scope statuses, a loader for recent change events and one for past states (what resources
of ours held before: `held_before`). Rules then iterate resources by
type and use the indexes below, each built on first use and shared: collect once, evaluate
many. Everything here is read-only.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from vigil.core.errors import denied_action
from vigil.core.facts import STALE_AFTER_INTERVALS, USABLE_SNAPSHOT_STATES, dns_name
from vigil.core.model import Link, Resource, ResourceType, RunStatus, fingerprint
from vigil.core.timeutil import instant_or_none

COMPLETE = RunStatus.COMPLETE
FAILED = RunStatus.FAILED
PROBE_PROVIDER = "probe"
"""Probe sources observe targets; they own no address or name (DESIGN.md, Probes)."""
FALLBACK_STALENESS = timedelta(hours=1)
"""A scope's data stays current for three collection intervals after its last completion."""

# Attributes that hold DNS names a record may point at (LBs, databases, servers, CDNs).
_NAME_ATTRIBUTES = (
    "dns_name",
    "endpoint",
    "public_dns_name",
    "private_dns_name",
    "hostname",
    "domain_name",  # a CDN distribution's own name (d123.cloudfront.net)
)
_ADDRESS_ATTRIBUTES = ("public_ips", "private_ips", "ip_addresses", "addresses")
_DNS_TYPES = frozenset({ResourceType.DNS_RECORD.value, ResourceType.DNS_ZONE.value})
GLOBAL_REGION = "global"
_LISTED_GLOBALLY = frozenset({ResourceType.BUCKET.value})
"""Types one `global` scope per account lists, whatever region each resource carries."""


@dataclass(frozen=True)
class ScopeState:
    """A scope's newest run and when it last completed (from storage's scope runs)."""

    scope_key: str
    source: str
    provider: str
    account: str
    region: str
    type: str
    status: str
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_complete: datetime | None = None
    failures_total: int = 0

    @property
    def not_permitted(self) -> str | None:
        """The IAM action a scope that never completed was denied (its `not permitted` status).

        An old role after an upgrade adds a type: the scope has failed on a permission denial
        every time. A scope that completed before and is denied now is failing, not this.
        """
        if self.status != FAILED or self.last_complete is not None:
            return None
        return denied_action(self.error)


@dataclass(frozen=True)
class Change:
    """A recorded change to one resource: attribute path → {old, new}, at a time."""

    uid: str
    changes: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class PastState:
    """A recorded state of a resource (a change event: created, changed, deleted, retired)."""

    provider: str
    type: str
    attributes: Mapping[str, Any]


ChangeLoader = Callable[[datetime], Iterable[Change]]
HistoryLoader = Callable[[Collection[str]], Iterable[PastState]]
"""Given values (addresses, DNS names), the recorded past states that mention any of them."""
LinkLoader = Callable[[Collection[str]], Iterable[Link]]
"""Given link kinds, the present links of those kinds (`to_uid` a uid, or the reference the
collector emitted while nothing in the inventory answers to it)."""


@dataclass
class InventoryView:
    """The present resources of one check, grouped by type, with shared indexes."""

    now: datetime
    scopes: list[ScopeState] = field(default_factory=list)
    change_loader: ChangeLoader | None = None
    history_loader: HistoryLoader | None = None
    collect_every: timedelta | None = None
    sources: frozenset[str] | None = None
    """The configured source names, when known: scopes of other sources are ignored."""
    staleness: timedelta | None = None
    """`collector.failing`'s `staleness` param when set: one window for both questions."""
    link_loader: LinkLoader | None = None
    """The stored links; without it, the links the resources themselves carry (as emitted)."""
    _by_type: dict[str, list[Resource]] = field(default_factory=dict, repr=False)
    unjudged: set[str] = field(default_factory=set, repr=False)
    """Fingerprints (rule + resource) a rule could not judge: their inputs were unknown."""
    _links: dict[str, dict[str, list[str]]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, resources: Iterable[Resource], **options: Any) -> InventoryView:
        """Group a stream of resources by type in one pass."""
        view = cls(**options)
        by_type: dict[str, list[Resource]] = defaultdict(list)
        for resource in resources:
            by_type[resource.type].append(resource)
        view._by_type = dict(by_type)
        return view

    def of_type(self, *types: str) -> Iterator[Resource]:
        """Present resources of the given types."""
        for type_ in types:
            yield from self._by_type.get(type_, ())

    def count(self, *types: str) -> int:
        if not types:
            return sum(len(items) for items in self._by_type.values())
        return sum(len(self._by_type.get(t, ())) for t in types)

    def types(self) -> list[str]:
        return sorted(self._by_type)

    @cached_property
    def by_uid(self) -> dict[str, Resource]:
        return {r.uid: r for items in self._by_type.values() for r in items}

    # -- scopes -------------------------------------------------------------------------

    @cached_property
    def complete_scopes(self) -> frozenset[str]:
        """Scope keys whose newest finished run completed: what they show is current."""
        return frozenset(s.scope_key for s in self.scopes if s.status == COMPLETE)

    @cached_property
    def collected_types(self) -> frozenset[str]:
        """Types of which at least one scope's newest run completed.

        A rule that infers absence ("no such resource") only judges types in this set: a
        type never collected, or whose every scope is failing, is unknown, not empty.
        """
        return frozenset(s.type for s in self.scopes if s.status == COMPLETE)

    def collected_regions(self, type_: str) -> frozenset[str]:
        return frozenset(s.region for s in self.scopes if s.status == COMPLETE and s.type == type_)

    # -- known inputs (DESIGN.md, Invariants: unknown is not empty) ------------------------

    @property
    def staleness_window(self) -> timedelta:
        """How long a completed scope's data counts as current: the configured staleness, else
        three collection intervals. `collector.failing` calls a scope stale past the same window.
        """
        if self.staleness is not None:
            return self.staleness
        if self.collect_every is None:
            return FALLBACK_STALENESS
        return STALE_AFTER_INTERVALS * self.collect_every

    @cached_property
    def configured_scopes(self) -> list[ScopeState]:
        """Scopes of the configured sources (all scopes when the sources are not known)."""
        if self.sources is None:
            return list(self.scopes)
        return [s for s in self.scopes if s.source in self.sources]

    def scope_known(self, scope: ScopeState) -> bool:
        """Its newest finished run completed, or its newest completed run is recent enough."""
        if scope.status == COMPLETE:
            return True
        return (
            scope.last_complete is not None
            and self.now - scope.last_complete <= self.staleness_window
        )

    @cached_property
    def _known_inputs(self) -> frozenset[tuple[str, str, str, str]]:
        return frozenset(
            (s.source, s.account, s.region, s.type)
            for s in self.configured_scopes
            if self.scope_known(s)
        )

    def input_known(self, type_: str, *, source: str, account: str, region: str) -> bool:
        """Whether the scope (source, account, region, type) is known: what it saw is current.

        A scope that never ran, whose newest run failed and whose last completion is older than
        the staleness window, or that belongs to a source no longer configured, is unknown.
        """
        return (source, account, region, type_) in self._known_inputs

    def known_beside(self, resource: Resource, type_: str) -> bool:
        """Whether `type_` is known where `resource` lives (same source, account and region)."""
        return self.input_known(
            type_, source=resource.source, account=resource.account, region=resource.region
        )

    def observed(self, resource: Resource) -> bool:
        """Whether the scope that reported `resource` is known, so its attributes are current
        (a bucket carries its location as region but comes from its account's global scope)."""
        region = GLOBAL_REGION if resource.type in _LISTED_GLOBALLY else resource.region
        return self.input_known(
            resource.type, source=resource.source, account=resource.account, region=region
        )

    def all_known(self, *types: str) -> bool:
        """Whether every configured scope of `types` is known, so "nothing owns it" holds.

        False when no scope of those types has run yet, or when a configured source has not
        recorded any scope at all (it was added and never collected).
        """
        return self._every_known([s for s in self.configured_scopes if s.type in types])

    def owners_known(self, *types: str) -> bool:
        """`all_known` over the scopes that can own something: probe scopes observe, they own
        no address or name, so a failing probe does not make ownership unknown."""
        return self._every_known(
            [s for s in self.configured_scopes if s.type in types and s.provider != PROBE_PROVIDER]
        )

    def _every_known(self, relevant: list[ScopeState]) -> bool:
        if not relevant or not all(self.scope_known(s) for s in relevant):
            return False
        if self.sources is None:
            return True
        return self.sources <= {s.source for s in self.configured_scopes}

    def undecided(self, rule_id: str, resource_uid: str) -> None:
        """Record that `rule_id` could not judge the resource: its finding keeps its status."""
        self.unjudged.add(fingerprint(rule_id, resource_uid))

    # -- backups ------------------------------------------------------------------------

    @cached_property
    def newest_backup(self) -> dict[str, datetime]:
        """source_uid → start time of its newest usable snapshot."""
        newest: dict[str, datetime] = {}
        for snapshot in self.of_type(ResourceType.SNAPSHOT):
            attributes = snapshot.attributes
            source_uid = attributes.get("source_uid")
            if not source_uid:
                continue
            if str(attributes.get("state") or "").lower() not in USABLE_SNAPSHOT_STATES:
                continue
            started = instant_or_none(attributes.get("started_at")) or snapshot.first_seen
            if started is None:
                continue
            if source_uid not in newest or started > newest[source_uid]:
                newest[source_uid] = started
        return newest

    # -- DNS ----------------------------------------------------------------------------

    def _owners(self) -> Iterator[Resource]:
        """Present resources that can hold an address or a name (probes only observe them)."""
        for items in self._by_type.values():
            for resource in items:
                if resource.provider != PROBE_PROVIDER:
                    yield resource

    @cached_property
    def owned_addresses(self) -> frozenset[str]:
        """Every IP address a present resource holds, in canonical text form."""
        return frozenset(a for r in self._owners() for a in held_addresses(r.attributes))

    @cached_property
    def known_names(self) -> frozenset[str]:
        """DNS names the inventory knows: record and zone names, LB/database/server names."""
        names: set[str] = set()
        for resource in self._owners():
            if resource.type in (ResourceType.DNS_RECORD, ResourceType.DNS_ZONE):
                names.add(dns_name(resource.name))
            names.update(held_names(resource.attributes))
        names.discard("")
        return frozenset(names)

    @cached_property
    def zone_names(self) -> frozenset[str]:
        """Names of the DNS zones in the inventory (normalized)."""
        zones = set()
        for zone in self.of_type(ResourceType.DNS_ZONE):
            zones.add(dns_name(zone.attributes.get("zone_name") or zone.name))
        zones.discard("")
        return frozenset(zones)

    @cached_property
    def probe_answers(self) -> dict[str, Resource]:
        """DNS name → the probe's record of what resolvers answered for it."""
        return {
            dns_name(r.native_id): r
            for r in self.of_type(ResourceType.DNS_RECORD)
            if r.provider == PROBE_PROVIDER
        }

    def held_before(self, values: Collection[str]) -> frozenset[str]:
        """Those of `values` (canonical addresses, DNS names) that a resource of ours held in a
        recorded past state: deleted resources included, probes and DNS records left out."""
        if not values or self.history_loader is None:
            return frozenset()
        wanted = frozenset(values)
        held: set[str] = set()
        for state in self.history_loader(wanted):
            if state.provider == PROBE_PROVIDER or state.type in _DNS_TYPES:
                continue
            held.update(held_addresses(state.attributes))
            held.update(held_names(state.attributes))
        return frozenset(held & wanted)

    # -- links --------------------------------------------------------------------------

    def links_from(self, kind: str) -> dict[str, list[str]]:
        """from uid -> the targets of its present `kind` links (uids, or unresolved
        references), each list sorted; read once per kind and shared by every rule."""
        cached = self._links.get(kind)
        if cached is not None:
            return cached
        if self.link_loader is not None:
            found: Iterable[Link] = self.link_loader([kind])
        else:
            found = (link for r in self.by_uid.values() for link in r.links)
        targets: dict[str, set[str]] = defaultdict(set)
        for link in found:
            if link.kind == kind:
                targets[link.from_uid].add(link.to_uid)
        self._links[kind] = {uid: sorted(to) for uid, to in targets.items()}
        return self._links[kind]

    # -- drift --------------------------------------------------------------------------

    @cached_property
    def native_ids(self) -> dict[str, frozenset[str]]:
        """type → native ids of the present resources of that type."""
        return {t: frozenset(r.native_id for r in items) for t, items in self._by_type.items()}

    def changes_since(self, since: datetime) -> list[Change]:
        """Recorded changes at or after `since` (completed scans only record changes)."""
        if self.change_loader is None:
            return []
        return list(self.change_loader(since))


def held_addresses(attributes: Mapping[str, Any]) -> Iterator[str]:
    """The IP addresses a resource's attributes say it holds, canonical."""
    for key in _ADDRESS_ATTRIBUTES:
        values = attributes.get(key) or ()
        for value in [values] if isinstance(values, str) else values:
            if address := canonical_address(value):
                yield address


def held_names(attributes: Mapping[str, Any]) -> Iterator[str]:
    """The DNS names a resource's attributes say it answers to (LB, database, server names)."""
    for key in _NAME_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            yield dns_name(value)
    for value in attributes.get("dns_names") or ():  # a bucket's endpoints
        if isinstance(value, str) and value:
            yield dns_name(value)


def canonical_address(value: Any) -> str | None:
    """`2001:DB8::1` and `2001:db8:0::1` compare equal; not an address → None."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None

"""`InventoryView`: the inventory of one check, read once and shared by every rule.

`vigil/app/check.py` streams the present resources out of storage once and hands them here with
the scope statuses and a loader for recent change events. Rules then iterate resources by
type and use the indexes below, each built on first use and shared: collect once, evaluate
many. Everything here is read-only.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from vigil.core.facts import USABLE_SNAPSHOT_STATES, dns_name
from vigil.core.model import Resource, ResourceType, fingerprint

COMPLETE = "complete"
FALLBACK_STALENESS = timedelta(hours=1)
INTERVALS_PER_WINDOW = 3
"""A scope's data stays current for three collection intervals after its last completion."""

# Attributes that hold DNS names a record may point at (LBs, databases, servers).
_NAME_ATTRIBUTES = ("dns_name", "endpoint", "public_dns_name", "private_dns_name", "hostname")
_ADDRESS_ATTRIBUTES = ("public_ips", "private_ips", "ip_addresses", "addresses")


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


@dataclass(frozen=True)
class Change:
    """A recorded change to one resource: attribute path → {old, new}, at a time."""

    uid: str
    changes: dict[str, Any]
    at: datetime


ChangeLoader = Callable[[datetime], Iterable[Change]]


@dataclass
class InventoryView:
    """The present resources of one check, grouped by type, with shared indexes."""

    now: datetime
    scopes: list[ScopeState] = field(default_factory=list)
    change_loader: ChangeLoader | None = None
    collect_every: timedelta | None = None
    sources: frozenset[str] | None = None
    """The configured source names, when known: scopes of other sources are ignored."""
    staleness: timedelta | None = None
    """`collector.failing`'s `staleness` param when set: one window for both questions."""
    _by_type: dict[str, list[Resource]] = field(default_factory=dict, repr=False)
    unjudged: set[str] = field(default_factory=set, repr=False)
    """Fingerprints (rule + resource) a rule could not judge: their inputs were unknown."""

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
        return INTERVALS_PER_WINDOW * self.collect_every

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

    def all_known(self, *types: str) -> bool:
        """Whether every configured scope of `types` is known, so "nothing owns it" holds.

        False when no scope of those types has run yet, or when a configured source has not
        recorded any scope at all (it was added and never collected).
        """
        relevant = [s for s in self.configured_scopes if s.type in types]
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
            started = parse_time(attributes.get("started_at")) or snapshot.first_seen
            if started is None:
                continue
            if source_uid not in newest or started > newest[source_uid]:
                newest[source_uid] = started
        return newest

    # -- DNS ----------------------------------------------------------------------------

    @cached_property
    def owned_addresses(self) -> frozenset[str]:
        """Every IP address a present resource holds, in canonical text form."""
        owned: set[str] = set()
        for items in self._by_type.values():
            for resource in items:
                for key in _ADDRESS_ATTRIBUTES:
                    for value in resource.attributes.get(key) or ():
                        if address := canonical_address(value):
                            owned.add(address)
        return frozenset(owned)

    @cached_property
    def known_names(self) -> frozenset[str]:
        """DNS names the inventory knows: record and zone names, LB/database/server names."""
        names: set[str] = set()
        for items in self._by_type.values():
            for resource in items:
                attributes = resource.attributes
                if resource.type in (ResourceType.DNS_RECORD, ResourceType.DNS_ZONE):
                    names.add(dns_name(resource.name))
                for key in _NAME_ATTRIBUTES:
                    value = attributes.get(key)
                    if isinstance(value, str) and value:
                        names.add(dns_name(value))
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


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 attribute value as aware UTC; None when absent or unreadable."""
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    # Offsets are converted, not kept: titles print these times with a `Z`.
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def canonical_address(value: Any) -> str | None:
    """`2001:DB8::1` and `2001:db8:0::1` compare equal; not an address → None."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None

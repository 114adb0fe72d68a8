"""The shared vocabulary of every pipeline stage: resources, scopes, findings, severities.

This module imports no stage. Collectors produce `Resource`s for a `Scope`; storage keeps them;
rules turn them into `Finding`s; notifiers, metrics, the dashboard and reports read both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from vigil.core.canonical import canonical_json, content_digest

GLOBAL_REGION = "global"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind of time Vigil handles)."""
    return datetime.now(UTC)


class ResourceType(StrEnum):
    """Canonical resource types, whatever a cloud calls them."""

    SERVER = "server"
    DISK = "disk"
    SNAPSHOT = "snapshot"
    SECURITY_GROUP = "security_group"
    CERTIFICATE = "certificate"
    DNS_ZONE = "dns_zone"
    DNS_RECORD = "dns_record"
    DATABASE = "database"
    LOAD_BALANCER = "load_balancer"
    CACHE = "cache"
    CDN = "cdn"
    BUCKET = "bucket"
    KUBERNETES_CLUSTER = "kubernetes_cluster"
    FUNCTION = "function"


class ResourceState(StrEnum):
    PRESENT = "present"
    DELETED = "deleted"
    RETIRED = "retired"


class ChangeKind(StrEnum):
    """What a change event records: `retired` is a resource whose scope left the config."""

    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"
    RETIRED = "retired"


GONE_KINDS: tuple[str, ...] = (ChangeKind.DELETED.value, ChangeKind.RETIRED.value)
"""Change kinds after which a resource is no longer in the (default) inventory."""


class Severity(StrEnum):
    """Finding severities, most severe first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe: critical 4 ... info 0."""
        return len(SEVERITY_ORDER) - 1 - SEVERITY_ORDER.index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank

    def raised(self) -> Severity:
        """One step more severe (critical stays critical)."""
        return SEVERITY_ORDER[max(SEVERITY_ORDER.index(self) - 1, 0)]


SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)


class FindingStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    SILENCED = "silenced"


class Resolution(StrEnum):
    """Why a finding resolved: its resource was fixed or deleted, or Vigil stopped judging it
    (its resource left the config, its rule was disabled or its params changed)."""

    FIXED = "fixed"
    DELETED = "deleted"
    RETIRED = "retired"
    RULE_DISABLED = "rule_disabled"

    @property
    def announced(self) -> bool:
        """Whether a resolve message goes out: only when something changed in the estate.
        A retired resource or a disabled rule says nothing about the problem being gone."""
        return self in (Resolution.FIXED, Resolution.DELETED)


class RunStatus(StrEnum):
    """Where a scope run stands. Only a COMPLETE run is evidence of absence: a FAILED or
    RUNNING one decides nothing (no deletion, no resolution, no drift)."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


def make_uid(provider: str, account: str, region: str, type_: str, native_id: str) -> str:
    """A globally unique, stable resource id: the same resource always gets the same uid."""
    return f"{provider}/{account}/{region}/{type_}/{native_id}"


ABSENT_RETIRES: tuple[str, str] = ("absent", "retired")
"""A scope context entry: what the completed scope no longer returns left the config (a
probe target, a host), so it is retired, not deleted."""

PLAN_TYPE = "*"
"""Account, region and type of the pseudo-scope recorded when a source cannot be planned."""


@dataclass(frozen=True, slots=True)
class Scope:
    """One unit of collection: (source, account, region, resource type).

    Scopes are independent and idempotent; everything needed to run one is in this record
    (plus the source's config), so an executor can ship them to any worker. `context` holds
    provider-specific, serializable inputs such as the role to assume for the account.
    """

    source: str
    provider: str
    account: str
    region: str
    type: str
    context: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.source}/{self.account}/{self.region}/{self.type}"

    def context_value(self, name: str, default: str | None = None) -> str | None:
        return dict(self.context).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "type": self.type,
            "context": dict(self.context),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scope:
        context = tuple(sorted((str(k), str(v)) for k, v in data.get("context", {}).items()))
        return cls(
            source=data["source"],
            provider=data["provider"],
            account=data["account"],
            region=data["region"],
            type=data["type"],
            context=context,
        )


class LinkKind(StrEnum):
    """How one resource relates to another (DESIGN.md: Resource types, Relationships)."""

    ROUTES_TO = "routes_to"  # dns_record -> cdn, load_balancer, server, bucket
    ORIGIN = "origin"  # cdn -> load_balancer, bucket, server
    TARGETS = "targets"  # load_balancer -> server
    ATTACHED_TO = "attached_to"  # disk -> server
    BACKS_UP = "backs_up"  # snapshot -> disk or database
    REPLICA_OF = "replica_of"  # database -> database
    PROTECTED_BY = "protected_by"  # server, load_balancer, database, cache -> security_group
    SERVES = "serves"  # load_balancer, cdn -> certificate


class Direction(StrEnum):
    """Which way a walk along links goes from where it starts."""

    DOWN = "down"  # what the start depends on: DNS name -> CDN -> load balancer -> server
    UP = "up"  # what depends on the start: server -> load balancer -> CDN -> DNS name
    BOTH = "both"  # the union of both walks (never zigzagging through a shared group)


DNS_REF = "dns:"
"""A link target known only by a DNS name: `dns:<name>`, resolved by storage to the resource
whose DNS-name attribute (`NAMED_BY`) is that name."""
NATIVE_REF = "native:"
"""A link target known only by type and native id (any account or region):
`native:<type>:<native_id>`, resolved by storage when exactly one resource matches."""

NAMED_BY: dict[str, tuple[str, ...]] = {
    ResourceType.LOAD_BALANCER.value: ("dns_name",),
    ResourceType.CDN.value: ("domain_name",),
}
"""Per type, the attributes holding the DNS name AWS gives a resource (what aliases point at)."""


def dns_ref(name: str) -> str:
    """The reference to whatever resource answers as DNS name `name`."""
    return DNS_REF + name.strip().rstrip(".").lower()


def native_ref(type_: str, native_id: str) -> str:
    """The reference to the one resource of `type_` with `native_id`, wherever it lives."""
    return f"{NATIVE_REF}{type_}:{native_id}"


def is_reference(target: str) -> bool:
    """Whether a link target is a reference still to resolve rather than a uid."""
    return target.startswith((DNS_REF, NATIVE_REF))


@dataclass(frozen=True, slots=True)
class Link:
    """`from_uid` relates to `to_uid` as `kind`. `to_uid` is a uid, or a reference
    (`dns_ref`, `native_ref`) when the emitting collector cannot know the target's uid."""

    from_uid: str
    kind: str
    to_uid: str

    def to_dict(self) -> dict[str, str]:
        return {"from": self.from_uid, "kind": self.kind, "to": self.to_uid}


@dataclass(slots=True)
class Resource:
    """A normalized inventory record.

    `attributes` holds the provider's fields, normalized where rules need them (see each
    collector's docstring). `first_seen`, `last_seen` and `state` are set by storage.
    """

    source: str
    provider: str
    account: str
    region: str
    type: str
    native_id: str
    name: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    uid: str = ""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    state: str = ResourceState.PRESENT
    links: list[Link] = field(default_factory=list)
    """Links from this resource, emitted by its collector; reconciled apart from the record
    (they never change its content hash) and owned by the scope that emitted them."""

    def __post_init__(self) -> None:
        if not self.uid:
            self.uid = make_uid(self.provider, self.account, self.region, self.type, self.native_id)

    @property
    def scope_key(self) -> str:
        return f"{self.source}/{self.account}/{self.region}/{self.type}"

    def serialized(self, volatile: tuple[str, ...] = ()) -> tuple[str, str, str]:
        """(tags JSON, attributes JSON, content hash): what a change is measured on.

        Canonical JSON (sorted keys), made once per record on the ingest path and reused
        for both the hash and storage. `volatile` attributes (values that move on every
        read, such as RDS's latest restorable time) are stored but not hashed, so they
        alone never make a change.
        """
        tags = canonical_json(self.tags)
        attributes = canonical_json(self.attributes)
        hashed = attributes
        if volatile and any(key in self.attributes for key in volatile):
            stable = {k: v for k, v in self.attributes.items() if k not in volatile}
            hashed = canonical_json(stable)
        return tags, attributes, content_digest(self.name, tags, hashed)

    def content_hash(self) -> str:
        return self.serialized()[2]

    def link(self, kind: str, target: str) -> None:
        """Add a link from this resource (a repeated one is kept once)."""
        link = Link(self.uid, str(kind), target)
        if target and link not in self.links:
            self.links.append(link)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "source": self.source,
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "type": self.type,
            "native_id": self.native_id,
            "name": self.name,
            "tags": self.tags,
            "attributes": self.attributes,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "state": str(self.state),
        }


@dataclass(slots=True)
class Finding:
    """Something wrong with one resource, as judged by one rule.

    The fingerprint (rule + resource uid) is stable across checks, so a finding keeps its
    identity from open to resolved and back.
    """

    rule: str
    severity: Severity
    title: str
    detail: str
    resource_uid: str
    native_id: str = ""
    type: str = ""
    source: str = ""
    region: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    base_severity: Severity | None = None
    """The rule's severity when `severity` was escalated (exposure); None: not escalated."""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule, self.resource_uid)


def fingerprint(rule: str, resource_uid: str) -> str:
    return hashlib.sha256(f"{rule}\x00{resource_uid}".encode()).hexdigest()[:24]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a trailing Z, or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

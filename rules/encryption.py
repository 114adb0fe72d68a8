"""Encryption rules: data stored unencrypted, caches that talk in plain text.

Each judges a resource on its own attribute: `true` passes, `false` is a finding, and an
attribute that is missing or `null` (the API has no such field, or could not be read) is
unknown and never a finding. A resource whose scope is not known is undecided.
"""

from __future__ import annotations

from collections.abc import Iterator

from rules.base import NoParams, describe, finding
from rules.compliance import Controls
from rules.view import InventoryView
from vigil.core.model import Finding, Resource, ResourceType, Severity

AT_REST_KEYS: dict[str, str] = {
    ResourceType.DISK.value: "encrypted",
    ResourceType.SNAPSHOT.value: "encrypted",
    ResourceType.DATABASE.value: "storage_encrypted",
    ResourceType.CACHE.value: "encrypted",
    ResourceType.BUCKET.value: "encrypted",
}
"""type → the attribute that says whether it is stored encrypted (docs/attributes.md)."""

_ENCRYPTION_CONTROLS: Controls = {
    "cis-aws-3.0": ("2.2.1", "2.3.1"),
    "pci-dss-4.0": ("3.5.1",),
    "soc2-2017": ("CC6.1",),
    "iso27001-2022": ("A.8.24",),
    "gdpr": ("Art. 32(1)(a)",),
    "hipaa": ("164.312(a)(2)(iv)",),
}


def _judge(view: InventoryView, rule_id: str, resource: Resource, key: str) -> bool | None:
    """The attribute's verdict when it is known; None (and undecided) otherwise."""
    value = resource.attributes.get(key)
    if not view.observed(resource) or not isinstance(value, bool):
        view.undecided(rule_id, resource.uid)
        return None
    return value


class UnencryptedAtRest:
    """A disk, snapshot, database, cache or bucket stored unencrypted.

    DynamoDB tables are always encrypted (their `storage_encrypted` is true); a Memcached
    cache has no at-rest encryption field (`encrypted` null): unknown, not a finding.
    """

    id = "encryption.at_rest"
    title = "Stored unencrypted"
    severity = Severity.MEDIUM
    resource_types = tuple(AT_REST_KEYS)
    params_model = NoParams
    remediation = (
        "Encryption at rest cannot be switched on in place for most services: copy the "
        "snapshot with encryption on (EBS CopySnapshot --encrypted, RDS copy-db-snapshot "
        "--kms-key-id) and restore from it, create an encrypted ElastiCache group from a "
        "backup, set default encryption on the bucket; turn on EBS encryption by default in "
        "every region so new volumes are encrypted."
    )
    compliance = _ENCRYPTION_CONTROLS

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        for resource in view.of_type(*self.resource_types):
            key = AT_REST_KEYS[resource.type]
            if _judge(view, self.id, resource, key) is not False:
                continue
            yield finding(
                self,
                resource,
                f"{resource.type} {describe(resource)} is stored unencrypted",
                f"{key}: false. Anyone who gets the underlying storage or a copy of it reads "
                "the data.",
                evidence={key: False},
            )


class UnencryptedInTransit:
    """A cache without transit encryption: clients and replicas talk to it in plain text."""

    id = "encryption.in_transit"
    title = "Cache traffic unencrypted"
    severity = Severity.MEDIUM
    resource_types = (ResourceType.CACHE.value,)
    params_model = NoParams
    remediation = (
        "Turn on in-transit encryption: for Redis/Valkey 7+ modify the replication group with "
        "TransitEncryptionEnabled and TransitEncryptionMode=preferred, move the clients to "
        "TLS, then set the mode to required; older engines need a new group from a backup."
    )
    compliance: Controls = {
        "pci-dss-4.0": ("4.2.1",),
        "soc2-2017": ("CC6.7",),
        "iso27001-2022": ("A.8.24",),
        "gdpr": ("Art. 32(1)(a)",),
        "hipaa": ("164.312(e)(1)",),
    }

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        for cache in view.of_type(*self.resource_types):
            if _judge(view, self.id, cache, "transit_encryption") is not False:
                continue
            engine = cache.attributes.get("engine") or "cache"
            yield finding(
                self,
                cache,
                f"cache {describe(cache)} ({engine}) accepts unencrypted connections",
                "transit_encryption: false. Its traffic, AUTH tokens included, crosses the "
                "network in plain text.",
                evidence={"transit_encryption": False, "engine": engine},
            )

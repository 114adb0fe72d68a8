"""The rule contract and the helpers every rule shares to build findings.

A rule is a class with its metadata declared as class attributes and one method:

```python
class ExpiredCertificate:
    \"\"\"A certificate whose validity has ended.\"\"\"

    id = "cert.expired"
    title = "Certificate expired"
    severity = Severity.CRITICAL
    resource_types = ("certificate",)
    params_model = NoParams
    remediation = "Renew or replace the certificate, then deploy it."
    compliance = {"pci-dss-4.0": ("4.2.1",), "hipaa": ("164.312(e)(1)",)}

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]: ...
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from rules.compliance import FRAMEWORKS, Controls
from vigil.core.model import Finding, Resource, Severity
from vigil.core.schema import StrictModel

if TYPE_CHECKING:
    from rules.view import InventoryView

# FRAMEWORKS and Controls live in rules.compliance; re-exported for code written before.
__all__ = [
    "FRAMEWORKS",
    "ROUTING_TAGS",
    "Controls",
    "NoParams",
    "Rule",
    "describe",
    "finding",
    "labels_for",
]

ROUTING_TAGS = ("owner", "team")
"""Resource tags copied into finding labels, so routes can send findings to their owners."""


class NoParams(StrictModel):
    """A rule without settings: `rules.params.<id>` must be empty."""


class Rule(Protocol):
    """One check over the inventory. Metadata is data on the class; `evaluate` is pure.

    `evaluate` reads the view and yields findings; `params` is an instance of `params_model`
    (validated from `rules.params.<id>`, defaults filled in). The engine applies severity
    overrides from config, so rules yield their own default severities.
    """

    # Read-only properties, so plain class attributes (of narrower types) satisfy them.
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def resource_types(self) -> tuple[str, ...]: ...
    @property
    def params_model(self) -> type[StrictModel]: ...
    @property
    def remediation(self) -> str: ...
    @property
    def compliance(self) -> Controls: ...

    def evaluate(self, view: InventoryView, params: Any) -> Iterator[Finding]: ...


def describe(resource: Resource) -> str:
    """`sg-0abc (web)`: the native id, with the name when it says something more."""
    if resource.name and resource.name != resource.native_id:
        return f"{resource.native_id} ({resource.name})"
    return resource.native_id


def labels_for(resource: Resource) -> dict[str, str]:
    """Routing labels of a resource: where it lives, and its owner/team tags."""
    labels = {
        "provider": resource.provider,
        "account": resource.account,
        "region": resource.region,
        "type": resource.type,
        "source": resource.source,
    }
    for tag in ROUTING_TAGS:
        value = resource.tags.get(tag)
        if value:
            labels[tag] = value
    return labels


def finding(
    rule: Rule,
    resource: Resource,
    title: str,
    detail: str,
    *,
    severity: Severity | None = None,
    evidence: dict[str, Any] | None = None,
) -> Finding:
    """A finding of `rule` on `resource`; labels come from the resource."""
    return Finding(
        rule=rule.id,
        severity=severity or rule.severity,
        title=title,
        detail=detail,
        resource_uid=resource.uid,
        native_id=resource.native_id,
        type=resource.type,
        source=resource.source,
        region=resource.region,
        labels=labels_for(resource),
        evidence=evidence or {},
    )

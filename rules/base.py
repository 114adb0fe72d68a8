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
    compliance = {"pci-dss": ("4.2.1",)}

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]: ...
```
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from vigil.core.model import Finding, Resource, Severity
from vigil.core.schema import StrictModel

if TYPE_CHECKING:
    from rules.view import InventoryView

FRAMEWORKS: dict[str, str] = {
    "cis-aws": "CIS Amazon Web Services Foundations Benchmark v3.0.0",
    "soc2": "SOC 2 Trust Services Criteria (2017, rev. 2022)",
    "pci-dss": "PCI DSS v4.0",
    "iso27001": "ISO/IEC 27001:2022 Annex A",
    "cis-aws-3.0": "CIS Amazon Web Services Foundations Benchmark v3.0.0",
    "soc2-2017": "SOC 2 Trust Services Criteria (2017, rev. 2022)",
    "pci-dss-4.0": "PCI DSS v4.0",
    "iso27001-2022": "ISO/IEC 27001:2022 Annex A",
    "gdpr": "EU General Data Protection Regulation 2016/679",
    "hipaa": "HIPAA Security Rule, 45 CFR Part 164 Subpart C",
}
"""Compliance frameworks a rule may map to: id → full name."""

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
    def compliance(self) -> Mapping[str, tuple[str, ...]]: ...

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

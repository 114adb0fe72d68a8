"""Lifecycle rules: platforms past their vendor's end of support.

Each rule carries its vendor's calendar as a table with the date it was read; `params`
overrides or extends it (`rules.params.kubernetes.unsupported.end_of_support: {"1.35":
2027-03-27}`), so a new release needs no new Vigil. A version or runtime that is not in the
table is not judged: unknown, never a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date

from pydantic import Field

from rules.base import describe, finding
from rules.compliance import Controls
from rules.view import InventoryView
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import StrictModel

EKS_STANDARD_SUPPORT_END: Mapping[str, date] = {
    "1.19": date(2022, 8, 1),
    "1.20": date(2022, 11, 1),
    "1.21": date(2023, 2, 15),
    "1.22": date(2023, 6, 4),
    "1.23": date(2023, 10, 11),
    "1.24": date(2024, 1, 31),
    "1.25": date(2024, 5, 1),
    "1.26": date(2024, 6, 11),
    "1.27": date(2024, 7, 24),
    "1.28": date(2024, 11, 26),
    "1.29": date(2025, 3, 23),
    "1.30": date(2025, 7, 23),
    "1.31": date(2025, 11, 26),
    "1.32": date(2026, 3, 23),
    "1.33": date(2026, 7, 29),
    "1.34": date(2026, 12, 2),
}
"""End of standard support per EKS Kubernetes version: Amazon EKS User Guide, "Kubernetes
version lifecycle on EKS" (read 2025-10; 1.34's date is its release + 14 months)."""

LAMBDA_DEPRECATION: Mapping[str, date] = {
    "python2.7": date(2021, 7, 15),
    "python3.6": date(2022, 7, 18),
    "python3.7": date(2023, 12, 4),
    "python3.8": date(2024, 10, 14),
    "python3.9": date(2025, 12, 15),
    "python3.10": date(2026, 6, 30),
    "python3.11": date(2027, 6, 30),
    "nodejs12.x": date(2023, 3, 31),
    "nodejs14.x": date(2023, 12, 4),
    "nodejs16.x": date(2024, 6, 12),
    "nodejs18.x": date(2025, 9, 1),
    "nodejs20.x": date(2026, 4, 30),
    "java8": date(2024, 1, 8),
    "go1.x": date(2024, 1, 8),
    "provided": date(2024, 1, 8),
    "dotnetcore3.1": date(2023, 4, 3),
    "dotnet6": date(2024, 12, 20),
    "dotnet7": date(2024, 5, 14),
    "ruby2.7": date(2023, 12, 7),
    "ruby3.2": date(2026, 3, 31),
}
"""Deprecation date per Lambda runtime: AWS Lambda Developer Guide, "Lambda runtimes",
deprecated and upcoming deprecations (read 2025-10). After it, AWS no longer patches the
runtime; a while later, functions on it can no longer be created or updated."""

_VERSION = re.compile(r"^(\d+)\.(\d+)")


class SupportParams(StrictModel):
    """`rules.params.<id>`: end-of-support dates that override or extend the built-in table."""

    end_of_support: dict[str, date] = Field(default_factory=dict)


def ended(table: Mapping[str, date], key: str, today: date) -> date | None:
    """The date support for `key` ended, if it has by `today`; None otherwise or if unlisted."""
    end = table.get(key)
    return end if end is not None and end <= today else None


class KubernetesUnsupported:
    """A Kubernetes cluster on a version past the end of standard support."""

    id = "kubernetes.unsupported"
    title = "Kubernetes version past standard support"
    severity = Severity.HIGH
    resource_types = (ResourceType.KUBERNETES_CLUSTER.value,)
    params_model = SupportParams
    remediation = (
        "Upgrade the control plane one minor version at a time (eksctl upgrade cluster, or "
        "UpdateClusterVersion), then its node groups and add-ons; EKS bills extended support "
        "per cluster hour (USD 0.60 instead of 0.10) until the cluster is on a supported version."
    )
    compliance: Controls = {
        "pci-dss-4.0": ("6.3.3",),
        "soc2-2017": ("CC7.1",),
        "iso27001-2022": ("A.8.8",),
    }

    def evaluate(self, view: InventoryView, params: SupportParams) -> Iterator[Finding]:
        table = {**EKS_STANDARD_SUPPORT_END, **params.end_of_support}
        for cluster in view.of_type(*self.resource_types):
            version = _minor(cluster.attributes.get("version"))
            if not view.observed(cluster) or version is None:
                view.undecided(self.id, cluster.uid)
                continue
            end = ended(table, version, view.now.date())
            if end is None:
                continue
            yield _past_support(self, cluster, f"Kubernetes {version}", "standard support", end)


def _minor(value: object) -> str | None:
    """`1.29` from `1.29`, `1.29.3` or `v1.29-eks-1`; None when unreadable."""
    match = _VERSION.match(str(value or "").removeprefix("v"))
    return f"{int(match[1])}.{int(match[2])}" if match else None


class FunctionRuntimeDeprecated:
    """A function on a runtime its provider has deprecated (no more security patches)."""

    id = "function.runtime_deprecated"
    title = "Function runtime deprecated"
    severity = Severity.MEDIUM
    resource_types = (ResourceType.FUNCTION.value,)
    params_model = SupportParams
    remediation = (
        "Move the function to a supported runtime (e.g. python3.12 or nodejs22.x): update "
        "the code and its dependencies, test, then UpdateFunctionConfiguration --runtime; "
        "AWS blocks updates to functions on a deprecated runtime a few months later."
    )
    compliance: Controls = {
        "pci-dss-4.0": ("6.3.3",),
        "soc2-2017": ("CC7.1",),
        "iso27001-2022": ("A.8.8",),
    }

    def evaluate(self, view: InventoryView, params: SupportParams) -> Iterator[Finding]:
        table = {**LAMBDA_DEPRECATION, **params.end_of_support}
        for function in view.of_type(*self.resource_types):
            runtime = function.attributes.get("runtime")
            if not view.observed(function):
                view.undecided(self.id, function.uid)
                continue
            if not isinstance(runtime, str):
                continue  # a container image brings its own runtime
            end = ended(table, runtime, view.now.date())
            if end is not None:
                yield _past_support(self, function, f"runtime {runtime}", "deprecated", end)


def _past_support(
    rule: KubernetesUnsupported | FunctionRuntimeDeprecated,
    resource: Resource,
    what: str,
    since: str,
    end: date,
) -> Finding:
    return finding(
        rule,
        resource,
        f"{resource.type} {describe(resource)} runs {what}, {since} since {end:%Y-%m-%d}",
        f"{what} left {since} on {end:%Y-%m-%d}: it no longer gets security fixes.",
        evidence={"version": what, "end_of_support": end.isoformat()},
    )

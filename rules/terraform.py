"""`drift.unmanaged` / `drift.missing`: the inventory against Terraform state (format v4).

State files come from `state_files`: local paths, globs, or `s3://bucket/key` (fetched
read-only by the application, see `rules/terraform_state.py`). Each is a baseline covering
the (provider, account) pairs its ARNs name, or `accounts` when set. Both rules judge only
what they know (DESIGN.md, unknown is not empty):

- `drift.unmanaged`: a present resource whose provider and account a baseline covers, that no
  state declares, when every configured scope of its type in that account is known;
- `drift.missing`: a declared resource in a covered account with no present resource, when
  every configured scope of its type in that account (and its ARN's region) is known.

Where an input is unknown the rule records the resource as undecided, so a stored finding
keeps its status instead of resolving or reopening.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field, PrivateAttr

from rules.base import describe, finding
from rules.compliance import Controls
from rules.terraform_state import (
    Baseline,
    Declared,
    is_remote,
    load_baselines,
    parse_state,
)
from rules.view import InventoryView
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import StrictModel

__all__ = ["Missing", "TerraformParams", "Unmanaged", "parse_state"]

DEFAULT_JUDGED = [
    ResourceType.SERVER.value,
    ResourceType.DISK.value,
    ResourceType.SECURITY_GROUP.value,
    ResourceType.DATABASE.value,
    ResourceType.DNS_ZONE.value,
    ResourceType.CERTIFICATE.value,
    ResourceType.LOAD_BALANCER.value,
    ResourceType.BUCKET.value,
]
# Declared against live: the baseline configuration and the asset inventory kept current.
_COMPLIANCE: Controls = {
    "soc2-2017": ("CC8.1",),
    "iso27001-2022": ("A.5.9", "A.8.9"),
    "pci-dss-4.0": ("12.5.1",),
}


class TerraformParams(StrictModel):
    """`rules.params.drift.unmanaged` / `drift.missing`.

    ```yaml
    drift.unmanaged:
      state_files: [infra/*.tfstate, s3://acme-tfstate/prod/terraform.tfstate]
      state_source: aws-prod
      types: [server, security_group, database]
    ```
    """

    state_files: list[str] = Field(
        default_factory=list, description="Local paths, globs, or s3://BUCKET/KEY."
    )
    state_source: str | None = Field(
        default=None,
        description="The AWS source whose credentials read s3:// state (default: the AWS "
        "default credential chain).",
    )
    types: list[str] = Field(default_factory=lambda: list(DEFAULT_JUDGED))
    accounts: list[str] = Field(
        default_factory=list,
        description="The AWS accounts the states cover (default: those their ARNs name).",
    )
    _fetched: dict[str, bytes] = PrivateAttr(default_factory=dict)
    _baselines: list[Baseline] | None = PrivateAttr(default=None)

    def remote_states(self) -> list[str]:
        """The `s3://` entries of `state_files`, which the application fetches."""
        return [location for location in self.state_files if is_remote(location)]

    def provide(self, location: str, data: bytes) -> None:
        """Hand over the bytes of a remote state (the application fetched them read-only)."""
        self._fetched[location] = data
        self._baselines = None

    def baselines(self) -> list[Baseline]:
        """The parsed states, read once per engine (a check reads each file once)."""
        if self._baselines is None:
            self._baselines = load_baselines(self.state_files, self._fetched, self.accounts or None)
        return self._baselines


def scopes_known(
    view: InventoryView, type_: str, provider: str, account: str, region: str | None = None
) -> bool:
    """Whether every configured scope of `type_` in (provider, account), and `region` when
    given, is known, and there is at least one: only then is "not there" a fact."""
    relevant = [
        s
        for s in view.configured_scopes
        if (s.type, s.provider, s.account) == (type_, provider, account)
        and (region is None or s.region == region)
    ]
    if not relevant or not all(view.scope_known(s) for s in relevant):
        return False
    # A configured source that never recorded a scope may collect this account too.
    return view.sources is None or view.sources <= {s.source for s in view.configured_scopes}


def _judged(resource: Resource) -> bool:
    # The VPC default group exists whether or not anything declares it.
    return not (
        resource.type == ResourceType.SECURITY_GROUP
        and "default" in (resource.name, resource.attributes.get("group_name"))
    )


class _StateRule:
    """What both Terraform rules share: their params, types, controls and input check."""

    id: str
    resource_types = tuple(DEFAULT_JUDGED)
    params_model = TerraformParams
    compliance = _COMPLIANCE

    def check_inputs(self, params: TerraformParams) -> None:
        """Fail on an unreadable or malformed state file before the check writes anything."""
        params.baselines()


class Unmanaged(_StateRule):
    """A live resource, in an account and provider a Terraform state covers, that no state
    declares: created by hand or by a lost stack."""

    id = "drift.unmanaged"
    title = "Resource not managed by Terraform"
    severity = Severity.LOW
    remediation = (
        "Import the resource into Terraform (`terraform import`) or delete it if nobody owns it."
    )

    def evaluate(self, view: InventoryView, params: TerraformParams) -> Iterator[Finding]:
        if not params.state_files:
            return
        baselines = params.baselines()
        managed = {(d.type, d.native_id) for b in baselines for d in b.declared}
        covered = frozenset().union(*(b.covers for b in baselines))
        for resource in view.of_type(*params.types):
            if (resource.type, resource.native_id) in managed or not _judged(resource):
                continue
            if (resource.provider, resource.account) not in covered:
                continue  # no baseline speaks for this account or provider
            if not scopes_known(view, resource.type, resource.provider, resource.account):
                view.undecided(self.id, resource.uid)
                continue
            yield finding(
                self,
                resource,
                f"{resource.type} {describe(resource)} is not in any Terraform state",
                f"None of the {len(baselines)} state file(s) covering account "
                f"{resource.account} declares {resource.type} {resource.native_id}.",
                evidence={"state_files": [b.state_file for b in baselines]},
            )


class Missing(_StateRule):
    """A resource a Terraform state declares that the inventory no longer has."""

    id = "drift.missing"
    title = "Declared resource missing"
    severity = Severity.HIGH
    remediation = (
        "Find out who deleted it (CloudTrail); re-apply the Terraform stack to recreate it, or "
        "remove it from the state (`terraform state rm`) if it is meant to be gone."
    )

    def evaluate(self, view: InventoryView, params: TerraformParams) -> Iterator[Finding]:
        if not params.state_files:
            return
        for baseline in params.baselines():
            for item in baseline.declared:
                if item.type not in params.types or item.native_id in view.native_ids.get(
                    item.type, frozenset()
                ):
                    continue
                subject = _subject(item)
                if item.account is None or not scopes_known(
                    view, item.type, item.provider, item.account, item.region
                ):
                    view.undecided(self.id, subject.uid)
                    continue
                yield _missing_finding(self, item, subject)


def _subject(item: Declared) -> Resource:
    return Resource(
        source="terraform",
        provider="terraform",
        account=item.account or "",
        region=item.region or "",
        type=item.type,
        native_id=item.native_id,
        name=item.address,
        uid=f"terraform:{item.state_file}#{item.address}",
    )


def _missing_finding(rule: Missing, item: Declared, subject: Resource) -> Finding:
    evidence: dict[str, Any] = {"state_file": item.state_file, "address": item.address}
    return finding(
        rule,
        subject,
        f"{item.type} {item.native_id} ({item.address}) is declared in Terraform but not live",
        f"{item.state_file} declares {item.address} = {item.native_id} in account "
        f"{item.account}; every scan of {item.type} there completed and none has that id.",
        evidence=evidence,
    )

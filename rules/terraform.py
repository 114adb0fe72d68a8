"""`drift.unmanaged` / `drift.missing`: the inventory against Terraform state (format v4).

State files come from `state_files` (paths or globs). Each managed resource instance of a
mapped type (modules and `count`/`for_each` instances included) declares a (type, native
id): `drift.unmanaged` flags present resources of judged types that no state declares;
`drift.missing` flags declared resources the inventory does not have, but only for types
with a completed scope (in the resource's region when its ARN says), so a failed scan never
makes everything "missing". A malformed state file is an `InputError` naming the file.
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from rules.base import describe, finding
from rules.view import InventoryView
from vigil.core.errors import InputError
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import StrictModel

# Terraform resource type → (Vigil type, attributes that hold the native id, first wins).
TERRAFORM_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws_instance": (ResourceType.SERVER, ("id",)),
    "aws_ebs_volume": (ResourceType.DISK, ("id",)),
    "aws_ebs_snapshot": (ResourceType.SNAPSHOT, ("id",)),
    "aws_security_group": (ResourceType.SECURITY_GROUP, ("id",)),
    "aws_default_security_group": (ResourceType.SECURITY_GROUP, ("id",)),
    "aws_db_instance": (ResourceType.DATABASE, ("identifier", "id")),
    "aws_db_snapshot": (ResourceType.SNAPSHOT, ("db_snapshot_identifier", "id")),
    "aws_route53_zone": (ResourceType.DNS_ZONE, ("zone_id", "id")),
    "aws_acm_certificate": (ResourceType.CERTIFICATE, ("arn", "id")),
    "aws_lb": (ResourceType.LOAD_BALANCER, ("arn", "id")),
    "aws_alb": (ResourceType.LOAD_BALANCER, ("arn", "id")),
    "aws_s3_bucket": (ResourceType.BUCKET, ("bucket", "id")),
}
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
_ARN_REGION = re.compile(r"^arn:[^:]+:[^:]*:([a-z0-9-]*):")
_COMPLIANCE = {"soc2": ("CC8.1",), "iso27001": ("A.8.9",), "pci-dss": ("1.2.7",)}


class TerraformParams(StrictModel):
    """`rules.params.drift.unmanaged` / `drift.missing`.

    ```yaml
    drift.unmanaged:
      state_files: [infra/*.tfstate, /srv/tf/prod/terraform.tfstate]
      types: [server, security_group, database]
    ```
    """

    state_files: list[str] = Field(default_factory=list)
    types: list[str] = Field(default_factory=lambda: list(DEFAULT_JUDGED))
    accounts: list[str] = Field(
        default_factory=list, description="Judge only these accounts (default: all)."
    )


@dataclass(frozen=True)
class Declared:
    """One resource instance a state file manages."""

    type: str
    native_id: str
    address: str
    state_file: str
    region: str | None = None


def load_states(patterns: list[str]) -> list[Declared]:
    """Every mapped resource instance in the state files the patterns name."""
    declared: list[Declared] = []
    for path in _expand(patterns):
        declared.extend(parse_state(path))
    return declared


def _expand(patterns: list[str]) -> list[str]:
    paths: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                raise InputError(
                    f"no Terraform state file matches {pattern!r}",
                    fix="check rules.params state_files (paths are relative to where vigil runs)",
                )
            paths.extend(matches)
        else:
            paths.append(pattern)
    return paths


def parse_state(path: str) -> list[Declared]:
    """The mapped instances of one v4 state file; InputError if it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the Terraform state: {exc.strerror}", path=path) from None
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} (column {exc.colno})",
            path=path,
            line=exc.lineno,
            fix="pass a state file as written by `terraform state pull`",
        ) from None
    if not isinstance(state, dict) or state.get("version") != 4:
        version = state.get("version") if isinstance(state, dict) else None
        raise InputError(
            f"not a Terraform state of format version 4 (version: {version!r})",
            path=path,
            fix="upgrade the state with Terraform ≥ 0.12, or remove it from state_files",
        )
    resources = state.get("resources", [])
    if not isinstance(resources, list):
        raise InputError("'resources' must be a list", path=path)
    return [item for block in resources for item in _instances(block, path)]


def _instances(block: Any, path: str) -> Iterator[Declared]:
    if not isinstance(block, dict) or not isinstance(block.get("instances", []), list):
        raise InputError("a 'resources' entry is not a resource block", path=path)
    if block.get("mode", "managed") != "managed":
        return
    tf_type = str(block.get("type", ""))
    module = block.get("module")
    base = f"{str(module) + '.' if module else ''}{tf_type}.{block.get('name', '')}"
    for index, instance in enumerate(block.get("instances", [])):
        if not isinstance(instance, dict) or not isinstance(instance.get("attributes") or {}, dict):
            raise InputError(
                f"instance {index} of {tf_type}.{block.get('name', '')} has no attributes mapping",
                path=path,
                fix="pass a state file as written by `terraform state pull`",
            )
        attributes = instance.get("attributes") or {}
        address = base + _index(instance)
        if tf_type in TERRAFORM_TYPES:
            vigil_type, keys = TERRAFORM_TYPES[tf_type]
            native_id = next((str(attributes[k]) for k in keys if attributes.get(k)), None)
            if native_id:
                region = _region(attributes)
                yield Declared(str(vigil_type), native_id, address, path, region)
        if tf_type == "aws_instance":
            yield from _instance_volumes(attributes, address, path)


def _index(instance: dict[str, Any]) -> str:
    if "index_key" not in instance:
        return ""
    key = instance["index_key"]
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key)}]"


def _region(attributes: dict[str, Any]) -> str | None:
    match = _ARN_REGION.match(str(attributes.get("arn") or ""))
    return match.group(1) or None if match else None


def _instance_volumes(attributes: dict[str, Any], address: str, path: str) -> Iterator[Declared]:
    """Root and inline EBS volumes are created by the instance: they are managed too."""
    for key in ("root_block_device", "ebs_block_device"):
        for index, device in enumerate(attributes.get(key) or []):
            volume = device.get("volume_id") if isinstance(device, dict) else None
            if volume:
                yield Declared(ResourceType.DISK.value, volume, f"{address}.{key}[{index}]", path)


def _judged(resource: Resource, params: TerraformParams) -> bool:
    if params.accounts and resource.account not in params.accounts:
        return False
    # The VPC default group exists whether or not anything declares it.
    return not (
        resource.type == ResourceType.SECURITY_GROUP
        and "default" in (resource.name, resource.attributes.get("group_name"))
    )


class _StateRule:
    """What both Terraform rules share: their params, types, controls and input check."""

    resource_types = tuple(DEFAULT_JUDGED)
    params_model = TerraformParams
    compliance = _COMPLIANCE

    def check_inputs(self, params: TerraformParams) -> None:
        """Fail on an unreadable or malformed state file before the check writes anything."""
        load_states(params.state_files)


class Unmanaged(_StateRule):
    """A live resource that no Terraform state declares: created by hand or by a lost stack."""

    id = "drift.unmanaged"
    title = "Resource not managed by Terraform"
    severity = Severity.LOW
    remediation = (
        "Import the resource into Terraform (`terraform import`) or delete it if nobody owns it."
    )

    def evaluate(self, view: InventoryView, params: TerraformParams) -> Iterator[Finding]:
        if not params.state_files:
            return
        declared = load_states(params.state_files)
        managed = {(d.type, d.native_id) for d in declared}
        for resource in view.of_type(*params.types):
            if (resource.type, resource.native_id) in managed or not _judged(resource, params):
                continue
            yield finding(
                self,
                resource,
                f"{resource.type} {describe(resource)} is not in any Terraform state",
                f"None of {len(params.state_files)} state file pattern(s) declares "
                f"{resource.type} {resource.native_id}.",
                evidence={"state_files": params.state_files},
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
        for item in load_states(params.state_files):
            if item.type not in params.types or item.native_id in view.native_ids.get(
                item.type, frozenset()
            ):
                continue
            if not _known_absent(view, item):
                continue
            yield _missing_finding(self, item)


def _known_absent(view: InventoryView, item: Declared) -> bool:
    """Absence means something only where a scope of its type (and region) completed."""
    if item.type not in view.collected_types:
        return False
    return item.region is None or item.region in view.collected_regions(item.type)


def _missing_finding(rule: Missing, item: Declared) -> Finding:
    subject = Resource(
        source="terraform",
        provider="terraform",
        account="",
        region=item.region or "",
        type=item.type,
        native_id=item.native_id,
        name=item.address,
        uid=f"terraform:{item.state_file}#{item.address}",
    )
    return finding(
        rule,
        subject,
        f"{item.type} {item.native_id} ({item.address}) is declared in Terraform but not live",
        f"{item.state_file} declares {item.address} = {item.native_id}; the inventory has no "
        f"present {item.type} with that id.",
        evidence={"state_file": item.state_file, "address": item.address},
    )

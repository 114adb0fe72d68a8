"""Terraform state (format v4) as a declared baseline: bytes in, declared resources out.

A baseline is one state file: the managed resource instances of mapped types it declares,
and the (provider, account) pairs it covers. Accounts come from each instance's ARN or
`owner_id` (state v4 keeps no provider configuration, so `allowed_account_ids` is not there);
an instance whose attributes name no account (Route 53 zones, S3 buckets) belongs to the
state's one account when it has exactly one. Providers come from each resource block's
`provider["registry.terraform.io/hashicorp/aws"]` address.

Local files are read here; remote ones (`s3://bucket/key`) arrive as bytes fetched by
`vigil/app/baselines.py`: rules never fetch. Anything that is not a v4 state (not UTF-8,
binary, not JSON, the wrong shape or version) is an `InputError` naming the file.
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vigil.core.errors import InputError
from vigil.core.model import ResourceType
from vigil.core.yamlsource import read_bounded

REMOTE_SCHEME = "s3://"
STATE_FIX = "pass a state file as written by `terraform state pull`"

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
# Terraform provider type (the last part of its source address) → Vigil provider.
PROVIDERS = {"aws": "aws"}
_ARN = re.compile(r"^arn:[^:]+:[^:]*:(?P<region>[a-z0-9-]*):(?P<account>[0-9]{12})?:")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_PROVIDER = re.compile(r'provider\["(?:[^"]*/)?([^"/]+)"\]')
_MODES = ("managed", "data")


@dataclass(frozen=True)
class Declared:
    """One resource instance a state file manages."""

    type: str
    native_id: str
    address: str
    state_file: str
    region: str | None = None
    account: str | None = None
    provider: str = "aws"


@dataclass(frozen=True)
class Baseline:
    """One state file: what it declares, and the (provider, account) pairs it covers."""

    state_file: str
    declared: tuple[Declared, ...]
    covers: frozenset[tuple[str, str]]

    @property
    def accounts(self) -> frozenset[str]:
        return frozenset(account for _, account in self.covers)


def is_remote(location: str) -> bool:
    return location.startswith(REMOTE_SCHEME)


def split_s3(location: str) -> tuple[str, str]:
    """`s3://bucket/key` → (bucket, key); InputError when either part is empty."""
    bucket, _, key = location.removeprefix(REMOTE_SCHEME).partition("/")
    if not bucket or not key:
        raise InputError(
            f"{location!r} is not an S3 object address",
            fix="write remote state as s3://BUCKET/KEY (the backend's bucket and key)",
        )
    return bucket, key


def load_baselines(
    patterns: list[str],
    fetched: Mapping[str, bytes],
    accounts: list[str] | None = None,
) -> list[Baseline]:
    """A baseline per state file: local paths and globs are read, `s3://` ones come from
    `fetched` (the application fetched them). `accounts`, when given, is what every state
    covers, in place of the accounts its ARNs name."""
    baselines = []
    for location in expand(patterns):
        if is_remote(location):
            if location not in fetched:
                raise InputError(
                    "remote Terraform state was not fetched",
                    path=location,
                    fix="run it through `vigil check`, which reads s3:// state read-only",
                )
            data = fetched[location]
        else:
            data = _read(location)
        baselines.append(parse_baseline(data, location, accounts))
    return baselines


def expand(patterns: list[str]) -> list[str]:
    """Paths, with globs expanded (a glob matching nothing is an error); s3:// as given."""
    paths: list[str] = []
    for pattern in patterns:
        if not is_remote(pattern) and glob.has_magic(pattern):
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


def _read(path: str) -> bytes:
    return read_bounded(path, "Terraform state", fix="check rules.params state_files")


def parse_state(path: str) -> list[Declared]:
    """The mapped instances of one local v4 state file; InputError if it is not one."""
    return list(parse_baseline(_read(path), path).declared)


def parse_baseline(data: bytes, location: str, accounts: list[str] | None = None) -> Baseline:
    """The baseline in one state file's bytes; InputError naming `location` if it is not."""
    state = _decode(data, location)
    resources = state.get("resources", [])
    if not isinstance(resources, list):
        raise InputError("'resources' must be a list", path=location, fix=STATE_FIX)
    found = [item for block in resources for item in _instances(block, location)]
    inferred = {d.account for d in found if d.account}
    covered = set(accounts) if accounts else inferred
    only = next(iter(covered)) if len(covered) == 1 else None
    declared = tuple(
        _with_account(d, only) for d in found if accounts is None or d.account in (None, *covered)
    )
    providers = {d.provider for d in found}
    return Baseline(
        location, declared, frozenset((p, a) for p in providers for a in sorted(covered))
    )


def _with_account(item: Declared, only: str | None) -> Declared:
    if item.account or only is None:
        return item
    return Declared(
        item.type, item.native_id, item.address, item.state_file, item.region, only, item.provider
    )


def _decode(data: bytes, location: str) -> dict[str, Any]:
    if b"\x00" in data:
        raise InputError(
            "binary data (NUL bytes), not a Terraform state", path=location, fix=STATE_FIX
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
            path=location,
            line=line,
            fix=STATE_FIX,
        ) from None
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} (column {exc.colno})",
            path=location,
            line=exc.lineno,
            fix=STATE_FIX,
        ) from None
    if not isinstance(state, dict) or state.get("version") != 4:
        version = state.get("version") if isinstance(state, dict) else None
        raise InputError(
            f"not a Terraform state of format version 4 (version: {version!r})",
            path=location,
            fix="upgrade the state with Terraform ≥ 0.12, or remove it from state_files",
        )
    return state


def _instances(block: Any, path: str) -> Iterator[Declared]:
    if not isinstance(block, dict) or not isinstance(block.get("instances", []), list):
        raise InputError("a 'resources' entry is not a resource block", path=path, fix=STATE_FIX)
    mode = block.get("mode", "managed")
    if mode not in _MODES:
        raise InputError(
            f"resource mode {mode!r} is neither 'managed' nor 'data'", path=path, fix=STATE_FIX
        )
    if mode != "managed":
        return
    tf_type = str(block.get("type", ""))
    module = block.get("module")
    base = f"{str(module) + '.' if module else ''}{tf_type}.{block.get('name', '')}"
    provider = _provider(block.get("provider"), tf_type)
    for index, instance in enumerate(block.get("instances", [])):
        if not isinstance(instance, dict) or not isinstance(instance.get("attributes") or {}, dict):
            raise InputError(
                f"instance {index} of {tf_type}.{block.get('name', '')} has no attributes mapping",
                path=path,
                fix=STATE_FIX,
            )
        if tf_type in TERRAFORM_TYPES and provider:
            yield from _declared(tf_type, instance, base + _index(instance), path, provider)


def _provider(address: Any, tf_type: str) -> str | None:
    """The Vigil provider of a resource block: from its provider address, else its type."""
    match = _PROVIDER.search(str(address or ""))
    name = match.group(1) if match else tf_type.partition("_")[0]
    return PROVIDERS.get(name)


def _declared(
    tf_type: str, instance: dict[str, Any], address: str, path: str, provider: str
) -> Iterator[Declared]:
    attributes = instance.get("attributes") or {}
    vigil_type, keys = TERRAFORM_TYPES[tf_type]
    native_id = next((str(attributes[k]) for k in keys if attributes.get(k)), None)
    region, account = _where(attributes)
    if native_id:
        yield Declared(str(vigil_type), native_id, address, path, region, account, provider)
    if tf_type == "aws_instance":
        yield from _instance_volumes(attributes, address, path, region, account)


def _index(instance: dict[str, Any]) -> str:
    if "index_key" not in instance:
        return ""
    key = instance["index_key"]
    return f"[{key}]" if isinstance(key, int) else f"[{json.dumps(key)}]"


def _where(attributes: dict[str, Any]) -> tuple[str | None, str | None]:
    """(region, account) from the instance's ARN, the account else from `owner_id`."""
    match = _ARN.match(str(attributes.get("arn") or ""))
    region = (match.group("region") or None) if match else None
    account = match.group("account") if match else None
    owner = str(attributes.get("owner_id") or "")
    if account is None and _ACCOUNT.match(owner):
        account = owner
    return region, account


def _instance_volumes(
    attributes: dict[str, Any], address: str, path: str, region: str | None, account: str | None
) -> Iterator[Declared]:
    """Root and inline EBS volumes are created by the instance: they are managed too."""
    for key in ("root_block_device", "ebs_block_device"):
        for index, device in enumerate(attributes.get(key) or []):
            volume = device.get("volume_id") if isinstance(device, dict) else None
            if volume:
                yield Declared(
                    ResourceType.DISK.value,
                    str(volume),
                    f"{address}.{key}[{index}]",
                    path,
                    region,
                    account,
                )

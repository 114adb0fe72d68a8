"""S3 buckets → `bucket` (one global scope per account; `region` is the bucket's location).

Missing configuration has a defined meaning (no policy: not public through policy; no
encryption configuration: SSE-S3, AWS's default since 2023; no bucket-level block: off);
a configuration that cannot be read is null, never a guess.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from collectors.aws.failures import error_code
from collectors.aws.fields import Origin, name_of, normalize_page, paginate, tag_dict
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 1000
_PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_ABSENT = {
    "NoSuchBucketPolicy",
    "NoSuchTagSet",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
}
_UNREADABLE = object()


def _read(call: Any, key: str | None = None, **params: Any) -> Any:
    """The answer (or its `key`); None when the configuration is absent; _UNREADABLE when denied."""
    try:
        answer = call(**params)
    except ClientError as exc:
        code = error_code(exc)
        if code in _ABSENT:
            return None
        if code in {"AccessDenied", "AccessDeniedException", "NotImplemented"}:
            return _UNREADABLE
        raise
    return answer.get(key) if key else answer


def fetch_buckets(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of buckets, each with its location, ACL, policy status, block, encryption,
    versioning and tags. I/O only."""
    for page in paginate(client, "list_buckets", "Buckets", page_size or PAGE_SIZE):
        yield [_details(client, dict(bucket)) for bucket in page]


def _details(client: BaseClient, bucket: dict[str, Any]) -> dict[str, Any]:
    name = bucket["Name"]
    location = _read(client.get_bucket_location, "LocationConstraint", Bucket=name)
    bucket["Location"] = bucket.get("BucketRegion") or location or "us-east-1"
    bucket["Grants"] = _read(client.get_bucket_acl, "Grants", Bucket=name)
    bucket["PolicyStatus"] = _read(client.get_bucket_policy_status, "PolicyStatus", Bucket=name)
    bucket["PublicAccessBlock"] = _read(
        client.get_public_access_block, "PublicAccessBlockConfiguration", Bucket=name
    )
    bucket["Encryption"] = _read(
        client.get_bucket_encryption, "ServerSideEncryptionConfiguration", Bucket=name
    )
    bucket["Versioning"] = _read(client.get_bucket_versioning, "Status", Bucket=name)
    bucket["Tags"] = _read(client.get_bucket_tagging, "TagSet", Bucket=name)
    return bucket


def _known(value: Any) -> bool:
    return value is not _UNREADABLE


def all_blocked(config: dict[str, Any] | None) -> bool:
    """Whether all four block-public-access settings are on."""
    keys = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return config is not None and all(bool(config.get(key)) for key in keys)


def normalize_bucket(
    item: dict[str, Any], origin: Origin, account_block: Any = _UNREADABLE
) -> Resource:
    """One bucket with its details → a `bucket` resource in the bucket's own region.

    `account_block` is the account-level PublicAccessBlockConfiguration, None when the
    account has none, and unreadable by default (the collector cannot reach s3control)."""
    block = item.get("PublicAccessBlock")
    reasons = public_reasons(item.get("Grants"), item.get("PolicyStatus"))
    blocked = block_public_access(block, account_block)
    encryption = item.get("Encryption")
    versioning = item.get("Versioning")
    tags = tag_dict(item.get("Tags") if _known(item.get("Tags")) else None)
    attributes = {
        "public": _public(reasons, blocked),
        "public_reasons": reasons,
        "block_public_access": blocked,
        "encrypted": None if not _known(encryption) else True,
        "encryption": None if not _known(encryption) else _algorithm(encryption),
        "versioning": None if not _known(versioning) else versioning == "Enabled",
    }
    here = dataclasses.replace(origin, region=item["Location"])
    return here.resource(
        ResourceType.BUCKET,
        item["Name"],
        name=name_of(tags, item["Name"]),
        tags=tags,
        attributes=attributes,
    )


def public_reasons(grants: Any, status: Any) -> list[str] | None:
    """`acl` and/or `policy`; None when either cannot be read and the other shows nothing."""
    reasons = []
    if _known(grants) and any(
        grant.get("Grantee", {}).get("URI") in _PUBLIC_GRANTEES for grant in grants or []
    ):
        reasons.append("acl")
    if _known(status) and (status or {}).get("IsPublic"):
        reasons.append("policy")
    if not reasons and not (_known(grants) and _known(status)):
        return None
    return reasons


def block_public_access(block: Any, account_block: Any) -> bool | None:
    """All four settings on at bucket or account level; None when that cannot be told."""
    if _known(block) and all_blocked(block):
        return True
    if _known(account_block) and all_blocked(account_block):
        return True
    if not (_known(block) and _known(account_block)):
        return None
    return False


def _public(reasons: list[str] | None, blocked: bool | None) -> bool | None:
    """Public through ACL or policy and not known to be blocked: an unreadable account block
    leaves `public` as the bucket's own configuration says (`block_public_access` is null)."""
    if blocked is True or reasons == []:
        return False
    return None if reasons is None else True


def _algorithm(encryption: dict[str, Any] | None) -> str:
    """`AES256`, `aws:kms`, ...; no configuration means SSE-S3 (`AES256`)."""
    for rule in (encryption or {}).get("Rules", []):
        algorithm = rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        if algorithm:
            return str(algorithm)
    return "AES256"


def fetch_account_block(control: BaseClient, account: str) -> Any:
    """The account-level PublicAccessBlockConfiguration; None when the account has none;
    unreadable when denied or unreachable (then every bucket's block is unknown, the scope
    still succeeds). I/O only."""
    try:
        return _read(
            control.get_public_access_block, "PublicAccessBlockConfiguration", AccountId=account
        )
    except (ClientError, BotoCoreError):
        return _UNREADABLE


def pages(client: BaseClient, origin: Origin, control: BaseClient) -> Iterator[Page]:
    """Normalized pages of `bucket` resources; the account's block is read once per scope."""
    account_block = fetch_account_block(control, origin.account)
    for items in fetch_buckets(client):
        yield normalize_page(
            items, lambda item: normalize_bucket(item, origin, account_block), "normalize_bucket"
        )

"""S3 buckets against moto: public through ACL or policy, block public access, versioning,
region; absent configurations have their defined meaning, an unreadable one is unknown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collectors.aws import AwsCollector, s3
from tests.factories.aws import ORIGIN, collect, scope, seed_client, source

ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def _bucket(url: str, name: str, region: str = "us-east-1") -> Any:
    client = seed_client(url, "s3", region)
    extra = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    client.create_bucket(Bucket=name, **extra)
    return client


def _buckets(url: str) -> dict[str, Any]:
    resources = collect(AwsCollector(source(url)), scope("bucket", region="global"))
    return {r.native_id: r for r in resources}


def test_public_through_acl_or_policy_and_private_buckets(moto: str) -> None:
    _bucket(moto, "acl-bucket").put_bucket_acl(Bucket="acl-bucket", ACL="public-read")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::policy-bucket/*",
            }
        ],
    }
    _bucket(moto, "policy-bucket").put_bucket_policy(
        Bucket="policy-bucket", Policy=json.dumps(policy)
    )
    _bucket(moto, "private", "eu-west-1").put_bucket_tagging(
        Bucket="private", Tagging={"TagSet": [{"Key": "team", "Value": "data"}]}
    )

    found = _buckets(moto)

    assert found["acl-bucket"].attributes["public_reasons"] == ["acl"]
    assert found["policy-bucket"].attributes["public_reasons"] == ["policy"]
    assert found["acl-bucket"].attributes["public"] is True
    assert found["policy-bucket"].attributes["public"] is True
    private = found["private"]
    assert (private.attributes["public"], private.attributes["public_reasons"]) == (False, [])
    assert (private.region, private.tags) == ("eu-west-1", {"team": "data"})
    # moto reports no default encryption: no configuration is SSE-S3, AWS's default since 2023
    assert private.attributes["encrypted"] is True
    assert private.attributes["encryption"] == "AES256"
    # the account level (s3control) cannot be reached through endpoint_url: unknown, no failure
    assert private.attributes["block_public_access"] is None


def test_a_bucket_level_block_and_versioning(moto: str) -> None:
    client = _bucket(moto, "locked")
    client.put_bucket_acl(Bucket="locked", ACL="public-read")
    client.put_public_access_block(Bucket="locked", PublicAccessBlockConfiguration=ALL_BLOCKED)
    client.put_bucket_versioning(Bucket="locked", VersioningConfiguration={"Status": "Enabled"})
    _bucket(moto, "plain")

    found = _buckets(moto)

    locked = found["locked"].attributes
    assert (locked["block_public_access"], locked["public"]) == (True, False)
    assert locked["versioning"] is True
    assert found["plain"].attributes["versioning"] is False


def test_kms_default_encryption(moto: str) -> None:
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
    _bucket(moto, "kms").put_bucket_encryption(
        Bucket="kms", ServerSideEncryptionConfiguration={"Rules": [rule]}
    )

    assert _buckets(moto)["kms"].attributes["encryption"] == "aws:kms"


# No paging test against moto: moto 5.2.5 cuts ListBuckets at MaxBuckets and sends no
# ContinuationToken, so a second page cannot be asked for. The collector pages with botocore's
# ListBuckets paginator (ContinuationToken), as real S3 requires past 10,000 buckets.


@pytest.mark.parametrize(
    ("bucket_block", "account_block", "expected"),
    [
        (ALL_BLOCKED, None, True),
        (None, ALL_BLOCKED, True),
        (ALL_BLOCKED | {"IgnorePublicAcls": False}, None, False),
        (None, s3._UNREADABLE, None),
        (s3._UNREADABLE, None, None),
    ],
)
def test_block_public_access_at_bucket_or_account_level(
    bucket_block: Any, account_block: Any, expected: bool | None
) -> None:
    item = {"Name": "b", "Location": "eu-west-1", "Grants": [], "PolicyStatus": None}
    item["PublicAccessBlock"] = bucket_block

    resource = s3.normalize_bucket(item, ORIGIN, account_block)

    assert resource.attributes["block_public_access"] is expected


def test_an_unreadable_acl_or_policy_status_is_unknown_not_private() -> None:
    item = {"Name": "b", "Location": "eu-west-1", "PublicAccessBlock": None}
    item |= {"Grants": s3._UNREADABLE, "PolicyStatus": None}

    attributes = s3.normalize_bucket(item, ORIGIN, None).attributes

    assert (attributes["public"], attributes["public_reasons"]) == (None, None)

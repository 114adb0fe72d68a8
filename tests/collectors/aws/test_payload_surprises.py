"""API responses with surprises, through every AWS normalizer (issue 19: hostile input).

Each normalizer gets a realistic item, then Hypothesis mutates it: fields dropped, values of the
wrong type, text with control characters and bidi overrides, huge strings. Every outcome is
either resources storage can write (text identities, string tags, JSON attributes) or a clean
CollectError that fails the scope, which keeps its last inventory. Never another exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.aws import acm, cloudfront, ebs, ec2, elb, rds, route53, s3, security_groups
from collectors.aws.fields import Origin, normalize_page
from storage.reconcile import prepare_page
from tests.factories import scope
from vigil.core.errors import CollectError
from vigil.core.model import Resource

ORIGIN = Origin(source="aws-test", account="111111111111", region="us-east-1")
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TAGS = [{"Key": "Name", "Value": "web"}, {"Key": "team", "Value": "a"}]
ZONE = {"Id": "/hostedzone/Z1", "Name": "example.com.", "Config": {"PrivateZone": False}}

BASES: dict[str, tuple[Callable[[Any], Resource], dict[str, Any]]] = {
    "ec2.instance": (
        lambda item: ec2.normalize_instance(item, ORIGIN),
        {
            "InstanceId": "i-1", "State": {"Name": "running"}, "InstanceType": "t3.micro",
            "PrivateIpAddress": "10.0.0.1", "PublicIpAddress": "3.3.3.3", "LaunchTime": WHEN,
            "Placement": {"AvailabilityZone": "us-east-1a"}, "Tags": TAGS,
            "SecurityGroups": [{"GroupId": "sg-1"}],
            "BlockDeviceMappings": [{"Ebs": {"VolumeId": "vol-1"}}],
            "NetworkInterfaces": [{"PrivateIpAddresses": [{"PrivateIpAddress": "10.0.0.2"}]}],
        },
    ),
    "ebs.volume": (
        lambda item: ebs.normalize_volume(item, ORIGIN),
        {
            "VolumeId": "vol-1", "Size": 8, "State": "in-use", "Encrypted": False,
            "CreateTime": WHEN, "AvailabilityZone": "us-east-1a", "VolumeType": "gp3",
            "Attachments": [{"InstanceId": "i-1", "Device": "/dev/xvda"}], "Tags": TAGS,
        },
    ),
    "ebs.snapshot": (
        lambda item: ebs.normalize_snapshot(item, ORIGIN),
        {
            "SnapshotId": "snap-1", "VolumeId": "vol-1", "State": "completed",
            "StartTime": WHEN, "VolumeSize": 8, "Encrypted": True, "Tags": TAGS,
        },
    ),
    "security_group": (
        lambda item: security_groups.normalize_security_group(item, ORIGIN),
        {
            "GroupId": "sg-1", "GroupName": "web", "VpcId": "vpc-1", "OwnerId": "111111111111",
            "IpPermissions": [
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                 "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
            ],
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
            "Tags": TAGS,
        },
    ),
    "rds.instance": (
        lambda item: rds.normalize_instance(item, ORIGIN),
        {
            "DBInstanceIdentifier": "db-1", "DBInstanceArn": "arn:aws:rds:us-east-1:1:db:db-1",
            "Engine": "postgres", "DBInstanceStatus": "available", "MultiAZ": False,
            "StorageEncrypted": True, "BackupRetentionPeriod": 7, "LatestRestorableTime": WHEN,
            "Endpoint": {"Address": "db-1.x.rds.amazonaws.com", "Port": 5432},
            "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1"}], "TagList": TAGS,
        },
    ),
    "rds.snapshot": (
        lambda item: rds.normalize_snapshot(item, ORIGIN),
        {
            "DBSnapshotIdentifier": "rds:db-1-2026", "DBInstanceIdentifier": "db-1",
            "SnapshotCreateTime": WHEN, "Status": "available", "SnapshotType": "automated",
            "Encrypted": True, "TagList": TAGS,
        },
    ),
    "acm.certificate": (
        lambda item: acm.normalize_certificate(item, ORIGIN),
        {
            "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/c", "DomainName": "a.example",
            "SubjectAlternativeNames": ["a.example"], "Status": "ISSUED", "NotAfter": WHEN,
            "NotBefore": WHEN, "InUseBy": ["arn:aws:elasticloadbalancing:lb"], "Tags": TAGS,
        },
    ),
    "route53.zone": (
        lambda item: route53.normalize_zone(item, ORIGIN),
        {**ZONE, "ResourceRecordSetCount": 3, "Tags": TAGS},
    ),
    "route53.record": (
        lambda item: route53.normalize_record(item, ZONE, ORIGIN),
        {
            "Name": "www.example.com.", "Type": "CNAME", "TTL": 300,
            "ResourceRecords": [{"Value": "lb-1.us-east-1.elb.amazonaws.com"}],
        },
    ),
    "elb.v2": (
        lambda item: elb.normalize_v2(item, ORIGIN),
        {
            "LoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/w/1",
            "LoadBalancerName": "w", "DNSName": "w-1.us-east-1.elb.amazonaws.com",
            "Scheme": "internet-facing", "Type": "application", "State": {"Code": "active"},
            "AvailabilityZones": [{"ZoneName": "us-east-1a"}], "SecurityGroups": ["sg-1"],
            "Listeners": [{"Protocol": "HTTP", "Port": 80, "DefaultActions": []}],
            "TargetGroups": [], "Tags": TAGS,
        },
    ),
    "elb.classic": (
        lambda item: elb.normalize_classic(item, ORIGIN),
        {
            "LoadBalancerName": "c", "DNSName": "c-1.us-east-1.elb.amazonaws.com",
            "Scheme": "internet-facing", "AvailabilityZones": ["us-east-1a"],
            "ListenerDescriptions": [{"Listener": {"Protocol": "HTTP", "LoadBalancerPort": 80}}],
            "Health": [{"InstanceId": "i-1", "State": "InService"}], "Tags": TAGS,
        },
    ),
    "cloudfront.distribution": (
        lambda item: cloudfront.normalize_distribution(item, ORIGIN),
        {
            "Id": "E1", "DomainName": "d1.cloudfront.net", "Enabled": True, "Status": "Deployed",
            "Aliases": {"Items": ["cdn.example.com"]},
            "ViewerCertificate": {
                "ACMCertificateArn": "arn:aws:acm:c", "MinimumProtocolVersion": "TLSv1.2_2021",
            },
            "Origins": {"Items": [{"DomainName": "w-1.us-east-1.elb.amazonaws.com"}]},
            "Tags": TAGS,
        },
    ),
    "s3.bucket": (
        lambda item: s3.normalize_bucket(item, ORIGIN),
        {
            "Name": "b", "Location": "eu-west-1", "Grants": [], "PolicyStatus": {"IsPublic": False},
            "PublicAccessBlock": None, "Encryption": None, "Versioning": {"Status": "Enabled"},
            "Tags": TAGS,
        },
    ),
}  # fmt: skip

HOSTILE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\x1b\x07\u202e\u2066\ufeff"),
    max_size=40,
)
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | HOSTILE_TEXT | st.just(WHEN)
)  # fmt: skip
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """`value` with each part kept (and mutated inside), dropped or replaced by junk."""
    action = draw(st.sampled_from(("keep", "keep", "keep", "replace")))
    if action == "replace":
        return draw(JUNK)
    if isinstance(value, dict):
        result = {}
        for key, inner in value.items():
            if draw(st.integers(0, 7)) != 0:  # dropped one time in eight
                result[key] = draw(mutated(inner))
        return result
    if isinstance(value, list):
        return [draw(mutated(inner)) for inner in value]
    return value


def storable(resources: list[Resource]) -> None:
    """What storage and the renderers rely on about a normalized resource."""
    for item in resources:
        assert isinstance(item.native_id, str) and item.native_id
        assert isinstance(item.name, str)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in item.tags.items())
        json.dumps(item.attributes, default=str)
    prepare_page(scope(), resources)


@pytest.mark.parametrize("shape", sorted(BASES))
def test_the_realistic_item_normalizes(shape: str) -> None:
    normalize, base = BASES[shape]
    storable(normalize_page([base], normalize, shape))


@pytest.mark.parametrize("shape", sorted(BASES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_surprising_item_is_stored_or_fails_the_scope_cleanly(
    shape: str, data: st.DataObject
) -> None:
    normalize, base = BASES[shape]
    item = data.draw(mutated(base))
    try:
        resources = normalize_page([item], normalize, shape)
    except CollectError as exc:
        assert shape in exc.message and "keeps its last inventory" in exc.message
        return
    storable(resources)


@pytest.mark.parametrize("shape", ["ec2.instance", "ebs.volume", "s3.bucket"])
def test_ten_thousand_tags_and_a_megabyte_value_are_kept_whole(shape: str) -> None:
    normalize, base = BASES[shape]
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(10_000)]
    tags.append({"Key": "big", "Value": "x" * 2**20})
    key = "TagList" if "TagList" in base else "Tags"
    (resource,) = normalize_page([{**base, key: tags}], normalize, shape)
    assert len(resource.tags) == 10_001 and len(resource.tags["big"]) == 2**20
    storable([resource])

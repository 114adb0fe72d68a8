"""The read-only guard refuses mutating calls before they are sent, and records reads."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from collectors.aws import AwsCollector
from collectors.aws.guard import (
    called_operations,
    iam_actions,
    is_read_only,
    reset_called_operations,
)
from tests.factories.aws import collect, scope, source
from tests.fixtures.awsproxy import AwsProxy
from vigil.core.errors import ReadOnlyViolation


@pytest.mark.parametrize(
    ("service", "operation", "allowed"),
    [
        ("ec2", "DescribeInstances", True),
        ("acm", "ListCertificates", True),
        ("s3", "GetBucketPolicy", True),
        ("dynamodb", "BatchGetItem", True),
        ("sts", "AssumeRole", True),
        ("ec2", "RunInstances", False),
        ("ec2", "TerminateInstances", False),
        ("rds", "DeleteDBInstance", False),
        ("iam", "AssumeRole", False),  # only STS's AssumeRole is a read in spirit
        ("ec2", "ModifyInstanceAttribute", False),
    ],
)
def test_allow_list(service: str, operation: str, allowed: bool) -> None:
    assert is_read_only(service, operation) is allowed


def test_mutating_calls_are_refused_before_sending(
    aws_proxy: Callable[..., AwsProxy],
) -> None:
    proxy = aws_proxy()
    ec2 = AwsCollector(source(proxy.url)).sessions.client("ec2", "us-east-1")

    with pytest.raises(ReadOnlyViolation, match="ec2:RunInstances"):
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)
    with pytest.raises(ReadOnlyViolation, match="ec2:TerminateInstances"):
        ec2.terminate_instances(InstanceIds=["i-0123456789abcdef0"])

    assert proxy.count == 0
    assert ("ec2", "RunInstances") not in called_operations()


def test_reads_are_recorded_as_iam_actions(moto: str) -> None:
    reset_called_operations()

    collect(AwsCollector(source(moto)), scope("snapshot"))

    assert {"ec2:DescribeSnapshots", "rds:DescribeDBSnapshots"} <= set(iam_actions())

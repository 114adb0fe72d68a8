"""botocore errors become CollectError / AccessDeniedError; a failing region fails alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from collectors.aws import AwsCollector
from collectors.aws.failures import Where, scrub, translate
from tests.factories.aws import collect, run_instances, scope, source
from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.services import free_port
from vigil.core.errors import AccessDeniedError, CollectError, denied_action

WHERE = Where("prod", "123456789012", "eu-west-1", "ec2")


def _client_error(
    code: str, message: str = "", status: int = 400, operation: str = "DescribeInstances"
) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("elbv2", "DescribeTargetHealth", "elasticloadbalancing:DescribeTargetHealth"),
        ("elb", "DescribeInstanceHealth", "elasticloadbalancing:DescribeInstanceHealth"),
        ("s3", "ListBuckets", "s3:ListAllMyBuckets"),
        ("cloudfront", "ListDistributions", "cloudfront:ListDistributions"),
        ("rds", "DescribeDBClusters", "rds:DescribeDBClusters"),
        ("dynamodb", "DescribeContinuousBackups", "dynamodb:DescribeContinuousBackups"),
        ("elasticache", "DescribeReplicationGroups", "elasticache:DescribeReplicationGroups"),
        ("eks", "DescribeCluster", "eks:DescribeCluster"),
        ("lambda", "ListFunctions", "lambda:ListFunctions"),
    ],
)
def test_a_denied_new_type_names_the_iam_action_to_grant(
    service: str, operation: str, action: str
) -> None:
    where = Where("prod", "123456789012", "global", service)

    error = translate(_client_error("AccessDenied", operation=operation), where)

    assert isinstance(error, AccessDeniedError)
    assert f"Grant {action} to" in error.message


@pytest.mark.parametrize(
    "code", ["UnauthorizedOperation", "AccessDenied", "AuthFailure", "ExpiredToken"]
)
def test_access_errors_are_not_retryable_and_say_what_to_grant(code: str) -> None:
    error = translate(_client_error(code, "nope"), WHERE)

    assert isinstance(error, AccessDeniedError)
    assert error.retryable is False
    assert "Grant ec2:DescribeInstances" in error.message
    assert (
        "'prod'" in error.message
        and "eu-west-1" in error.message
        and "123456789012" in error.message
    )


@pytest.mark.parametrize(
    ("code", "action"),
    [("UnauthorizedOperation", "ec2:DescribeInstances"), ("AccessDenied", "ec2:DescribeInstances"),
     ("AuthFailure", None), ("ExpiredToken", None)],
)  # fmt: skip
def test_a_stored_permission_denial_names_its_iam_action(code: str, action: str | None) -> None:
    # collector.failing reads the stored error to tell `not permitted` from broken credentials.
    assert denied_action(translate(_client_error(code, "nope"), WHERE).message) == action


@pytest.mark.parametrize(("code", "status"), [("RequestLimitExceeded", 503), ("Throttling", 400)])
def test_throttling_past_retries_is_retryable(code: str, status: int) -> None:
    error = translate(_client_error(code, status=status), WHERE)

    assert type(error) is CollectError
    assert error.retryable is True


def test_access_key_ids_never_reach_messages() -> None:
    error = translate(
        _client_error("InvalidClientTokenId", "key AKIAIOSFODNN7EXAMPLE is invalid"), WHERE
    )

    assert "AKIAIOSFODNN7EXAMPLE" not in error.message
    assert scrub("ASIAXXXXXXXXXXXXXXXX") == "<redacted>"


def test_a_denied_region_fails_alone(moto: str, aws_proxy: Callable[..., AwsProxy]) -> None:
    run_instances(moto, 2, region="us-east-1")
    run_instances(moto, 1, region="eu-west-1")
    proxy = aws_proxy(deny_regions={"eu-west-1"})
    collector = AwsCollector(source(proxy.url, regions=["us-east-1", "eu-west-1"]))

    assert len(collect(collector, scope("server", "us-east-1"))) == 2
    with pytest.raises(AccessDeniedError, match="eu-west-1") as raised:
        collect(collector, scope("server", "eu-west-1"))

    assert raised.value.retryable is False
    assert "UnauthorizedOperation" in raised.value.message
    assert len(proxy.outcomes("denied")) == 1  # access errors are not retried


def test_throttling_is_retried_to_success(moto: str, aws_proxy: Callable[..., AwsProxy]) -> None:
    run_instances(moto, 2)
    proxy = aws_proxy(throttle_first_n=2)

    resources = collect(AwsCollector(source(proxy.url, max_attempts=4)), scope("server"))

    assert len(resources) == 2
    assert len(proxy.outcomes("throttled")) == 2
    assert len(proxy.outcomes("forwarded")) == 1


def test_throttling_past_max_attempts_fails_retryably(
    moto: str, aws_proxy: Callable[..., AwsProxy]
) -> None:
    proxy = aws_proxy(throttle_first_n=100)

    with pytest.raises(CollectError, match="RequestLimitExceeded") as raised:
        collect(AwsCollector(source(proxy.url, max_attempts=2)), scope("disk"))

    assert raised.value.retryable is True
    assert proxy.count == 2


def test_an_unreachable_endpoint_is_retryable(aws_credentials: None) -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(CollectError, match="could not reach") as raised:
        collect(AwsCollector(source(closed, max_attempts=1)), scope("server"))

    assert raised.value.retryable is True

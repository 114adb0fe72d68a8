"""Credentials and discovery: assumed roles, Organization accounts, `regions: all`, clients."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.loaders
import botocore.utils
import pytest
from botocore.exceptions import UnknownServiceError

from collectors.aws import AwsCollector
from collectors.aws.guard import called_operations
from collectors.aws.session import Sessions, _Models, botocore_session, parse_timestamp
from tests.factories.aws import collect, instance_in, scope, seed_client, source

OTHER = "111122223333"


def test_role_arn_collects_the_other_account(moto: str) -> None:
    role = f"arn:aws:iam::{OTHER}:role/VigilReadOnly"
    instance = instance_in(moto, role)
    collector = AwsCollector(source(moto, role_arn=role))

    scopes = list(collector.plan({"server"}))
    [resource] = collect(collector, scopes[0])

    assert [s.account for s in scopes] == [OTHER]
    assert resource.native_id == instance
    assert resource.account == OTHER
    assert ("sts", "AssumeRole") in called_operations()


def _organization(url: str) -> str:
    """An Organization managed by moto's default account, with one member; the member's id."""
    organizations = seed_client(url, "organizations")
    organizations.create_organization(FeatureSet="ALL")
    status = organizations.create_account(Email="member@example.com", AccountName="member")
    return str(status["CreateAccountStatus"]["AccountId"])


def test_organization_gives_scopes_for_every_account(moto: str) -> None:
    member = _organization(moto)
    role = f"arn:aws:iam::{member}:role/VigilReadOnly"
    instance = instance_in(moto, role)
    collector = AwsCollector(source(moto, organization={}))

    scopes = {s.account: s for s in collector.plan({"server"})}
    [resource] = collect(collector, scopes[member])

    assert set(scopes) == {"123456789012", member}
    assert scopes[member].context_value("role_arn") == role
    assert scopes["123456789012"].context == ()  # the management account: own credentials
    assert (resource.native_id, resource.account) == (instance, member)


def test_organization_exclude_list(moto: str) -> None:
    member = _organization(moto)

    config = source(moto, organization={"exclude": [member]})
    accounts = {s.account for s in AwsCollector(config).plan({"server"})}

    assert accounts == {"123456789012"}


def test_regions_all_lists_enabled_regions(moto: str) -> None:
    regions = Sessions(source(moto, regions="all")).regions()

    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= set(regions)
    assert "ap-east-1" not in regions  # opt-in, not enabled


def test_clients_are_shared_and_configured(moto: str) -> None:
    sessions = Sessions(source(moto, max_attempts=5, read_timeout=7))

    client = sessions.client("ec2", "eu-west-1")

    assert sessions.client("ec2", "eu-west-1") is client
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert client.meta.config.read_timeout == 7
    assert client.meta.region_name == "eu-west-1"
    assert collect(AwsCollector(source(moto)), scope("server", "eu-west-1")) == []


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:00.000Z",  # EC2, EBS, RDS (XML)
        "2026-03-04T05:06:07Z",
        "2026-03-04T05:06:07.123456+00:00",
        "2026-03-04T07:06:07+02:00",
        1767225600,  # ACM (JSON): epoch seconds
        1767225600.25,
        "1767225600",
        "Thu, 01 Jan 2026 00:00:00 GMT",  # RFC 822, as some headers carry
    ],
)
def test_timestamps_parse_as_botocore_parses_them(text: Any) -> None:
    assert parse_timestamp(text) == botocore.utils.parse_timestamp(text)
    assert parse_timestamp(text).utcoffset() is not None


def test_timestamps_without_an_offset_are_utc() -> None:
    assert parse_timestamp("2026-01-01T00:00:00") == datetime(2026, 1, 1, tzinfo=UTC)


def test_clients_parse_timestamps_into_aware_datetimes(moto: str) -> None:
    seed_client(moto, "ec2", "eu-west-1").run_instances(
        ImageId="ami-0abcdef1234567890", MinCount=1, MaxCount=1
    )
    client = Sessions(source(moto)).client("ec2", "eu-west-1")

    reservations = client.describe_instances()["Reservations"]
    launched = reservations[0]["Instances"][0]["LaunchTime"]

    # datetime.UTC, not dateutil's tzutc: the fast parser is the one in use.
    assert isinstance(launched, datetime) and launched.tzinfo is UTC
    assert abs((datetime.now(UTC) - launched).total_seconds()) < 3600


def test_shared_loader_loads_the_models_botocore_loads() -> None:
    """The sessions' loader finds a model without listing every service botocore ships; the
    models it loads, and its errors (sts has no waiters, ec3 is no service), are botocore's.
    Fresh loaders both: clients adjust the models they were given (s3's), in either kind."""
    assert isinstance(botocore_session().get_component("data_loader"), _Models)
    shared, plain = _Models(), botocore.loaders.Loader()

    def outcome(loader: Any, service: str, kind: str) -> Any:
        try:
            return loader.load_service_model(service, kind)
        except UnknownServiceError as exc:
            return str(exc)

    for service in ("sts", "ec2", "s3", "elbv2", "ec3", "../sts", "EC2"):
        for kind in ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"):
            assert outcome(shared, service, kind) == outcome(plain, service, kind)
    with pytest.raises(UnknownServiceError, match=r"Valid service names are: .*\bec2\b"):
        shared.load_service_model("ec3", "service-2")

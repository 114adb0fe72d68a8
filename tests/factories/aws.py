"""Small builders for AWS collector tests: plain seeding clients, configs, scopes, payloads.

Seeding goes through plain boto3 (it mutates moto); collection goes through the collector.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import boto3

from collectors.aws import AwsCollector
from collectors.aws.config import AwsSourceConfig
from collectors.aws.fields import Origin
from vigil.core.model import Resource, Scope

DATA = Path(__file__).resolve().parents[1] / "data" / "aws"
ACCOUNT = "123456789012"
"""moto's default account."""
ORIGIN = Origin("test", ACCOUNT, "eu-west-1")


def payload(name: str) -> Any:
    """A recorded API payload from tests/data/aws."""
    return json.loads((DATA / f"{name}.json").read_text())


@functools.cache
def seed_client(url: str, service: str, region: str = "us-east-1") -> Any:
    """A plain, unguarded boto3 client for arranging moto's state (cached: clients are slow
    to build and thread-safe once built)."""
    return boto3.session.Session().client(service, region_name=region, endpoint_url=url)


def source(url: str, **overrides: Any) -> AwsSourceConfig:
    """An AWS source pointed at `url`, one region unless told otherwise, retrying fast."""
    settings: dict[str, Any] = {
        "name": "test",
        "regions": ["us-east-1"],
        "endpoint_url": url,
        "max_attempts": 3,
    }
    settings.update(overrides)
    return AwsSourceConfig(**settings)


def source_entry(
    url: str, name: str = "aws", regions: tuple[str, ...] = ("us-east-1",), **fields: Any
) -> dict[str, Any]:
    """An AWS source as `vigil.yaml`'s `sources:` lists it, pointed at `url`."""
    return {"name": name, "provider": "aws", "regions": list(regions), "endpoint_url": url} | fields


def scope(type_: str, region: str = "us-east-1", account: str = ACCOUNT, **context: str) -> Scope:
    """A scope of the `test` source."""
    return Scope("test", "aws", account, region, type_, tuple(sorted(context.items())))


def collect(collector: AwsCollector, scope_: Scope) -> list[Resource]:
    """Every resource of a scope (fine in tests: the scopes are small)."""
    return [resource for page in collector.collect(scope_) for resource in page]


def run_instances(url: str, count: int, region: str = "us-east-1", **tags: str) -> list[str]:
    """Start `count` instances (one reservation) with `tags`; their ids."""
    ec2 = seed_client(url, "ec2", region)
    tag_spec = [
        {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    ]
    answer = ec2.run_instances(
        ImageId="ami-0abcdef1234567890",
        MinCount=count,
        MaxCount=count,
        InstanceType="t3.micro",
        **({"TagSpecifications": tag_spec} if tags else {}),
    )
    return [instance["InstanceId"] for instance in answer["Instances"]]


def as_role(url: str, role_arn: str, service: str, region: str = "us-east-1") -> Any:
    """A plain client acting in the account of `role_arn` (moto takes the account from it)."""
    credentials = seed_client(url, "sts").assume_role(RoleArn=role_arn, RoleSessionName="seed")[
        "Credentials"
    ]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ).client(service, region_name=region, endpoint_url=url)


def instance_in(url: str, role_arn: str) -> str:
    ec2 = as_role(url, role_arn, "ec2")
    answer = ec2.run_instances(ImageId="ami-0abcdef1234567890", MinCount=1, MaxCount=1)
    return str(answer["Instances"][0]["InstanceId"])

"""The least-privilege policy grants exactly what the AWS collectors call, and nothing else.

The expected actions are not a list in the test: they are recorded by the read-only guard
while Vigil scans the seeded moto estate (every resource type) and plans an Organization
across all regions through a member role.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import yaml

from collectors.aws import AwsCollector
from collectors.aws.config import AwsSourceConfig
from collectors.aws.guard import iam_actions, reset_called_operations
from collectors.aws.services import TYPES
from storage.db import Database
from tests.deploy.helpers import DEPLOY
from vigil.app.collect import collect
from vigil.app.demo_estate import seed_estate

POLICY = DEPLOY / "aws" / "vigil-readonly-policy.json"
TEMPLATE = DEPLOY / "aws" / "cross-account-role.yaml"
TERRAFORM = DEPLOY / "aws" / "cross-account-role.tf"
REGIONS = ("us-east-1", "eu-west-1")
ONLY_CALLED_WITH_DATA = {"backup:ListRestoreTestingSelections"}
"""Called once per restore testing plan; moto answers ListRestoreTestingPlans with 404, so a
scan of moto never reaches it (collectors/aws/restores.py reads it; its normalizer is tested
on a recorded answer)."""


def policy_actions(document: dict[str, Any]) -> list[str]:
    actions: list[str] = []
    for statement in document["Statement"]:
        value = statement["Action"]
        actions += [value] if isinstance(value, str) else value
    return actions


def plan_organization_through_member_role(endpoint_url: str) -> None:
    """Plan every region of an Organization, then collect one scope as a member role."""
    organizations = boto3.client(
        "organizations", region_name="us-east-1", endpoint_url=endpoint_url
    )
    organizations.create_organization(FeatureSet="ALL")
    organizations.create_account(Email="member@example.com", AccountName="member")
    config = AwsSourceConfig(
        name="org",
        regions="all",
        endpoint_url=endpoint_url,
        types=["certificate"],
        organization={"role_name": "VigilReadOnly"},
    )
    collector = AwsCollector(config)
    scopes = list(collector.plan())
    member = next(s for s in scopes if s.context_value("role_arn"))
    for _ in collector.collect(member):
        pass


@pytest.fixture
def recorded_actions(moto: str, sqlite_db: Database) -> set[str]:
    seed_estate(moto, regions=REGIONS, servers_per_region=1)
    reset_called_operations()
    source = AwsSourceConfig(
        name="aws-all", regions=list(REGIONS), endpoint_url=moto, types=sorted(TYPES)
    )
    result = collect(sqlite_db, [source])
    assert result.failed == [], [o.error for o in result.failed]
    assert {o.scope.type for o in result.outcomes} == set(TYPES)
    plan_organization_through_member_role(moto)
    return set(iam_actions())


@pytest.mark.slow
def test_policy_grants_exactly_what_a_full_scan_calls(recorded_actions: set[str]) -> None:
    document = json.loads(POLICY.read_text())
    granted = policy_actions(document)

    assert {
        "sts:AssumeRole",
        "organizations:ListAccounts",
        "ec2:DescribeRegions",
    } <= recorded_actions
    recorded_actions = recorded_actions | ONLY_CALLED_WITH_DATA
    assert set(granted) == recorded_actions, (
        f"missing from the policy: {sorted(recorded_actions - set(granted))}; "
        f"granted but never called: {sorted(set(granted) - recorded_actions)}"
    )
    assert len(granted) == len(set(granted))
    assert not [a for a in granted if "*" in a or "?" in a]
    assert {s["Effect"] for s in document["Statement"]} == {"Allow"}
    assert not [s for s in document["Statement"] if "NotAction" in s or "NotResource" in s]


def test_member_roles_are_the_only_ones_vigil_may_assume() -> None:
    document = json.loads(POLICY.read_text())
    for statement in document["Statement"]:
        if "sts:AssumeRole" in policy_actions({"Statement": [statement]}):
            assert statement["Action"] == ["sts:AssumeRole"]
            assert statement["Resource"].endswith(":role/VigilReadOnly")


def test_cloudformation_role_trusts_only_vigil_with_an_external_id() -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    role = template["Resources"]["VigilReadOnlyRole"]
    assert role["Type"] == "AWS::IAM::Role"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"]["sts:ExternalId"] == {"Ref": "ExternalId"}
    assert "${VigilAccountId}" in trust["Principal"]["AWS"]["Fn::Sub"]
    assert template["Parameters"]["ExternalId"]["NoEcho"] is True
    assert template["Parameters"]["VigilAccountId"]["AllowedPattern"] == "^[0-9]{12}$"


def test_cloudformation_inline_policy_is_the_policy_file() -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    (policy,) = template["Resources"]["VigilReadOnlyRole"]["Properties"]["Policies"]
    assert policy["PolicyDocument"] == json.loads(POLICY.read_text())


def test_terraform_snippet_reads_the_policy_file_and_requires_the_external_id() -> None:
    text = TERRAFORM.read_text()
    assert 'file("${path.module}/vigil-readonly-policy.json")' in text
    assert 'variable = "sts:ExternalId"' in text
    assert "values   = [var.external_id]" in text
    assert "sensitive   = true" in text

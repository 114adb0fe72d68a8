"""The demo estate's data tier and platform: an Aurora cluster and DynamoDB tables, caches,
an EKS cluster and Lambda functions, each with one seeded problem for its web-estate rule.

Seeded problems (with `problems`): the `analytics` database lives in one zone with no replica
(ha.single_zone), the `sessions` table has neither point-in-time recovery nor a backup
(backup.missing), the `cache-legacy` replication group is unencrypted without failover
(encryption.at_rest, encryption.in_transit, ha.single_zone), the `platform` EKS cluster runs an
unsupported version behind a public endpoint (kubernetes.unsupported), and the `thumbnails`
function a deprecated runtime (function.runtime_deprecated).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any, Protocol

ClientFn = Callable[[str], Any]
"""A plain (unguarded) client of the home region, by service name."""


class Summary(Protocol):
    """Where seeding records what it made (the estate summary)."""

    def add(self, type_: str, n: int = 1) -> None: ...

    def problem(self, rule: str, native_id: str) -> None: ...


def seed_data(client: ClientFn, summary: Summary, problems: bool) -> None:
    """Seed the data tier and platform of the home region."""
    _seed_aurora(client("rds"), summary)
    _seed_tables(client("dynamodb"), summary, problems)
    _seed_caches(client("elasticache"), summary, problems)
    _seed_kubernetes(client("eks"), summary, problems)
    _seed_functions(client("iam"), client("lambda"), summary, problems)
    if problems:
        summary.problem("ha.single_zone", "analytics")  # demo_estate's single-AZ database


def _seed_aurora(rds: Any, summary: Summary) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier="ledger",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        StorageEncrypted=True,
        BackupRetentionPeriod=14,
        Tags=[{"Key": "team", "Value": "payments"}],
    )
    for member in ("ledger-1", "ledger-2"):
        rds.create_db_instance(
            DBInstanceIdentifier=member,
            DBClusterIdentifier="ledger",
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
    summary.add("database", 3)  # the cluster and its two members
    summary.add("snapshot", 2)  # moto takes an automated DB snapshot of each member


def _seed_tables(dynamodb: Any, summary: Summary, problems: bool) -> None:
    key = {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    arns = {
        name: dynamodb.create_table(TableName=name, **key)["TableDescription"]["TableArn"]
        for name in ("carts", "sessions")
    }
    pitr = {"PointInTimeRecoveryEnabled": True}
    dynamodb.update_continuous_backups(TableName="carts", PointInTimeRecoverySpecification=pitr)
    if problems:
        summary.problem("backup.missing", arns["sessions"])
    else:
        dynamodb.create_backup(TableName="sessions", BackupName="sessions-nightly")
    summary.add("database", 2)


def _seed_caches(elasticache: Any, summary: Summary, problems: bool) -> None:
    safe = {
        "AutomaticFailoverEnabled": True,
        "MultiAZEnabled": True,
        "AtRestEncryptionEnabled": True,
        "TransitEncryptionEnabled": True,
        "SnapshotRetentionLimit": 7,
        "ReplicasPerNodeGroup": 1,
    }
    for name, settings in (("cache-web", safe), ("cache-legacy", {} if problems else safe)):
        elasticache.create_replication_group(
            ReplicationGroupId=name,
            ReplicationGroupDescription=name,
            Engine="redis",
            CacheNodeType="cache.t3.medium",
            **settings,
        )
    if problems:
        for rule in ("encryption.at_rest", "encryption.in_transit", "ha.single_zone"):
            summary.problem(rule, "cache-legacy")
    summary.add("cache", 2)


def _seed_kubernetes(eks: Any, summary: Summary, problems: bool) -> None:
    role = "arn:aws:iam::123456789012:role/vigil-demo-eks"
    vpc = {"subnetIds": ["subnet-demo"], "endpointPublicAccess": True}
    if not problems:
        vpc = {"subnetIds": ["subnet-demo"], "endpointPublicAccess": False}
    # 1.24 left standard support on 2024-01-31; 1.33 is supported until mid-2026 or later.
    for name, version in (("platform", "1.24" if problems else "1.33"), ("batch", "1.33")):
        eks.create_cluster(name=name, version=version, roleArn=role, resourcesVpcConfig=vpc)
    if problems:
        summary.problem("kubernetes.unsupported", "platform")
    summary.add("kubernetes_cluster", 2)


_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _seed_functions(iam: Any, lambda_: Any, summary: Summary, problems: bool) -> None:
    role = iam.create_role(
        RoleName="vigil-demo-lambda", AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return event\n")
    # python3.7 has been deprecated since 2023-12-04; python3.12 is supported.
    for name, runtime in (
        ("thumbnails", "python3.7" if problems else "python3.12"),
        ("resize", "python3.12"),
    ):
        lambda_.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler="handler.handle",
            Code={"ZipFile": code.getvalue()},
            Tags={"team": "media"},
        )
    if problems:
        summary.problem("function.runtime_deprecated", "thumbnails")
    summary.add("function", 2)

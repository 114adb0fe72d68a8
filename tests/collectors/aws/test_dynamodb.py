"""DynamoDB tables → databases against moto: point-in-time recovery, on-demand backups,
paging; global table replicas only from a recorded payload through the pure normalizer
(moto's UpdateTable ignores ReplicaUpdates and DescribeTable reports no `Replicas`)."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws import AwsCollector, dynamodb
from tests.factories.aws import ORIGIN, collect, payload, scope, seed_client, source


def _table(url: str, name: str, region: str = "us-east-1", **extra: Any) -> str:
    answer = seed_client(url, "dynamodb", region).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return str(answer["TableDescription"]["TableArn"])


def _tables(url: str) -> dict[str, dict[str, Any]]:
    resources = collect(AwsCollector(source(url)), scope("database"))
    return {r.name: r.attributes for r in resources if r.attributes["engine"] == "dynamodb"}


def test_a_table_with_pitr_and_one_with_an_on_demand_backup(moto: str) -> None:
    client = seed_client(moto, "dynamodb")
    _table(moto, "orders", Tags=[{"Key": "team", "Value": "payments"}])
    client.update_continuous_backups(
        TableName="orders", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    _table(moto, "carts")
    client.create_backup(TableName="carts", BackupName="carts-nightly")
    _table(moto, "scratch")

    tables = _tables(moto)

    assert tables["orders"]["point_in_time_recovery"] is True
    assert tables["orders"]["on_demand_backups"] == 0
    assert tables["carts"]["point_in_time_recovery"] is False
    assert tables["carts"]["on_demand_backups"] == 1
    assert tables["carts"]["latest_backup_at"] is not None
    scratch = tables["scratch"]
    assert (scratch["point_in_time_recovery"], scratch["on_demand_backups"]) == (False, 0)
    assert scratch["storage_encrypted"] is True and scratch["replica_of"] is None


def test_tables_page_past_one_page(moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamodb, "PAGE_SIZE", 4)
    names = {f"t-{i:02}" for i in range(10)}
    for name in names:
        _table(moto, name)

    pages = list(AwsCollector(source(moto)).collect(scope("database")))

    tables = [r.name for page in pages for r in page if r.attributes["engine"] == "dynamodb"]
    assert sorted(tables) == sorted(names)
    assert sum(1 for page in pages if page and page[0].attributes["engine"] == "dynamodb") == 3


def test_a_recorded_global_table_through_the_normalizer() -> None:
    # moto cannot make a global table; real DynamoDB lists the own region among Replicas too.
    resource = dynamodb.normalize_table(payload("describe_table"), ORIGIN)

    attributes = resource.attributes
    assert resource.name == "web-sessions"
    assert attributes["replica_regions"] == ["us-east-1"]
    assert attributes["replicas"] == ["arn:aws:dynamodb:us-east-1:123456789012:table/sessions"]
    assert attributes["encryption"] == "KMS" and attributes["billing_mode"] == "PAY_PER_REQUEST"
    assert attributes["on_demand_backups"] == 1  # the deleted backup does not count
    assert attributes["latest_backup_at"] == "2026-11-30T02:00:00Z"
    assert attributes["recovery_period_days"] == 35

"""Retirement: what leaves the config leaves the inventory, only after a whole-config pass."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws.config import AwsSourceConfig
from storage import history, inventory
from storage.db import Database
from vigil.app.collect import collect
from vigil.app.demo_estate import seed_estate

REGIONS = ("us-east-1", "eu-west-1")


def _source(moto: str, regions: tuple[str, ...]) -> AwsSourceConfig:
    return AwsSourceConfig(name="aws-test", regions=list(regions), endpoint_url=moto)


@pytest.fixture
def estate(moto: str) -> Any:
    return seed_estate(moto, regions=REGIONS, servers_per_region=1)


def _regions(db: Database) -> set[str]:
    return {item.region for item in inventory.inventory(db)}


def test_a_region_removed_from_the_config_retires_its_resources(
    sqlite_db: Database, moto: str, estate: Any
) -> None:
    collect(sqlite_db, [_source(moto, REGIONS)], retire=True)
    assert "eu-west-1" in _regions(sqlite_db)

    result = collect(sqlite_db, [_source(moto, ("us-east-1",))], retire=True)

    assert result.retired > 0
    assert "eu-west-1" not in _regions(sqlite_db)
    shown = inventory.inventory(sqlite_db, inventory.InventoryFilter(include_deleted=True))
    assert {r.state for r in shown if r.region == "eu-west-1"} == {"retired"}


def test_a_pass_by_type_never_retires(sqlite_db: Database, moto: str, estate: Any) -> None:
    collect(sqlite_db, [_source(moto, REGIONS)], retire=True)

    result = collect(sqlite_db, [_source(moto, ("us-east-1",))], types={"server"}, retire=True)

    assert result.retired == 0
    assert "eu-west-1" in _regions(sqlite_db)


def test_a_failed_plan_retires_nothing(sqlite_db: Database, moto: str, estate: Any) -> None:
    collect(sqlite_db, [_source(moto, REGIONS)], retire=True)
    unreachable = AwsSourceConfig(
        name="other", regions=["us-east-1"], endpoint_url="http://127.0.0.1:9", max_attempts=1
    )

    result = collect(sqlite_db, [_source(moto, ("us-east-1",)), unreachable], retire=True)

    assert result.retired == 0
    assert "eu-west-1" in _regions(sqlite_db)


def test_a_renamed_source_is_one_changed_event_per_resource(
    sqlite_db: Database, moto: str, estate: Any
) -> None:
    collect(sqlite_db, [_source(moto, REGIONS)], retire=True)
    before = {item.uid for item in inventory.inventory(sqlite_db)}
    renamed = AwsSourceConfig(name="aws-renamed", regions=list(REGIONS), endpoint_url=moto)

    result = collect(sqlite_db, [renamed], retire=True)

    assert result.retired == 0
    after = list(inventory.inventory(sqlite_db))
    assert {item.uid for item in after} == before
    assert {item.source for item in after} == {"aws-renamed"}
    kinds = [e.kind for e in history.changes(sqlite_db) if e.uid in before]
    assert kinds.count("retired") == 0 and kinds.count("created") == len(before)
    renames = [e for e in history.changes(sqlite_db, kinds=("changed",)) if e.uid in before]
    assert len(renames) == len(before)
    assert all(e.changes["source"] == {"old": "aws-test", "new": "aws-renamed"} for e in renames)


def test_vigil_changes_and_include_deleted_show_retired_resources(
    sqlite_db: Database, moto: str, estate: Any
) -> None:
    collect(sqlite_db, [_source(moto, REGIONS)], retire=True)
    collect(sqlite_db, [_source(moto, ("us-east-1",))], retire=True)

    retired = [e for e in history.changes(sqlite_db) if e.kind == "retired"]
    assert retired and {e.region for e in retired} == {"eu-west-1"}
    shown = {
        r.uid
        for r in inventory.inventory(sqlite_db, inventory.InventoryFilter(include_deleted=True))
    }
    assert {e.uid for e in retired} <= shown
    assert not {e.uid for e in retired} & {r.uid for r in inventory.inventory(sqlite_db)}

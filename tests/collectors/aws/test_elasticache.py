"""ElastiCache → caches against moto: a replication group with failover and encryption, a
standalone Memcached cluster, paging; a group's security groups and engine from its member
clusters only through a recorded payload (moto does not list a group's members)."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws import AwsCollector, elasticache
from tests.factories.aws import ORIGIN, collect, payload, scope, seed_client, source


def _caches(url: str) -> dict[str, Any]:
    return {r.native_id: r for r in collect(AwsCollector(source(url)), scope("cache"))}


def _group(url: str, name: str, **extra: Any) -> None:
    seed_client(url, "elasticache").create_replication_group(
        ReplicationGroupId=name,
        ReplicationGroupDescription=name,
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        ReplicasPerNodeGroup=1,  # moto ignores NumCacheClusters
        **extra,
    )


def test_a_replication_group_with_failover_and_encryption(moto: str) -> None:
    _group(
        moto,
        "web",
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=True,
        SnapshotRetentionLimit=5,
        Tags=[{"Key": "team", "Value": "web"}],
    )

    resource = _caches(moto)["web"]

    attributes = resource.attributes
    assert resource.tags == {"team": "web"}
    assert (attributes["kind"], attributes["engine"]) == ("replication_group", "redis")
    assert attributes["node_count"] == 2
    assert attributes["zones"] == ["us-east-1a", "us-east-1b"]
    assert attributes["automatic_failover"] is True and attributes["multi_az"] is True
    assert attributes["encrypted"] is True and attributes["transit_encryption"] is True
    assert attributes["snapshot_retention_days"] == 5


def test_a_standalone_memcached_cluster_has_unknown_at_rest_encryption(moto: str) -> None:
    seed_client(moto, "elasticache").create_cache_cluster(
        CacheClusterId="fragments",
        Engine="memcached",
        CacheNodeType="cache.t3.micro",
        NumCacheNodes=3,
        Tags=[{"Key": "Name", "Value": "page-fragments"}],
    )

    resource = _caches(moto)["fragments"]

    attributes = resource.attributes
    assert resource.name == "page-fragments"
    assert (attributes["kind"], attributes["engine"], attributes["node_count"]) == (
        "cluster",
        "memcached",
        3,
    )
    assert attributes["automatic_failover"] is False
    assert attributes["encrypted"] is None  # no such field: unknown, never "unencrypted"
    assert attributes["transit_encryption"] is False


def test_clusters_and_groups_page_past_one_page(moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(elasticache, "PAGE_SIZE", 20)  # the API's minimum MaxRecords
    client = seed_client(moto, "elasticache")
    for i in range(22):
        client.create_cache_cluster(
            CacheClusterId=f"c-{i:02}", Engine="redis", CacheNodeType="cache.t3.micro"
        )
    for i in range(21):
        _group(moto, f"g-{i:02}")

    pages = list(AwsCollector(source(moto)).collect(scope("cache")))

    assert len(pages) == 4
    kinds = [r.attributes["kind"] for page in pages for r in page]
    assert (kinds.count("cluster"), kinds.count("replication_group")) == (22, 21)


def test_a_valkey_group_in_one_zone_from_a_recorded_payload() -> None:
    resource = elasticache.normalize_group(payload("describe_replication_groups"), ORIGIN)

    attributes = resource.attributes
    assert (attributes["engine"], attributes["engine_version"]) == ("valkey", "7.2")
    assert attributes["security_groups"] == ["sg-0cache"]
    assert attributes["zones"] == ["eu-west-1a"]
    assert attributes["automatic_failover"] is False and attributes["multi_az"] is False
    assert attributes["encrypted"] is False and attributes["transit_encryption"] is False
    assert attributes["snapshot_retention_days"] == 0

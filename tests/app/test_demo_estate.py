"""The demo estate: collecting it finds exactly what was seeded, problems included."""

from __future__ import annotations

from collectors.aws import AwsCollector
from tests.factories.aws import source
from vigil.app.demo_estate import seed_estate
from vigil.core.model import Resource

REGIONS = ("us-east-1", "eu-west-1")


def _collect_all(url: str) -> list[Resource]:
    collector = AwsCollector(source(url, regions=list(REGIONS)))
    return [r for s in collector.plan() for page in collector.collect(s) for r in page]


def test_collecting_the_estate_finds_what_was_seeded(moto: str) -> None:
    summary = seed_estate(moto, regions=REGIONS, servers_per_region=4)

    resources = _collect_all(moto)

    counts: dict[str, int] = {}
    for resource in resources:
        counts[resource.type] = counts.get(resource.type, 0) + 1
    assert counts == summary.counts
    by_id = {r.native_id: r for r in resources}
    for rule in ("network.open_port", "backup.missing", "cert.expiring"):
        assert all(native_id in by_id for native_id in summary.problems[rule]), rule
    assert summary.counts["dns_record"] > 300
    ssh = by_id[summary.problems["network.open_port"][0]]
    assert ssh.attributes["ingress"][0]["from_port"] == 22


def test_without_problems_nothing_is_seeded_wrong(moto: str) -> None:
    summary = seed_estate(moto, regions=REGIONS[:1], servers_per_region=2, problems=False)

    assert summary.problems == {}
    assert summary.counts["server"] == 2

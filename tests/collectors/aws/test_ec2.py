"""EC2 instances → servers: normalization of a recorded payload, collection and paging."""

from __future__ import annotations

import pytest

from collectors.aws import AwsCollector, ec2
from tests.factories.aws import (
    ORIGIN,
    collect,
    payload,
    run_instances,
    scope,
    source,
)


def test_normalize_instance_reads_the_recorded_payload() -> None:
    resource = ec2.normalize_instance(payload("describe_instances"), ORIGIN)

    assert resource.type == "server"
    assert resource.native_id.startswith("i-")
    assert resource.uid == f"aws/{ORIGIN.account}/eu-west-1/server/{resource.native_id}"
    assert resource.name == "web-prod-001"
    assert resource.tags == {"Name": "web-prod-001", "team": "payments"}
    attributes = resource.attributes
    assert attributes["state"] == "running"
    assert attributes["instance_type"] == "m6i.large"
    assert attributes["launch_time"].endswith("Z")
    assert len(attributes["volume_ids"]) == 2
    assert attributes["private_ips"] and attributes["public_ips"]
    assert attributes["availability_zone"].startswith("eu-west-1")


def test_name_falls_back_to_the_instance_id() -> None:
    item = {"InstanceId": "i-0123", "State": {"Name": "stopped"}}

    resource = ec2.normalize_instance(item, ORIGIN)

    assert resource.name == "i-0123"
    assert resource.attributes["private_ips"] == []


def test_collects_servers_with_their_tags(moto: str) -> None:
    ids = run_instances(moto, 3, Name="api", team="search")

    resources = collect(AwsCollector(source(moto)), scope("server"))

    assert sorted(r.native_id for r in resources) == sorted(ids)
    assert {r.name for r in resources} == {"api"}
    assert all(r.tags["team"] == "search" for r in resources)


def test_pages_through_more_reservations_than_a_page_holds(
    moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ec2, "PAGE_SIZE", 5)  # the API's minimum MaxResults
    for index in range(12):
        run_instances(moto, 1, Name=f"host-{index}")

    pages = list(AwsCollector(source(moto)).collect(scope("server")))

    assert [len(page) for page in pages] == [5, 5, 2]
    assert len({r.native_id for page in pages for r in page}) == 12

"""Route 53: zones and records, global, paged past 300 record sets."""

from __future__ import annotations

from collectors.aws import AwsCollector, route53
from collectors.aws.guard import called_operations, reset_called_operations
from tests.factories.aws import ORIGIN, collect, payload, scope, seed_client, source

ZONE = {"Id": "/hostedzone/Z0EXAMPLE", "Name": "example.com."}


def _records() -> dict[tuple[str, str], dict]:
    return {(item["Name"], item["Type"]): item for item in payload("list_resource_record_sets")}


def test_normalize_wildcard_record_decodes_the_escape() -> None:
    item = _records()[("\\052.example.com.", "A")]

    resource = route53.normalize_record(item, ZONE, ORIGIN)

    assert resource.name == "*.example.com."
    assert resource.native_id == "Z0EXAMPLE/*.example.com./A/"
    assert resource.attributes["values"] == ["192.0.2.10", "192.0.2.11"]
    assert resource.attributes["ttl"] == 60
    assert resource.attributes["alias_target"] is None


def test_normalize_alias_and_weighted_records() -> None:
    records = _records()

    alias = route53.normalize_record(records[("shop.example.com.", "A")], ZONE, ORIGIN)
    weighted = route53.normalize_record(records[("api.example.com.", "CNAME")], ZONE, ORIGIN)

    assert alias.attributes["alias_target"] == "shop-123.eu-west-1.elb.amazonaws.com."
    assert alias.attributes["values"] == []
    assert weighted.native_id == "Z0EXAMPLE/api.example.com./CNAME/blue"
    assert weighted.attributes["set_identifier"] == "blue"


def test_normalize_zone_reads_the_recorded_payload() -> None:
    resource = route53.normalize_zone(payload("list_hosted_zones"), ORIGIN)

    assert resource.native_id == resource.attributes["zone_id"]
    assert "/" not in resource.native_id
    assert resource.name == "example.com."
    assert resource.attributes["private"] is False


def _zone_with_records(url: str, name: str, count: int) -> str:
    client = seed_client(url, "route53")
    zone = client.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
    changes = [
        {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": f"host-{index:03d}.{name}",
                "Type": "A",
                "TTL": 300,
                "ResourceRecords": [{"Value": f"10.0.{index // 250}.{index % 250 + 1}"}],
            },
        }
        for index in range(count)
    ]
    client.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    client.change_tags_for_resource(
        ResourceType="hostedzone",
        ResourceId=route53.zone_id(zone),
        AddTags=[{"Key": "team", "Value": "platform"}],
    )
    return route53.zone_id(zone)


def test_records_page_past_300_record_sets(moto: str) -> None:
    zone = _zone_with_records(moto, "big.example.com.", 320)  # + SOA and NS

    pages = list(AwsCollector(source(moto)).collect(scope("dns_record", region="global")))

    assert [len(page) for page in pages] == [300, 22]
    records = [record for page in pages for record in page]
    assert len({r.native_id for r in records}) == 322
    assert {r.region for r in records} == {"global"}
    assert {r.attributes["zone_id"] for r in records} == {zone}


def test_zones_are_global_with_tags_and_counts(moto: str) -> None:
    zone = _zone_with_records(moto, "small.example.com.", 3)

    [resource] = collect(AwsCollector(source(moto)), scope("dns_zone", region="global"))

    assert resource.native_id == zone
    assert resource.region == "global"
    assert resource.tags == {"team": "platform"}
    assert resource.attributes["record_count"] == 5


def test_record_scopes_do_not_read_zone_tags(moto: str) -> None:
    """Records carry no tags: their scope needs neither the calls nor the permission."""
    _zone_with_records(moto, "quiet.example.com.", 2)
    reset_called_operations()

    records = collect(AwsCollector(source(moto)), scope("dns_record", region="global"))

    assert {r.name for r in records} >= {"quiet.example.com."}
    called = called_operations()
    assert ("route53", "ListResourceRecordSets") in called
    assert ("route53", "ListTagsForResources") not in called

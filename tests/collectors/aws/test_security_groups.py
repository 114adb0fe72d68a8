"""Security groups: every kind of rule normalized to one entry per source."""

from __future__ import annotations

import pytest

from collectors.aws import AwsCollector, security_groups
from tests.factories.aws import ORIGIN, collect, payload, scope, seed_client, source
from vigil.core.facts import protocol_name


def _entry(protocol: str, from_port: int | None, to_port: int | None, src: str, kind: str) -> dict:
    return {
        "protocol": protocol,
        "from_port": from_port,
        "to_port": to_port,
        "source": src,
        "source_kind": kind,
    }


def _without_descriptions(entries: list[dict]) -> list[dict]:
    return [{k: v for k, v in entry.items() if k != "description"} for entry in entries]


def test_normalize_every_kind_of_rule_from_the_recorded_payload() -> None:
    item = payload("describe_security_groups")
    own = item["GroupId"]
    prefix_list = item["IpPermissions"][6]["PrefixListIds"][0]["PrefixListId"]

    resource = security_groups.normalize_security_group(item, ORIGIN)

    assert resource.name == "mixed"
    assert _without_descriptions(resource.attributes["ingress"]) == [
        _entry("tcp", 22, 22, "0.0.0.0/0", "ipv4"),
        _entry("tcp", 3389, 3389, "::/0", "ipv6"),
        _entry("udp", 1000, 2000, "10.0.0.0/8", "ipv4"),
        _entry("all", None, None, "192.0.2.0/24", "ipv4"),
        _entry("47", None, None, "203.0.113.0/24", "ipv4"),
        _entry("icmp", None, None, "0.0.0.0/0", "ipv4"),
        _entry("tcp", 443, 443, prefix_list, "prefix_list"),
        _entry("tcp", 5432, 5432, own, "group"),
    ]
    assert resource.attributes["ingress"][0]["description"] == "ssh"
    assert resource.attributes["egress"][0]["protocol"] == "all"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("-1", "all"), ("6", "tcp"), ("17", "udp"), ("58", "icmpv6"), ("47", "47"), ("TCP", "tcp")],
)
def test_protocols_are_named_or_numbered(raw: str, expected: str) -> None:
    assert protocol_name(raw) == expected


def test_tcp_without_ports_means_every_port() -> None:
    [entry] = security_groups.normalize_permissions(
        [{"IpProtocol": "6", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )

    assert (entry["protocol"], entry["from_port"], entry["to_port"]) == ("tcp", 0, 65535)


def test_collects_ipv6_ranges_and_all_traffic_rules(moto: str) -> None:
    ec2 = seed_client(moto, "ec2")
    group = ec2.create_security_group(GroupName="edge", Description="edge")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8000,
                "ToPort": 8100,
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {
                "IpProtocol": "-1",
                "FromPort": -1,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
        ],
    )

    resources = {
        r.native_id: r for r in collect(AwsCollector(source(moto)), scope("security_group"))
    }

    ingress = _without_descriptions(resources[group].attributes["ingress"])
    assert _entry("tcp", 8000, 8100, "::/0", "ipv6") in ingress
    assert _entry("all", None, None, "0.0.0.0/0", "ipv4") in ingress
    assert any(r.name == "default" for r in resources.values())

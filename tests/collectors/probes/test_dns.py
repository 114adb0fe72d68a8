"""DNS probes against a real DNS server on loopback (dnslib, UDP)."""

from __future__ import annotations

import pytest

from tests.collectors.probes.helpers import collect
from tests.fixtures.dnsserver import DnsServer, free_udp_port
from vigil.core.errors import CollectError

NAMES = [
    "www.example.test",
    "shop.example.test",
    "deep.example.test",
    "v6only.example.test",
    "gone.example.test",
    "missing.example.test",
]


@pytest.fixture(scope="module")
def records(dns_server: DnsServer) -> dict[str, dict]:
    found = collect("dns_record", dns=NAMES, resolvers=[dns_server.resolver])
    return {native_id: r.attributes for native_id, r in found.items()}


def test_address_record_resolves(records, dns_server) -> None:
    www = records["www.example.test"]
    assert www["resolves"] is True
    assert www["resolved_addresses"] == ["192.0.2.10", "2001:db8::10"]
    assert www["resolve_error"] is None
    assert www["resolver"] == dns_server.resolver
    assert www["reachable"] is True


def test_cname_chain_is_followed(records) -> None:
    deep = records["deep.example.test"]
    assert deep["resolves"] is True
    assert deep["record_type"] == "CNAME"
    assert deep["cname_chain"] == ["shop.example.test", "www.example.test"]
    assert deep["values"] == ["shop.example.test"]
    assert deep["resolved_addresses"] == ["192.0.2.10", "2001:db8::10"]


def test_ipv6_only_name_resolves(records) -> None:
    assert records["v6only.example.test"]["resolved_addresses"] == ["2001:db8::20"]
    assert records["v6only.example.test"]["record_type"] == "AAAA"


def test_cname_to_a_name_that_does_not_exist_is_dangling(records) -> None:
    gone = records["gone.example.test"]
    assert gone["resolves"] is False
    assert gone["resolve_error"] == "CNAME target old-app.herokudns.test does not exist (NXDOMAIN)"
    assert gone["cname_chain"] == ["old-app.herokudns.test"]
    assert gone["resolved_addresses"] == []
    assert gone["reachable"] is True  # a definitive answer, not a probe failure
    assert gone["nxdomain"] is True  # what makes dns.dangling call the CNAME dangling


def test_nxdomain_is_data(records) -> None:
    missing = records["missing.example.test"]
    assert (missing["resolves"], missing["resolve_error"]) == (False, "NXDOMAIN")
    assert missing["nxdomain"] is True


def test_names_that_resolve_are_not_nxdomain(records) -> None:
    assert [records[n]["nxdomain"] for n in ("www.example.test", "deep.example.test")] == [
        False,
        False,
    ]


def test_inventory_names_are_resolved_too(dns_server) -> None:
    class Inventory:
        def public_hosts(self):
            return []

        def dns_names(self):
            return ["Gone.Example.Test."]

        def last_known(self, uids):
            return {}

    found = collect(
        "dns_record",
        inventory=Inventory(),
        resolvers=[dns_server.resolver],
        from_inventory={"dns": True},
    )
    assert found["gone.example.test"].attributes["resolves"] is False


@pytest.mark.slow  # waits out a resolver timeout
def test_a_resolver_that_does_not_answer_fails_the_scope() -> None:
    silent = f"127.0.0.1:{free_udp_port()}"
    with pytest.raises(CollectError, match="none of the 1 targets answered"):
        collect("dns_record", dns=["www.example.test"], resolvers=[silent], timeout="1s")


@pytest.mark.slow  # waits out a resolver timeout
def test_failover_to_the_next_resolver(dns_server) -> None:
    silent = f"127.0.0.1:{free_udp_port()}"
    found = collect(
        "dns_record",
        dns=["www.example.test"],
        resolvers=[silent, dns_server.resolver],
        timeout="1s",
    )
    assert found["www.example.test"].attributes["resolves"] is True

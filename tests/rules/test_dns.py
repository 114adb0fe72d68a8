"""dns.dangling."""

from __future__ import annotations

from rules.dns import DanglingRecord
from tests.factories.rules import (
    evaluate,
    load_balancer,
    one,
    record,
    scope_state,
    server,
    view,
    zone,
)
from vigil.core.model import Severity

DANGLING = DanglingRecord()


def test_a_record_to_an_address_nobody_holds_is_dangling() -> None:
    found = one(evaluate(DANGLING, view(zone(), record("app.example.com.", "A", ["52.1.2.3"]))))
    assert found.severity is Severity.HIGH
    assert found.title == (
        "DNS record app.example.com A points at 52.1.2.3, which nothing in the inventory owns"
    )


def test_a_record_to_a_present_servers_address_is_fine() -> None:
    host = server(public_ips=["52.1.2.3"])
    assert evaluate(DANGLING, view(host, record("app.example.com", "A", ["52.1.2.3"]))) == []


def test_aaaa_record_compares_ipv6_canonically() -> None:
    host = server(public_ips=["2600:1F18:0:0::1"])
    inventory = view(host, record("v6.example.com", "AAAA", ["2600:1f18::1", "2600:1f18::2"]))
    assert one(evaluate(DANGLING, inventory)).evidence["targets"] == ["2600:1f18::2"]


def test_owned_ranges_are_not_dangling() -> None:
    inventory = view(record("colo.example.com", "A", ["54.240.0.7"]))
    assert evaluate(DANGLING, inventory, owned_ranges=["54.240.0.0/16"]) == []


def test_private_addresses_are_not_judged() -> None:
    assert evaluate(DANGLING, view(record("int.example.com", "A", ["10.1.2.3"]))) == []


def test_addresses_are_not_judged_before_any_server_scope_completed() -> None:
    inventory = view(record("app.example.com", "A", ["52.1.2.3"]), scopes=[])
    assert evaluate(DANGLING, inventory) == []


def test_cname_to_a_present_load_balancer_is_fine() -> None:
    lb = load_balancer()
    inventory = view(
        lb, record("www.example.com", "CNAME", ["web-lb-123.us-east-1.elb.amazonaws.com."])
    )
    assert evaluate(DANGLING, inventory) == []


def test_cname_to_a_deleted_load_balancer_is_dangling() -> None:
    target = "old-lb-9.us-east-1.elb.amazonaws.com"
    inventory = view(load_balancer(), record("www.example.com", "CNAME", [target]))
    assert one(evaluate(DANGLING, inventory)).evidence["targets"] == [target]


def test_elb_names_are_not_judged_when_load_balancers_are_not_collected() -> None:
    inventory = view(record("www.example.com", "CNAME", ["old-lb-9.us-east-1.elb.amazonaws.com"]))
    assert evaluate(DANGLING, inventory) == []


def test_alias_to_dualstack_name_of_present_load_balancer_is_fine() -> None:
    alias = "dualstack.web-lb-123.us-east-1.elb.amazonaws.com."
    inventory = view(load_balancer(), record("example.com", "A", alias_target=alias))
    assert evaluate(DANGLING, inventory) == []


def test_cname_to_a_missing_name_in_our_own_zone_is_dangling() -> None:
    inventory = view(zone(), record("a.example.com", "CNAME", ["gone.example.com"]))
    assert len(evaluate(DANGLING, inventory)) == 1


def test_cname_to_a_present_record_or_wildcard_is_fine() -> None:
    inventory = view(
        zone(),
        record("a.example.com", "CNAME", ["b.example.com"]),
        record("b.example.com", "A", ["10.0.0.1"]),
        record("c.example.com", "CNAME", ["x.apps.example.com"]),
        record("*.apps.example.com", "A", ["10.0.0.2"]),
    )
    assert evaluate(DANGLING, inventory) == []


def test_external_domains_are_not_judged_unless_asked() -> None:
    inventory = view(zone(), record("docs.example.com", "CNAME", ["acme.github.io"]))
    assert evaluate(DANGLING, inventory) == []
    assert len(evaluate(DANGLING, inventory, judge_unknown_domains=True)) == 1
    assert (
        evaluate(DANGLING, inventory, judge_unknown_domains=True, external_domains=["github.io"])
        == []
    )


def test_other_record_types_are_not_judged() -> None:
    inventory = view(record("example.com", "MX", ["10 mail.gone.example.com"]), zone())
    assert evaluate(DANGLING, inventory) == []


def test_failed_load_balancer_scope_means_unknown() -> None:
    scopes = [scope_state("load_balancer", status="failed"), scope_state("server")]
    inventory = view(
        record("www.example.com", "CNAME", ["old.us-east-1.elb.amazonaws.com"]), scopes=scopes
    )
    assert evaluate(DANGLING, inventory) == []

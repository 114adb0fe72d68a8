"""network.open_port and network.port_exposed."""

from __future__ import annotations

from datetime import timedelta

from rules.network import OpenPort, PortExposed
from tests.factories.rules import (
    NOW,
    PROBE_SOURCE,
    evaluate,
    one,
    permission,
    probe_scope,
    resource,
    security_group,
    server,
    view,
)
from vigil.core.model import Resource, Severity, fingerprint

OPEN = OpenPort()
EXPOSED = PortExposed()


def open_port(*ingress: dict, **params: object) -> list:
    return evaluate(OPEN, view(security_group(ingress=list(ingress))), **params)


def test_ssh_open_to_ipv4_internet_is_high_and_names_port_and_rule() -> None:
    found = one(open_port(permission("tcp", 22)))
    assert found.severity is Severity.HIGH
    assert found.title == "security group sg-0001 is open to the internet on port(s) 22"
    assert "tcp port 22 from 0.0.0.0/0" in found.detail
    assert found.evidence["ports"] == [22]


def test_ipv6_internet_counts() -> None:
    found = one(open_port(permission("tcp", 3389, source="::/0")))
    assert found.evidence["ports"] == [3389]
    assert "::/0" in found.detail


def test_range_including_sensitive_ports_lists_them() -> None:
    found = one(open_port(permission("tcp", 3000, 6000)))
    assert found.evidence["ports"] == [3306, 3389, 5432, 5900]
    assert "ports 3000-6000" in found.detail


def test_range_excluding_sensitive_ports_is_not_a_finding() -> None:
    assert open_port(permission("tcp", 8000, 8100)) == []


def test_all_traffic_is_critical() -> None:
    found = one(open_port(permission("all", None)))
    assert found.severity is Severity.CRITICAL
    assert "all traffic" in found.title


def test_web_ports_are_not_findings() -> None:
    assert open_port(permission("tcp", 80), permission("tcp", 443)) == []


def test_egress_only_group_is_not_a_finding() -> None:
    group = security_group(egress=[permission("all", None)])
    assert evaluate(OPEN, view(group)) == []


def test_private_range_is_not_a_finding() -> None:
    assert open_port(permission("tcp", 22, source="10.0.0.0/8")) == []


def test_narrow_public_range_is_not_the_internet() -> None:
    assert open_port(permission("tcp", 22, source="203.0.113.0/24")) == []


def test_security_group_reference_is_not_a_finding() -> None:
    assert open_port(permission("all", None, source="sg-0bastion")) == []


def test_gre_and_icmp_from_anywhere_are_not_findings() -> None:
    assert open_port(permission("47", None), permission("icmp", None)) == []


def test_udp_only_where_the_port_is_sensitive_over_udp() -> None:
    assert open_port(permission("udp", 22)) == []
    found = one(open_port(permission("udp", 11211)))
    assert "udp port 11211" in found.detail


def test_sensitive_ports_are_configurable() -> None:
    assert open_port(permission("tcp", 22), sensitive_ports=[8080]) == []
    assert one(open_port(permission("tcp", 8080), sensitive_ports=[8080])).evidence["ports"] == [
        8080
    ]


def test_several_entries_make_one_finding_with_the_worst_severity() -> None:
    found = one(open_port(permission("tcp", 22), permission("all", None, source="::/0")))
    assert found.severity is Severity.CRITICAL
    assert len(found.evidence["permissions"]) == 2


def test_port_exposed_flags_ports_outside_the_servers_policy() -> None:
    host = server(open_ports=[22, 443, 8080], allowed_ports=[443])
    found = one(evaluate(EXPOSED, view(host)))
    assert found.severity is Severity.HIGH
    assert found.evidence["forbidden"] == [22, 8080]
    assert "22, 8080" in found.title


def test_port_exposed_uses_default_policy_from_params() -> None:
    host = server(open_ports=[22, 443])
    assert one(evaluate(EXPOSED, view(host), allowed_ports=[443])).evidence["forbidden"] == [22]


def test_port_exposed_without_any_policy_is_not_judged() -> None:
    assert evaluate(EXPOSED, view(server(open_ports=[22]))) == []


def test_port_exposed_allowed_ports_only_is_fine() -> None:
    assert evaluate(EXPOSED, view(server(open_ports=[443], allowed_ports=[80, 443]))) == []


def test_port_exposed_counts_host_listeners_beyond_loopback() -> None:
    listeners = [
        {"port": 5432, "protocol": "tcp", "address": "0.0.0.0", "process": "postgres"},
        {"port": 6379, "protocol": "tcp", "address": "127.0.0.1", "process": "redis"},
        {"port": 8125, "protocol": "udp", "address": "0.0.0.0", "process": "statsd"},
        {"port": 22, "protocol": "tcp", "address": "[::]", "process": "sshd"},
    ]
    host = server(listening_ports=listeners, allowed_ports=[22])
    assert one(evaluate(EXPOSED, view(host))).evidence["forbidden"] == [5432]


def probed_host(**attributes: object) -> Resource:
    """A server as the port probe records it (source `edge`, its own scope)."""
    return Resource(
        source=PROBE_SOURCE, provider="probe", account=PROBE_SOURCE, region="global",
        type="server", native_id="web.example.com", name="web.example.com",
        attributes={"origin": "probe", "allowed_ports": [443], "reachable": True, **attributes},
    )  # fmt: skip


def test_port_exposed_judges_a_probed_host_that_answered() -> None:
    host = probed_host(open_ports=[443, 3306])
    assert one(evaluate(EXPOSED, view(host))).evidence["forbidden"] == [3306]


def test_port_exposed_leaves_a_host_the_probe_did_not_reach_undecided() -> None:
    # A host that answered on no port keeps its last open ports, marked unreachable.
    host = probed_host(open_ports=[443, 3306], reachable=False, error="timed out")
    inventory = view(host)
    assert evaluate(EXPOSED, inventory) == []
    assert fingerprint(EXPOSED.id, host.uid) in inventory.unjudged


def test_port_exposed_is_unknown_while_the_servers_scope_is_unknown() -> None:
    host = probed_host(open_ports=[3306])
    stale = probe_scope("server", status="failed", last_complete=NOW - timedelta(hours=2))
    inventory = view(host, scopes=[stale])
    assert evaluate(EXPOSED, inventory) == []
    assert fingerprint(EXPOSED.id, host.uid) in inventory.unjudged
    recent = probe_scope("server", status="failed", last_complete=NOW - timedelta(minutes=20))
    assert len(evaluate(EXPOSED, view(host, scopes=[recent]))) == 1


def test_ports_given_as_text_are_judged_like_numbers() -> None:
    entry = permission("tcp", 20, 25) | {"from_port": "20", "to_port": "25"}
    found = one(open_port(entry))
    assert found.evidence["ports"] == [22]
    assert "tcp ports 20-25 from 0.0.0.0/0" in found.detail


def test_a_negative_from_port_means_every_port() -> None:
    found = one(open_port(permission("tcp", -1, -1)))
    assert found.severity is Severity.HIGH and 3389 in found.evidence["ports"]
    assert "tcp all ports from 0.0.0.0/0" in found.detail


def test_the_finding_names_the_load_balancers_and_caches_the_group_guards() -> None:
    group = security_group("sg-web", ingress=[permission("tcp", 6379)])
    guarded = [
        resource("load_balancer", "arn:lb/web", security_groups=["sg-web"]),
        resource("cache", "sessions", security_groups=["sg-web"]),
        resource("cache", "other", security_groups=["sg-other"]),
        resource("cache", "elsewhere", account="222222222222", security_groups=["sg-web"]),
    ]
    found = one(evaluate(OPEN, view(group, *guarded)))
    assert found.evidence["used_by"] == ["load_balancer arn:lb/web", "cache sessions"]
    assert found.detail.endswith("Used by load_balancer arn:lb/web, cache sessions.")

"""nginx and HAProxy as `load_balancer` resources, read over a real sshd from real servers.

The servers (tests/fixtures/webservers.py) run on this machine; the hosts source logs in to
the loopback sshd and runs `nginx -T`, reads HAProxy's config and asks its stats socket.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path
from typing import Any

import pytest

from collectors.hosts import HostsCollector
from collectors.hosts.listeners import parse_addresses
from collectors.hosts.ssh import ADDRESSES
from rules.availability import UnhealthyTargets
from rules.exposure import PlaintextWeb
from storage import inventory
from storage.db import Database
from storage.topology import topology
from tests.collectors.hosts.conftest import hosts_config
from tests.factories.rules import evaluate, view
from tests.fixtures.sshd import SshServer
from tests.fixtures.webservers import WebServers
from vigil.app.check import run_check
from vigil.app.collect import Collection
from vigil.core.errors import CollectError
from vigil.core.model import Resource, fingerprint

pytestmark = pytest.mark.slow


PUBLIC = "198.51.100.7"
"""The address the target declares the internet reaches it at: this machine's own addresses
may all be private, and 0.0.0.0 listens on all of them."""


def web_config(
    sshd: SshServer, web: WebServers, public_address: str | None = PUBLIC, **load_balancers: Any
) -> Any:
    wanted = load_balancers or {
        "nginx": {"config": str(web.nginx_conf)},
        "haproxy": {"config_paths": [str(web.haproxy_cfg)]},
    }
    target = {"host": "127.0.0.1", "port": sshd.port, "name": "local"}
    if public_address is not None:
        target["public_address"] = public_address
    return hosts_config(sshd, target, certificate_paths=[str(web.certs)], load_balancers=wanted)


def collect(collector: HostsCollector, type_: str) -> list[Resource]:
    scope = next(s for s in collector.plan({type_}))
    return [r for page in collector.collect(scope) for r in page]


def line_of(path: Path, port: int) -> int:
    """The line of `path` that binds `port`."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if f":{port}" in line)


def by_port(balancer: Resource) -> dict[int, dict[str, Any]]:
    return {listener["port"]: listener for listener in balancer.attributes["listeners"]}


def test_nginx_and_haproxy_become_load_balancers(sshd: SshServer, webservers: WebServers) -> None:
    collector = HostsCollector(web_config(sshd, webservers))
    found = {r.native_id: r for r in collect(collector, "load_balancer")}
    assert sorted(found) == ["local:haproxy", "local:nginx"]
    p = webservers.ports

    nginx = found["local:nginx"]
    assert nginx.attributes["kind"] == "nginx"
    assert nginx.attributes["scheme"] == "internet-facing"
    listeners = by_port(nginx)
    assert listeners[p["nginx_plain"]] == {
        "protocol": "HTTP",
        "port": p["nginx_plain"],
        "address": "*",
        "scheme": "internet-facing",
        "certificates": [],
        "certificate_files": [],
        "default_action": "forward",
        "redirect_https": False,
        "target_groups": ["app"],
        "server_names": ["shop.example.com"],
        "config": f"{webservers.nginx_conf}:{line_of(webservers.nginx_conf, p['nginx_plain'])}",
    }
    redirect = listeners[p["nginx_redirect"]]
    assert (redirect["default_action"], redirect["redirect_https"]) == ("redirect", True)
    tls = listeners[p["nginx_tls"]]
    assert (tls["protocol"], tls["certificates"]) == ("HTTPS", [f"local:{webservers.shop_cert}"])
    internal = listeners[p["nginx_internal"]]
    assert (internal["scheme"], internal["default_action"]) == ("internal", "serve")
    assert internal["config"] == f"{webservers.nginx_conf.parent}/conf.d/internal.conf:2"
    assert [(t["port"], t["target_group"], t["health"]) for t in nginx.attributes["targets"]] == [
        (webservers.up_port, "app", None),
        (webservers.down_port, "app", None),
    ]  # nginx has no health to read: unknown, not healthy

    haproxy = found["local:haproxy"]
    assert haproxy.attributes["health_source"] == f"stats socket {webservers.stats_socket}"
    listeners = by_port(haproxy)
    assert listeners[p["haproxy_tls"]]["protocol"] == "HTTPS"
    assert listeners[p["haproxy_tls"]]["certificates"] == [f"local:{webservers.api_pem}"]
    assert listeners[p["haproxy_tls"]]["target_groups"] == ["be_app"]
    assert listeners[p["haproxy_redirect"]]["default_action"] == "redirect"
    assert listeners[p["haproxy_redirect"]]["redirect_https"] is True
    assert listeners[p["haproxy_internal"]]["scheme"] == "internal"
    assert {t["name"]: t["health"] for t in haproxy.attributes["targets"]} == {
        "up": "healthy",
        "down": "unhealthy",
    }


def test_without_a_public_address_a_wildcard_listener_faces_the_hosts_addresses(
    sshd: SshServer, webservers: WebServers
) -> None:
    """0.0.0.0 on a host with only private addresses is internal (no tls.plaintext, no entry
    point); with a public one, internet-facing. Never null: the addresses were read."""
    collector = HostsCollector(web_config(sshd, webservers, public_address=None))
    found = {r.native_id: r for r in collect(collector, "load_balancer")}
    shown = subprocess.run(["sh", "-c", ADDRESSES], capture_output=True, text=True).stdout
    addresses = parse_addresses(shown) or []
    public = any(ipaddress.ip_address(a).is_global for a in addresses)
    expected = "internet-facing" if public else "internal"
    nginx = found["local:nginx"]
    assert by_port(nginx)[webservers.ports["nginx_plain"]]["scheme"] == expected
    assert nginx.attributes["scheme"] == expected
    flagged = evaluate(PlaintextWeb(), view(*found.values()))
    assert [f.native_id for f in flagged] == (["local:nginx"] if public else [])


def test_the_rules_flag_them_end_to_end(
    sshd: SshServer, webservers: WebServers, sqlite_db: Database
) -> None:
    result = Collection(sqlite_db, [web_config(sshd, webservers)]).run()
    assert not result.failed, [o.error for o in result.outcomes if o.error]
    findings = run_check(sqlite_db).findings
    flagged = {(f.rule, f.native_id): f for f in findings}

    plain = flagged[("tls.plaintext", "local:nginx")]
    assert f"HTTP:{webservers.ports['nginx_plain']}" in plain.title
    assert str(webservers.ports["nginx_internal"]) not in plain.title  # internal: not judged
    assert str(webservers.ports["nginx_redirect"]) not in plain.title  # redirects to https
    assert ("tls.plaintext", "local:haproxy") not in flagged  # redirect + internal only

    unhealthy = flagged[("lb.unhealthy_targets", "local:haproxy")]
    assert unhealthy.severity.value == "high"  # one down, one up: no dead listener
    assert "1 unhealthy target(s) of 2" in unhealthy.title
    assert ("lb.unhealthy_targets", "local:nginx") not in flagged  # health unknown

    expiring = flagged[("cert.expiring", f"local:{webservers.shop_cert}")]
    assert "load_balancer local:nginx" in expiring.detail

    edges = {(e.from_uid, e.kind, e.to) for e in topology(sqlite_db, None).edges if e.resolved}
    lb, server = "hosts/local/global/load_balancer/local:nginx", "hosts/local/global/server/local"
    assert (lb, "targets", server) in edges  # upstream on loopback: this host
    cert = f"hosts/local/global/certificate/local:{webservers.shop_cert}"
    assert (lb, "serves", cert) in edges
    haproxy_cert = f"hosts/local/global/certificate/local:{webservers.api_pem}"
    assert ("hosts/local/global/load_balancer/local:haproxy", "serves", haproxy_cert) in edges
    assert {r.type for r in inventory.inventory(sqlite_db)} >= {"load_balancer", "certificate"}


def test_health_is_unknown_without_a_readable_stats_socket(
    sshd: SshServer, webservers: WebServers, tmp_path: Path
) -> None:
    config = web_config(
        sshd,
        webservers,
        haproxy={
            "config_paths": [str(webservers.haproxy_cfg)],
            "stats_sockets": [str(tmp_path / "no.sock")],
        },
    )
    (haproxy,) = collect(HostsCollector(config), "load_balancer")
    assert {t["health"] for t in haproxy.attributes["targets"]} == {None}
    assert haproxy.attributes["health_source"] is None
    assert "no.sock" in haproxy.attributes["health_note"]
    # lb.unhealthy_targets leaves it undecided rather than calling it healthy or dead
    inventory = view(haproxy)
    assert evaluate(UnhealthyTargets(), inventory) == []
    assert fingerprint("lb.unhealthy_targets", haproxy.uid) in inventory.unjudged


def test_an_unparsable_config_fails_only_its_scope_naming_file_and_line(
    sshd: SshServer, webservers: WebServers, tmp_path: Path
) -> None:
    broken = tmp_path / "haproxy.cfg"
    broken.write_text("global\n    maxconn 100\nbackend be\n    server web\n")
    config = web_config(sshd, webservers, haproxy={"config_paths": [str(broken)]})
    collector = HostsCollector(config)
    with pytest.raises(CollectError) as error:
        collect(collector, "load_balancer")
    assert f"{broken}:4: server needs a name and an address" in str(error.value)
    assert "could not read its load_balancers facts" in str(error.value)
    assert collect(collector, "server")[0].native_id == "local"  # the host's other scopes work


def test_nginx_rejecting_its_config_names_the_file_and_line(
    sshd: SshServer, webservers: WebServers, tmp_path: Path
) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  server { listen 8080;\n}\n")
    config = web_config(sshd, webservers, nginx={"config": str(conf)})
    with pytest.raises(CollectError, match=rf"{conf}:5: nginx rejects its configuration"):
        collect(HostsCollector(config), "load_balancer")


def test_hosts_without_the_servers_have_no_load_balancer(
    sshd: SshServer, webservers: WebServers, tmp_path: Path
) -> None:
    config = web_config(
        sshd,
        webservers,
        nginx={"binary": str(tmp_path / "nginx")},
        haproxy={"config_paths": [str(tmp_path / "haproxy.cfg")]},
    )
    assert collect(HostsCollector(config), "load_balancer") == []


def test_plaintext_rule_on_the_collected_resources(sshd: SshServer, webservers: WebServers) -> None:
    balancers = collect(HostsCollector(web_config(sshd, webservers)), "load_balancer")
    found = evaluate(PlaintextWeb(), view(*balancers))
    assert [f.native_id for f in found] == ["local:nginx"]


def test_a_config_broken_later_deletes_nothing(
    sshd: SshServer, webservers: WebServers, sqlite_db: Database, tmp_path: Path
) -> None:
    assert not Collection(sqlite_db, [web_config(sshd, webservers)]).run().failed
    before = {r.uid: r.attributes for r in inventory.inventory(sqlite_db)}
    broken = tmp_path / "haproxy.cfg"
    broken.write_text("frontend fe\n    bind :http\n")
    later = web_config(
        sshd,
        webservers,
        nginx={"config": str(webservers.nginx_conf)},
        haproxy={"config_paths": [str(broken)]},
    )
    result = Collection(sqlite_db, [later]).run()
    failed = [o for o in result.outcomes if o.failed]
    assert [o.scope.type for o in failed] == ["load_balancer"]
    assert f"{broken}:2: frontend fe: bind :http" in (failed[0].error or "")
    assert all(o.deleted == 0 for o in result.outcomes)
    after = {r.uid: r.attributes for r in inventory.inventory(sqlite_db)}
    lbs = [uid for uid in before if "/load_balancer/" in uid]
    assert len(lbs) == 2 and {uid: after[uid] for uid in lbs} == {uid: before[uid] for uid in lbs}

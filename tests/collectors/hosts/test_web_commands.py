"""The load_balancers commands of the SSH script (run by the real `sh` on real files), and the
scopes planned for them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from collectors.hosts import HostsCollector, resources
from collectors.hosts.base import Backend, Balancer, CertificateFile, HostFacts, Listener
from collectors.hosts.config import Haproxy, HostsSourceConfig, Nginx, Target
from collectors.hosts.facts import Output
from collectors.hosts.haproxy import parse_output
from collectors.hosts.nginx import parse_dump
from collectors.hosts.ssh import (
    ADDRESSES,
    commands,
    facts_from_outputs,
    haproxy_command,
    nginx_command,
    script,
)
from rules.availability import UnhealthyTargets
from tests.factories.rules import evaluate, view
from vigil.core.model import fingerprint


def _config(**options: object) -> HostsSourceConfig:
    options.setdefault("ssh", {"key_file": "/k"})
    return HostsSourceConfig(name="x", targets=[{"host": "10.0.0.1", "name": "a"}], **options)  # type: ignore[arg-type]


def sh(text: str) -> str:
    return subprocess.run(
        ["sh", "-c", text + " 2>&1 </dev/null"], capture_output=True, text=True, timeout=20
    ).stdout


def test_load_balancer_scopes_are_planned_only_when_configured() -> None:
    plain = [s.type for s in HostsCollector(_config()).plan()]
    assert "load_balancer" not in plain
    wanted = _config(load_balancers={"nginx": {}})
    assert [s.key for s in HostsCollector(wanted).plan({"load_balancer"})] == [
        "x/a/global/load_balancer"
    ]


def test_sudo_goes_inside_the_compound_commands() -> None:
    config = _config(
        ssh={"key_file": "/k", "sudo": ["load_balancers"]},
        load_balancers={"nginx": {"config": "/etc/nginx/nginx.conf"}, "haproxy": {}},
    )
    text = script(commands(config), config.settings(), "n0nce")
    assert 'sudo -n "$n" -T -c /etc/nginx/nginx.conf' in text
    assert 'sudo -n cat -- "$f"' in text and "sudo -n socat" in text
    assert "sudo -n (" not in text  # never a shell under sudo


def test_haproxy_files_in_name_order_and_missing_paths(tmp_path: Path) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "20-b.cfg").write_text("backend be\n    server b 10.0.0.2:80\n")
    (conf / "10-a.cfg").write_text("frontend fe\n    bind :80\n    default_backend be")
    (conf / "notes.txt").write_text("not read")
    missing = tmp_path / "haproxy.cfg"
    text = sh(haproxy_command(Haproxy(config_paths=[str(missing), str(conf)]), sudo=False))
    balancer = parse_output(text)
    assert balancer is not None
    assert balancer.config_files == [str(conf / "10-a.cfg"), str(conf / "20-b.cfg")]
    assert [(x.port, x.target_groups) for x in balancer.listeners] == [(80, ["be"])]
    assert balancer.health_note is not None and "no stats socket" in balancer.health_note


def test_a_stats_socket_nobody_answers_leaves_health_unknown(tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    socket = tmp_path / "gone.sock"
    cfg.write_text(
        f"global\n    stats socket {socket} level user\n"
        "backend be\n    server b 10.0.0.2:80 check\n"
    )
    text = sh(haproxy_command(Haproxy(config_paths=[str(cfg)]), sudo=False))
    balancer = parse_output(text)
    assert balancer is not None
    assert [b.health for b in balancer.backends] == [None]
    assert str(socket) in (balancer.health_note or "")


def test_no_nginx_binary_is_no_nginx(tmp_path: Path) -> None:
    text = sh(nginx_command(Nginx(binary=str(tmp_path / "nginx")), sudo=False))
    assert text.strip() == "vigil: nginx not found"


def test_a_failing_config_fails_only_the_load_balancers_group() -> None:
    config = _config(load_balancers={"haproxy": {}})
    outputs = {
        "haproxy": Output("haproxy", 0, "==> /etc/haproxy/haproxy.cfg\nfrontend\n"),
        "df": Output("df", 0, "Filesystem Type 1-blocks Used Available Capacity Mounted on\n"),
    }
    facts = facts_from_outputs(outputs, config)
    assert facts.failed["load_balancers"] == "/etc/haproxy/haproxy.cfg:1: frontend without a name"
    assert "disks" not in facts.failed


def test_a_crt_directory_stands_for_the_inventoried_files_and_backends_link_to_hosts() -> None:
    listener = Listener("HTTPS", "*", 443, tls=True, certificate_files=["/etc/haproxy/certs/"])
    balancer = Balancer(
        "haproxy",
        ["/etc/haproxy/haproxy.cfg"],
        [listener],
        [Backend("10.0.0.7", 80, "be", "web"), Backend("192.0.2.9", 80, "be", "other")],
    )
    facts = HostFacts(
        via="ssh",
        certificates=[
            CertificateFile("/etc/haproxy/certs/b.pem", [b""]),
            CertificateFile("/etc/haproxy/certs/a.pem", [b""]),
            CertificateFile("/etc/ssl/unrelated.pem", [b""]),
        ],
        load_balancers=[balancer],
    )
    edge = Target(host="10.0.0.5", name="edge")
    (found,) = resources.load_balancers("colo", edge, facts, {"10.0.0.7": "web-1"})
    assert found.attributes["listeners"][0]["certificates"] == [
        "edge:/etc/haproxy/certs/a.pem",
        "edge:/etc/haproxy/certs/b.pem",
    ]
    assert found.attributes["scheme"] is None  # `*:443` on a host whose addresses are unknown
    links = {(link.kind, link.to_uid) for link in found.links}
    assert links == {
        ("targets", "hosts/web-1/global/server/web-1"),  # another host of the source
        ("serves", "hosts/edge/global/certificate/edge:/etc/haproxy/certs/a.pem"),
        ("serves", "hosts/edge/global/certificate/edge:/etc/haproxy/certs/b.pem"),
    }  # 192.0.2.9 is nothing this source knows: no link is guessed


def _wildcard_balancer(facts: HostFacts, target: Target) -> dict[str, object]:
    plain = Listener("HTTP", "*", 80, target_groups=["app"])
    facts.load_balancers = [Balancer("nginx", ["/etc/nginx/nginx.conf"], [plain], [])]
    (found,) = resources.load_balancers("colo", target, facts, {})
    return {"scheme": found.attributes["scheme"], **found.attributes["listeners"][0]}


def test_a_wildcard_listener_faces_what_the_host_faces() -> None:
    """`listen 80` on a 10.x colo host is internal; on a host with a public address, or one
    whose target declares `public_address`, internet-facing; unknown addresses: null."""
    colo = Target(host="10.0.0.5", name="colo-1")
    private = HostFacts(via="ssh", addresses=["10.0.0.5", "127.0.0.1", "::1", "fe80::1"])
    assert _wildcard_balancer(private, colo)["scheme"] == "internal"
    public = HostFacts(via="ssh", addresses=["10.0.0.5", "8.8.4.4"])
    assert _wildcard_balancer(public, colo)["scheme"] == "internet-facing"
    unknown = _wildcard_balancer(HostFacts(via="ssh"), colo)
    assert (unknown["scheme"], unknown["address"]) == (None, "*")
    natted = Target(host="10.0.0.5", name="colo-1", public_address="198.51.100.7")
    private_again = HostFacts(via="ssh", addresses=["10.0.0.5"])
    assert _wildcard_balancer(private_again, natted)["scheme"] == "internet-facing"
    reached_publicly = Target(host="8.8.4.4", name="edge")
    assert _wildcard_balancer(HostFacts(via="ssh"), reached_publicly)["scheme"] == (
        "internet-facing"
    )


def test_a_declared_public_address_is_one_of_the_servers_public_ips() -> None:
    natted = Target(host="10.0.0.5", name="colo-1", public_address="198.51.100.7")
    found = resources.server("colo", natted, HostFacts(via="ssh"))
    assert (found.attributes["private_ips"], found.attributes["public_ips"]) == (
        ["10.0.0.5"],
        ["198.51.100.7"],
    )


def test_the_host_addresses_are_read_with_the_load_balancers() -> None:
    config = _config(load_balancers={"nginx": {}})
    assert ADDRESSES in [c.text for c in commands(config) if c.group == "load_balancers"]
    outputs = {
        "nginx": Output("nginx", 0, "vigil: nginx not found"),
        "addresses": Output("addresses", 0, sh(ADDRESSES)),
    }
    facts = facts_from_outputs(outputs, config)
    assert facts.addresses is not None and "127.0.0.1" in facts.addresses
    broken = {**outputs, "addresses": Output("addresses", 127, "sh: 1: hostname: not found")}
    facts = facts_from_outputs(broken, config)
    assert facts.addresses is None and "load_balancers" not in facts.failed  # unknown only


def test_nginx_on_a_unix_socket_or_a_variable_is_not_called_dead() -> None:
    """`proxy_pass http://unix:/run/gunicorn.sock;` and `proxy_pass $upstream;` through to
    lb.unhealthy_targets: undecided (unknown targets), never CRITICAL "no healthy target"."""
    dump = (
        "# configuration file /etc/nginx/nginx.conf:\nevents {}\nhttp {\n"
        "  server { listen 10.0.0.5:80; location / { proxy_pass http://unix:/run/g.sock; } }\n"
        "  server { listen 10.0.0.5:81; location / { proxy_pass $upstream; } }\n}\n"
    )
    for text in (dump, dump.replace("proxy_pass $upstream;", "proxy_pass http://unix:/x;")):
        balancer = parse_dump(text)
        assert balancer is not None
        facts = HostFacts(via="ssh", load_balancers=[balancer], addresses=["10.0.0.5"])
        (found,) = resources.load_balancers("colo", Target(host="10.0.0.5"), facts, {})
        inventory = view(found)
        assert evaluate(UnhealthyTargets(), inventory) == []
        assert fingerprint(UnhealthyTargets.id, found.uid) in inventory.unjudged

"""CloudStack load-balancer rules (`lb_driver: cloudstack`) against the loopback CloudStack API:
listeners, member targets with health, links to the servers, paging, per-scope failures, and
`lb.unhealthy_targets` on a DOWN member through `vigil collect` and `vigil check`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from collectors.libcloud import LibcloudCollector, LibcloudSourceConfig
from collectors.libcloud.drivers import build_lb
from tests.collectors.libcloud.test_libcloud import collect
from tests.fixtures.cli import VigilCli
from tests.fixtures.libcloud_api import (
    CS_KEY,
    CS_PATH,
    CS_RULES,
    CS_SECRET,
    CS_VM_IDS,
    FakeCloud,
)
from vigil.app.config import load_config
from vigil.core.errors import AccessDeniedError, CollectError, ConfigError, ReadOnlyViolation
from vigil.core.model import Resource

RULES = f"{CS_PATH}?command=listLoadBalancerRules"
MEMBERS = f"{CS_PATH}?command=listLoadBalancerRuleInstances"
RULE = {rule["name"]: rule["id"] for rule in CS_RULES}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_CS_KEY", CS_KEY)
    monkeypatch.setenv("T_CS_SECRET", CS_SECRET)
    monkeypatch.setenv("T_CS_WRONG", "not-the-secret")


@pytest.fixture
def cloud(fake_cloud: FakeCloud) -> Iterator[FakeCloud]:
    """The shared loopback API with a clean request log; failures removed afterwards."""
    fake_cloud.requests.clear()
    yield fake_cloud
    fake_cloud.failures.clear()


def cs_config(cloud: FakeCloud, **settings: Any) -> LibcloudSourceConfig:
    """A CloudStack source (compute and load balancers) pointed at the loopback API."""
    base = {
        "name": "cs",
        "driver": "cloudstack",
        "lb_driver": "cloudstack",
        "key": "${T_CS_KEY}",
        "secret": "${T_CS_SECRET}",
        "host": "127.0.0.1",
        "port": urlparse(cloud.base).port,
        "secure": False,
        "timeout": 5,
        "options": {"path": CS_PATH},
    }
    return LibcloudSourceConfig.model_validate({**base, **settings})


def by_name(resources: dict[str, Resource]) -> dict[str, Resource]:
    return {r.name: r for r in resources.values()}


def test_rules_are_load_balancers_with_listeners_and_member_health(cloud: FakeCloud) -> None:
    balancers = by_name(collect(cs_config(cloud), "load_balancer"))
    assert sorted(balancers) == ["api", "dns", "spare", "web-http", "web-https"]
    web = balancers["web-https"]
    assert web.provider == "cloudstack"
    assert web.uid == f"cloudstack/cs/global/load_balancer/{RULE['web-https']}"
    assert web.tags == {"env": "prod"}
    attributes = web.attributes
    assert (attributes["kind"], attributes["scheme"]) == ("network", "internet-facing")
    assert (attributes["zone"], attributes["zones"]) == ("zone-a", None)  # a data centre
    assert attributes["public_ip"] == "198.51.100.1"
    assert attributes["listeners"] == [
        {
            "protocol": "TCP",
            "port": 443,
            "certificates": [],
            "default_action": "forward",
            "redirect_https": False,
            "target_groups": [],
            "ssl_policy": None,
        }
    ]
    assert [(t["id"], t["port"], t["health"], t["ips"]) for t in attributes["targets"]] == [
        (CS_VM_IDS[0], 8443, "healthy", ["10.1.1.10"]),
        (CS_VM_IDS[1], 8443, "unhealthy", ["10.1.1.11"]),
    ]
    assert balancers["dns"].attributes["listeners"][0]["protocol"] == "UDP"
    # The virtual router checks no health: no servicestate is unknown, not healthy.
    assert [t["health"] for t in balancers["api"].attributes["targets"]] == [None]
    assert balancers["spare"].attributes["targets"] == []
    # Only reads were sent, and members were asked with their IPs (lbvmips=true).
    assert {m for m, _ in cloud.requests} == {"GET"}
    assert [p for _, p in cloud.requests].count(MEMBERS) == 5


def test_targets_link_to_the_servers_the_same_source_collects(cloud: FakeCloud) -> None:
    config = cs_config(cloud)
    servers = collect(config, "server")
    assert sorted(servers) == sorted(CS_VM_IDS)
    web = by_name(collect(config, "load_balancer"))["web-https"]
    linked = [(link.kind, link.to_uid) for link in web.links]
    assert linked == [
        ("targets", servers[CS_VM_IDS[0]].uid),
        ("targets", servers[CS_VM_IDS[1]].uid),
    ]


@pytest.mark.parametrize(("page_size", "rule_pages"), [(1, 5), (2, 3), (500, 1)])
def test_rules_and_members_are_read_page_by_page(
    cloud: FakeCloud, page_size: int, rule_pages: int
) -> None:
    """`count` is the total; the listing goes on until it is read, whatever the page size."""
    config = cs_config(cloud, lb_options={"path": CS_PATH, "ex_page_size": page_size})
    balancers = by_name(collect(config, "load_balancer"))
    assert len(balancers) == 5
    targets = balancers["web-http"].attributes["targets"]
    assert [t["id"] for t in targets] == CS_VM_IDS[:2]  # two members: 2 pages of 1 at size 1
    assert [p for _, p in cloud.requests].count(RULES) == rule_pages
    member_pages = 1 + (page_size == 1) * 2  # web-https and web-http need a second page
    assert [p for _, p in cloud.requests].count(MEMBERS) == 4 + member_pages


def test_the_api_may_be_named_by_url_as_for_the_compute_driver(cloud: FakeCloud) -> None:
    config = cs_config(cloud, host=None, port=None, options={"url": f"{cloud.base}{CS_PATH}"})
    assert len(collect(config, "load_balancer")) == 5  # http: the scheme decides


def test_a_misspelt_option_is_refused_naming_it(cloud: FakeCloud) -> None:
    config = cs_config(cloud, lb_options={"ex_page_sise": 2})
    with pytest.raises(CollectError, match="rejected its options: unexpected option.*page_sise"):
        collect(config, "load_balancer")


def test_a_member_listing_error_fails_only_the_load_balancer_scope(cloud: FakeCloud) -> None:
    config = cs_config(cloud)
    error = {"uuidList": [], "errorcode": 530, "errortext": "Internal error executing command"}
    cloud.failures[MEMBERS] = (530, {"listloadbalancerruleinstancesresponse": error})
    with pytest.raises(CollectError, match="cloudstack failed listing load balancers") as raised:
        collect(config, "load_balancer")
    assert "Internal error executing command" in raised.value.message
    assert raised.value.retryable
    for secret in (CS_KEY, CS_SECRET):
        assert secret not in raised.value.message
    assert len(collect(config, "server")) == 3  # the servers scope is unaffected


def test_a_rejected_signature_is_access_denied(cloud: FakeCloud) -> None:
    config = cs_config(cloud, lb_secret="${T_CS_WRONG}")
    with pytest.raises(AccessDeniedError, match="rejected the credentials"):
        collect(config, "load_balancer")
    assert len(collect(config, "server")) == 3  # lb_secret is the load balancers' alone


def test_writes_are_refused_before_they_are_sent(cloud: FakeCloud) -> None:
    driver = build_lb(cs_config(cloud))
    rule = driver._to_balancer({**CS_RULES[0]})
    with pytest.raises(ReadOnlyViolation, match="refused deleteLoadBalancerRule"):
        driver.destroy_balancer(rule)
    assert cloud.requests == []


def test_plan_has_a_load_balancer_scope_only_with_an_lb_driver(cloud: FakeCloud) -> None:
    with_lb = {s.type for s in LibcloudCollector(cs_config(cloud)).plan()}
    assert "load_balancer" in with_lb
    without = {s.type for s in LibcloudCollector(cs_config(cloud, lb_driver=None)).plan()}
    assert "load_balancer" not in without


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("    lb_driver: elb\n", "unsupported libcloud load-balancer driver 'elb'; supported"),
        ("    lb_driver: cloudstack\n", "lb_driver cloudstack needs host"),
    ],
)
def test_bad_lb_config_names_the_file_and_the_fix(
    tmp_path: Path, lines: str, expected: str
) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        "sources:\n  - name: cs\n    provider: libcloud\n    key: ${T_CS_KEY}\n" + lines
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in raised.value.message and expected in raised.value.message


@pytest.mark.slow
def test_a_down_member_is_flagged_by_lb_unhealthy_targets_end_to_end(
    cloud: FakeCloud, vigil_cli: VigilCli
) -> None:
    """`vigil collect` then `vigil check`: the DOWN member flags web-https (high), the rule
    without members has no healthy target (critical); all-UP and unknown-health rules do not."""
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - name: cs\n    provider: libcloud\n    driver: cloudstack\n"
        "    lb_driver: cloudstack\n    key: ${T_CS_KEY}\n    secret: ${T_CS_SECRET}\n"
        f"    host: 127.0.0.1\n    port: {urlparse(cloud.base).port}\n    secure: false\n"
        f"    options: {{path: {CS_PATH}}}\n    types: [server, load_balancer]\n"
    )
    env = {"COLUMNS": "400", "T_CS_KEY": CS_KEY, "T_CS_SECRET": CS_SECRET}
    collected = vigil_cli("collect", env=env)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    checked = vigil_cli("check", "--no-notify", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = vigil_cli("findings", "--format", "json", env=env)
    on_balancers = [f for f in json.loads(result.stdout) if "/load_balancer/" in f["resource_uid"]]
    # ha.single_zone is undecided: a CloudStack zone is a data centre, not an AZ.
    assert {f["rule"] for f in on_balancers} == {"lb.unhealthy_targets"}
    findings = {f["resource_uid"].rsplit("/", 1)[-1]: f for f in on_balancers}
    assert sorted(findings) == sorted([RULE["web-https"], RULE["spare"]])
    web = findings[RULE["web-https"]]
    assert web["severity"] == "high"
    assert "1 unhealthy target(s) of 2" in web["title"]
    assert [e["id"] for e in web["evidence"]["unhealthy"]] == [CS_VM_IDS[1]]
    assert findings[RULE["spare"]]["severity"] == "critical"
    topology = vigil_cli(
        "topology", "--from", web["resource_uid"], "--direction", "down", "--format", "json",
        env=env,
    )  # fmt: skip
    edges = json.loads(topology.stdout)["edges"]
    assert {(e["kind"], e["to"].rsplit("/", 1)[-1]) for e in edges} == {
        ("targets", CS_VM_IDS[0]),
        ("targets", CS_VM_IDS[1]),
    }
    for secret in (CS_KEY, CS_SECRET):
        assert secret not in collected.stdout + collected.stderr

    # The rules listing fails next time: that scope is unknown, so nothing is deleted or
    # resolved, and the servers scope completes.
    error = {"uuidList": [], "errorcode": 530, "errortext": "Internal error executing command"}
    cloud.failures[RULES] = (530, {"listloadbalancerrulesresponse": error})
    failed = vigil_cli("collect", env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "2 scopes, 1 failed" in failed.stdout, failed.stdout
    assert "cloudstack failed listing load balancers" in failed.stdout
    assert vigil_cli("check", "--no-notify", env=env).returncode == 0
    still = vigil_cli("findings", "--format", "json", "--rule", "lb.unhealthy_targets", env=env)
    assert sorted(f["fingerprint"] for f in json.loads(still.stdout)) == sorted(
        f["fingerprint"] for f in findings.values()
    )
    present = vigil_cli("inventory", "--type", "load_balancer", "--format", "json", env=env)
    assert len(json.loads(present.stdout)) == 5

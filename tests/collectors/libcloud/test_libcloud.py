"""libcloud's real DigitalOcean and OpenStack drivers against a loopback provider API."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlparse

import pytest
from libcloud.compute.base import Node, StorageVolume
from libcloud.compute.types import NodeState

from collectors.libcloud import LibcloudCollector, LibcloudSourceConfig
from collectors.libcloud.compute import Origin, normalize_volume
from collectors.libcloud.drivers import build_compute, build_dns, refused
from tests.fixtures.libcloud_api import CF_TOKEN, DO_TOKEN, OS_PASSWORD, OS_USER, FakeCloud
from vigil.core.errors import AccessDeniedError, CollectError, ReadOnlyViolation
from vigil.core.model import Resource


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_DO_TOKEN", DO_TOKEN)
    monkeypatch.setenv("T_BAD_TOKEN", "wrong")
    monkeypatch.setenv("T_OS_USER", OS_USER)
    monkeypatch.setenv("T_OS_PASSWORD", OS_PASSWORD)


def do_config(cloud: FakeCloud, **settings: Any) -> LibcloudSourceConfig:
    """A DigitalOcean source pointed at the loopback API, 2 droplets per page."""
    port = urlparse(cloud.base).port
    base = {
        "name": "do",
        "driver": "digitalocean",
        "key": "${T_DO_TOKEN}",
        "host": "127.0.0.1",
        "port": port,
        "secure": False,
        "options": {"ex_per_page": 2},
        "dns_driver": "digitalocean",
    }
    return LibcloudSourceConfig.model_validate({**base, **settings})


def os_config(cloud: FakeCloud, password: str = "${T_OS_PASSWORD}") -> LibcloudSourceConfig:
    return LibcloudSourceConfig.model_validate(
        {
            "name": "os",
            "driver": "openstack",
            "key": "${T_OS_USER}",
            "secret": password,
            "region": "RegionOne",
            "options": {
                "ex_force_auth_url": cloud.base,
                "ex_force_auth_version": "3.x_password",
                "ex_tenant_name": "ops",
                "ex_force_service_region": "RegionOne",
            },
        }
    )


def collect(config: LibcloudSourceConfig, type_: str) -> dict[str, Resource]:
    collector = LibcloudCollector(config)
    (scope,) = collector.plan({type_})
    return {r.native_id: r for page in collector.collect(scope) for r in page}


def test_digitalocean_droplets_over_two_pages(fake_cloud: FakeCloud) -> None:
    fake_cloud.requests.clear()
    servers = collect(do_config(fake_cloud), "server")
    assert sorted(servers) == ["1000", "1001", "1002"]
    web = servers["1000"]
    assert web.provider == "digitalocean"
    assert web.uid == "digitalocean/do/global/server/1000"
    assert web.attributes["state"] == "running"
    assert servers["1001"].attributes["state"] == "stopped"
    assert web.attributes["public_ips"] == ["203.0.113.0"]
    assert web.attributes["private_ips"] == ["10.0.0.0"]
    assert web.attributes["instance_type"] == "s-1vcpu-1gb"
    assert web.attributes["availability_zone"] == "Frankfurt 1"
    assert web.tags == {"prod": "", "team-0": ""}
    assert [p for m, p in fake_cloud.requests if p == "/v2/droplets"] == ["/v2/droplets"] * 2


def test_digitalocean_volumes_and_snapshots(fake_cloud: FakeCloud) -> None:
    config = do_config(fake_cloud)
    disk = collect(config, "disk")["vol-1"]
    assert disk.attributes["size_gb"] == 100
    assert disk.attributes["attached_to"] == ["1000"]
    snapshot = collect(config, "snapshot")["snap-1"]
    assert snapshot.attributes["source_uid"] == disk.uid
    assert snapshot.attributes["size_gb"] == 12


def test_digitalocean_dns_zones_and_records(fake_cloud: FakeCloud) -> None:
    config = do_config(fake_cloud)
    zone = collect(config, "dns_zone")["example.test"]
    assert zone.name == "example.test"
    records = {r.name: r.attributes for r in collect(config, "dns_record").values()}
    assert records["example.test"]["record_type"] == "A"
    assert records["example.test"]["values"] == ["203.0.113.0"]
    assert records["shop.example.test"]["values"] == ["shops.herokudns.test."]
    assert records["www.example.test"]["zone_name"] == "example.test"


def test_digitalocean_auth_failure_is_access_denied(fake_cloud: FakeCloud) -> None:
    with pytest.raises(AccessDeniedError, match="rejected the credentials"):
        collect(do_config(fake_cloud, key="${T_BAD_TOKEN}"), "server")


def test_digitalocean_cannot_list_security_groups(fake_cloud: FakeCloud) -> None:
    with pytest.raises(CollectError, match="driver digitalocean cannot list security groups"):
        collect(do_config(fake_cloud), "security_group")


def test_a_driver_without_volumes_is_unknown_not_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    config = LibcloudSourceConfig.model_validate(
        {"name": "dummy", "driver": "dummy", "key": "${T_DO_TOKEN}"}
    )
    with pytest.raises(CollectError, match="driver dummy cannot list volumes"):
        collect(config, "disk")


def test_openstack_servers_over_two_pages(fake_cloud: FakeCloud) -> None:
    servers = collect(os_config(fake_cloud), "server")
    assert sorted(servers) == ["srv-0", "srv-1", "srv-2"]
    app = servers["srv-0"]
    assert app.uid == "openstack/os/RegionOne/server/srv-0"
    assert app.attributes["state"] == "running"
    assert app.attributes["instance_type"] == "m1.small"
    assert app.attributes["volume_ids"] == ["cv-1"]
    assert app.tags == {"env": "prod"}


def test_openstack_volumes_and_snapshots(fake_cloud: FakeCloud) -> None:
    config = os_config(fake_cloud)
    disk = collect(config, "disk")["cv-1"]
    assert disk.attributes["attached_to"] == ["srv-0"]
    assert disk.attributes["volume_type"] == "ssd"
    assert disk.tags == {"backup": "required"}
    snapshot = collect(config, "snapshot")["cs-1"]
    assert snapshot.attributes["source_uid"] == disk.uid
    # OpenStack writes "2026-01-03T00:00:00.000000" (no zone): normalized like every source
    assert snapshot.attributes["started_at"] == "2026-01-03T00:00:00Z"
    assert disk.attributes["created_at"] == "2026-01-02T03:04:05Z"


def test_openstack_security_groups_keep_rule_direction(fake_cloud: FakeCloud) -> None:
    group = collect(os_config(fake_cloud), "security_group")["sg-1"]
    assert group.attributes["ingress"] == [
        {
            "protocol": "tcp",
            "from_port": 22,
            "to_port": 22,
            "source": "0.0.0.0/0",
            "source_kind": "ipv4",
            "description": None,
        }
    ]
    assert [(e["protocol"], e["source"]) for e in group.attributes["egress"]] == [
        ("all", "0.0.0.0/0"),
        ("all", "::/0"),
    ]


def test_openstack_auth_failure_is_access_denied(fake_cloud: FakeCloud, monkeypatch) -> None:
    monkeypatch.setenv("T_OS_WRONG", "nope")
    with pytest.raises(AccessDeniedError):
        collect(os_config(fake_cloud, password="${T_OS_WRONG}"), "server")


def test_writes_are_refused_before_they_are_sent(fake_cloud: FakeCloud) -> None:
    driver = build_dns(do_config(fake_cloud))
    fake_cloud.requests.clear()
    with pytest.raises(ReadOnlyViolation, match="refused POST"):
        driver.create_zone("new.test")
    assert fake_cloud.requests == []


def query_api_config(cloud: FakeCloud, driver: str, **settings: Any) -> LibcloudSourceConfig:
    """A query-string API (EC2 style, CloudStack) pointed at the loopback server."""
    base = {
        "name": driver,
        "driver": driver,
        "key": "${T_QUERY_KEY}",
        "secret": "${T_QUERY_SECRET}",
        "host": "127.0.0.1",
        "port": urlparse(cloud.base).port,
        "secure": False,
        "timeout": 5,
    }
    return LibcloudSourceConfig.model_validate({**base, **settings})


@pytest.mark.parametrize(
    ("driver", "settings", "operation"),
    [
        ("ec2", {}, "TerminateInstances"),
        ("cloudstack", {"options": {"path": "/client/api"}}, "destroyVirtualMachine"),
    ],
)
def test_query_string_writes_sent_as_get_are_refused(
    fake_cloud: FakeCloud,
    monkeypatch: pytest.MonkeyPatch,
    driver: str,
    settings: dict[str, Any],
    operation: str,
) -> None:
    """EC2-style and CloudStack APIs send deletions as GET: the operation name decides."""
    monkeypatch.setenv("T_QUERY_KEY", "query-api-key")
    monkeypatch.setenv("T_QUERY_SECRET", "query-api-secret")
    compute = build_compute(query_api_config(fake_cloud, driver, **settings))
    node = Node("i-1", "web", NodeState.RUNNING, [], [], compute)
    fake_cloud.requests.clear()
    with pytest.raises(ReadOnlyViolation, match=f"refused {operation}"):
        compute.destroy_node(node)
    assert fake_cloud.requests == []


def test_query_string_reads_pass_the_guard() -> None:
    assert refused("GET", "/", {"Action": "DescribeInstances"}) is None
    assert refused("GET", "/client/api", {"command": "listVirtualMachines"}) is None
    assert refused("GET", "/", [("api_action", "linode.list")]) is None
    assert refused("GET", "/", {"action": "QUERYZONES"}) is None
    assert refused("GET", "/", [("api_action", "linode.delete")]) is not None
    assert refused("GET", "/", {"action": "DELETEZONE"}) is not None


def test_connection_errors_never_quote_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests' errors quote the URL; CloudStack signs with its apiKey in the query string."""
    monkeypatch.setenv("T_QUERY_KEY", "cloudstack-api-key-123")
    monkeypatch.setenv("T_QUERY_SECRET", "cloudstack-secret-456")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    config = LibcloudSourceConfig.model_validate(
        {
            "name": "cs",
            "driver": "cloudstack",
            "key": "${T_QUERY_KEY}",
            "secret": "${T_QUERY_SECRET}",
            "host": "127.0.0.1",
            "port": closed_port,
            "secure": False,
            "timeout": 5,
            "options": {"path": "/client/api"},
        }
    )
    with pytest.raises(CollectError, match="cloudstack failed listing nodes") as raised:
        collect(config, "server")
    message = raised.value.message
    assert "/client/api" in message  # still says where it failed
    for leak in ("cloudstack-api-key-123", "cloudstack-secret-456", "apiKey", "signature"):
        assert leak not in message


def test_plan_only_has_dns_types_with_a_dns_driver(fake_cloud: FakeCloud) -> None:
    types = {s.type for s in LibcloudCollector(os_config(fake_cloud)).plan()}
    assert types == {"server", "disk", "snapshot", "security_group"}


def test_unknown_driver_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown libcloud compute driver 'nope'"):
        LibcloudSourceConfig.model_validate({"name": "x", "driver": "nope"})


def test_volume_times_without_a_zone_are_normalized_to_utc_z() -> None:
    """Cinder's `created_at` has microseconds and no zone; rules compare ISO strings with Z."""
    volume = StorageVolume(
        "cv-9", "scratch", 10, None, extra={"created_at": "2026-01-03T04:05:06.123456"}
    )
    origin = Origin("os", "openstack", "os", "RegionOne")
    disk = normalize_volume(volume, origin)
    assert disk.attributes["created_at"] == "2026-01-03T04:05:06Z"
    odd = normalize_volume(
        StorageVolume("cv-8", "x", 1, None, extra={"created_at": "soon"}), origin
    )
    assert odd.attributes["created_at"] is None  # not a time: unknown, and the scope goes on


def cf_config(cloud: FakeCloud, token: str = "${T_CF_TOKEN}") -> LibcloudSourceConfig:
    """A DNS-only Cloudflare source (API token) pointed at the loopback API."""
    return LibcloudSourceConfig.model_validate(
        {
            "name": "cf",
            "dns_driver": "cloudflare",
            "dns_key": token,
            "host": "127.0.0.1",
            "port": urlparse(cloud.base).port,
            "secure": False,
        }
    )


def test_cloudflare_zones_and_records_past_one_page(
    fake_cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_CF_TOKEN", CF_TOKEN)
    config = cf_config(fake_cloud)
    zones = collect(config, "dns_zone")
    assert sorted(z.name for z in zones.values()) == ["zone0.test", "zone1.test", "zone2.test"]
    records = {
        (r.name, r.attributes["record_type"]): r for r in collect(config, "dns_record").values()
    }
    assert len(records) == 124  # page 2 of the records was read
    assert records[("shop.zone0.test", "CNAME")].attributes["values"] == ["gone.herokudns.test"]
    assert records[("zone0.test", "A")].attributes["zone_name"] == "zone0.test"
    assert {m for m, _ in fake_cloud.requests if _.startswith("/client/v4/")} == {"GET"}


def test_cloudflare_bad_token_is_access_denied(
    fake_cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_CF_TOKEN", "wrong")
    with pytest.raises(AccessDeniedError):
        collect(cf_config(fake_cloud), "dns_zone")

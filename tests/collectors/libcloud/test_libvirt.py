"""libcloud's real libvirt driver on libvirt's built-in `test` hypervisor (in-process: no
daemon, no KVM), through `vigil collect` and the collector's public API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collectors.libcloud import LibcloudCollector, LibcloudSourceConfig
from collectors.libcloud.drivers import build_compute
from tests.fixtures.cli import VigilCli
from tests.fixtures.services import require_sdk
from vigil.core.errors import CollectError
from vigil.core.model import Resource


@pytest.fixture(autouse=True)
def sdk() -> None:
    require_sdk("libvirt", "libvirt")


ESTATE = Path(__file__).parents[2] / "fixtures" / "libvirt" / "estate.xml"
RO_SOCKET = "/var/run/libvirt/libvirt-sock-ro"
TEST_DOMAIN_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"  # libvirt's built-in `test` domain


def servers(uri: str) -> dict[str, Resource]:
    config = LibcloudSourceConfig.model_validate({"name": "kvm", "driver": "libvirt", "uri": uri})
    collector = LibcloudCollector(config)
    (scope,) = collector.plan({"server"})
    return {r.name: r for page in collector.collect(scope) for r in page}


def write_config(cli: VigilCli, *sources: tuple[str, str]) -> None:
    lines = ["sources:"]
    for name, uri in sources:
        lines += [f"  - name: {name}", "    provider: libcloud", "    driver: libvirt"]
        lines += [f"    uri: {uri}"]
    (cli.cwd / "vigil.yaml").write_text("\n".join(lines) + "\n")


def inventory(cli: VigilCli) -> list[dict[str, Any]]:
    result = cli("inventory", "--format", "json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.mark.slow
def test_vigil_collect_lists_the_test_domain_and_says_disks_are_unknown(
    vigil_cli: VigilCli,
) -> None:
    write_config(vigil_cli, ("kvm", "test:///default"))
    result = vigil_cli("collect", env={"COLUMNS": "400"})

    # disks, snapshots and security groups: the driver cannot list them, so unknown, not empty
    assert result.returncode == 1, result.stderr
    assert "4 scopes, 3 failed" in result.stdout, result.stdout
    assert "driver libvirt cannot list volumes" in result.stdout
    (server,) = inventory(vigil_cli)
    assert server["uid"] == f"libvirt/kvm/global/server/{TEST_DOMAIN_UUID}"
    assert server["name"] == "test"
    assert server["type"] == "server"
    assert server["attributes"]["state"] == "running"
    assert server["attributes"]["private_ips"] == []
    assert server["attributes"]["volume_ids"] == []


def test_shut_off_domains_keep_their_own_uid_and_read_stopped() -> None:
    found = servers(f"test://{ESTATE}")
    assert sorted(found) == ["batch", "db", "web"]
    # libvirt gives every shut off domain id -1: uids come from the UUIDs
    assert found["db"].native_id == "3b0f7f6e-1d2c-4c55-9a0e-5a1f0c6e7d02"
    assert found["batch"].native_id == "3b0f7f6e-1d2c-4c55-9a0e-5a1f0c6e7d03"
    assert found["web"].attributes["state"] == "running"
    # libcloud calls a shut off domain "terminated"; it still exists, it is stopped
    assert found["db"].attributes["state"] == "stopped"
    assert found["batch"].attributes["state"] == "stopped"


@pytest.mark.slow
def test_an_unreadable_hypervisor_fails_only_its_own_scope(vigil_cli: VigilCli) -> None:
    missing = ESTATE.with_name("no-such-hypervisor.xml")
    write_config(vigil_cli, ("good", "test:///default"), ("broken", f"test://{missing}"))
    result = vigil_cli("collect", "--type", "server", env={"COLUMNS": "400"})  # no wrapping

    assert result.returncode == 1, result.stderr
    assert "2 scopes, 1 failed" in result.stdout, result.stdout
    assert "broken: libvirt failed listing nodes: libvirtError" in result.stdout
    assert str(missing) in result.stdout
    assert "Traceback" not in result.stderr
    assert [s["source"] for s in inventory(vigil_cli)] == ["good"]


def test_the_connection_is_read_only() -> None:
    import libvirt

    config = LibcloudSourceConfig.model_validate(
        {"name": "kvm", "driver": "libvirt", "uri": f"test://{ESTATE}"}
    )
    driver = build_compute(config)
    web = next(n for n in driver.list_nodes() if n.name == "web")
    with pytest.raises(libvirt.libvirtError, match="read only access prevents virDomainDestroy"):
        driver.destroy_node(web)
    assert driver.connection.lookupByName("web").isActive()
    driver.connection.close()


@pytest.mark.skipif(Path(RO_SOCKET).exists(), reason="a real libvirtd runs here")
def test_a_hypervisor_without_a_daemon_is_reached_on_the_read_only_socket() -> None:
    # qemu:///system goes through libvirtd; a monitoring account needs only its read-only socket
    with pytest.raises(CollectError, match=RO_SOCKET) as failure:
        servers("qemu:///system")
    assert failure.value.retryable


def test_a_libvirt_source_without_uri_is_a_config_error(vigil_cli: VigilCli) -> None:
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - name: kvm\n    provider: libcloud\n    driver: libvirt\n"
    )
    result = vigil_cli("collect")
    assert result.returncode == 2, result.stderr
    assert "vigil.yaml" in result.stderr
    assert "driver libvirt needs uri" in result.stderr
    assert not vigil_cli.database_path.exists()

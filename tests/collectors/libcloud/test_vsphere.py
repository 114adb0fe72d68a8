"""libcloud's real vSphere driver (pyVmomi, SOAP) against govmomi's vCenter simulator on
loopback, over TLS verified with the suite's test CA (`tests/fixtures/vsphere.py`)."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from collectors.libcloud import LibcloudCollector, LibcloudSourceConfig
from collectors.libcloud.drivers import build_compute
from collectors.libcloud.hypervisors import close
from tests.fixtures.services import free_port, require_sdk
from tests.fixtures.tls import TestCA
from tests.fixtures.vsphere import PASSWORD, USER, Vcenter
from vigil.core.errors import AccessDeniedError, CollectError, ReadOnlyViolation
from vigil.core.model import Resource


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    require_sdk("pyVmomi", "vsphere")
    monkeypatch.setenv("T_VC_USER", USER)
    monkeypatch.setenv("T_VC_PASSWORD", PASSWORD)
    monkeypatch.setenv("T_VC_WRONG", "not-the-password-9f3")


def config(vcenter: Vcenter, **settings: Any) -> LibcloudSourceConfig:
    base = {
        "name": "vc",
        "driver": "vsphere",
        "host": vcenter.host,
        "port": vcenter.port,
        "key": "${T_VC_USER}",
        "secret": "${T_VC_PASSWORD}",
        "options": {"ca_cert": vcenter.ca_bundle},
    }
    return LibcloudSourceConfig.model_validate({**base, **settings})


def collect(config: LibcloudSourceConfig, type_: str = "server") -> dict[str, Resource]:
    collector = LibcloudCollector(config)
    (scope,) = collector.plan({type_})
    return {r.name: r for page in collector.collect(scope) for r in page}


def sessions(vcenter: Vcenter) -> set[str]:
    """The keys of the simulator's open sessions but the one this looks through."""
    from pyVim import connect

    context = ssl.create_default_context(cafile=vcenter.ca_bundle)
    si = connect.SmartConnect(
        host=vcenter.host,
        port=vcenter.port,
        user=vcenter.user,
        pwd=vcenter.password,
        sslContext=context,
    )
    try:
        manager = si.content.sessionManager
        return {s.key for s in manager.sessionList} - {manager.currentSession.key}
    finally:
        connect.Disconnect(si)


def test_virtual_machines_are_servers(vcenter: Vcenter) -> None:
    servers = collect(config(vcenter))
    assert sorted(servers) == ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"]
    vm = servers["DC0_C0_RP0_VM0"]
    assert vm.provider == "vsphere"
    assert vm.uid == f"vsphere/vc/global/server/{vm.native_id}"
    assert len(vm.native_id) == 36  # the VM's instance UUID, stable across power cycles
    assert vm.attributes["state"] == "running"
    # libcloud's size id is an md5 of memory, CPUs and disk: no size name, so unknown
    assert vm.attributes["instance_type"] is None
    assert vm.attributes["public_ips"] == [] and vm.attributes["private_ips"] == []


def test_a_scope_logs_out_when_it_is_done(vcenter: Vcenter) -> None:
    before = sessions(vcenter)
    collect(config(vcenter))
    assert sessions(vcenter) == before


def test_a_wrong_password_is_access_denied_and_not_echoed(vcenter: Vcenter) -> None:
    with pytest.raises(AccessDeniedError, match="rejected the credentials") as failure:
        collect(config(vcenter, secret="${T_VC_WRONG}"))
    assert "Login failure" in str(failure.value)  # the vCenter's own fault message
    assert "not-the-password-9f3" not in str(failure.value)


def test_an_untrusted_certificate_fails_naming_the_tls_reason(
    vcenter: Vcenter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = TestCA(tmp_path_factory.mktemp("other-ca"), name="Someone Else's Root")
    with pytest.raises(CollectError, match="certificate verify failed") as failure:
        collect(config(vcenter, options={"ca_cert": str(other.bundle)}))
    assert not isinstance(failure.value, AccessDeniedError)
    assert "Cannot connect to vSphere" in str(failure.value)


def test_types_the_driver_cannot_list_are_unknown(vcenter: Vcenter) -> None:
    with pytest.raises(CollectError, match="driver vsphere cannot list volumes"):
        collect(config(vcenter), "disk")
    # vSphere's ex_list_snapshots(node) is per VM: not taken for volume snapshots
    with pytest.raises(CollectError, match="driver vsphere cannot list volume snapshots"):
        collect(config(vcenter), "snapshot")


def test_writes_are_refused_before_they_are_sent(vcenter: Vcenter) -> None:
    driver = build_compute(config(vcenter))
    try:
        vm = driver.list_nodes()[0]
        with pytest.raises(ReadOnlyViolation, match="refused vSphere"):
            driver.stop_node(vm)
        content = driver.connection.RetrieveContent()
        with pytest.raises(ReadOnlyViolation, match="refused vSphere CreateFolder"):
            content.rootFolder.CreateFolder("vigil-was-here")
    finally:
        close(driver)
    states = {r.name: r.attributes["state"] for r in collect(config(vcenter)).values()}
    assert states[vm.name] == "running"


def test_a_vsphere_source_without_host_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="driver vsphere needs host"):
        LibcloudSourceConfig.model_validate(
            {"name": "vc", "driver": "vsphere", "key": "${T_VC_USER}", "secret": "${T_VC_PASSWORD}"}
        )


def test_a_vcenter_that_does_not_answer_fails_retryably() -> None:
    down = Vcenter("127.0.0.1", free_port(), USER, PASSWORD, ca_bundle="")
    with pytest.raises(CollectError, match="Connection refused") as failure:
        collect(config(down, options={}))
    assert failure.value.retryable
    assert not isinstance(failure.value, AccessDeniedError)

"""Port probes against real listeners on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from collectors.probes import ProbeCollector
from tests.collectors.probes.helpers import collect, probe_config


@pytest.fixture
def listeners() -> Iterator[list[int]]:
    """Two listening ports, and one bound but not listening (closed)."""
    sockets = [socket.socket() for _ in range(3)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    sockets[0].listen()
    sockets[1].listen()
    yield [int(s.getsockname()[1]) for s in sockets]
    for sock in sockets:
        sock.close()


def test_open_and_closed_ports(listeners) -> None:
    web, db, closed = listeners
    found = collect(
        "server", ports=[{"host": "127.0.0.1", "ports": [web, db, closed], "allowed": [web]}]
    )
    host = found["127.0.0.1"]
    assert host.type == "server"
    assert host.attributes["open_ports"] == sorted([web, db])
    assert host.attributes["allowed_ports"] == [web]
    assert host.attributes["probed_ports"] == sorted([web, db, closed])
    assert host.attributes["reachable"] is True
    assert host.uid == "probe/edge/global/server/127.0.0.1"


def test_host_refusing_everything_is_reachable_with_no_open_ports(listeners) -> None:
    _, _, closed = listeners
    found = collect("server", ports=[{"host": "127.0.0.1", "ports": [closed]}])
    assert found["127.0.0.1"].attributes["open_ports"] == []
    assert found["127.0.0.1"].attributes["reachable"] is True


def test_only_inventory_hosts_and_configured_ports_are_probed(listeners) -> None:
    web, db, _ = listeners

    class Inventory:
        def public_hosts(self):
            return ["127.0.0.1"]

        def dns_names(self):
            return []

        def last_known(self, uids):
            return {}

    config = probe_config(from_inventory={"ports": [db], "allowed_ports": [web]})
    plans = ProbeCollector(config, inventory=Inventory()).port_plans()
    assert [(p.host, p.ports, p.allowed) for p in plans] == [("127.0.0.1", {db}, {web})]
    assert ProbeCollector(config).port_plans() == []  # no inventory wired: nothing probed


def test_ranges_are_refused_at_config_load() -> None:
    with pytest.raises(ValueError, match="ranges are not probed"):
        probe_config(ports=[{"host": "10.0.0.0/24", "ports": [22]}])


def test_a_name_that_cannot_be_encoded_is_unreachable_not_a_crash(listeners) -> None:
    web, _, _ = listeners
    bad = "b" * 64 + ".test"
    found = collect(
        "server",
        ports=[{"host": "127.0.0.1", "ports": [web]}, {"host": bad, "ports": [web]}],
    )
    assert found["127.0.0.1"].attributes["open_ports"] == [web]
    assert found[bad].attributes["reachable"] is False
    assert "idna" in found[bad].attributes["error"]


def test_an_inventory_name_that_is_not_a_host_is_skipped() -> None:
    class Inventory:
        def public_hosts(self):
            return ["shop.example.com", "bad name.example.com"]

        def dns_names(self):
            return []

        def last_known(self, uids):
            return {}

    config = probe_config(from_inventory={"tls_ports": [443]})
    targets = ProbeCollector(config, inventory=Inventory()).tls_targets()
    assert [t.native_id for t in targets] == ["shop.example.com:443"]

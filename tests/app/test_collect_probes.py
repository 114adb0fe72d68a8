"""Probe sources through the pipeline: the inventory reader keeps what a down target had."""

from __future__ import annotations

from pathlib import Path

from collectors.probes.config import ProbeSourceConfig
from storage import history, inventory
from storage.db import Database
from tests.fixtures.tls import TestCA, TlsServers, server_context
from vigil.app.collect import collect


def serve_leaf(servers: TlsServers, ca: TestCA, tmp_path: Path, host: str) -> int:
    certfile, keyfile = ca.leaf(host).write(tmp_path, host)
    return servers.serve(server_context(certfile, keyfile))


def certificates(db: Database) -> dict[str, dict]:
    found = inventory.inventory(db, inventory.InventoryFilter(types=("certificate",)))
    return {r.native_id: r.attributes for r in found}


def test_unreachable_target_keeps_its_last_certificate_and_deletes_nothing(
    sqlite_db: Database, test_ca: TestCA, tls_servers: TlsServers, tmp_path: Path
) -> None:
    flaky = TlsServers()
    down_port = serve_leaf(flaky, test_ca, tmp_path, "flaky.test")
    up_port = serve_leaf(tls_servers, test_ca, tmp_path, "steady.test")
    source = ProbeSourceConfig.model_validate(
        {
            "name": "edge",
            "timeout": "2s",
            "ca_bundle": str(test_ca.bundle),
            "tls": [
                {"host": "127.0.0.1", "port": down_port, "server_name": "flaky.test"},
                {"host": "127.0.0.1", "port": up_port, "server_name": "steady.test"},
            ],
        }
    )
    assert collect(sqlite_db, [source], types={"certificate"}).failed == []
    before = certificates(sqlite_db)
    flaky.close()

    result = collect(sqlite_db, [source], types={"certificate"})

    assert result.failed == []
    after = certificates(sqlite_db)
    down = f"127.0.0.1:{down_port}"
    assert set(after) == set(before)
    assert after[down]["reachable"] is False
    assert after[down]["not_after"] == before[down]["not_after"]
    assert after[down]["common_name"] == "flaky.test"
    assert list(history.changes(sqlite_db, kinds=("deleted",))) == []
    changed = [e.changes for e in history.changes(sqlite_db, kinds=("changed",))]
    assert len(changed) == 1 and "attributes.reachable" in changed[0]


def test_a_target_removed_from_the_config_is_retired_not_deleted(
    sqlite_db: Database, test_ca: TestCA, tls_servers: TlsServers, tmp_path: Path
) -> None:
    ports = [serve_leaf(tls_servers, test_ca, tmp_path, h) for h in ("a.test", "b.test")]
    targets = [
        {"host": "127.0.0.1", "port": p, "server_name": h}
        for p, h in zip(ports, ("a.test", "b.test"), strict=True)
    ]

    def source(tls: list[dict]) -> ProbeSourceConfig:
        return ProbeSourceConfig.model_validate(
            {"name": "edge", "timeout": "2s", "ca_bundle": str(test_ca.bundle), "tls": tls}
        )

    assert collect(sqlite_db, [source(targets)], types={"certificate"}).failed == []
    assert collect(sqlite_db, [source(targets[:1])], types={"certificate"}).failed == []

    removed = f"127.0.0.1:{ports[1]}"
    assert set(certificates(sqlite_db)) == {f"127.0.0.1:{ports[0]}"}
    assert [e.native_id for e in history.changes(sqlite_db, kinds=("retired",))] == [removed]
    assert list(history.changes(sqlite_db, kinds=("deleted",))) == []
    shown = inventory.inventory(sqlite_db, inventory.InventoryFilter(include_deleted=True))
    assert {r.native_id: r.state for r in shown}[removed] == "retired"

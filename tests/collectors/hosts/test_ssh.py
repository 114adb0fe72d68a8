"""SSH facts from this machine through a real OpenSSH server on loopback."""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest

from collectors.hosts import HostsCollector
from storage import inventory
from storage.db import Database
from tests.collectors.hosts.conftest import hosts_config
from tests.fixtures.sshd import SilentPort, SshServer
from tests.fixtures.tls import TestCA
from vigil.app.collect import Collection
from vigil.core.canonical import canonical_json
from vigil.core.errors import CollectError
from vigil.core.model import Resource


def collect_all(collector: HostsCollector) -> dict[str, list[Resource]]:
    found: dict[str, list[Resource]] = {}
    for scope in collector.plan():
        for page in collector.collect(scope):
            found.setdefault(scope.type, []).extend(page)
    return found


def test_facts_of_this_machine(sshd: SshServer, tmp_path: Path) -> None:
    certs = tmp_path / "nginx"
    certs.mkdir()
    issued = TestCA(tmp_path).leaf("shop.example.com", valid_for=timedelta(days=42))
    certfile, keyfile = issued.write(certs, "shop")
    # haproxy style: certificate and key in one file; the key must never leave the host
    (certs / "combined.pem").write_bytes(Path(certfile).read_bytes() + Path(keyfile).read_bytes())
    with socket.create_server(("0.0.0.0", 0)) as listener:
        port = listener.getsockname()[1]
        config = hosts_config(sshd, certificate_paths=[str(certs), "/nonexistent/ssl"])
        found = collect_all(HostsCollector(config))

    (server,) = found["server"]
    assert server.attributes["kernel"] == os.uname().release
    assert server.attributes["cpus"] == os.cpu_count()
    assert server.attributes["memory_bytes"] > 0
    assert server.attributes["reachable"] is True
    comm = Path("/proc/self/comm").read_text().strip()
    mine = [p for p in server.attributes["listening_ports"] if p["port"] == port]
    assert mine == [{"port": port, "protocol": "tcp", "address": "0.0.0.0", "process": comm}]

    root = next(d for d in found["disk"] if d.attributes["mountpoint"] == "/")
    attrs = root.attributes
    assert attrs["size_bytes"] > attrs["used_bytes"] > 0
    assert attrs["free_bytes"] > 0 and 0 < attrs["used_percent"] < 100
    assert attrs["attached_to"] == ["local"] and root.native_id == "local:/"

    by_path = {c.attributes["path"]: c for c in found["certificate"]}
    assert set(by_path) == {certfile, str(certs / "combined.pem")}
    cert = by_path[certfile].attributes
    expected = issued.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cert["not_after"] == expected and cert["origin"] == "file"
    assert cert["common_name"] == "shop.example.com" and cert["sans"] == ["shop.example.com"]
    assert "PRIVATE KEY" not in canonical_json([r.to_dict() for r in found["certificate"]])


def test_backup_path_gives_a_snapshot_of_each_covered_disk(sshd: SshServer, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    for day, name in ((3, "db-old.tar.gz"), (1, "db-new.tar.gz")):
        path = backups / name
        path.write_bytes(b"x" * 10)
        stamp = time.time() - day * 86400
        os.utime(path, (stamp, stamp))
    config = hosts_config(sshd, backup={"path": f"{backups}/*.tar.gz", "covers": ["/"]})
    (snapshot,) = collect_all(HostsCollector(config))["snapshot"]
    assert snapshot.attributes["location"] == str(backups / "db-new.tar.gz")
    assert snapshot.attributes["source_uid"] == "hosts/local/global/disk/local:/"
    assert snapshot.attributes["kind"] == "file"


def test_a_changed_host_key_is_refused_naming_host_and_file(sshd: SshServer) -> None:
    config = hosts_config(sshd, ssh={"known_hosts": sshd.other_known_hosts()})
    collector = HostsCollector(config)
    scope = next(iter(collector.plan({"server"})))
    with pytest.raises(CollectError) as caught:
        list(collector.collect(scope))
    message = caught.value.message
    assert f"local (127.0.0.1:{sshd.port}): host key refused" in message
    assert sshd.other_known_hosts() in message and "never skips this check" in message


def test_an_unknown_host_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    collector = HostsCollector(hosts_config(sshd, ssh={"known_hosts": str(empty)}))
    with pytest.raises(CollectError, match="host key refused"):
        list(collector.collect(next(iter(collector.plan({"disk"})))))


def test_a_missing_known_hosts_file_is_an_error(sshd: SshServer, tmp_path: Path) -> None:
    config = hosts_config(sshd, ssh={"known_hosts": str(tmp_path / "nope")})
    collector = HostsCollector(config)
    with pytest.raises(CollectError, match="does not exist"):
        list(collector.collect(next(iter(collector.plan({"disk"})))))


def test_a_silent_host_fails_its_own_scopes_without_stalling_the_others(
    sshd: SshServer, silent_port: SilentPort, sqlite_db: Database
) -> None:
    good = {"host": "127.0.0.1", "port": sshd.port, "name": "good"}
    mute = {"host": "127.0.0.1", "port": silent_port.port, "name": "mute"}
    config = hosts_config(sshd, good, mute, ssh={"timeout": 2})
    started = time.monotonic()
    result = Collection(sqlite_db, [config]).run()
    assert time.monotonic() - started < 6
    by_host: dict[str, set[str]] = {}
    for outcome in result.outcomes:
        by_host.setdefault(outcome.scope.account, set()).add(outcome.status)
    assert by_host == {"good": {"complete"}, "mute": {"failed"}}
    errors = {o.error for o in result.failed}
    assert errors == {
        f"mute (127.0.0.1:{silent_port.port}): no answer within 2s while waiting for the SSH "
        "handshake; check that the host is up and that port "
        f"{silent_port.port} is its SSH server, or raise ssh.timeout"
    }


def test_an_unreachable_host_deletes_nothing(
    sshd: SshServer, silent_port: SilentPort, sqlite_db: Database
) -> None:
    first = hosts_config(sshd, {"host": "127.0.0.1", "port": sshd.port, "name": "db-1"})
    assert not Collection(sqlite_db, [first]).run().failed
    before = {r.uid: r.attributes for r in inventory.inventory(sqlite_db)}
    assert {uid.split("/")[3] for uid in before} >= {"server", "disk"}

    gone = hosts_config(
        sshd, {"host": "127.0.0.1", "port": silent_port.port, "name": "db-1"}, ssh={"timeout": 1}
    )
    result = Collection(sqlite_db, [gone]).run()
    assert result.failed and all(o.deleted == 0 for o in result.outcomes)
    assert {r.uid: r.attributes for r in inventory.inventory(sqlite_db)} == before


def test_refused_port_says_what_failed(sshd: SshServer) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    config = hosts_config(sshd, {"host": "127.0.0.1", "port": port, "name": "off"})
    collector = HostsCollector(config)
    with pytest.raises(CollectError, match=r"off \(127\.0\.0\.1:\d+\): connecting over TCP failed"):
        list(collector.collect(next(iter(collector.plan({"server"})))))

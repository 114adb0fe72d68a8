"""node_exporter: a recorded exposition served on loopback, and the real exporter if installed."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.hosts import HostsCollector
from collectors.hosts.config import HostsSourceConfig
from tests.fixtures.services import free_port, require_service, wait_for_port
from vigil.core.errors import CollectError
from vigil.core.model import Resource

RECORDED = Path(__file__).parents[2] / "data" / "hosts" / "node_exporter.txt"
EXPORTER = "/usr/bin/prometheus-node-exporter"


class _Metrics(http.server.BaseHTTPRequestHandler):
    body = RECORDED.read_bytes()

    def do_GET(self) -> None:
        status = 200 if self.path == "/metrics" else 404
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        if status == 200:
            self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorded_exporter() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def collect(config: HostsSourceConfig) -> dict[str, list[Resource]]:
    collector = HostsCollector(config)
    found: dict[str, list[Resource]] = {}
    for scope in collector.plan():
        for page in collector.collect(scope):
            found.setdefault(scope.type, []).extend(page)
    return found


def exporter_source(port: int, **target: object) -> HostsSourceConfig:
    node = {"host": "127.0.0.1", "name": "db-1", "node_exporter": {"port": port}, **target}
    return HostsSourceConfig(name="colo", targets=[node])  # type: ignore[list-item]


def test_recorded_exposition_maps_to_server_and_disks(recorded_exporter: int) -> None:
    found = collect(exporter_source(recorded_exporter, allowed_ports=[22, 5432]))
    assert set(found) == {"server", "disk"}  # no certificate/snapshot scopes: unknown, not empty
    (server,) = found["server"]
    attrs = server.attributes
    assert attrs["kernel"] == "6.1.0-18-amd64" and attrs["os"] == "Debian GNU/Linux 12 (bookworm)"
    assert (attrs["cpus"], attrs["memory_bytes"], attrs["hostname"]) == (2, 25276502016, "db-1")
    assert attrs["collected_via"] == "node_exporter" and "listening_ports" not in attrs
    assert attrs["allowed_ports"] == [22, 5432]
    disks = {d.attributes["mountpoint"]: d.attributes for d in found["disk"]}
    assert set(disks) == {"/", "/boot/efi", "/var/lib/postgresql"}  # tmpfs and the failing NFS out
    pg = disks["/var/lib/postgresql"]
    assert (pg["filesystem"], pg["device"]) == ("xfs", "/dev/mapper/vg0-pgdata")
    assert pg["used_bytes"] == 536608768000 - 64420319232 and pg["free_bytes"] == 64420319232
    assert pg["used_percent"] == 88.0 and pg["attached_to"] == ["db-1"]


def test_a_wrong_url_names_the_host_and_url(recorded_exporter: int) -> None:
    url = f"http://127.0.0.1:{recorded_exporter}/nope"
    config = exporter_source(recorded_exporter, node_exporter={"url": url})
    with pytest.raises(CollectError, match=rf"db-1: node_exporter at {url} answered HTTP 404"):
        collect(config)


def test_a_dead_exporter_fails_the_scope(recorded_exporter: int) -> None:
    config = exporter_source(free_port())
    with pytest.raises(CollectError, match="cannot scrape node_exporter"):
        collect(config)


@pytest.fixture(scope="module")
def real_exporter() -> Iterator[int]:
    path = EXPORTER if os.access(EXPORTER, os.X_OK) else require_service("prometheus-node-exporter")
    port = free_port()
    process = subprocess.Popen(
        [path, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_the_real_node_exporter(real_exporter: int) -> None:
    found = collect(exporter_source(real_exporter))
    (server,) = found["server"]
    assert server.attributes["kernel"] == os.uname().release
    root = next(d for d in found["disk"] if d.attributes["mountpoint"] == "/")
    assert root.attributes["size_bytes"] > root.attributes["used_bytes"] > 0


@pytest.fixture
def not_http() -> Iterator[int]:
    """A port where something other than an HTTP server answers (an SSH banner)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    threading.Thread(target=answer, daemon=True).start()
    yield int(listener.getsockname()[1])
    listener.close()


def test_a_port_that_is_not_http_fails_the_scope_as_a_collect_error(not_http: int) -> None:
    with pytest.raises(CollectError, match=r"db-1: cannot scrape node_exporter .* no HTTP answer"):
        collect(exporter_source(not_http))


def test_a_url_with_a_password_is_never_quoted(recorded_exporter: int) -> None:
    url = f"http://vigil:hunter2-secret@127.0.0.1:{recorded_exporter}/metrics"
    with pytest.raises(CollectError, match="cannot scrape node_exporter") as raised:
        collect(exporter_source(recorded_exporter, node_exporter={"url": url}))
    assert "hunter2-secret" not in raised.value.message
    assert f"127.0.0.1:{recorded_exporter}/metrics" in raised.value.message

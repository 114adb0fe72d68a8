"""`executor: {kind: queue}` over time: a `vigil worker` outlives many passes, so what it keeps
from one pass must not shape the next, and the jobs the passes leave in the queue go away
while the scope runs keep the history."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.fixtures.cli import VigilCli
from tests.fixtures.sshd import SshServer
from tests.reliability.conftest import Views, Workers
from tests.reliability.test_queue_workers import QUEUE

pytestmark = pytest.mark.slow


def hosts_source(server: SshServer, restore_log: Path) -> str:
    """A hosts source reading this machine over the real sshd, with a restore-drill log."""
    return (
        "sources:\n  - name: colo\n    provider: hosts\n"
        f"    ssh: {{user: {server.user}, key_file: {server.client_key}, "
        f"known_hosts: {server.known_hosts}, timeout: 10}}\n"
        f"    targets: [{{host: 127.0.0.1, port: {server.port}, name: local}}]\n"
        f"    restore_evidence: {{file: {restore_log}, covers: [/]}}\n" + QUEUE
    )


def last_restore(views: Views) -> object:
    """The host's last proven restore, as the inventory (the vigil_resources view) says."""
    (server,) = views.rows(
        "SELECT attributes FROM vigil_resources WHERE type = 'server' AND state = 'present'"
    )
    return json.loads(server["attributes"])["last_restore_at"]


def test_one_worker_reads_the_hosts_afresh_in_each_pass(
    queue_cli: VigilCli, queue_url: str, sshd: SshServer, workers: Workers
) -> None:
    """The worker builds the hosts source's collector per pass: a restore drill recorded on
    the host between two passes is in the second pass's inventory, not the first pass's read."""
    log = queue_cli.cwd / "restore-drill.log"
    log.write_text("2026-01-05T03:00:00Z ok\n")
    (queue_cli.cwd / "vigil.yaml").write_text(hosts_source(sshd, log))
    worker = workers.start()
    views = Views(queue_url)
    try:
        started = time.monotonic()
        first = queue_cli("collect")
        assert first.returncode == 0, first.stdout + first.stderr
        assert last_restore(views) == "2026-01-05T03:00:00Z"
        scopes = workers.scopes_run(worker)
        assert scopes >= 2  # the host's server and disk scopes at least

        log.write_text("2026-01-05T03:00:00Z ok\n2026-02-09T04:30:00Z ok\n")  # a new drill
        second = queue_cli("collect")
        took = time.monotonic() - started
        assert second.returncode == 0, second.stdout + second.stderr
        assert last_restore(views) == "2026-02-09T04:30:00Z"
    finally:
        views.close()
    assert worker.poll() is None  # the same process served both passes
    assert workers.scopes_run(worker) == 2 * scopes
    assert len(workers.started) == 1
    print(f"hosts source: two passes on one worker in {took:.2f}s")

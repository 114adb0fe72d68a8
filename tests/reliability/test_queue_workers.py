"""`executor: {kind: queue}`: real `vigil worker` processes on a real PostgreSQL run the scopes
of a `vigil collect` pass against moto; workers killed, stopped, or cut off from the database.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.cli import VigilCli
from tests.fixtures.database import PostgresCluster
from tests.fixtures.services import free_port
from tests.reliability.conftest import SCOPES, Estate, Views, configure, report

pytestmark = pytest.mark.slow

QUEUE = "executor:\n  kind: queue\n  stalled_after: 3s\n"


class Workers:
    """`vigil worker` processes of a test, each serving its /metrics; stopped at the end."""

    def __init__(self, cli: VigilCli) -> None:
        self.cli = cli
        self.started: list[tuple[subprocess.Popen[str], int]] = []

    def start(self, concurrency: int = 4) -> subprocess.Popen[str]:
        port = free_port()
        process = self.cli.start(
            "worker", "--concurrency", str(concurrency), "--metrics", f"127.0.0.1:{port}"
        )
        self.started.append((process, port))
        deadline = time.monotonic() + 30
        while not self._ready(port):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the worker never served /readyz"
            time.sleep(0.1)
        return process

    def scopes_run(self, process: subprocess.Popen[str]) -> int:
        port = dict(self.started)[process]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        return sum(
            int(float(n))
            for n in re.findall(r"^vigil_worker_scopes_total\{.*\} (\S+)$", text, re.M)
        )

    @staticmethod
    def _ready(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop_all(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def queue_url(postgres: PostgresCluster) -> str:
    return postgres.create_database()


@pytest.fixture
def queue_cli(vigil_cli: VigilCli, queue_url: str) -> VigilCli:
    vigil_cli.env["VIGIL_DATABASE_URL"] = queue_url
    return vigil_cli


@pytest.fixture
def workers(queue_cli: VigilCli) -> Iterator[Workers]:
    started = Workers(queue_cli)
    yield started
    started.stop_all()


def test_two_workers_run_a_pass_and_the_inventory_is_moto_s(
    queue_cli: VigilCli, queue_url: str, moto: str, estate: Estate, workers: Workers
) -> None:
    configure(queue_cli, moto, QUEUE)
    first, second = workers.start(), workers.start()
    started = time.monotonic()
    result = queue_cli("collect")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{SCOPES} scopes, 0 failed" in result.stdout
    views = Views(queue_url)
    try:
        assert views.inventory() == estate.truth()
        runs = views.rows("SELECT count(*) AS n FROM scope_runs WHERE pass_id IS NOT NULL")
        assert runs[0]["n"] == SCOPES  # one attempt per scope, each recorded once
    finally:
        views.close()
    ran = [workers.scopes_run(first), workers.scopes_run(second)]
    assert sum(ran) == SCOPES and all(ran), ran  # both workers took scopes
    report(f"queue: {SCOPES} scopes on 2 workers in {took:.2f}s, split {ran}")

"""The `vigil worker` command lines the deployments ship, run for real: compose's `command`,
the Kubernetes worker's `args` and the systemd template's ExecStart parse, answer the probes
and healthcheck they are given, and stop within the grace they are given. Only the metrics
address is moved to a free loopback port; the config is the shipped deploy/vigil.yaml with its
`executor:` switch uncommented, the database a real PostgreSQL."""

from __future__ import annotations

import json
import shlex
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.deploy.helpers import DEPLOY, uncomment_queue_executor
from tests.fixtures.cli import VigilCli
from tests.fixtures.database import PostgresCluster
from tests.fixtures.services import free_port

pytestmark = pytest.mark.slow

PLACEHOLDERS = {
    "VIGIL_AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/VigilReadOnly",
    "VIGIL_EXTERNAL_ID": "placeholder-external-id",
}


def compose_command() -> list[str]:
    command: list[str] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"][
        "worker"
    ]["command"]
    return command


def kubernetes_args() -> list[str]:
    worker = yaml.safe_load((DEPLOY / "kubernetes/components/queue/worker.yaml").read_text())
    args: list[str] = worker["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def systemd_args() -> list[str]:
    unit = (DEPLOY / "systemd/vigil-worker@.service").read_text()
    (line,) = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    words = shlex.split(line.removeprefix("ExecStart="))
    assert words[:3] == ["/opt/vigil/bin/vigil", "--config", "/etc/vigil/vigil.yaml"]
    return [word.replace("%i", "9465") for word in words[3:]]


SHIPPED = {"compose": compose_command, "kubernetes": kubernetes_args, "systemd": systemd_args}


def on_port(args: list[str], port: int) -> list[str]:
    """The same command with its --metrics address on a free loopback port."""
    moved = list(args)
    moved[moved.index("--metrics") + 1] = f"127.0.0.1:{port}"
    return moved


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def ready(port: int) -> bool:
    try:
        return get(port, "/readyz")[0] == 200
    except OSError:
        return False


def registered(cli: VigilCli) -> bool:
    """The worker has registered in the job queue: it is taking jobs, its SIGTERM handler
    installed. (/readyz answers 200 a little earlier, while the worker still opens the queue:
    a SIGTERM then ends it by the default action, exit -15, as the suite has seen under load.)"""
    engine = sa.create_engine(cli.env["VIGIL_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(sa.text("SELECT count(*) FROM procrastinate_workers")).scalar()
            )
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


@pytest.fixture
def worker_cli(
    vigil_cli: VigilCli, postgres: PostgresCluster, tmp_path: Path
) -> Iterator[VigilCli]:
    """The shipped config with the queue switched on, on its own PostgreSQL database."""
    config = tmp_path / "vigil.yaml"
    config.write_text(uncomment_queue_executor((DEPLOY / "vigil.yaml").read_text()))
    vigil_cli.env.update(
        PLACEHOLDERS,
        VIGIL_CONFIG=str(config),
        VIGIL_DATABASE_URL=postgres.create_database(),
    )
    yield vigil_cli


@pytest.mark.parametrize("deployment", sorted(SHIPPED))
def test_the_shipped_worker_answers_its_probes_and_stops_within_10s(
    worker_cli: VigilCli, deployment: str
) -> None:
    args = SHIPPED[deployment]()
    assert args[0] == "worker"
    port = free_port()
    process = worker_cli.start(*on_port(args, port))
    try:
        deadline = time.monotonic() + 60
        while not (ready(port) and registered(worker_cli)):
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the worker never became ready"
            time.sleep(0.2)
        assert get(port, "/healthz")[0] == 200  # liveness (k8s) and the image's healthcheck
        status, metrics = get(port, "/metrics")
        assert status == 200 and "vigil_worker_scopes_running 0.0" in metrics
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
        took = time.monotonic() - stopped
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr[-3000:]
    assert took < 10, f"{took:.1f}s: beyond the 10 s every grace period is sized for"
    if "--log-format" in args and args[args.index("--log-format") + 1] == "json":
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert lines and all(isinstance(json.loads(line), dict) for line in lines), lines[:3]


def test_a_worker_without_the_queue_switch_exits_2_and_says_how_to_fix_it(
    worker_cli: VigilCli,
) -> None:
    """`--profile queue` (or the component) with the executor: lines still commented out."""
    default = worker_cli.cwd / "default.yaml"
    default.write_text((DEPLOY / "vigil.yaml").read_text())
    result = worker_cli(
        *on_port(compose_command(), free_port()), env={"VIGIL_CONFIG": str(default)}, timeout=60
    )
    assert result.returncode == 2
    assert "executor: {kind: queue}" in result.stderr and "default.yaml" in result.stderr

"""deploy/compose.yaml: Debian's docker-compose accepts it, and it wires what the guide promises."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import (
    DEPLOY,
    require_tool,
    set_placeholders,
    uncomment_queue_executor,
)
from vigil.app.config import load_config

COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "compose.env.example"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"


def compose_config(*options: str) -> dict[str, Any]:
    """What `docker-compose config` understood, with the example env file."""
    tool = require_tool("docker-compose")
    result = subprocess.run(
        [tool, "-f", str(COMPOSE), *options, "config"],
        env={**os.environ, "VIGIL_ENV_FILE": ENV_EXAMPLE.name},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = yaml.safe_load(result.stdout)
    return document


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    return compose_config()


@pytest.fixture(scope="module")
def rendered_queue() -> dict[str, Any]:
    """The scale-out variant: `docker compose --profile queue` (docs/operations.md)."""
    return compose_config("--profile", "queue")


def seconds(duration: str) -> float:
    """A compose duration such as 15s, 1m30s or 1m."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", duration)
    assert parts and duration, duration
    return int(parts[1] or 0) * 60 + float(parts[2] or 0)


def metrics_port(command: list[str]) -> int:
    """The port of `vigil worker --metrics HOST:PORT`; the host must let other containers in."""
    host, _, port = command[command.index("--metrics") + 1].rpartition(":")
    assert host == "0.0.0.0", "inside a container, --metrics must bind every interface"
    return int(port)


def test_compose_config_validates_with_every_service(rendered_queue: dict[str, Any]) -> None:
    assert set(rendered_queue["services"]) == {
        "vigil",
        "worker",
        "dashboard",
        "postgres",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert {"vigil-data", "postgres-data", "prometheus-data", "grafana-data"} <= set(
        rendered_queue["volumes"]
    )


def test_one_image_runs_the_daemon_and_the_dashboard(rendered: dict[str, Any]) -> None:
    vigil, dashboard = rendered["services"]["vigil"], rendered["services"]["dashboard"]
    assert vigil["image"] == dashboard["image"]
    assert vigil["build"]["dockerfile"] == "deploy/Dockerfile"
    assert vigil["command"][0] == "run"
    assert dashboard["command"][:3] == ["dashboard", "--address", "0.0.0.0"]
    assert "/_stcore/health" in " ".join(dashboard["healthcheck"]["test"])
    assert vigil["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_monitoring_stack_loads_vigils_rules_and_dashboard(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    prometheus = " ".join(services["prometheus"]["volumes"])
    grafana = " ".join(services["grafana"]["volumes"])
    assert "prometheus/alerts.yml:/etc/prometheus/alerts.yml" in prometheus
    assert "prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in prometheus
    assert "grafana/vigil.json:/var/lib/grafana/dashboards/vigil.json" in grafana
    assert "grafana/provisioning:/etc/grafana/provisioning" in grafana
    assert "alertmanager/alertmanager.yml" in " ".join(services["alertmanager"]["volumes"])


def test_every_file_compose_mounts_exists() -> None:
    """A missing bind-mount source would be created as an empty directory at `up`."""
    compose = yaml.safe_load(COMPOSE.read_text())
    sources = [
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    ]
    missing = [s for s in sources if not (DEPLOY / s).exists()]
    assert sources and missing == []


def test_no_secret_is_written_in_the_compose_file() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        for key in environment:
            assert not any(word in key for word in ("PASSWORD", "TOKEN", "SECRET", "KEY")), name
    assert "compose.env" in COMPOSE.read_text()
    assert "change-me" in ENV_EXAMPLE.read_text()


def test_alertmanager_config_is_valid() -> None:
    amtool = require_tool("amtool")
    result = subprocess.run(
        [amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisioning_points_at_the_mounted_dashboard() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    dashboards = yaml.safe_load((provisioning / "dashboards" / "vigil.yaml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert dashboards["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_the_dashboard_without_a_login_is_published_on_the_hosts_loopback_only(
    rendered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    dashboard = rendered["services"]["dashboard"]
    set_placeholders((DEPLOY / "vigil.yaml").read_text(), monkeypatch)
    config = load_config(DEPLOY / "vigil.yaml")
    # --allow-no-login is only for this: the container's 0.0.0.0 behind a loopback publish.
    assert not config.dashboard.oidc and "--allow-no-login" in dashboard["command"]
    ports = [
        p if isinstance(p, str) else f"{p['host_ip']}:{p['published']}" for p in dashboard["ports"]
    ]
    assert ports and all(port.startswith("127.0.0.1:") for port in ports)


def test_the_default_stack_runs_its_scopes_in_the_daemon(
    rendered: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers are the opt-in profile `queue`; without it compose starts none, and the
    shipped vigil.yaml keeps the in-process executor."""
    services = rendered["services"]
    # docker-compose v1 lists a profile's services with their profile, Compose v2 omits them.
    assert services.get("worker", {"profiles": ["queue"]})["profiles"] == ["queue"]
    assert [name for name, s in services.items() if s.get("profiles")] in ([], ["worker"])
    set_placeholders((DEPLOY / "vigil.yaml").read_text(), monkeypatch)
    assert load_config(DEPLOY / "vigil.yaml").executor.kind == "threads"


def test_workers_run_the_daemons_image_config_and_secrets(
    rendered_queue: dict[str, Any],
) -> None:
    """No credential travels in a job: a worker reads the daemon's config file and env file."""
    services = rendered_queue["services"]
    daemon, worker = services["vigil"], services["worker"]
    assert worker["command"][0] == "worker"
    assert worker["image"] == daemon["image"] and worker["build"] == daemon["build"]
    assert worker["volumes"] == daemon["volumes"]
    own = {"VIGIL_HEALTHCHECK_URL"}
    assert {k: v for k, v in worker["environment"].items() if k not in own} == {
        k: v for k, v in daemon["environment"].items() if k not in own
    }
    assert worker["environment"]["VIGIL_DATABASE_URL"].startswith("postgresql")
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    for hardening in ("read_only", "cap_drop", "security_opt"):
        assert worker[hardening] == daemon[hardening], hardening


def test_workers_scale_out_and_outlast_their_10s_shutdown(rendered_queue: dict[str, Any]) -> None:
    worker = rendered_queue["services"]["worker"]
    # Equal, as Compose v2 requires; v1 starts `scale`, v2 `deploy.replicas`.
    assert worker["scale"] == worker["deploy"]["replicas"] >= 2
    # SIGTERM (compose's default signal), then up to 10 s for the worker's scopes: 15 s of grace.
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"
    assert seconds(worker["stop_grace_period"]) >= 15
    assert worker["restart"] == "unless-stopped"  # a worker without its database exits


def test_each_worker_serves_its_metrics_to_the_compose_network_only(
    rendered_queue: dict[str, Any],
) -> None:
    """Replicas cannot share one host port: each exposes --metrics inside the network, where
    the image's healthcheck and Prometheus reach it."""
    worker = rendered_queue["services"]["worker"]
    port = metrics_port(worker["command"])
    assert "ports" not in worker
    assert [int(p) for p in worker["expose"]] == [port]
    assert worker["environment"]["VIGIL_HEALTHCHECK_URL"] == f"http://127.0.0.1:{port}/healthz"
    # Not the daemon's port: workers on the daemon's host (systemd, --network host) differ.
    assert port != 9464


def test_prometheus_finds_every_worker_replica(rendered_queue: dict[str, Any]) -> None:
    worker = rendered_queue["services"]["worker"]
    jobs = {j["job_name"]: j for j in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]}
    (discovery,) = jobs["vigil-worker"]["dns_sd_configs"]
    # Docker's DNS answers a service name with one A record per replica.
    assert discovery["names"] == ["worker"] and discovery["type"] == "A"
    assert discovery["port"] == metrics_port(worker["command"])
    assert jobs["vigil"]["static_configs"][0]["targets"] == ["vigil:9464"]


def test_the_commented_queue_switch_of_vigil_yaml_selects_the_queue(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Uncommented, with the env file's PostgreSQL URL (queue refuses SQLite), it loads."""
    text = uncomment_queue_executor((DEPLOY / "vigil.yaml").read_text())
    set_placeholders(text, monkeypatch)
    (url,) = re.findall(r"^VIGIL_DATABASE_URL=(.+)$", ENV_EXAMPLE.read_text(), re.M)
    monkeypatch.setenv("VIGIL_DATABASE_URL", url)
    (tmp_path / "vigil.yaml").write_text(text)
    config = load_config(tmp_path / "vigil.yaml")
    assert config.executor.kind == "queue"
    assert config.sources and config.metrics.listen == "0.0.0.0:9464"

"""deploy/compose.yaml: Debian's docker-compose accepts it, and it wires what the guide promises."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import DEPLOY, require_tool, set_placeholders
from vigil.app.config import load_config

COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "compose.env.example"


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    """What `docker-compose config` understood, with the example env file."""
    tool = require_tool("docker-compose")
    result = subprocess.run(
        [tool, "-f", str(COMPOSE), "config"],
        env={**os.environ, "VIGIL_ENV_FILE": ENV_EXAMPLE.name},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_config_validates_with_every_service(rendered: dict[str, Any]) -> None:
    assert set(rendered["services"]) == {
        "vigil",
        "dashboard",
        "postgres",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert {"vigil-data", "postgres-data", "prometheus-data", "grafana-data"} <= set(
        rendered["volumes"]
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

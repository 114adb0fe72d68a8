"""The exporter: what Prometheus sees of storage, through the real prometheus_client, the real
promtool and the real Prometheus server scraping a running `vigil run`."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from storage.db import Database
from storage.findings import FindingStore
from storage.reconcile import Reconciler
from storage.silences import SilenceStore
from tests import factories
from tests.fixtures.cli import VigilCli
from tests.fixtures.prometheus import PrometheusServer, VigilDaemon
from tests.fixtures.services import free_port
from tests.fixtures.tls import TestCA
from vigil.app.metrics import MetricsServer, VigilCollector, registry_for
from vigil.core.model import Finding, Resource, Severity

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
NOT_AFTER = "2026-11-05T00:00:00Z"


def ingest(db: Database, scope_type: str, items: list[Resource]) -> None:
    reconciler = Reconciler(db)
    run = reconciler.start(factories.scope(type_=scope_type))
    reconciler.add_page(run, items)
    reconciler.complete(run)


def seed(db: Database, servers: int = 3) -> None:
    """Servers, a certificate expiring in 4 days, a snapshotted disk, a failed scope, and
    open/silenced findings."""
    ingest(db, "server", factories.resources(servers, within=factories.scope(type_="server")))
    certs = factories.scope(type_="certificate")
    cert = factories.resource("arn:cert/1", within=certs, name="api", common_name="api.example.com")
    cert.attributes["not_after"] = NOT_AFTER
    ingest(db, "certificate", [cert])
    disk = factories.resource("vol-1", within=factories.scope(type_="disk"), name="data")
    ingest(db, "disk", [disk])
    snapshot = factories.resource(
        "snap-1",
        within=factories.scope(type_="snapshot"),
        source_uid=disk.uid,
        state="completed",
        started_at="2026-10-31T00:00:00Z",
    )
    ingest(db, "snapshot", [snapshot])
    reconciler = Reconciler(db)
    reconciler.fail(reconciler.start(factories.scope(region="eu-west-1")), "AccessDenied")
    found = [
        Finding("cert.expiring", Severity.HIGH, "expiring", "", cert.uid),
        Finding("network.open_port", Severity.CRITICAL, "open", "", f"{cert.uid}-x"),
    ]
    store = FindingStore(db)
    SilenceStore(db).add_silence(
        rule="network.open_port",
        reason="known",
        author="t",
        expires_at=NOW + timedelta(days=365 * 10),
        now=NOW,
    )
    store.apply(found, NOW)


def scrape(collector: VigilCollector) -> dict[str, list[Any]]:
    text = generate_latest(registry_for(collector)).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(samples: list[Any], **labels: str) -> float:
    matches = [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (labels, samples)
    return float(matches[0])


def test_exporter_shows_storage_aggregates(db: Database) -> None:
    seed(db)
    collector = VigilCollector(db, intervals={"aws-test": 900})
    collector.refresh()
    families = scrape(collector)

    assert value(families["vigil_resources"], type="server", region="us-east-1") == 3
    assert value(families["vigil_findings_open"], rule="cert.expiring", severity="high") == 1
    assert value(families["vigil_findings_silenced"], rule="network.open_port") == 1
    cert = families["vigil_certificate_not_after_seconds"]
    expected = datetime(2026, 11, 5, tzinfo=UTC).timestamp()
    assert value(cert, common_name="api.example.com", name="api", source="aws-test") == expected
    backup = families["vigil_backup_newest_timestamp_seconds"]
    assert value(backup, id="vol-1", type="disk") == datetime(2026, 10, 31, tzinfo=UTC).timestamp()
    status = families["vigil_scope_status"]
    assert value(status, region="eu-west-1", type="server", status="failed") == 1
    assert value(status, region="us-east-1", type="server", status="complete") == 1
    assert value(families["vigil_scope_errors"], region="eu-west-1", type="server") == 1
    # The failed scope never succeeded: stale from its first failure.
    assert value(families["vigil_scopes_stale"], source="aws-test") == 1
    assert value(families["vigil_build_info"]) == 1
    assert value(families["vigil_notifications"], state="pending") == 0


def test_scrape_serves_the_cache_without_touching_the_database(sqlite_db: Database) -> None:
    seed(sqlite_db)
    collector = VigilCollector(sqlite_db)
    collector.refresh()
    ingest(sqlite_db, "server", factories.resources(50, within=factories.scope(type_="server")))
    # The scrape shows what the last refresh read, not what storage holds right now...
    assert value(scrape(collector)["vigil_resources"], type="server") == 3
    # ...and after the next refresh, the new state.
    collector.refresh()
    assert value(scrape(collector)["vigil_resources"], type="server") == 50


def test_a_database_error_keeps_the_last_values_and_counts_an_error(
    sqlite_db: Database,
) -> None:
    seed(sqlite_db)
    collector = VigilCollector(sqlite_db)
    collector.refresh()
    with sqlite_db.begin() as conn:  # what a broken or replaced database looks like
        conn.execute(sa.text("DROP TABLE resources"))
    collector.refresh()  # raised OperationalError, which killed the daemon's refresher thread
    families = scrape(collector)
    assert value(families["vigil_resources"], type="server", region="us-east-1") == 3
    assert collector.refresh_errors == 1
    assert value(families["vigil_exporter_refresh_errors"]) == 1


def test_label_cardinality_does_not_grow_with_resources(sqlite_db: Database) -> None:
    collector = VigilCollector(sqlite_db)
    ingest(sqlite_db, "server", factories.resources(5, within=factories.scope(type_="server")))
    collector.refresh()
    few = sum(len(samples) for samples in scrape(collector).values())
    ingest(sqlite_db, "server", factories.resources(800, within=factories.scope(type_="server")))
    collector.refresh()
    many = sum(len(samples) for samples in scrape(collector).values())
    assert many == few


def test_promtool_accepts_the_exposition(sqlite_db: Database, promtool: str) -> None:
    seed(sqlite_db)
    collector = VigilCollector(sqlite_db, intervals={"aws-test": 900})
    collector.refresh()
    text = generate_latest(registry_for(collector))
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == b"" and checked.stderr.strip() == b"", checked


def test_metrics_server_over_tls(sqlite_db: Database, test_ca: TestCA, tmp_path: Path) -> None:
    seed(sqlite_db)
    collector = VigilCollector(sqlite_db)
    collector.refresh()
    certfile, keyfile = test_ca.leaf("127.0.0.1", sans=["127.0.0.1"]).write(tmp_path, "metrics")
    server = MetricsServer(
        collector,
        ("127.0.0.1", free_port()),
        ready=lambda: (True, "ready"),
        tls=(certfile, keyfile),
    ).start()
    try:
        context = ssl.create_default_context(cafile=str(test_ca.bundle))
        url = f"https://127.0.0.1:{server.port}"
        with urllib.request.urlopen(f"{url}/metrics", context=context, timeout=5) as response:
            assert b"vigil_certificate_not_after_seconds{" in response.read()
        with urllib.request.urlopen(f"{url}/healthz", context=context, timeout=5) as response:
            assert response.status == 200
        with pytest.raises(OSError):  # plain HTTP is not served
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    finally:
        server.stop()


def daemon_config(endpoint: str, port: int, **schedule: Any) -> dict[str, Any]:
    return {
        "sources": [
            {
                "name": "aws-test",
                "provider": "aws",
                "regions": ["us-east-1"],
                "endpoint_url": endpoint,
                "types": ["server", "disk", "snapshot", "certificate", "security_group"],
                "external_id": "${VIGIL_TEST_EXTERNAL_ID}",
            }
        ],
        "schedule": {"collect_every": "3s", "jitter": "0s", **schedule},
        "metrics": {"listen": f"127.0.0.1:{port}", "cache_seconds": "2s"},
    }


SECRET = "s3cr3t-external-id-value"


@pytest.mark.slow
def test_prometheus_scrapes_a_running_daemon(
    moto: str,
    vigil_daemon: Callable[..., VigilDaemon],
    prometheus_server: Callable[[list[str]], PrometheusServer],
    promtool: str,
) -> None:
    from vigil.app.demo_estate import seed_estate

    seed_estate(moto, regions=("us-east-1",), servers_per_region=2)
    port = free_port()
    config = daemon_config(moto, port)
    config["sources"][0].pop("external_id")
    daemon = vigil_daemon(config).start()
    prometheus = prometheus_server([f"127.0.0.1:{port}"])

    servers = prometheus.wait_for('vigil_resources{type="server",region="us-east-1"}')
    assert float(servers[0]["value"][1]) == 2
    expiring = prometheus.wait_for("vigil_certificate_not_after_seconds - time() < 86400 * 30")
    assert expiring[0]["metric"]["common_name"]
    prometheus.wait_for('vigil_scope_status{status="complete",type="disk"} == 1')
    prometheus.wait_for("vigil_findings_open > 0")
    prometheus.wait_for('vigil_cycles_total{outcome="ok"} > 0')
    prometheus.wait_for('vigil_build_info == 1 and on(instance) up{job="vigil"} == 1')

    status, text = daemon.get("/metrics")
    assert status == 200
    _dashboard_and_alerts_query_real_series(prometheus, text)
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True
    )
    assert checked.returncode == 0, checked

    code, seconds = daemon.stop()
    assert code == 0 and seconds < 10, daemon.logs()


def _dashboard_and_alerts_query_real_series(prometheus: PrometheusServer, exposition: str) -> None:
    """Every Grafana panel and alert expression parses in Prometheus and names only metrics
    the daemon exports."""
    exported = {line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE")}
    exported |= {f"{name}_total" for name in exported}
    dashboard = json.loads((DEPLOY / "grafana" / "vigil.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs += [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    for expr in exprs:
        prometheus.query(expr.replace("$source", ".*"))  # raises unless Prometheus parses it
        assert set(re.findall(r"vigil_[a-z0-9_]+", expr)) <= exported, expr


@pytest.mark.slow
def test_daemon_health_readiness_and_no_secret_in_logs_or_metrics(
    moto: str, vigil_daemon: Callable[..., VigilDaemon]
) -> None:
    port = free_port()
    daemon = vigil_daemon(daemon_config(moto, port), env={"VIGIL_TEST_EXTERNAL_ID": SECRET}).start()
    assert daemon.get("/healthz") == (200, "ok\n")
    deadline = time.monotonic() + 30
    while "last cycle" not in daemon.get("/readyz")[1] and time.monotonic() < deadline:
        time.sleep(0.3)
    status, reason = daemon.get("/readyz")
    assert status == 200 and "database reachable" in reason and "last cycle" in reason
    assert daemon.get("/nope")[0] == 404
    _, exposition = daemon.get("/metrics")
    code, _ = daemon.stop()
    assert code == 0
    assert SECRET not in exposition and SECRET not in daemon.logs()
    messages = [r["message"] for r in daemon.records()]
    assert "vigil run started" in messages and "vigil run stopped" in messages
    assert any(
        r.get("source") == "aws-test" and r["message"] == "cycle finished" for r in daemon.records()
    )


def test_run_refuses_a_bad_metrics_listen_with_exit_2(vigil_cli: VigilCli) -> None:
    config = vigil_cli.cwd / "vigil.yaml"
    config.write_text(
        "sources:\n  - {name: a, provider: aws, regions: [us-east-1]}\n"
        "metrics:\n  listen: nowhere\n"
    )
    result = vigil_cli("run", timeout=60)
    assert result.returncode == 2
    assert "vigil.yaml:3" in result.stderr and "host:port" in result.stderr, result.stderr
    assert not vigil_cli.database_path.exists()

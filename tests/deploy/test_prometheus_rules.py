"""The shipped Prometheus rules and config, checked and unit-tested by the real promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"

# promtool's rule unit tests: synthetic series in, the alerts that must (not) fire out.
RULE_TESTS = {
    "rule_files": [str(ALERTS)],
    "evaluation_interval": "1m",
    "tests": [
        {
            "interval": "1m",
            "input_series": [
                {
                    # Expires 5 days after the test's epoch (t=0): critical and warning.
                    "series": 'vigil_certificate_not_after_seconds{source="aws",name="api",'
                    'common_name="api.example.com",id="arn:1",region="us-east-1",account="1"}',
                    "values": "432000+0x30",
                },
                {
                    # Expires in 60 days: no alert.
                    "series": 'vigil_certificate_not_after_seconds{source="aws",name="www",'
                    'common_name="www.example.com",id="arn:2",region="us-east-1",account="1"}',
                    "values": "5184000+0x30",
                },
                {"series": 'vigil_scopes_stale{source="aws"}', "values": "1+0x30"},
                {"series": 'vigil_scopes_stale{source="edge"}', "values": "0+0x30"},
                {"series": 'vigil_notifications{state="pending"}', "values": "4+0x60"},
                {"series": 'vigil_notifications{state="sent"}', "values": "10+0x60"},
                {"series": 'vigil_notifications{state="dead"}', "values": "0+0x60"},
                {
                    "series": 'vigil_findings_open{rule="network.open_port",severity="critical"}',
                    "values": "2+0x30",
                },
                {
                    "series": 'vigil_findings_open{rule="cert.expiring",severity="high"}',
                    "values": "3+0x30",
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": "VigilCertificateExpiring",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "critical",
                                "source": "aws",
                                "name": "api",
                                "common_name": "api.example.com",
                                "id": "arn:1",
                                "region": "us-east-1",
                                "account": "1",
                            },
                            "exp_annotations": {
                                "summary": "Certificate api.example.com (api) expires "
                                "within 7 days",
                                "description": "arn:1 in aws/us-east-1 expires in 4d 23h 45m "
                                "0s (negative: already expired). Renew and deploy it now.",
                            },
                        }
                    ],
                },
                {
                    "eval_time": "20m",
                    "alertname": "VigilCollectorStale",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "source": "aws"},
                            "exp_annotations": {
                                "summary": "1 scope(s) of source aws have not completed recently",
                                "description": "No successful collection in the last 3 "
                                "intervals: that part of the inventory is frozen. `vigil collect "
                                "--source aws` prints each scope's error.",
                            },
                        }
                    ],
                },
                {
                    "eval_time": "10m",
                    "alertname": "VigilCriticalFindings",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "critical", "rule": "network.open_port"},
                            "exp_annotations": {
                                "summary": "2 open critical finding(s) of rule network.open_port",
                                "description": "`vigil findings --severity critical --rule "
                                "network.open_port` lists them with what to do.",
                            },
                        }
                    ],
                },
                {
                    "eval_time": "61m",
                    "alertname": "VigilOutboxStuck",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "state": "pending"},
                            "exp_annotations": {
                                "summary": "4 notification(s) waiting and none sent for 30 minutes",
                                "description": "Vigil's outbox is not draining: a notifier is "
                                "failing. `vigil notify status` shows the outbox; `vigil notify "
                                "test NAME` sends a test message.",
                            },
                        }
                    ],
                },
                {"eval_time": "30m", "alertname": "VigilNotificationsDead", "exp_alerts": []},
            ],
        }
    ],
}


def test_promtool_checks_the_alerting_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alerts_fire_on_the_series_they_are_about(promtool: str, tmp_path: Path) -> None:
    tests = tmp_path / "alerts_test.yml"
    tests.write_text(yaml.safe_dump(RULE_TESTS, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", str(tests)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_the_scrape_config(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "config", str(CONFIG)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    every_alert = {
        r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]
    }
    docs = (ROOT / "docs" / "metrics.md").read_text()
    assert every_alert and all(name in docs for name in every_alert)

"""Alertmanager: the real Debian binary receives Vigil's alerts through /api/v2/alerts."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest

from notifiers.alertmanager import AlertmanagerConfig, AlertmanagerNotifier
from notifiers.base import Message
from storage import outbox as store
from storage.db import Database
from tests.factories.notifiers import T0, assert_secret_absent, check, config, finding
from tests.fixtures.alertmanager import Alertmanager
from vigil.app.notify import deliver
from vigil.core.model import utcnow


def by_resource(alerts: list[dict[str, object]], run: str) -> dict[str, dict[str, object]]:
    return {
        a["labels"]["resource"]: a  # type: ignore[index]
        for a in alerts
        if a["labels"].get("run") == run  # type: ignore[attr-defined]
    }


def test_alerts_arrive_with_labels_and_resolved_ones_end(
    sqlite_db: Database, alertmanager: Alertmanager
) -> None:
    run = uuid.uuid4().hex[:8]  # the Alertmanager is shared by the session
    cfg = config([{"name": "am", "type": "alertmanager", "url": alertmanager.url}])
    now = utcnow()
    produced = [finding(f"sg-{run}-{i}", team="payments", run=run) for i in range(3)]
    check(sqlite_db, produced, cfg, now=now)
    assert deliver(sqlite_db, cfg, now=now).sent == 1
    active = by_resource(alertmanager.alerts(), run)
    assert sorted(active) == [f"sg-{run}-{i}" for i in range(3)]
    labels = active[f"sg-{run}-0"]["labels"]
    assert labels == labels | {  # type: ignore[operator]
        "alertname": "network.open_port", "severity": "high", "team": "payments",
        "source": "aws-prod", "account": "111111111111", "region": "us-east-1",
        "type": "security_group",
    }  # fmt: skip
    annotations = active[f"sg-{run}-0"]["annotations"]
    assert annotations["summary"] == f"security_group sg-{run}-0 is wrong"  # type: ignore[index]

    later = now + timedelta(minutes=1)
    check(sqlite_db, produced[1:], cfg, now=later)  # sg-…-0 was fixed
    assert deliver(sqlite_db, cfg, now=later).sent == 1
    # Alertmanager's API lists no alert whose endsAt has passed: the fixed one is gone.
    assert sorted(by_resource(alertmanager.alerts(), run)) == [f"sg-{run}-1", f"sg-{run}-2"]


def test_every_alert_carries_the_key_and_a_resend_is_merged_by_alertmanager(
    sqlite_db: Database, alertmanager: Alertmanager
) -> None:
    run = uuid.uuid4().hex[:8]
    cfg = config([{"name": "am", "type": "alertmanager", "url": alertmanager.url}])
    now = utcnow()
    check(sqlite_db, [finding(f"sg-{run}-{i}", run=run) for i in range(2)], cfg, now=now)
    assert deliver(sqlite_db, cfg, now=now).sent == 1
    (entry,) = store.entries(sqlite_db)
    # The redelivery after a crash between send and mark-sent: the same message once more.
    notifier = AlertmanagerNotifier(AlertmanagerConfig.model_validate(cfg.notifiers[0]))
    notifier.send(Message.from_dict(entry.payload))
    held = [a for a in alertmanager.alerts() if a["labels"].get("run") == run]
    assert len(held) == 2  # identical labels: Alertmanager holds each alert once
    assert {a["annotations"]["vigil_idempotency_key"] for a in held} == {entry.key}


def test_a_down_alertmanager_is_retried(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = config([{"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9"}])
    check(sqlite_db, [finding("sg-1")], cfg)
    report = deliver(sqlite_db, cfg, now=T0)
    assert report.failed == 1 and report.errors == [
        "am: cannot reach the alertmanager: ConnectionError"
    ]
    # Alertmanager takes no secret; its URL stays out of error messages all the same.
    assert_secret_absent("127.0.0.1:9/", sqlite_db, *report.errors)

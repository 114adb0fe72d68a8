"""Slack and SMTP down for 30 minutes of an injected clock, with the default retry settings.

Slack answers 503 to everything (down behind its load balancer) and the SMTP server is
stopped (connection refused). Meanwhile a check every 5 minutes opens, resolves and reopens
findings of two groups, and the outbox is delivered every minute, as the daemon does. The
metrics show the backlog growing with nothing sent. Once both are back, the delivery passes
that follow send everything: nothing dead, each message once, in the order it was enqueued
within each (notifier, group), so a resolve never arrives before the trigger it resolves.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from storage import outbox as store
from storage.db import Database
from tests.factories.notifiers import T0, check, config, finding
from tests.fixtures.slack_api import Recorded, SlackApi
from tests.fixtures.smtp import SmtpFactory
from tests.reliability.conftest import report
from vigil.app.metrics.collector import VigilCollector
from vigil.app.notify import deliver
from vigil.core.model import Finding

SLACK = "/api/chat.postMessage"
OUTAGE_MINUTES = 30
CHECKS: dict[int, list[str]] = {
    0: ["sg-1", "sg-2", "cert-1"],
    5: ["sg-2", "cert-1"],  # sg-1 resolved
    10: ["sg-2", "sg-3", "cert-1"],  # sg-3 new
    15: ["sg-2", "sg-3"],  # cert-1 resolved: the other group
    20: ["sg-1", "sg-2", "sg-3"],  # sg-1 reopened
    25: ["sg-1"],  # sg-2 and sg-3 resolved
}
"""Minute of the outage → the findings that check produces."""


def produced(names: list[str]) -> list[Finding]:
    return [
        finding(n, rule="cert.expiring", type_="certificate")
        if n.startswith("cert")
        else finding(n)
        for n in names
    ]


def slack_key(request: Recorded) -> str:
    metadata = request.json["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    return str(metadata["event_payload"]["idempotency_key"])


def backlog(db: Database) -> dict[str, float]:
    """`vigil_notifications{state}` as the metrics endpoint serves it."""
    collector = VigilCollector(db)
    collector.refresh()
    text = collector.exposition().decode()
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "vigil_notifications"]
    return {s.labels["state"]: s.value for s in family.samples}


@pytest.mark.slow
def test_a_30_minute_slack_and_smtp_outage_delivers_everything_afterwards_in_order(
    sqlite_db: Database,
    slack_api: SlackApi,
    smtp_server: SmtpFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SlackApi.TOKEN)
    smtp = smtp_server()
    cfg = config(
        [
            {
                "name": "chat",
                "type": "slack",
                "token": "${SLACK_BOT_TOKEN}",
                "channel": "#oncall",
                "base_url": slack_api.base_url,
            },
            {
                "name": "mail",
                "type": "email",
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "starttls": False,
                "from": "vigil@example.com",
                "to": ["oncall@example.com"],
            },
        ]
    )  # fmt: skip — default backoff (30 s, doubling) and max_attempts (8)
    db = sqlite_db
    slack_api.unavailable = True
    smtp.stop()
    growth: list[int] = []
    for minute in range(OUTAGE_MINUTES):
        now = T0 + timedelta(minutes=minute)
        if minute in CHECKS:
            check(db, produced(CHECKS[minute]), cfg, now=now)
        passed = deliver(db, cfg, now=now)
        assert passed.sent == 0 and passed.dead == 0, passed.errors
        if minute in CHECKS:
            growth.append(len(list(store.entries(db))))
    queued = len(list(store.entries(db)))
    metrics = backlog(db)
    assert metrics["sent"] == 0 and metrics["dead"] == 0
    assert metrics["pending"] + metrics["failed"] == queued  # the whole backlog is visible
    assert metrics["failed"] > 0
    assert slack_api.ok(SLACK) == [] and smtp.messages == []

    slack_api.unavailable = False
    smtp.start()
    minute = OUTAGE_MINUTES
    while any(e.status != store.SENT for e in store.entries(db)):
        assert minute < OUTAGE_MINUTES + 180, "the backlog never drained"
        result = deliver(db, cfg, now=T0 + timedelta(minutes=minute))
        assert result.dead == 0, result.errors
        minute += 1
    drained = minute - OUTAGE_MINUTES
    assert backlog(db) == {"pending": 0, "sent": queued, "failed": 0, "dead": 0}

    entries = {e.key: e for e in store.entries(db)}
    delivered = {
        "chat": [slack_key(r) for r in slack_api.ok(SLACK)],
        "mail": [str(m["X-Vigil-Idempotency-Key"]) for m in smtp.messages],
    }
    for notifier, keys in delivered.items():
        assert len(keys) == len(set(keys)), f"{notifier}: a message was delivered twice"
        assert set(keys) == {k for k, e in entries.items() if e.notifier == notifier}
        by_group: dict[str, list[int]] = defaultdict(list)
        events: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            entry = entries[key]
            group = json.dumps(entry.payload["group"], sort_keys=True)
            by_group[group].append(entry.id)
            for alert in entry.payload["alerts"]:
                events[alert["native_id"]].append(alert["event"])
        for group, ids in by_group.items():
            assert ids == sorted(ids), f"{notifier} {group}: delivered out of order"
        for native_id, seen in events.items():
            assert_alternates(f"{notifier} {native_id}", seen)
        assert events["sg-1"] == ["firing", "resolved", "firing"]
    report(
        f"Slack (503) and SMTP (stopped) down {OUTAGE_MINUTES} min of injected clock, default "
        f"backoff: outbox {growth} after each check, {queued} messages, metrics "
        f"{ {k: int(v) for k, v in metrics.items()} } at minute {OUTAGE_MINUTES - 1}; "
        f"drained {drained} min after recovery, each once, in order per (notifier, group)"
    )


def assert_alternates(what: str, seen: list[str]) -> None:
    """A finding's alerts, as delivered: firing first, never resolved twice or before a fire."""
    firing = False
    for event in seen:
        if event == "resolved":
            assert firing, f"{what}: resolved before it fired ({seen})"
            firing = False
        else:
            firing = True

"""PagerDuty: one incident per group, updated by every trigger, resolved with the whole group."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from pydantic import ValidationError

from notifiers.base import RESOLVED
from notifiers.pagerduty import PagerDutyConfig, PagerDutyNotifier
from storage import outbox as store
from storage.db import Database
from tests.factories.notifiers import (
    T0,
    alert,
    assert_secret_absent,
    check,
    config,
    finding,
    message,
)
from tests.fixtures.pagerduty_api import ROUTING_KEY, PagerDutyEvents
from vigil.app.config import parse_config
from vigil.app.notify import deliver
from vigil.core.errors import NotifyError


@pytest.fixture(autouse=True)
def _routing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_TEST_PD_KEY", ROUTING_KEY)


def pager(api: PagerDutyEvents, **options: object) -> dict[str, object]:
    return {"name": "pager", "type": "pagerduty", "routing_key": "${VIGIL_TEST_PD_KEY}",
            "events_url": api.events_url, "backoff": "0s", **options}  # fmt: skip


def notifier(api: PagerDutyEvents) -> PagerDutyNotifier:
    return PagerDutyNotifier(PagerDutyConfig.model_validate(pager(api)))


def test_the_group_is_one_incident_resolved_only_when_all_of_it_resolved(
    sqlite_db: Database, pagerduty_api: PagerDutyEvents
) -> None:
    cfg = config([pager(pagerduty_api)])
    check(sqlite_db, [finding("sg-1"), finding("sg-2")], cfg)
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (key,) = pagerduty_api.alerts
    assert pagerduty_api.alerts[key].status == "triggered"
    (first,) = pagerduty_api.events()
    assert first["event_action"] == "trigger" and first["payload"]["severity"] == "error"
    assert first["payload"]["custom_details"]["counts"]["firing"] == 2

    # sg-1 is fixed, sg-2 is not: the incident is updated, not resolved.
    later = T0 + timedelta(hours=1)
    check(sqlite_db, [finding("sg-2")], cfg, now=later)
    assert deliver(sqlite_db, cfg, now=later).sent == 1
    update = pagerduty_api.events()[-1]
    assert update["event_action"] == "trigger" and update["dedup_key"] == key
    assert update["payload"]["custom_details"]["resolved"] == ["sg-1"]
    assert update["payload"]["custom_details"]["still_open_in_group"] == 1
    assert pagerduty_api.alerts[key].status == "triggered"

    # Now the last one is fixed: the same dedup_key is resolved.
    last = T0 + timedelta(hours=2)
    check(sqlite_db, [], cfg, now=last)
    assert deliver(sqlite_db, cfg, now=last).sent == 1
    assert pagerduty_api.events()[-1] == {
        "routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key,
    }  # fmt: skip
    assert list(pagerduty_api.alerts) == [key] and pagerduty_api.alerts[key].status == "resolved"


def test_groups_are_separate_incidents_and_a_redelivery_updates_the_same_one(
    pagerduty_api: PagerDutyEvents,
) -> None:
    sender = notifier(pagerduty_api)
    payments = message(alert("sg-1"), group={"rule": "network.open_port", "source": "a"})
    other = message(alert("sg-2"), group={"rule": "network.open_port", "source": "b"})
    for sent in (payments, payments, other):  # the second is a crash-and-redeliver
        sender.send(sent)
    assert len(pagerduty_api.alerts) == 2
    assert pagerduty_api.alerts[payments.group_key()].triggers == 2
    assert pagerduty_api.alerts[other.group_key()].triggers == 1


def test_an_all_resolved_message_of_an_uncounted_group_resolves(
    pagerduty_api: PagerDutyEvents,
) -> None:
    sender = notifier(pagerduty_api)
    sender.send(message(alert("sg-1")))
    sender.send(message(alert("sg-1", event=RESOLVED)))  # group_open None: an older outbox row
    assert [e["event_action"] for e in pagerduty_api.events()] == ["trigger", "resolve"]


def test_rate_limits_and_server_errors_are_retried_in_place(
    pagerduty_api: PagerDutyEvents,
) -> None:
    pagerduty_api.then("/v2/enqueue", 429, {"status": "throttled"}, Retry_After="0")
    pagerduty_api.then("/v2/enqueue", 502, {})
    notifier(pagerduty_api).send(message())
    assert [r.status for r in pagerduty_api.requests] == [429, 502, 202]
    assert len(pagerduty_api.alerts) == 1


def test_an_invalid_event_is_dead_at_once_and_an_outage_is_retried_later(
    sqlite_db: Database, pagerduty_api: PagerDutyEvents
) -> None:
    cfg = config([pager(pagerduty_api, max_attempts=3)])
    check(sqlite_db, [finding("sg-1")], cfg)
    pagerduty_api.then("/v2/enqueue", 400, {"status": "invalid event"})
    report = deliver(sqlite_db, cfg, now=T0)
    assert report.dead == 1 and "answered HTTP 400" in report.errors[0]
    with pytest.raises(NotifyError) as raised:
        for _ in range(4):
            pagerduty_api.then("/v2/enqueue", 503, {})
        notifier(pagerduty_api).send(message())
    assert raised.value.retryable and "HTTP 503" in raised.value.message


def test_the_routing_key_never_reaches_logs_errors_storage_or_urls(
    sqlite_db: Database, pagerduty_api: PagerDutyEvents, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = config([pager(pagerduty_api)])
    assert ROUTING_KEY not in repr(cfg) and ROUTING_KEY not in str(cfg.model_dump())
    for _ in range(4):
        pagerduty_api.then("/v2/enqueue", 500, {})
    check(sqlite_db, [finding("sg-1")], cfg)
    failed = deliver(sqlite_db, cfg, now=T0)
    closed = config([pager(pagerduty_api, events_url="http://127.0.0.1:9/v2/enqueue")])
    unreachable = deliver(sqlite_db, closed, now=T0 + timedelta(hours=1))
    (entry,) = store.entries(sqlite_db)
    assert failed.failed == 1 and unreachable.failed == 1 and entry.attempts == 2
    paths = [r.path for r in pagerduty_api.requests]
    assert_secret_absent(ROUTING_KEY, sqlite_db, caplog.text, *failed.errors,
                         *unreachable.errors, *paths)  # fmt: skip


def test_a_literal_routing_key_is_refused_with_its_line(tmp_path: object) -> None:
    with pytest.raises(ValidationError, match="environment reference"):
        parse_config({"notifiers": [{"name": "p", "type": "pagerduty", "routing_key": "abc"}]})

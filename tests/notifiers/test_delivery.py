"""Delivering the outbox: backoff math and lease timing (notifiers/delivery.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from notifiers.base import Message, NotifierSettings
from notifiers.delivery import LEASE, MAX_BACKOFF, backoff_delay, deliver_due
from storage import outbox as store
from storage import tables
from storage.db import Database
from tests.factories.notifiers import T0, check, config, finding, webhook
from tests.fixtures.slack_api import HttpRecorder
from vigil.app.notify import deliver
from vigil.core.errors import NotifyError


def settings(**options: object) -> NotifierSettings:
    return NotifierSettings.model_validate({"name": "w", "type": "webhook", **options})


def test_backoff_doubles_from_the_base_and_stops_at_an_hour() -> None:
    base = settings(backoff="30s")
    waits = [backoff_delay(base, n).total_seconds() for n in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_backoff_stays_capped_up_to_the_largest_max_attempts() -> None:
    # 30 s × 2^99 overflows timedelta: the 43rd failure used to raise OverflowError and
    # leave the message stuck in `sending`, crashing every later delivery pass.
    base = settings(backoff="30s", max_attempts=100)
    assert all(backoff_delay(base, n) == MAX_BACKOFF for n in range(8, 101))
    assert backoff_delay(settings(backoff="0s"), 50) == timedelta(0)


class _Failing:
    """A notifier that notes the lease its row holds while it sends, then fails."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.leases: list[datetime] = []

    def send(self, message: Message) -> None:
        (entry,) = store.entries(self.db, (tables.SENDING,))
        self.leases.append(entry.next_attempt_at)
        raise NotifyError("down", retryable=True)


def test_a_long_pass_leases_and_reschedules_from_the_clock_not_its_start(db: Database) -> None:
    cfg = config([webhook("w", "http://127.0.0.1:9/hook", backoff="30s")])
    check(db, [finding("sg-1")], cfg)
    later = T0 + timedelta(minutes=20)  # the pass reached this row 20 minutes in
    sender = _Failing(db)
    report = deliver_due(db, {"w": (settings(backoff="30s"), sender)}, T0, clock=lambda: later)
    assert report.failed == 1
    # Counted from the start of the pass, the lease would have been over when the row was
    # claimed, and a second sender could have taken and sent it too.
    assert sender.leases == [later + LEASE]
    (entry,) = store.entries(db)
    assert entry.next_attempt_at == later + timedelta(seconds=30)


def test_a_resolve_waits_for_its_trigger_that_is_still_backing_off(
    sqlite_db: Database, http_recorder: HttpRecorder
) -> None:
    """The trigger failed twice (next try in 60 s); the resolve enqueued meanwhile is due at
    once but goes after it. Another group's message is not held back."""
    db = sqlite_db
    cfg = config([webhook("w", f"{http_recorder.url}/hook", backoff="30s")])
    http_recorder.then("/hook", 503)
    http_recorder.then("/hook", 503)
    check(db, [finding("sg-1")], cfg)
    deliver(db, cfg, now=T0)
    deliver(db, cfg, now=T0 + timedelta(seconds=30))  # trigger: next try at 90 s
    later = T0 + timedelta(seconds=40)
    check(db, [finding("cert-1", rule="cert.expiring", type_="certificate")], cfg, now=later)
    held = deliver(db, cfg, now=later)  # sg-1's resolve and cert-1's trigger are due
    assert (held.sent, held.held) == (1, 1)
    assert deliver(db, cfg, now=T0 + timedelta(seconds=90)).sent == 2
    delivered = [
        [(a["event"], a["resource"]["native_id"]) for a in r.json["alerts"]]
        for r in http_recorder.ok("/hook")
    ]
    assert delivered == [[("firing", "cert-1")], [("firing", "sg-1")], [("resolved", "sg-1")]]


def test_a_dead_message_holds_its_group_back_no_longer(
    sqlite_db: Database, http_recorder: HttpRecorder
) -> None:
    db = sqlite_db
    cfg = config([webhook("w", f"{http_recorder.url}/hook", max_attempts=1)])
    http_recorder.then("/hook", 503)
    check(db, [finding("sg-1")], cfg)
    assert deliver(db, cfg, now=T0).dead == 1
    check(db, [], cfg, now=T0 + timedelta(minutes=5))
    assert deliver(db, cfg, now=T0 + timedelta(minutes=5)).sent == 1

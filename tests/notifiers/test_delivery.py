"""Delivering the outbox: backoff math and lease timing (notifiers/delivery.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from notifiers.base import Message, NotifierSettings
from notifiers.delivery import LEASE, MAX_BACKOFF, backoff_delay, deliver_due
from storage import outbox as store
from storage import tables
from storage.db import Database
from tests.factories.notifiers import T0, check, config, finding, webhook
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

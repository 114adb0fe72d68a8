"""Delivering the outbox: claim a due message, send it, record the outcome, back off on failure.

A row is claimed before sending (so two senders never send it both) and marked `sent` right
after; a message recorded as sent is never picked again. Delivery is at-least-once: a sender
killed after the receiver got the message but before `mark_sent` leaves the row `sending`, and
the next sender takes it when the lease runs out and sends it again, with the same idempotency
key (`Message.key`), which each channel carries so the receiver can drop it. A retryable failure
waits `backoff × 2^(attempts-1)` (at most an hour) before the next try; the notifier's
`max_attempts`-th failure, or any failure that cannot succeed on retry, makes it `dead`.

Messages of one (notifier, route, group) go out in the order they were enqueued: a message
waits while an older one of its group is unsent (backing off, or claimed by another sender),
so after an outage a resolve never overtakes the trigger it resolves, although the older
message has backed off longer. A dead message no longer holds its group back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from notifiers.base import Message, Notifier, NotifierSettings
from storage import outbox as store
from storage.db import Database
from vigil.core.errors import NotifyError

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)
LEASE = timedelta(minutes=5)
"""How long a claimed row is left alone; a sender that died mid-send is replaced after it."""


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    held: int = 0
    """Due messages kept back behind an older unsent message of their group."""
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.failed + self.dead


def backoff_delay(settings: NotifierSettings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: exponential, capped at an hour."""
    if settings.backoff <= timedelta(0):
        return timedelta(0)
    # Double only while under the cap: 2^(attempts-1) itself would overflow timedelta
    # (OverflowError) after about 40 attempts, and max_attempts may be up to 100.
    delay = settings.backoff
    for _ in range(max(attempts - 1, 0)):
        if delay >= MAX_BACKOFF:
            break
        delay *= 2
    return min(delay, MAX_BACKOFF)


def deliver_due(
    db: Database,
    notifiers: Mapping[str, tuple[NotifierSettings, Notifier]],
    now: datetime,
    stop: threading.Event | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryReport:
    """Send every message due at `now`, oldest first, each at most once in this pass.

    `clock` dates each claim, lease and outcome (default: `now` throughout). A pass can
    outlast the lease (many slow sends), so a long-running sender passes the real clock:
    a lease counted from the start of the pass could already be over when the row is
    claimed, and another sender would take and send the same message.
    """
    tick = clock or (lambda: now)
    report = DeliveryReport()
    started = time.monotonic()
    after = 0
    # group -> the oldest unsent message of it that this pass cannot send (not due yet, or
    # failed or taken by another sender in this pass): younger ones of the group wait.
    blocked: dict[GroupKey, int] = {}
    for waiting in store.waiting(db, now):
        blocked.setdefault(group_of(waiting), waiting.id)
    while not (stop and stop.is_set()):
        batch = store.due(db, now, after_id=after)
        if not batch:
            break
        for entry in batch:
            if stop and stop.is_set():
                break
            after = entry.id
            group = group_of(entry)
            if blocked.get(group, entry.id) < entry.id:
                report.held += 1
                continue
            if not _deliver_one(db, entry, notifiers.get(entry.notifier), tick, report):
                blocked.setdefault(group, entry.id)
    report.seconds = time.monotonic() - started
    return report


GroupKey = tuple[str, str, str]


def group_of(entry: store.OutboxEntry) -> GroupKey:
    """(notifier, route, group): the messages whose order is kept (`Message.group_key`)."""
    group = entry.payload.get("group") or {}
    return entry.notifier, entry.route, json.dumps(group, sort_keys=True)


def _deliver_one(
    db: Database,
    entry: store.OutboxEntry,
    notifier: tuple[NotifierSettings, Notifier] | None,
    clock: Callable[[], datetime],
    report: DeliveryReport,
) -> bool:
    """Send one message; False while it stays unsent (failed, or another sender has it)."""
    now = clock()
    if notifier is None:
        error = f"notifier {entry.notifier!r} is no longer configured"
        store.mark_failed(db, entry.id, error=error, next_attempt_at=now, dead=True)
        report.dead += 1
        report.errors.append(error)
        return True  # dead: it holds nothing back
    settings, sender = notifier
    if not store.claim(db, entry, now + LEASE):
        return False  # another sender has it
    try:
        sender.send(Message.from_dict(entry.payload))
    except NotifyError as exc:
        return _failed(db, entry, settings, exc, clock(), report)
    store.mark_sent(db, entry.id, clock())
    report.sent += 1
    log.info("sent message %s to %s: %s", entry.id, entry.notifier, entry.summary)
    return True


def _failed(
    db: Database,
    entry: store.OutboxEntry,
    settings: NotifierSettings,
    exc: NotifyError,
    now: datetime,
    report: DeliveryReport,
) -> bool:
    """Record a failed send; True when the message is dead (it holds its group no longer)."""
    attempts = entry.attempts + 1
    dead = not exc.retryable or attempts >= settings.max_attempts
    next_at = now + backoff_delay(settings, attempts)
    store.mark_failed(db, entry.id, error=exc.message, next_attempt_at=next_at, dead=dead)
    error = f"{entry.notifier}: {exc.message}"
    report.errors.append(error)
    if dead:
        report.dead += 1
        log.error("message %s is dead after %d attempt(s): %s", entry.id, attempts, error)
    else:
        report.failed += 1
        log.warning("message %s failed (attempt %d), retrying: %s", entry.id, attempts, error)
    return dead

"""One cycle of the daemon: collect one source, then check the rules and send notifications.

Sources collect concurrently (each is its own scheduler job), but the check and the delivery
run one at a time behind a lock: two sources finishing together must not run two checks over
the same findings, nor hand the same outbox to two senders.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.db import Database
from vigil.app import notify
from vigil.app.check import CheckResult, run_check
from vigil.app.collect import Collection, CollectionResult
from vigil.app.config import VigilConfig
from vigil.app.retirement import ConfiguredScopes
from vigil.core.errors import VigilError
from vigil.core.model import utcnow

log = logging.getLogger(__name__)


class CycleOutcome:
    OK = "ok"  # every scope completed (or the check alone ran)
    PARTIAL = "partial"  # some scope failed; it changed nothing
    ABANDONED = "abandoned"  # the daemon stopped mid-cycle
    ERROR = "error"  # the cycle itself failed (database unreachable, bad input)


OUTCOMES = (CycleOutcome.OK, CycleOutcome.PARTIAL, CycleOutcome.ABANDONED, CycleOutcome.ERROR)


@dataclass
class CycleReport:
    """What one cycle did, for the log and the daemon's status."""

    source: str | None
    started_at: datetime
    outcome: str = CycleOutcome.OK
    finished_at: datetime | None = None
    collection: CollectionResult | None = None
    check: CheckResult | None = None
    delivery: notify.DeliveryReport | None = None
    error: str | None = None

    @property
    def seconds(self) -> float:
        end = self.finished_at or utcnow()
        return (end - self.started_at).total_seconds()


@dataclass
class CycleStatus:
    """The daemon's own record of its cycles: read by `/readyz` and the exporter."""

    started_at: datetime = field(default_factory=utcnow)
    last_finished: datetime | None = None
    last_success: datetime | None = None
    last_seconds: float | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, report: CycleReport) -> None:
        with self._lock:
            self.outcomes[report.outcome] += 1
            self.last_finished = report.finished_at
            self.last_seconds = report.seconds
            if report.outcome in (CycleOutcome.OK, CycleOutcome.PARTIAL):
                self.last_success = report.finished_at

    def snapshot(self) -> CycleStatus:
        with self._lock:
            return CycleStatus(
                self.started_at,
                self.last_finished,
                self.last_success,
                self.last_seconds,
                Counter(self.outcomes),
            )


class CycleRunner:
    """Runs cycles against one database and config; safe to call from many threads."""

    def __init__(
        self,
        db: Database,
        config: VigilConfig,
        *,
        stop: threading.Event | None = None,
        status: CycleStatus | None = None,
        on_cycle: Callable[[CycleReport], None] | None = None,
        workers: int = 32,
    ) -> None:
        self.db = db
        self.config = config
        self.stop = stop or threading.Event()
        self.status = status or CycleStatus()
        self.on_cycle = on_cycle
        self.workers = workers
        self.configured = ConfiguredScopes(db, config.sources)
        self._check_lock = threading.Lock()
        self._busy = threading.Condition()
        self._running = 0

    # -- jobs -------------------------------------------------------------------------

    def run_source(self, name: str) -> CycleReport:
        """Collect source `name`; then, unless stopping, check and notify."""
        with self._in_flight():
            report = CycleReport(source=name, started_at=utcnow())
            try:
                report.collection = self._collect(name)
                report.outcome = self._collect_outcome(report.collection)
                if report.outcome != CycleOutcome.ABANDONED:
                    self.configured.record(name, report.collection)
                    report.collection.retired = self.configured.retire()
                if (
                    report.outcome != CycleOutcome.ABANDONED
                    and self.config.schedule.check_after_collect
                ):
                    self._check_and_notify(report)
            except VigilError as exc:
                report.outcome, report.error = CycleOutcome.ERROR, exc.message
            return self._finish(report)

    def run_check_only(self) -> CycleReport:
        """The check and notify step alone (when `check_after_collect` is off)."""
        with self._in_flight():
            report = CycleReport(source=None, started_at=utcnow())
            try:
                self._check_and_notify(report)
            except VigilError as exc:
                report.outcome, report.error = CycleOutcome.ERROR, exc.message
            return self._finish(report)

    def retire_unconfigured(self) -> int:
        """Plan every source and retire what the config no longer covers (the daemon's start)."""
        with self._in_flight():
            try:
                return self.configured.plan_all(self.stop)
            except VigilError as exc:
                log.error("retirement at start failed: %s", exc.message)
                return 0

    def wait_idle(self, timeout: float) -> bool:
        """Block until no cycle is in flight; False when `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._busy:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._busy.wait(left)
        return True

    # -- steps ------------------------------------------------------------------------

    def _collect(self, name: str) -> CollectionResult:
        source = self.config.source(name)
        collection = Collection(
            self.db,
            [source],
            stop=self.stop,
            workers=self.workers,
            executor=self.config.executor,
            config_path=self.config.path,
            pass_deadline=self.config.pass_deadline([source]),
        )
        return collection.run()

    def _collect_outcome(self, result: CollectionResult) -> str:
        if self.stop.is_set():
            return CycleOutcome.ABANDONED
        return CycleOutcome.PARTIAL if result.failed else CycleOutcome.OK

    def _check_and_notify(self, report: CycleReport) -> None:
        with self._check_lock:
            if self.stop.is_set():
                return
            hook = notify.outbox_hook(self.config)
            report.check = run_check(self.db, self.config, on_transitions=hook)
            # On stop, delivery returns between messages: the rest waits in the outbox for
            # the next start, where it is neither lost nor sent twice.
            report.delivery = notify.deliver(self.db, self.config, stop=self.stop)

    def _finish(self, report: CycleReport) -> CycleReport:
        report.finished_at = utcnow()
        self.status.record(report)
        _log_report(report)
        if self.on_cycle is not None:
            self.on_cycle(report)
        return report

    @contextmanager
    def _in_flight(self) -> Iterator[None]:
        with self._busy:
            self._running += 1
        try:
            yield
        finally:
            with self._busy:
                self._running -= 1
                self._busy.notify_all()


def _log_report(report: CycleReport) -> None:
    fields: dict[str, Any] = {
        "source": report.source or "-",
        "outcome": report.outcome,
        "seconds": round(report.seconds, 3),
    }
    if report.collection is not None:
        fields["scopes"] = len(report.collection.outcomes)
        fields["scopes_failed"] = len(report.collection.failed)
        fields["resources_seen"] = report.collection.seen
        fields["retired"] = report.collection.retired
    if report.check is not None:
        fields["findings"] = len(report.check.findings)
        fields["transitions"] = sum(
            1 for t in report.check.transitions if t.kind.value != "still_open"
        )
    if report.error:
        fields["error"] = report.error
        log.error("cycle failed: %s", report.error, extra=fields)
    elif report.outcome == CycleOutcome.ABANDONED:
        log.warning("cycle abandoned: the daemon is stopping", extra=fields)
    else:
        log.info("cycle finished", extra=fields)

"""`vigil run`: the scheduler, the daemon's lifecycle and its signals.

Each source is one APScheduler job (all its scopes) with `max_instances=1` (a source still
collecting is not started again: that run is refused and logged), `coalesce` (runs missed
while the machine slept become one), a misfire grace time (APScheduler 3 would silently skip a
run more than 1 s late) and jitter (many sources do not hit their APIs at the same second).

Stopping (SIGTERM, SIGINT) sets one event: collections abandon their scopes in flight as
failed, which deletes nothing; the check is skipped; delivery stops between messages and
leaves the rest in the outbox for the next start. The daemon then exits 0 within 10 s.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType

import sqlalchemy as sa
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from storage import retention
from storage.db import Database
from storage.reconcile import Reconciler
from vigil.app import metrics
from vigil.app.config import ScheduleConfig, VigilConfig
from vigil.app.cron import cron_trigger
from vigil.app.cycle import CycleOutcome, CycleReport, CycleRunner, CycleStatus
from vigil.app.lock import DaemonLock, daemon_lock
from vigil.core.errors import VigilError
from vigil.core.facts import STALE_AFTER_INTERVALS
from vigil.core.model import utcnow

log = logging.getLogger(__name__)

STOP_BUDGET = 10.0
PRUNE_DELAY = timedelta(hours=1)
"""Seconds between the stop signal and the exit (systemd's and Kubernetes' patience is
larger; ours is a promise to the operator)."""
CHECK_JOB = "check"
MAX_JITTER = 60.0


@dataclass(frozen=True)
class JobPlan:
    """One scheduler job: a source's collection (or the stand-alone check)."""

    id: str
    source: str | None
    trigger: BaseTrigger
    interval: float  # expected seconds between runs (for staleness and readiness)
    first_run: datetime | None  # interval jobs start at once; cron jobs wait for their time


def _jitter(schedule: ScheduleConfig, interval: float) -> int:
    if schedule.jitter is not None:
        return int(schedule.jitter.total_seconds())
    return int(min(MAX_JITTER, interval / 10))


def _cron_interval(trigger: CronTrigger, now: datetime) -> float:
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    return (second - first).total_seconds() if first and second else 86400.0


def plan_jobs(config: VigilConfig, *, now: datetime | None = None) -> list[JobPlan]:
    """The scheduler's jobs for `config`: one per source, plus the check when it does not
    follow each collection."""
    now = now or utcnow()
    schedule = config.schedule
    plans = []
    for source in config.sources:
        spec = schedule.for_source(source.name, source.provider)
        plans.append(_plan(f"collect:{source.name}", source.name, spec, schedule, now))
    if not schedule.check_after_collect:
        plans.append(_plan(CHECK_JOB, None, schedule.collect_every, schedule, now))
    return plans


def _plan(
    job_id: str, source: str | None, spec: timedelta | str, schedule: ScheduleConfig, now: datetime
) -> JobPlan:
    if isinstance(spec, str):
        probe = cron_trigger(spec, None)
        interval = _cron_interval(probe, now)
        return JobPlan(
            job_id, source, cron_trigger(spec, _jitter(schedule, interval)), interval, None
        )
    interval = spec.total_seconds()
    jitter = _jitter(schedule, interval)
    trigger = IntervalTrigger(seconds=interval, jitter=jitter or None, timezone=UTC)
    # Start now, spread over the jitter window, so a fresh daemon does not wait a whole
    # interval for its first data.
    first = now + timedelta(seconds=random.uniform(0, jitter)) if jitter else now
    return JobPlan(job_id, source, trigger, interval, first)


def schedule_jobs(
    scheduler: BaseScheduler,
    plans: list[JobPlan],
    *,
    collect: Callable[[str], object],
    check: Callable[[], object],
    misfire_grace_time: timedelta,
) -> None:
    """Add `plans` to `scheduler` with Vigil's job policy and log refused and missed runs."""
    for plan in plans:
        func, args = (collect, [plan.source]) if plan.source is not None else (check, [])
        options = {"next_run_time": plan.first_run} if plan.first_run is not None else {}
        scheduler.add_job(
            func,
            plan.trigger,
            args=args,
            id=plan.id,
            name=plan.id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(misfire_grace_time.total_seconds()),
            replace_existing=True,
            **options,
        )
    scheduler.add_listener(_log_job_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)


def _log_job_event(event: JobEvent) -> None:
    if event.code == EVENT_JOB_MAX_INSTANCES:
        log.warning(
            "run skipped: the previous run of %s is still going",
            event.job_id,
            extra={"job": event.job_id},
        )
    elif isinstance(event, JobExecutionEvent):
        late = (utcnow() - event.scheduled_run_time).total_seconds()
        log.warning(
            "run of %s missed: %.0fs late, over schedule.misfire_grace_time",
            event.job_id,
            late,
            extra={"job": event.job_id},
        )


class Refresher:
    """Re-reads the aggregates in a background thread: every `every` seconds, and at once
    after `request()` (the daemon calls it when a cycle ends)."""

    def __init__(self, collector: metrics.VigilCollector, every: float) -> None:
        self.collector = collector
        self.every = every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vigil-metrics", daemon=True)

    def start(self) -> Refresher:
        self._thread.start()
        return self

    def request(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.every)
            self._wake.clear()
            if not self._stop.is_set():
                self.collector.refresh()


class Daemon:
    """Owns the lock, the scheduler, the cycle runner and the exporter of one `vigil run`."""

    def __init__(
        self, db: Database, config: VigilConfig, *, lock: DaemonLock | None = None
    ) -> None:
        self.db = db
        self.config = config
        self.stop_event = threading.Event()
        self.status = CycleStatus()
        self.lock = lock or daemon_lock(db)
        self.plans = plan_jobs(config)
        self.intervals = {p.source: p.interval for p in self.plans if p.source is not None}
        self.collector = metrics.VigilCollector(db, intervals=self.intervals, status=self.status)
        self.refresher = Refresher(self.collector, config.metrics.cache_seconds.total_seconds())
        self.runner = CycleRunner(
            db, config, stop=self.stop_event, status=self.status, on_cycle=self._cycle_done
        )
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max(2, len(self.plans)))},
        )
        self.scheduler.add_listener(self._job_error, EVENT_JOB_ERROR)
        self.server: metrics.MetricsServer | None = None

    def start(self) -> None:
        """Take the lock (LockedError when another daemon has it), clean up after a crashed
        predecessor, serve metrics, start the jobs."""
        self.lock.acquire()
        try:
            abandoned = Reconciler(self.db).abandon_running(
                "abandoned: the previous daemon stopped before this scope finished", queued=False
            )
            if abandoned:
                log.warning("marked %d scope run(s) left running as failed", abandoned)
            self.collector.refresh()
            self.server = self._serve()
            self.refresher.start()
            schedule_jobs(
                self.scheduler,
                self.plans,
                collect=self.runner.run_source,
                check=self.runner.run_check_only,
                misfire_grace_time=self.config.schedule.misfire_grace_time,
            )
            self._schedule_prune()
            # Resources of what left the config retire at once, before the first cycles end.
            self.scheduler.add_job(
                self.runner.retire_unconfigured, id="retire", name="retire", next_run_time=utcnow()
            )
            self.scheduler.start()
        except BaseException:
            self._close()
            raise
        log.info(
            "vigil run started",
            extra={"jobs": len(self.plans), "metrics": f"{self.config.metrics.listen}"},
        )

    def _schedule_prune(self) -> None:
        """Prune daily, first an hour after start (not while a fresh daemon collects)."""
        self.scheduler.add_job(
            self.prune,
            IntervalTrigger(days=1, timezone=UTC),
            id="prune",
            name="prune",
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow() + PRUNE_DELAY,
        )

    def prune(self) -> retention.PruneReport:
        report = retention.prune(self.db, self.config.retention.policy(), utcnow())
        log.info(
            "pruned %d rows of history",
            report.total,
            extra={"pruned": report.deleted},
        )
        return report

    def wait(self) -> None:
        """Block until stopped; short waits so signal handlers run promptly."""
        while not self.stop_event.wait(0.2):
            pass

    def request_stop(self) -> None:
        self.stop_event.set()

    def shutdown(self, budget: float = STOP_BUDGET) -> bool:
        """Stop within `budget` seconds; True when every cycle in flight ended in time."""
        deadline = time.monotonic() + budget
        self.stop_event.set()
        self.scheduler.shutdown(wait=False)
        clean = self.runner.wait_idle(max(0.0, deadline - time.monotonic() - 1.0))
        if not clean:
            log.error(
                "cycles still running at the stop deadline; their scopes stay 'running' "
                "until the next start marks them failed"
            )
        self._close()
        log.info("vigil run stopped", extra={"clean": clean})
        return clean

    def ready(self) -> tuple[bool, str]:
        """`/readyz`: the database answers and a cycle finished recently (or the first one
        is still within its window)."""
        try:
            self.db.ping()
        except (VigilError, sa.exc.SQLAlchemyError) as exc:
            return False, f"database unreachable: {type(exc).__name__}"
        window = STALE_AFTER_INTERVALS * max(self.intervals.values(), default=900.0)
        status = self.status.snapshot()
        reference = status.last_finished or status.started_at
        age = (utcnow() - reference).total_seconds()
        if age > window:
            return False, f"no cycle finished in the last {age:.0f}s (window {window:.0f}s)"
        what = "last cycle" if status.last_finished else "started"
        return True, f"ready: database reachable, {what} {age:.0f}s ago"

    def _serve(self) -> metrics.MetricsServer:
        tls = None
        if self.config.metrics.tls_cert and self.config.metrics.tls_key:
            tls = (self.config.metrics.tls_cert, self.config.metrics.tls_key)
        server = metrics.MetricsServer(
            self.collector, self.config.metrics.address(), ready=self.ready, tls=tls
        )
        return server.start()

    def _cycle_done(self, report: CycleReport) -> None:
        self.refresher.request()

    def _job_error(self, event: JobExecutionEvent) -> None:
        # APScheduler has logged the traceback; the daemon lives on, and counts it.
        self.runner.status.record(
            CycleReport(
                source=event.job_id,
                started_at=event.scheduled_run_time,
                outcome=CycleOutcome.ERROR,
                finished_at=utcnow(),
                error=repr(event.exception),
            )
        )

    def _close(self) -> None:
        self.refresher.stop()
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.lock.release()


def install_signal_handlers(daemon: Daemon) -> None:
    """SIGTERM and SIGINT ask the daemon to stop (main thread only)."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        daemon.request_stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)

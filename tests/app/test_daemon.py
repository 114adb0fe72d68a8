"""`vigil run`: its schedule (on APScheduler's real engine with a frozen clock), its start
after a crash, and a SIGTERM that lands in the middle of a slow scope."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.background import BackgroundScheduler

from collectors.aws.config import AwsSourceConfig
from storage import history, inventory, runs
from storage.db import Database
from storage.reconcile import Reconciler
from tests import factories
from tests.factories.aws import source_entry
from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.prometheus import VigilDaemon
from tests.fixtures.services import free_port
from vigil.app.collect import collect
from vigil.app.config import load_config, parse_config
from vigil.app.daemon import Daemon, cron_trigger, plan_jobs, schedule_jobs
from vigil.app.logs import LogFormat, setup_logging
from vigil.core.errors import ConfigError
from vigil.core.model import utcnow

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class FrozenClock:
    """APScheduler's idea of now, moved only by the test (its modules read `datetime.now`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime) -> None:
        self.now = start
        clock = self

        class Frozen(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Frozen:  # type: ignore[override]
                return clock.now.astimezone(tz)  # type: ignore[return-value]

        for module in ("schedulers.base", "executors.base", "triggers.interval"):
            monkeypatch.setattr(f"apscheduler.{module}.datetime", Frozen)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Harness:
    """A real BackgroundScheduler running Vigil's jobs; the job records its calls."""

    def __init__(self, clock: FrozenClock, schedule: dict[str, Any]) -> None:
        self.clock = clock
        self.calls: list[datetime] = []
        self.events: list[JobEvent] = []
        self.gate = threading.Event()
        self.gate.set()
        self.called = threading.Semaphore(0)
        config = parse_config(
            {
                "sources": [{"name": "a", "provider": "aws"}],
                "schedule": {"jitter": "0s", **schedule},
            }
        )
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.scheduler.add_listener(self.events.append, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        schedule_jobs(
            self.scheduler,
            plan_jobs(config, now=clock.now),
            collect=self.job,
            check=lambda: None,
            misfire_grace_time=config.schedule.misfire_grace_time,
        )

    def job(self, source: str) -> None:
        self.calls.append(self.clock.now)
        self.called.release()
        self.gate.wait(10)

    def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.scheduler.wakeup()
        time.sleep(0.3)  # let the scheduler thread process the new time

    def wait_call(self) -> None:
        assert self.called.acquire(timeout=5), "the job did not run"


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*, blocked: bool = False, **schedule: Any) -> Harness:
        h = Harness(FrozenClock(monkeypatch, T0), schedule)
        if blocked:
            h.gate.clear()
        h.scheduler.start()
        made.append(h)
        return h

    yield make
    for h in made:
        h.gate.set()
        h.scheduler.shutdown(wait=True)


def test_first_run_is_immediate_and_missed_runs_coalesce_into_one(harness: Any) -> None:
    h = harness(collect_every="60s", misfire_grace_time="5m")
    h.wait_call()
    assert h.calls == [T0]
    h.tick(190)  # three fire times (60, 120, 180 s) passed while the machine slept
    h.wait_call()
    time.sleep(0.3)
    assert h.calls == [T0, T0 + timedelta(seconds=190)]


def test_a_run_later_than_the_grace_time_is_skipped_and_logged(harness: Any) -> None:
    h = harness(collect_every="60s", misfire_grace_time="30s")
    h.wait_call()
    h.tick(105)  # the 60 s run is 45 s late: over the 30 s grace
    assert [e.code for e in h.events] == [EVENT_JOB_MISSED]
    assert len(h.calls) == 1
    h.tick(20)  # the 120 s run is 5 s late: within grace
    h.wait_call()
    assert len(h.calls) == 2


def test_overlapping_run_of_a_busy_source_is_refused(harness: Any) -> None:
    h = harness(collect_every="60s", blocked=True)  # the first collection hangs on an API
    h.wait_call()
    h.tick(61)
    assert [e.code for e in h.events] == [EVENT_JOB_MAX_INSTANCES]
    assert len(h.calls) == 1
    h.gate.set()


def test_plan_applies_overrides_probes_cron_and_default_jitter() -> None:
    config = parse_config(
        {
            "sources": [
                {"name": "aws", "provider": "aws"},
                {"name": "slow", "provider": "aws"},
                {"name": "nightly", "provider": "aws"},
                {"name": "edge", "provider": "probe", "tls": ["a.example:443"]},
            ],
            "schedule": {
                "collect_every": "15m",
                "probes_every": "1m",
                "sources": {"slow": "6h", "nightly": "30 2 * * 1-5"},
                "check_after_collect": False,
            },
        }
    )
    plans = {p.id: p for p in plan_jobs(config, now=T0)}
    assert plans["collect:aws"].interval == 900 and plans["collect:aws"].trigger.jitter == 60
    assert plans["collect:slow"].interval == 6 * 3600
    assert plans["collect:edge"].interval == 60 and plans["collect:edge"].trigger.jitter == 6
    nightly = plans["collect:nightly"]
    assert nightly.first_run is None  # cron sources wait for their time
    first = nightly.trigger.get_next_fire_time(None, T0)  # T0 is a Monday
    expected = datetime(2026, 11, 3, 2, 30, tzinfo=UTC)  # Tuesday 02:30, plus up to 60 s jitter
    assert first is not None and expected <= first <= expected + timedelta(seconds=60)
    assert plans["check"].interval == 900  # the check runs on its own


def test_cron_weekdays_count_from_sunday_as_crontab_does() -> None:
    sunday = cron_trigger("0 3 * * 0", None).get_next_fire_time(None, T0)
    assert sunday is not None and sunday.strftime("%A") == "Sunday"
    weekend = cron_trigger("0 3 * * 0,6", None).get_next_fire_time(None, T0)
    assert weekend is not None and weekend.strftime("%A") == "Saturday"


@pytest.mark.parametrize(
    ("weekdays", "expected"),
    [
        ("*/2", ["Sunday", "Tuesday", "Thursday", "Saturday"]),
        ("1-5/2", ["Monday", "Wednesday", "Friday"]),
        ("3/2", ["Wednesday", "Friday"]),
    ],
)
def test_cron_weekday_steps_count_from_sunday_too(weekdays: str, expected: list[str]) -> None:
    trigger = cron_trigger(f"0 3 * * {weekdays}", None)
    fired, moment = set(), T0
    for _ in range(14):
        moment = trigger.get_next_fire_time(None, moment + timedelta(seconds=1))
        assert moment is not None
        fired.add(moment.strftime("%A"))
    assert sorted(fired) == sorted(expected)


@pytest.mark.slow
def test_bad_schedule_is_refused_with_file_line_and_exit_2(vigil_cli: Any) -> None:
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - {name: a, provider: aws}\nschedule:\n  sources:\n    b: 1h\n"
    )
    result = vigil_cli("run", timeout=60)
    assert result.returncode == 2
    assert "vigil.yaml:5" in result.stderr and "no source is named 'b'" in result.stderr
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - {name: a, provider: aws}\nschedule:\n  sources:\n    a: '61 * * * *'\n"
    )
    result = vigil_cli("run", timeout=60)
    assert result.returncode == 2 and "cron expression" in result.stderr
    assert not vigil_cli.database_path.exists()


def test_start_marks_runs_a_crashed_daemon_left_running_and_serves_health(
    sqlite_db: Database, moto: str
) -> None:
    reconciler = Reconciler(sqlite_db)
    crashed = reconciler.start(factories.scope(source="gone"))
    port = free_port()
    config = parse_config(
        {
            "sources": [
                {"name": "a", "provider": "aws", "regions": ["us-east-1"], "endpoint_url": moto}
            ],
            "schedule": {"collect_every": "1h", "jitter": "0s"},
            "metrics": {"listen": f"127.0.0.1:{port}"},
        }
    )
    daemon = Daemon(sqlite_db, config)
    daemon.start()
    try:
        statuses = {s.scope_key: s for s in runs.scope_statuses(sqlite_db, source="gone")}
        left = statuses[crashed.scope.key]
        assert left.status == "failed" and "abandoned" in (left.error or "")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.read() == b"ok\n"
        ready, reason = daemon.ready()
        assert ready, reason
        prune = daemon.scheduler.get_job("prune")
        assert prune is not None and prune.trigger.interval == timedelta(days=1)
        assert prune.next_run_time - utcnow() > timedelta(minutes=55)  # not during the first pass
        assert daemon.prune().dry_run is False  # what the job runs: a real prune, logged
    finally:
        assert daemon.shutdown()


def test_json_logs_carry_the_cycle_fields_and_never_a_secret() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    setup_logging(LogFormat.JSON, secrets=["hunter2-token"], stream=stream)
    try:
        logging.getLogger("vigil.app.cycle").error(
            "cycle failed: 401 for token hunter2-token",
            extra={"source": "aws", "error": "Bearer hunter2-token refused"},
        )
    finally:
        root.handlers[:], root.level = saved
    record = json.loads(stream.getvalue())
    assert record["level"] == "error" and record["source"] == "aws"
    assert record["message"] == "cycle failed: 401 for token **********"
    assert record["error"] == "Bearer ********** refused"
    assert "hunter2" not in stream.getvalue()


def _running(db: Database) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM scope_runs WHERE status = 'running'")
            ).scalar_one()
        )


@pytest.mark.slow
def test_sigterm_during_a_slow_scope_stops_in_time_and_deletes_nothing(
    moto: str,
    aws_proxy: Callable[..., AwsProxy],
    vigil_daemon: Callable[..., VigilDaemon],
    sqlite_url: str,
) -> None:
    from vigil.app.demo_estate import seed_estate

    seed_estate(moto, regions=("us-east-1",), servers_per_region=2)
    types = ["server", "security_group", "disk"]
    db = Database(sqlite_url)
    fast = AwsSourceConfig(name="aws-test", regions=["us-east-1"], endpoint_url=moto, types=types)
    assert collect(db, [fast]).failed == []
    before = sorted(r.uid for r in inventory.inventory(db))
    proxy = aws_proxy(latency=2)
    config = {
        "database_url": sqlite_url,
        "sources": [
            {
                **fast.model_dump(include={"name", "provider", "regions", "types"}),
                "endpoint_url": proxy.url,
            }
        ],
        "schedule": {"collect_every": "1h", "jitter": "0s"},
        "metrics": {"listen": f"127.0.0.1:{free_port()}"},
    }
    daemon = vigil_daemon(config).start()
    deadline = time.monotonic() + 30
    while _running(db) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(db) > 0, daemon.logs()

    code, seconds = daemon.stop()

    assert code == 0, daemon.logs()
    assert seconds < 10
    assert sorted(r.uid for r in inventory.inventory(db)) == before
    assert list(history.changes(db, kinds=("deleted",))) == []
    newest = runs.scope_statuses(db, source="aws-test")
    abandoned = [s for s in newest if s.status == "failed" and "abandoned" in (s.error or "")]
    assert abandoned and not [s for s in newest if s.status == "running"]
    db.dispose()


@pytest.mark.parametrize(
    ("weekdays", "expected"),
    [
        ("0", ["Sun", "Sun"]),
        ("7", ["Sun", "Sun"]),
        ("1-5", ["Tue", "Wed"]),  # T0 is Monday noon: Monday 03:00 has passed
        ("*/2", ["Tue", "Thu"]),  # Sunday, Tuesday, Thursday, Saturday
    ],
)
def test_cron_weekdays_validate_and_fire_as_crontab_reads_them(
    tmp_path: Path, weekdays: str, expected: list[str]
) -> None:
    """One reading of cron for the config check and the scheduler: 0 and 7 are Sunday."""
    (path := tmp_path / "vigil.yaml").write_text(
        "sources:\n  - {name: a, provider: aws, regions: [us-east-1]}\n"
        f"schedule:\n  sources: {{a: '0 3 * * {weekdays}'}}\n"
    )
    config = load_config(path)
    (plan,) = plan_jobs(config, now=T0)
    first = plan.trigger.get_next_fire_time(None, T0)
    assert first is not None
    second = plan.trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert second is not None
    assert [first.strftime("%a"), second.strftime("%a")] == expected


def test_a_weekday_past_seven_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    (path := tmp_path / "vigil.yaml").write_text("schedule:\n  sources: {a: '0 3 * * 9'}\n")
    with pytest.raises(ConfigError, match="out of range") as caught:
        load_config(path)
    assert f"{path}:2:" in caught.value.message


@pytest.mark.slow
def test_start_retires_what_left_the_config_before_any_cycle_runs(
    sqlite_db: Database, moto: str
) -> None:
    from vigil.app.demo_estate import seed_estate

    seed_estate(moto, regions=("us-east-1", "eu-west-1"), servers_per_region=1)
    types = ["server", "security_group"]
    both = AwsSourceConfig(
        name="aws", regions=["us-east-1", "eu-west-1"], endpoint_url=moto, types=types
    )
    assert collect(sqlite_db, [both]).failed == []
    config = parse_config(
        {
            "sources": [source_entry(moto, types=types)],
            # A cron far away: no collection runs during the test, only the start's retirement.
            "schedule": {"sources": {"aws": "0 3 1 1 *"}, "jitter": "0s"},
            "metrics": {"listen": f"127.0.0.1:{free_port()}"},
        }
    )
    daemon = Daemon(sqlite_db, config)
    daemon.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
            r.region == "eu-west-1" for r in inventory.inventory(sqlite_db)
        ):
            time.sleep(0.2)
    finally:
        assert daemon.shutdown()

    assert {r.region for r in inventory.inventory(sqlite_db)} == {"us-east-1"}
    assert {e.region for e in history.changes(sqlite_db, kinds=("retired",))} == {"eu-west-1"}
    assert daemon.status.snapshot().last_finished is None  # no cycle ran: the start did it

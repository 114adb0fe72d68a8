"""`executor: {kind: processes}`: scopes run in spawned worker processes against moto's server,
their records come back to the one writer; a worker that dies fails only its own scopes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from collectors import throttles
from storage import history, inventory, runs
from storage.db import Database
from tests.collectors.aws.test_budget import most_in_any_window
from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.database import PostgresCluster
from vigil.app.collect import Collection, CollectionResult
from vigil.app.config import VigilConfig, load_config
from vigil.app.demo_estate import seed_estate
from vigil.core.errors import ConfigError

REGIONS = ("us-east-1", "eu-west-1")

pytestmark = pytest.mark.slow


def write_config(
    path: Path,
    endpoint_url: str,
    kind: str,
    types: str = "",
    extra: tuple[str, ...] = (),
    processes: int = 2,
) -> VigilConfig:
    lines = [
        "sources:",
        "  - name: aws-test",
        "    provider: aws",
        f"    regions: [{', '.join(REGIONS)}]",
        f"    endpoint_url: {endpoint_url}",
        *([f"    types: [{types}]"] if types else []),
        *extra,
        "executor:",
        f"  kind: {kind}",
        *([f"  processes: {processes}"] if kind == "processes" else []),
    ]
    path.write_text("\n".join(lines) + "\n")
    return load_config(path)


def run(db: Database, config: VigilConfig, **options: Any) -> CollectionResult:
    return Collection(
        db, config.sources, executor=config.executor, config_path=config.path, **options
    ).run()


def listed(db: Database) -> set[tuple[str, str, str, str]]:
    return {
        (r.uid, r.name, repr(sorted(r.tags.items())), r.region) for r in inventory.inventory(db)
    }


def counts(result: CollectionResult) -> list[tuple[str, str, int, int, int, int]]:
    return sorted(
        (o.scope.key, o.status, o.seen, o.created, o.changed, o.deleted) for o in result.outcomes
    )


@pytest.fixture
def estate(moto: str) -> Any:
    return seed_estate(moto, regions=REGIONS, servers_per_region=2)


def test_processes_collect_what_threads_collect(
    tmp_path: Path, sqlite_url: str, moto: str, estate: Any
) -> None:
    by_kind = {}
    for kind in ("threads", "processes"):
        db = Database(f"sqlite:///{tmp_path / kind}.db")
        config = write_config(tmp_path / f"{kind}.yaml", moto, kind)
        first = run(db, config)
        assert first.failed == [], [(o.scope.key, o.error) for o in first.failed]
        again = run(db, config)
        assert again.failed == []
        assert sum(o.created + o.changed + o.deleted for o in again.outcomes) == 0
        by_kind[kind] = (counts(first), listed(db))
        db.dispose()

    assert by_kind["processes"] == by_kind["threads"]
    assert len(by_kind["processes"][1]) == sum(estate.counts.values())


def test_worker_processes_share_the_api_budget_at_the_proxy(
    tmp_path: Path,
    sqlite_db: Database,
    estate: Any,
    aws_proxy: Callable[..., AwsProxy],
) -> None:
    """Two workers collecting EC2 scopes of one region at once: together, the requests the
    proxy receives per (region, service) stay within burst + rate × t, not twice that."""
    rate, burst = 2.0, 2.0  # burst >= processes: see collectors/aws/budget.py
    proxy = aws_proxy()
    budget = (f"    api_rates: {{ec2: {{rate: {rate:g}, burst: {burst:g}}}}}",)
    config = write_config(
        tmp_path / "vigil.yaml", proxy.url, "processes", "server, disk, security_group", budget
    )
    result = run(sqlite_db, config, workers=4)

    assert result.failed == [], [(o.scope.key, o.error) for o in result.failed]
    for region in REGIONS:
        arrived = [r.at for r in proxy.requests if r.service == "ec2" and r.region == region]
        assert len(arrived) >= 3  # one per scope: enough for a doubled budget to show
        assert most_in_any_window(arrived, rate, burst, jitter=0.15), region


def test_the_workers_throttling_answers_reach_the_pass_and_its_metrics(
    tmp_path: Path, sqlite_db: Database, estate: Any, aws_proxy: Callable[..., AwsProxy]
) -> None:
    """A worker process's counters end with it: the pass's process, whose /metrics a daemon
    serves, counts what its workers received, and each scope's run says how much."""
    proxy = aws_proxy(throttle_first_n=3, throttle_operations={"DescribeVolumes"})
    config = write_config(tmp_path / "vigil.yaml", proxy.url, "processes", "disk")
    api = ("aws-test", "ec2", "DescribeVolumes")
    before = throttles.process_counts().get(api, 0)
    result = run(sqlite_db, config)

    assert result.failed == []
    received = {r: sum(t.region == r for t in proxy.outcomes("throttled")) for r in REGIONS}
    assert {o.scope.region: o.throttled for o in result.outcomes} == received
    assert throttles.process_counts()[api] == before + 3


def test_worker_processes_share_a_burst_smaller_than_their_number_through_postgresql(
    tmp_path: Path,
    postgres: PostgresCluster,
    estate: Any,
    aws_proxy: Callable[..., AwsProxy],
) -> None:
    """Three workers, a burst of one: split three ways (SQLite's way) the workers would each
    send their first request at once; through PostgreSQL's shared buckets the requests the
    proxy receives per (region, service) stay within burst + rate × t."""
    rate, burst, processes = 3.0, 1.0, 3
    db = Database(postgres.create_database())
    proxy = aws_proxy()
    budget = (f"    api_rates: {{ec2: {{rate: {rate:g}, burst: {burst:g}}}}}",)
    config = write_config(
        tmp_path / "vigil.yaml",
        proxy.url,
        "processes",
        "server, disk, snapshot, security_group",
        budget,
        processes=processes,
    )
    try:
        result = run(db, config, workers=6)
    finally:
        db.dispose()

    assert result.failed == [], [(o.scope.key, o.error) for o in result.failed]
    for region in REGIONS:
        arrived = [r.at for r in proxy.requests if r.service == "ec2" and r.region == region]
        assert len(arrived) >= 4  # one per scope at least, from three workers at once
        assert most_in_any_window(arrived, rate, burst, jitter=0.15), region
        assert max(arrived) - min(arrived) >= (len(arrived) - burst) / rate - 0.15  # paced


def test_a_killed_worker_fails_only_its_scope_and_deletes_nothing(
    tmp_path: Path,
    sqlite_db: Database,
    moto: str,
    estate: Any,
    aws_proxy: Callable[..., AwsProxy],
) -> None:
    config = write_config(tmp_path / "vigil.yaml", moto, "processes", "disk, security_group")
    assert run(sqlite_db, config).failed == []
    eu_before = {r.uid for r in inventory.inventory(sqlite_db) if r.region == "eu-west-1"}
    for region in REGIONS:  # a real deletion in each region...
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=moto)
        volume = next(v for v in ec2.describe_volumes()["Volumes"] if not v["Attachments"])
        ec2.delete_volume(VolumeId=volume["VolumeId"])

    proxy = aws_proxy(kill_regions={"eu-west-1"})
    config = write_config(tmp_path / "vigil.yaml", proxy.url, "processes", "disk, security_group")
    # One scope at a time per worker, so a worker's scopes are exactly the one it ran.
    result = run(sqlite_db, config, workers=2)

    assert len(proxy.killed) == 2  # each eu-west-1 scope killed the worker running it
    failed = {o.scope.key: o.error or "" for o in result.failed}
    assert {key.split("/")[2] for key in failed} == {"eu-west-1"} and len(failed) == 2
    assert all("died while running this scope" in error for error in failed.values())
    assert all(f"worker process {pid} died" in " ".join(failed.values()) for pid in proxy.killed)
    complete = [o for o in result.outcomes if not o.failed]
    assert {o.scope.region for o in complete} == {"us-east-1"} and len(complete) == 2
    # ...is recorded where the scope completed, and not where its worker died.
    deleted = list(history.changes(sqlite_db, kinds=("deleted",)))
    assert [e.region for e in deleted] == ["us-east-1"]
    eu_after = {r.uid for r in inventory.inventory(sqlite_db) if r.region == "eu-west-1"}
    assert eu_after == eu_before
    statuses = {s.scope_key: s.status for s in runs.scope_statuses(sqlite_db)}
    assert {statuses[key] for key in failed} == {"failed"}


def test_stop_abandons_the_scopes_in_the_workers(
    tmp_path: Path,
    sqlite_db: Database,
    moto: str,
    estate: Any,
    aws_proxy: Callable[..., AwsProxy],
) -> None:
    config = write_config(tmp_path / "vigil.yaml", moto, "processes", "disk")
    assert run(sqlite_db, config).failed == []
    before = listed(sqlite_db)
    proxy = aws_proxy(latency=1.0)
    config = write_config(tmp_path / "vigil.yaml", proxy.url, "processes", "disk")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()

    result = run(sqlite_db, config, stop=stop)

    assert result.outcomes and all(o.failed for o in result.outcomes)
    assert all("abandoned" in (o.error or "") for o in result.outcomes)
    assert listed(sqlite_db) == before


def test_processes_need_the_config_file(sqlite_db: Database, tmp_path: Path) -> None:
    config = write_config(tmp_path / "vigil.yaml", "http://127.0.0.1:9", "processes")
    with pytest.raises(ConfigError, match="workers load the same file"):
        Collection(sqlite_db, config.sources, executor=config.executor)


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_scopes_not_started_by_the_pass_deadline_fail_and_change_nothing(
    tmp_path: Path,
    sqlite_db: Database,
    moto: str,
    estate: Any,
    aws_proxy: Callable[..., AwsProxy],
    kind: str,
) -> None:
    config = write_config(tmp_path / "vigil.yaml", moto, kind, "disk, security_group")
    assert run(sqlite_db, config).failed == []
    before = listed(sqlite_db)
    proxy = aws_proxy(latency=1.5)
    config = write_config(tmp_path / "vigil.yaml", proxy.url, kind, "disk, security_group")

    # One scope at a time in all: the first outlasts the deadline, the others never start.
    executor = config.executor.model_copy(update={"processes": 1} if kind == "processes" else {})
    result = Collection(
        sqlite_db,
        config.sources,
        executor=executor,
        config_path=config.path,
        workers=1,
        pass_deadline=timedelta(seconds=2),
    ).run()

    late = [o for o in result.outcomes if "no live worker" in (o.error or "")]
    assert len(result.outcomes) == 4 and len(late) >= 2
    assert all("pass deadline (2s)" in (o.error or "") for o in late)
    assert all(o.status == "failed" for o in late)
    assert listed(sqlite_db) == before

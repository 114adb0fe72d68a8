"""`executor: {kind: queue}`: real `vigil worker` processes on a real PostgreSQL run the scopes
of a `vigil collect` pass against moto; workers killed, stopped, or cut off from the database.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from storage.db import Database
from tests.collectors.aws.test_budget import most_in_any_window
from tests.factories.aws import instance_in, seed_client
from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.cli import VigilCli
from tests.fixtures.database import PostgresCluster
from tests.fixtures.services import free_port
from tests.reliability.conftest import (
    REGIONS,
    SCOPES,
    TYPES,
    Estate,
    Views,
    Workers,
    assert_no_false_deletion,
    configure,
    report,
)
from vigil.app.queue import STALE_ATTEMPT, WORKER_STOPPING

pytestmark = pytest.mark.slow

QUEUE = "executor:\n  kind: queue\n  stalled_after: 3s\n"


def test_two_workers_run_a_pass_and_the_inventory_is_moto_s(
    queue_cli: VigilCli, queue_url: str, moto: str, estate: Estate, workers: Workers
) -> None:
    configure(queue_cli, moto, QUEUE)
    first, second = workers.start(), workers.start()
    started = time.monotonic()
    result = queue_cli("collect")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{SCOPES} scopes, 0 failed" in result.stdout
    views = Views(queue_url)
    try:
        assert views.inventory() == estate.truth()
        runs = views.rows("SELECT count(*) AS n FROM scope_runs WHERE pass_id IS NOT NULL")
        assert runs[0]["n"] == SCOPES  # one attempt per scope, each recorded once
    finally:
        views.close()
    ran = [workers.scopes_run(first), workers.scopes_run(second)]
    assert sum(ran) == SCOPES and all(ran), ran  # both workers took scopes
    report(f"queue: {SCOPES} scopes on 2 workers in {took:.2f}s, split {ran}")


def running_on(workers: Workers, process: subprocess.Popen[str]) -> bool:
    port = dict(workers.started)[process]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return False
    found = re.search(r"^vigil_worker_scopes_running (\S+)$", text, re.M)
    return bool(found and float(found.group(1)) > 0)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)


def duplicate_events(views: Views) -> list[Any]:
    """Change events that say the same thing twice about one resource (a scope applied twice)."""
    return views.rows(
        "SELECT uid, kind, count(*) AS n FROM change_events WHERE kind = 'created' "
        "GROUP BY uid, kind HAVING count(*) > 1"
    )


def slow_estate(queue_cli: VigilCli, aws_proxy: Callable[..., AwsProxy], extra: str = "") -> None:
    """Each AWS call takes 0.3 s: scopes are in flight long enough to kill a worker mid-scope."""
    proxy = aws_proxy(latency=0.3)
    configure(queue_cli, proxy.url, QUEUE + extra)


def warm_up(queue_cli: VigilCli, estate: Estate) -> None:
    """A first pass (the workers build their collectors), then churn: the next pass has
    deletions to make, which a scope applied twice or half would get wrong."""
    first = queue_cli("collect")
    assert first.returncode == 0, first.stdout + first.stderr
    for region in REGIONS:
        estate.churn(region)


@dataclass
class BusyPass:
    """A slow pass under way on two warmed-up workers, `busy` into a scope's pages."""

    busy: subprocess.Popen[str]
    other: subprocess.Popen[str]
    collect: subprocess.Popen[str]
    started: float  # when `vigil collect` started (monotonic)


def busy_pass(
    queue_cli: VigilCli, estate: Estate, workers: Workers, aws_proxy: Callable[..., AwsProxy]
) -> BusyPass:
    slow_estate(queue_cli, aws_proxy)
    busy, other = workers.start(), workers.start()
    warm_up(queue_cli, estate)
    started = time.monotonic()
    collect = queue_cli.start("collect")
    wait_until(lambda: running_on(workers, busy), 30, "the worker runs a scope")
    time.sleep(0.4)  # into its first pages
    return BusyPass(busy, other, collect, started)


def runs_failed_with(views: Views, error: str) -> int:
    rows = views.rows(f"SELECT count(*) AS n FROM scope_runs WHERE error = '{error}'")
    return int(rows[0]["n"])


def test_a_worker_killed_mid_scope_has_its_scopes_finished_by_another(
    queue_cli: VigilCli,
    queue_url: str,
    estate: Estate,
    workers: Workers,
    aws_proxy: Callable[..., AwsProxy],
) -> None:
    running = busy_pass(queue_cli, estate, workers, aws_proxy)
    victim, survivor, collect, started = (
        running.busy,
        running.other,
        running.collect,
        running.started,
    )
    victim.kill()
    killed_at = time.monotonic() - started
    stdout, stderr = collect.communicate(timeout=90)
    assert collect.returncode == 0, stdout + stderr
    assert f"{SCOPES} scopes, 0 failed" in stdout
    views = Views(queue_url)
    try:
        assert views.inventory() == estate.truth()
        assert duplicate_events(views) == []
        assert_no_false_deletion(views, estate)
        abandoned = runs_failed_with(views, STALE_ATTEMPT)
        assert abandoned >= 1  # the victim's run, abandoned by the retry: nothing applied
    finally:
        views.close()
    assert workers.scopes_run(survivor) >= 1
    report(
        f"queue: kill -9 of a worker {killed_at:.2f}s into the pass: {abandoned} run(s) "
        f"abandoned and retried, pass done in {time.monotonic() - started:.2f}s, 0 duplicates"
    )


def test_sigterm_hands_running_scopes_back_and_exits_within_10s(
    queue_cli: VigilCli,
    queue_url: str,
    estate: Estate,
    workers: Workers,
    aws_proxy: Callable[..., AwsProxy],
) -> None:
    running = busy_pass(queue_cli, estate, workers, aws_proxy)
    stopping, other, collect = running.busy, running.other, running.collect
    signalled = time.monotonic()
    stopping.send_signal(signal.SIGTERM)
    stopping.wait(timeout=15)
    took = time.monotonic() - signalled
    assert stopping.returncode == 0, stopping.communicate()[1]
    assert took < 10
    stdout, stderr = collect.communicate(timeout=90)
    assert collect.returncode == 0, stdout + stderr
    views = Views(queue_url)
    try:
        assert views.inventory() == estate.truth()
        assert duplicate_events(views) == []
        handed_back = runs_failed_with(views, WORKER_STOPPING)
    finally:
        views.close()
    assert handed_back >= 1
    assert workers.scopes_run(other) >= 1
    report(f"queue: SIGTERM → exit 0 in {took:.2f}s, {handed_back} scope(s) handed back")


def test_no_live_worker_fails_the_scopes_at_the_pass_deadline(
    queue_cli: VigilCli, queue_url: str, moto: str, estate: Estate
) -> None:
    configure(queue_cli, moto, QUEUE + "  pass_deadline: 2s\n")
    started = time.monotonic()
    result = queue_cli("collect")
    assert result.returncode == 1
    assert f"{SCOPES} scopes, {SCOPES} failed" in result.stdout
    assert "no live worker started this scope within the pass deadline (2s)" in result.stdout
    assert time.monotonic() - started < 20
    views = Views(queue_url)
    try:
        assert views.inventory() == set()  # nothing invented, nothing applied
        jobs = views.rows(
            "SELECT status::text AS s, count(*) AS n FROM procrastinate_jobs GROUP BY 1"
        )
        assert {r["s"]: r["n"] for r in jobs} == {"cancelled": SCOPES}  # no worker runs them late
    finally:
        views.close()


def test_a_worker_whose_config_differs_fails_the_scope_saying_so(
    queue_cli: VigilCli, moto: str, estate: Estate, workers: Workers
) -> None:
    configure(queue_cli, moto, QUEUE)
    other = queue_cli.cwd / "other.yaml"
    other.write_text(
        (queue_cli.cwd / "vigil.yaml").read_text().replace("max_attempts: 2", "max_attempts: 3")
    )
    workers.cli = VigilCli(queue_cli.cwd, {**queue_cli.env, "VIGIL_CONFIG": str(other)})
    workers.start()
    result = queue_cli("collect")
    assert result.returncode == 1
    assert "config of source 'aws-test' differs from the pass's" in result.stdout.replace("\n", " ")


@pytest.mark.parametrize("command", [("collect",), ("worker",)])
def test_queue_on_sqlite_is_a_config_error(
    vigil_cli: VigilCli, moto: str, command: tuple[str, ...]
) -> None:
    configure(vigil_cli, moto, QUEUE)
    result = vigil_cli(*command)
    assert result.returncode == 2, result.stderr
    assert "vigil.yaml" in result.stderr
    assert "PostgreSQL" in result.stderr
    assert not vigil_cli.database_path.exists()  # nothing written


def test_a_worker_that_loses_the_database_exits_non_zero_saying_so(
    vigil_cli: VigilCli, moto: str
) -> None:
    cluster = PostgresCluster()  # its own: this test stops it
    try:
        vigil_cli.env["VIGIL_DATABASE_URL"] = cluster.create_database()
        configure(vigil_cli, moto, QUEUE)
        workers = Workers(vigil_cli)
        worker = workers.start()
        cluster.stop()
        stopped = time.monotonic()
        _, stderr = worker.communicate(timeout=60)
        took = time.monotonic() - stopped
        assert worker.returncode not in (0, None)
        assert "database" in stderr and "unreachable" in stderr, stderr
        assert "Traceback" not in stderr, stderr
        again = vigil_cli("worker", timeout=60)
        assert again.returncode == 1
        assert "cannot reach the database" in again.stderr, again.stderr
        report(f"queue: worker exited {worker.returncode} {took:.1f}s after its database went")
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()  # stopped already unless the test failed before


def test_an_organization_of_50_accounts_on_two_workers(
    queue_cli: VigilCli, queue_url: str, moto: str, workers: Workers
) -> None:
    organizations = seed_client(moto, "organizations")
    organizations.create_organization(FeatureSet="ALL")
    members = [
        organizations.create_account(Email=f"m{n}@example.com", AccountName=f"m{n}")[
            "CreateAccountStatus"
        ]["AccountId"]
        for n in range(50)
    ]
    seeded = {
        member: instance_in(moto, f"arn:aws:iam::{member}:role/VigilReadOnly")
        for member in members[:3]
    }
    (queue_cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - name: org\n    provider: aws\n    regions: [us-east-1]\n"
        f"    types: [server]\n    endpoint_url: {moto}\n    organization: {{}}\n" + QUEUE
    )
    first, second = workers.start(concurrency=8), workers.start(concurrency=8)
    started = time.monotonic()
    result = queue_cli("collect", timeout=300)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "51 scopes, 0 failed" in result.stdout
    views = Views(queue_url)
    try:
        accounts = views.rows("SELECT DISTINCT account FROM scope_runs WHERE status = 'complete'")
        servers = views.rows(
            "SELECT account, native_id FROM vigil_resources WHERE type = 'server' "
            "AND state = 'present'"
        )
    finally:
        views.close()
    assert {r["account"] for r in accounts} == {*members, "123456789012"}
    assert {(r["account"], r["native_id"]) for r in servers} >= set(seeded.items())
    ran = [workers.scopes_run(first), workers.scopes_run(second)]
    assert sum(ran) == 51 and all(ran), ran
    report(f"queue: an Organization of 51 accounts on 2 workers in {took:.1f}s, split {ran}")


def test_the_daemon_enqueues_and_checks_once_the_workers_are_done(
    queue_cli: VigilCli, queue_url: str, moto: str, estate: Estate, workers: Workers
) -> None:
    port = free_port()
    configure(
        queue_cli,
        moto,
        QUEUE + f"metrics:\n  listen: 127.0.0.1:{port}\nschedule:\n  collect_every: 1h\n",
    )
    workers.start()
    daemon = queue_cli.start("run")
    views = Views(queue_url)
    try:
        wait_until(lambda: daemon.poll() is not None or _checked(views), 60, "a cycle checks")
        assert daemon.poll() is None, daemon.communicate()
        assert views.inventory() == estate.truth()
        assert views.open_findings()  # the estate's open security groups, judged
    finally:
        views.close()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=20)
    assert daemon.returncode == 0, daemon.communicate()[1]


def _checked(views: Views) -> bool:
    return bool(views.rows("SELECT 1 FROM vigil_findings LIMIT 1"))


def test_queue_workers_spend_one_budget_between_them(
    queue_cli: VigilCli, estate: Estate, workers: Workers, aws_proxy: Callable[..., AwsProxy]
) -> None:
    """Two workers, a burst of one: each spending its own budget, both would send their first
    request at once; through the shared buckets, what the proxy receives per (region, service)
    stays within burst + rate × t."""
    rate, burst = 3.0, 1.0
    proxy = aws_proxy()
    configure(queue_cli, proxy.url, QUEUE)
    config = (queue_cli.cwd / "vigil.yaml").read_text()
    config = config.replace(
        "    max_attempts: 2\n",
        f"    max_attempts: 2\n    api_rates: {{ec2: {{rate: {rate:g}, burst: {burst:g}}}}}\n"
        "    types: [server, disk, security_group]\n",
    )
    (queue_cli.cwd / "vigil.yaml").write_text(
        config.replace(f"    types: [{', '.join(TYPES)}]\n", "")
    )
    workers.start(), workers.start()
    proxy.reset()
    result = queue_cli("collect")
    assert result.returncode == 0, result.stdout + result.stderr
    for region in REGIONS:
        arrived = [r.at for r in proxy.requests if r.service == "ec2" and r.region == region]
        assert len(arrived) >= 3  # one per scope at least, from two workers
        assert most_in_any_window(arrived, rate, burst, jitter=0.15), region


def test_ctrl_c_of_collect_cancels_what_no_worker_started(
    queue_cli: VigilCli, queue_url: str, moto: str, estate: Estate
) -> None:
    configure(queue_cli, moto, QUEUE)
    Database(queue_url).dispose()  # migrated, so the test can watch the queue fill
    collect = queue_cli.start("collect")
    views = Views(queue_url)
    try:
        wait_until(
            lambda: bool(views.rows("SELECT 1 FROM procrastinate_jobs LIMIT 1")), 60, "enqueued"
        )
        collect.send_signal(signal.SIGINT)
        collect.wait(timeout=30)
        assert collect.returncode == 130, collect.communicate()
        jobs = views.rows(
            "SELECT status::text AS s, count(*) AS n FROM procrastinate_jobs GROUP BY 1"
        )
        assert {r["s"]: r["n"] for r in jobs} == {"cancelled": SCOPES}  # none runs later
        assert views.inventory() == set()
    finally:
        views.close()


def test_a_worker_ends_only_the_jobs_it_still_holds(queue_url: str) -> None:
    """Taken for dead and its job given to another worker, a late worker's word is refused."""
    import asyncio
    import concurrent.futures

    from vigil.app.queue import QUEUE, SCOPE_TASK, build_app, holds_job

    Database(queue_url).dispose()
    app = build_app(queue_url, 3.0)

    async def scenario() -> tuple[bool, bool]:
        async with app.open_async():
            late, other = (
                await app.job_manager.register_worker(),
                await app.job_manager.register_worker(),
            )
            await app.configure_task(SCOPE_TASK, queue=QUEUE, lock="s").defer_async(
                pass_id="p", source="s", digest="d", scope={}, deadline=0.0
            )
            job = await app.job_manager.fetch_job([QUEUE], late)
            assert job is not None and job.id is not None
            held = await holds_job(app, job.id, late)
            await app.job_manager.retry_job(job)  # the stalled-jobs task, taking it back
            again = await app.job_manager.fetch_job([QUEUE], other)
            assert again is not None and again.id == job.id
            return held, await holds_job(app, job.id, late)

    # A thread of its own: another test of the session may have left an event loop running.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        held, still = pool.submit(asyncio.run, scenario()).result()
    assert held and not still

"""`vigil collect` under `executor: {kind: processes}` prints what it prints under threads and
exits with the same codes; a bad `executor:` block exits 2 naming the file and line."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable

import pytest

from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.cli import VigilCli
from tests.fixtures.database import PostgresCluster
from vigil.app.demo_estate import seed_estate

REGIONS = ("us-east-1", "eu-west-1")
COLUMNS = (11, 12)  # source ... deleted, time, [throttled: when a scope was], error


def configure(cli: VigilCli, endpoint_url: str, kind: str, types: str) -> None:
    lines = [
        "sources:",
        "  - name: aws-test",
        "    provider: aws",
        f"    regions: [{', '.join(REGIONS)}]",
        f"    endpoint_url: {endpoint_url}",
        f"    types: [{types}]",
        "executor:",
        f"  kind: {kind}",
    ]
    (cli.cwd / "vigil.yaml").write_text("\n".join(lines) + "\n")


def table(stdout: str) -> list[list[str]]:
    """The summary's rows without the time column, and its closing line without the time."""
    rows = []
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) in COLUMNS:
            rows.append(cells[:9] + cells[10:])
    closing = next(line for line in stdout.splitlines() if " scopes, " in line)
    return [*rows, [re.sub(r" in [\d.]+s$", "", closing.strip())]]


def run_both(
    cli: VigilCli, endpoint_url: str, types: str, kinds: tuple[str, ...] = ("threads", "processes")
) -> dict[str, tuple[int, list[list[str]], str]]:
    runs = {}
    for kind in kinds:
        configure(cli, endpoint_url, kind, types)
        env = {"VIGIL_DATABASE_URL": database_of(cli, kind)}
        worker = cli.start("worker", env=env) if kind == "queue" else None
        try:
            result = cli("collect", env=env)
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(timeout=15) == 0, worker.communicate()[1]
        runs[kind] = (result.returncode, table(result.stdout), result.stderr)
    return runs


def database_of(cli: VigilCli, kind: str) -> str:
    """Each kind's own database: SQLite, but PostgreSQL for `queue` (cli.env's)."""
    return cli.env["QUEUE_DATABASE_URL"] if kind == "queue" else f"sqlite:///{cli.cwd / kind}.db"


def inventory(cli: VigilCli, kind: str) -> list[str]:
    """Every resource as JSON, without the times of this run."""
    env = {"VIGIL_DATABASE_URL": database_of(cli, kind)}
    result = cli("inventory", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    times = ("first_seen", "last_seen")
    # sort_keys: PostgreSQL (jsonb) and SQLite keep attributes in different orders
    return sorted(
        json.dumps({k: v for k, v in i.items() if k not in times}, sort_keys=True) for i in items
    )


@pytest.mark.slow
def test_processes_print_the_table_and_inventory_of_threads(vigil_cli: VigilCli, moto: str) -> None:
    estate = seed_estate(moto, regions=REGIONS, servers_per_region=2)
    runs = run_both(vigil_cli, moto, "server, disk, dns_record")

    assert runs["processes"][0] == runs["threads"][0] == 0, runs["processes"][2]
    assert runs["processes"][1] == runs["threads"][1]
    assert "5 scopes, 0 failed" in runs["processes"][1][-1][0]
    processes, threads = inventory(vigil_cli, "processes"), inventory(vigil_cli, "threads")
    assert processes == threads
    counted = ("server", "disk", "dns_record")
    assert len(processes) == sum(estate.counts[t] for t in counted)


@pytest.mark.slow
def test_processes_exit_1_on_a_failed_region_as_threads_do(
    vigil_cli: VigilCli, moto: str, aws_proxy: Callable[..., AwsProxy]
) -> None:
    seed_estate(moto, regions=REGIONS, servers_per_region=1)
    proxy = aws_proxy(deny_regions={"eu-west-1"})
    runs = run_both(vigil_cli, proxy.url, "disk")

    assert runs["processes"][0] == runs["threads"][0] == 1
    assert runs["processes"][1] == runs["threads"][1]
    assert "nothing of them was changed" in runs["processes"][2]
    failed = [row for row in runs["processes"][1] if len(row) > 1 and row[4] == "failed"]
    assert [row[2] for row in failed] == ["eu-west-1"]


@pytest.mark.slow
def test_queue_prints_the_table_and_inventory_of_threads(
    vigil_cli: VigilCli, moto: str, postgres: PostgresCluster
) -> None:
    vigil_cli.env["QUEUE_DATABASE_URL"] = postgres.create_database()
    seed_estate(moto, regions=REGIONS, servers_per_region=2)
    runs = run_both(vigil_cli, moto, "server, disk, dns_record", ("threads", "queue"))

    assert runs["queue"][0] == runs["threads"][0] == 0, runs["queue"][2]
    assert runs["queue"][1] == runs["threads"][1]
    queued = inventory(vigil_cli, "queue")
    configure(vigil_cli, moto, "threads", "server")  # queue on SQLite would be a config error
    assert queued == inventory(vigil_cli, "threads")


@pytest.mark.slow
def test_queue_exits_1_on_a_failed_region_as_threads_do(
    vigil_cli: VigilCli, moto: str, aws_proxy: Callable[..., AwsProxy], postgres: PostgresCluster
) -> None:
    vigil_cli.env["QUEUE_DATABASE_URL"] = postgres.create_database()
    seed_estate(moto, regions=REGIONS, servers_per_region=1)
    proxy = aws_proxy(deny_regions={"eu-west-1"})
    runs = run_both(vigil_cli, proxy.url, "disk", ("threads", "queue"))

    assert runs["queue"][0] == runs["threads"][0] == 1
    assert runs["queue"][1] == runs["threads"][1]
    assert "nothing of them was changed" in runs["queue"][2]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["threads", "processes", "queue"])
def test_each_scope_row_counts_the_throttling_answers_it_received(
    vigil_cli: VigilCli,
    moto: str,
    aws_proxy: Callable[..., AwsProxy],
    postgres: PostgresCluster,
    kind: str,
) -> None:
    """Whichever process ran the scope, its row names how often AWS said "slow down" to it
    (retried to success), and no other row claims those answers."""
    if kind == "queue":
        vigil_cli.env["QUEUE_DATABASE_URL"] = postgres.create_database()
    seed_estate(moto, regions=REGIONS, servers_per_region=1)
    proxy = aws_proxy(throttle_first_n=2, throttle_operations={"DescribeInstances"})
    code, rows, stderr = run_both(vigil_cli, proxy.url, "server", (kind,))[kind]
    rows = [row for row in rows if len(row) > 1]

    assert code == 0, stderr
    throttled = proxy.outcomes("throttled")
    expected = {region: sum(r.region == region for r in throttled) for region in REGIONS}
    assert all(len(row) == 11 for row in rows)  # the column shows: a scope was throttled
    shown = {row[2]: int(row[9] or 0) for row in rows}
    assert shown == expected and sum(shown.values()) == len(throttled) > 0


@pytest.mark.slow
def test_the_first_pass_into_a_fresh_postgresql_database_plans_every_region(
    vigil_cli: VigilCli, moto: str, postgres: PostgresCluster
) -> None:
    """`regions` left out (every enabled region): the plan's DescribeRegions spends the
    budgets PostgreSQL shares, in a database the same command creates and migrates."""
    seed_estate(moto, regions=REGIONS, servers_per_region=1)
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - name: aws-test\n    provider: aws\n"
        f"    endpoint_url: {moto}\n    types: [server]\n"
    )
    result = vigil_cli("collect", env={"VIGIL_DATABASE_URL": postgres.create_database()})

    assert result.returncode == 0, result.stderr
    rows = [r for r in table(result.stdout) if len(r) > 1]
    assert {"us-east-1", "eu-west-1"} <= {row[2] for row in rows}
    assert all(row[4] == "complete" for row in rows), rows


@pytest.mark.parametrize(
    ("block", "line", "message"),
    [
        ("  kind: swarm\n", 3, "kind: Input should be 'threads', 'processes' or 'queue'"),
        ("  kind: queue\n", 1, "executor kind queue keeps its jobs in the database"),
        ("  kind: queue\n  stalled_after: 0s\n", 2, "stalled_after must be at least 1s"),
        ("  kind: processes\n  processes: 0\n", 4, "greater than or equal to 1"),
        ("  kind: threads\n  processes: 4\n", 2, "set kind: processes or remove processes:"),
        ("  kind: processes\n  pass_deadline: soon\n", 4, "pass_deadline"),
        ("  kinds: processes\n", 3, "unknown key"),
    ],
)
def test_a_bad_executor_block_exits_2_naming_the_file_and_line(
    vigil_cli: VigilCli, block: str, line: int, message: str
) -> None:
    (vigil_cli.cwd / "vigil.yaml").write_text("sources: []\nexecutor:\n" + block)
    result = vigil_cli("collect")
    assert result.returncode == 2
    error = " ".join(result.stderr.split())
    assert "vigil.yaml" in error and message in error
    assert f"line {line}" in error or f"vigil.yaml:{line}" in error
    assert not vigil_cli.database_path.exists()

"""`vigil collect` under `executor: {kind: processes}` prints what it prints under threads and
exits with the same codes; a bad `executor:` block exits 2 naming the file and line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.cli import VigilCli
from vigil.app.demo_estate import seed_estate

REGIONS = ("us-east-1", "eu-west-1")


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
        if len(cells) == 11:
            rows.append(cells[:9] + cells[10:])
    closing = next(line for line in stdout.splitlines() if " scopes, " in line)
    return [*rows, [re.sub(r" in [\d.]+s$", "", closing.strip())]]


def run_both(
    cli: VigilCli, endpoint_url: str, types: str
) -> dict[str, tuple[int, list[list[str]], str]]:
    runs = {}
    for kind in ("threads", "processes"):
        configure(cli, endpoint_url, kind, types)
        result = cli("collect", env={"VIGIL_DATABASE_URL": f"sqlite:///{cli.cwd / kind}.db"})
        runs[kind] = (result.returncode, table(result.stdout), result.stderr)
    return runs


def inventory(cli: VigilCli, kind: str) -> list[str]:
    """Every resource as JSON, without the times of this run."""
    env = {"VIGIL_DATABASE_URL": f"sqlite:///{cli.cwd / kind}.db"}
    result = cli("inventory", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    times = ("first_seen", "last_seen")
    return sorted(json.dumps({k: v for k, v in i.items() if k not in times}) for i in items)


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


@pytest.mark.parametrize(
    ("block", "line", "message"),
    [
        ("  kind: queue\n", 3, "kind: Input should be 'threads' or 'processes'"),
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

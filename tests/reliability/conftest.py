"""The fault suite's shared parts: a small AWS estate that churns, the truth moto holds, a
seeded random source, a report of every fault injected that pytest prints at the end, and the
`vigil worker` processes of `executor: {kind: queue}` on a PostgreSQL database of the test's own.

Seed with VIGIL_FAULT_SEED to replay a failing run; the report names the seed it used.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from storage import maintenance
from storage.db import Database
from tests.factories.aws import run_instances, seed_client
from tests.fixtures.cli import VigilCli
from tests.fixtures.database import PostgresCluster
from tests.fixtures.services import free_port

REGIONS = ("us-east-1", "eu-west-1")
TYPES = ("server", "disk", "snapshot", "security_group")
SEED = int(os.environ.get("VIGIL_FAULT_SEED", "1919"))
REPORT: list[str] = []
SCOPES = len(REGIONS) * len(TYPES)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Iteration counts and outcomes, quotable from any CI log."""
    if REPORT:
        terminalreporter.section(f"fault suite (VIGIL_FAULT_SEED={SEED})")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """A random source seeded per test, so one test's draws never shift another's."""
    return random.Random(f"{SEED}/{request.node.nodeid}")


def report(line: str) -> None:
    REPORT.append(line)
    print(line)


class Estate:
    """A few servers, disks, snapshots and security groups in two regions of moto, which the
    test changes between passes (a disk and a snapshot come and go) as a real estate does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.serial = 0
        self.removed: set[tuple[str, str]] = set()
        """(type, native id) of what the test deleted: the only resources Vigil may delete."""
        for region in REGIONS:
            ec2 = seed_client(url, "ec2", region)
            run_instances(url, 2, region, team="web")
            world = ec2.create_security_group(GroupName="ssh-world", Description="open")
            ec2.authorize_security_group_ingress(
                GroupId=world["GroupId"],
                IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
            )  # fmt: skip
            for _ in range(3):
                self.churn(region, delete=False)

    def churn(self, region: str, *, delete: bool = True) -> None:
        """Create a disk with a snapshot; with `delete`, remove the oldest churned disk and
        snapshot first, so every pass has real deletions next to the resources that stay."""
        ec2 = seed_client(self.url, "ec2", region)
        if delete:
            oldest = min(self._churned(ec2), key=lambda v: v["serial"])
            ec2.delete_snapshot(SnapshotId=oldest["snapshot"])
            ec2.delete_volume(VolumeId=oldest["id"])
            self.removed |= {("snapshot", oldest["snapshot"]), ("disk", oldest["id"])}
        self.serial += 1
        tags = [{"Key": "churn", "Value": str(self.serial)}]
        volume = ec2.create_volume(
            AvailabilityZone=f"{region}a", Size=1,
            TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
        )  # fmt: skip
        ec2.create_snapshot(
            VolumeId=volume["VolumeId"],
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}],
        )

    def _churned(self, ec2: Any) -> list[dict[str, Any]]:
        snapshots = {
            _tag(s, "churn"): s["SnapshotId"]
            for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
        }
        return [
            {
                "id": v["VolumeId"],
                "serial": int(_tag(v, "churn")),
                "snapshot": snapshots[_tag(v, "churn")],
            }
            for v in ec2.describe_volumes()["Volumes"]
            if _tag(v, "churn")
        ]

    def truth(self) -> set[tuple[str, str]]:
        """(type, native id) of everything moto holds now: what the inventory must equal."""
        found: set[tuple[str, str]] = set()
        for region in REGIONS:
            ec2 = seed_client(self.url, "ec2", region)
            for reservation in ec2.describe_instances()["Reservations"]:
                found |= {("server", i["InstanceId"]) for i in reservation["Instances"]}
            found |= {("disk", v["VolumeId"]) for v in ec2.describe_volumes()["Volumes"]}
            snapshots = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
            found |= {("snapshot", s["SnapshotId"]) for s in snapshots}
            groups = ec2.describe_security_groups()["SecurityGroups"]
            found |= {("security_group", g["GroupId"]) for g in groups}
        return found


def _tag(item: dict[str, Any], key: str) -> str:
    return next((t["Value"] for t in item.get("Tags", []) if t["Key"] == key), "")


@pytest.fixture
def estate(moto: str) -> Estate:
    return Estate(moto)


def configure(cli: VigilCli, endpoint_url: str, extra: str = "") -> None:
    (cli.cwd / "vigil.yaml").write_text(
        "sources:\n"
        "  - name: aws-test\n"
        "    provider: aws\n"
        f"    regions: [{', '.join(REGIONS)}]\n"
        f"    types: [{', '.join(TYPES)}]\n"
        f"    endpoint_url: {endpoint_url}\n"
        "    max_attempts: 2\n" + extra
    )


class Views:
    """What users and BI tools see, read from the contract's SQL views without starting a
    process per look (the suite looks after every fault; the CLI's own output is tested in
    tests/cli)."""

    def __init__(self, url: str) -> None:
        self.db = Database(url, migrate=False)

    def rows(self, query: str) -> list[sa.RowMapping]:
        with self.db.engine.connect() as conn:
            return list(conn.execute(sa.text(query)).mappings())

    def inventory(self) -> set[tuple[str, str]]:
        rows = self.rows("SELECT type, native_id FROM vigil_resources WHERE state = 'present'")
        return {(r["type"], r["native_id"]) for r in rows}

    def deleted(self) -> set[tuple[str, str]]:
        """(type, native id) of every resource a `deleted` change event names."""
        rows = self.rows(
            "SELECT r.type, r.native_id FROM vigil_changes c "
            "JOIN vigil_resources r ON r.uid = c.uid WHERE c.kind = 'deleted'"
        )
        return {(r["type"], r["native_id"]) for r in rows}

    def open_findings(self) -> dict[str, tuple[str, str]]:
        """Open findings: fingerprint → (type, native id) of the resource."""
        rows = self.rows(
            "SELECT fingerprint, type, native_id FROM vigil_findings WHERE status = 'open'"
        )
        return {r["fingerprint"]: (r["type"], r["native_id"]) for r in rows}

    def runs(self, status: str | None = None) -> int:
        """Scope runs (of one status): how far a killed pass got before the kill."""
        where = f" WHERE status = '{status}'" if status else ""
        return int(self.rows(f"SELECT COUNT(*) AS n FROM vigil_scope_runs{where}")[0]["n"])

    def healthy(self) -> list[str]:
        """What `vigil db check` would complain about ([] when sound)."""
        return maintenance.check(self.db).problems

    def close(self) -> None:
        self.db.dispose()


@dataclass
class Killed:
    """How a killed command ended: how long it ran and what it had printed."""

    after: float
    returncode: int
    stdout: str
    stderr: str
    finished: bool = field(default=False)


def kill_when(
    cli: VigilCli,
    ready: Callable[[], bool],
    jitter: float,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Killed:
    """Start `vigil ARGS`, SIGKILL it `jitter` seconds after `ready()` turns true (polled every
    2 ms): a kill at a chosen point of progress, not only wherever a fixed delay lands."""
    started = time.monotonic()
    process = cli.start(*args, env=env)
    while process.poll() is None and not ready():
        assert time.monotonic() - started < timeout, f"vigil {' '.join(args)} never got there"
        time.sleep(0.002)
    time.sleep(jitter)
    finished = process.poll() is not None
    if not finished:
        process.send_signal(signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=30)
    return Killed(time.monotonic() - started, process.returncode, stdout, stderr, finished)


def timed(cli: VigilCli, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    result = cli(*args)
    return time.monotonic() - started, result


@pytest.fixture
def cli_on(vigil_cli: VigilCli, db_url: str) -> VigilCli:
    """`vigil` on the test's database, SQLite or PostgreSQL (db_url's parameter)."""
    vigil_cli.env["VIGIL_DATABASE_URL"] = db_url
    return vigil_cli


def backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def assert_no_false_deletion(views: Views, estate: Estate) -> int:
    """Every `deleted` event so far names something the test deleted; their number."""
    deleted = views.deleted()
    assert deleted <= estate.removed, (
        f"deleted events for live resources: {deleted - estate.removed}"
    )
    return len(deleted)


def assert_nothing_live_resolved(cli: VigilCli, views: Views, live: set[tuple[str, str]]) -> None:
    """A check over what a killed pass left closes findings only of resources that are gone."""
    before = views.open_findings()
    checked = cli("check", "--no-notify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    after = views.open_findings()
    falsely = {fp: res for fp, res in before.items() if fp not in after and res in live}
    assert not falsely, f"findings of live resources resolved after a killed pass: {falsely}"


def progress_point(views: Views, target: int) -> Callable[[], bool]:
    """Whether a pass got to `target`: its first scope run recorded (0), or `target` of its
    scopes committed."""
    started, completed = views.runs(), views.runs("complete")
    if target == 0:
        return lambda: views.runs() > started
    return lambda: views.runs("complete") >= completed + target


class Workers:
    """`vigil worker` processes of a test, each serving its /metrics; stopped at the end."""

    def __init__(self, cli: VigilCli) -> None:
        self.cli = cli
        self.started: list[tuple[subprocess.Popen[str], int]] = []

    def start(self, concurrency: int = 4) -> subprocess.Popen[str]:
        port = free_port()
        process = self.cli.start(
            "worker", "--concurrency", str(concurrency), "--metrics", f"127.0.0.1:{port}"
        )
        self.started.append((process, port))
        deadline = time.monotonic() + 30
        while not self._ready(port):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the worker never served /readyz"
            time.sleep(0.1)
        return process

    def scopes_run(self, process: subprocess.Popen[str]) -> int:
        port = dict(self.started)[process]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        return sum(
            int(float(n))
            for n in re.findall(r"^vigil_worker_scopes_total\{.*\} (\S+)$", text, re.M)
        )

    @staticmethod
    def _ready(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop_all(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def queue_url(postgres: PostgresCluster) -> str:
    return postgres.create_database()


@pytest.fixture
def queue_cli(vigil_cli: VigilCli, queue_url: str) -> VigilCli:
    vigil_cli.env["VIGIL_DATABASE_URL"] = queue_url
    return vigil_cli


@pytest.fixture
def workers(queue_cli: VigilCli) -> Iterator[Workers]:
    started = Workers(queue_cli)
    yield started
    started.stop_all()

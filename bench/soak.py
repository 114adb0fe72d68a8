"""Soak: many collect + check + prune cycles against moto behind a hostile proxy.

    .venv/bin/python bench/soak.py [--cycles 50] [--servers 4] [--seed 1]

The proxy in front of moto throttles 20% of requests, fails 3% with a 500, adds 0-40 ms of
latency and, in a third of the cycles, denies one region outright. Between cycles the estate
churns: instances launched and terminated, a security group opened to the world on SSH and
closed again. Each cycle runs the real `vigil collect`, `vigil check` (notifying a loopback
webhook) and `vigil prune` (retention windows of minutes) as subprocesses, then checks the
invariants against moto's own truth:

- false deletions: a `deleted` event for a resource that still exists in moto;
- false resolutions: a finding resolved in a cycle in which its scope did not complete;
- notifications: after a final fault-free cycle, every outbox message delivered (lost = 0),
  and every delivery of one message carries its one key (duplicates with another key = 0).

Prints one line per cycle (time, database size, RSS) and a summary with p50/p99.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import sqlalchemy as sa

from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.services import free_port, wait_for_port
from vigil.app.demo_estate import seed_estate

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "soak", "AWS_SECRET_ACCESS_KEY": "soak"}


class HostileProxy(AwsProxy):
    """Throttles, fails and slows requests at random; denies `self.denied` while it is set."""

    def __init__(self, upstream: str, rng: random.Random) -> None:
        super().__init__(upstream)
        self.rng, self.denied, self.calm = rng, "", False
        self.outcomes: Counter[str] = Counter()

    def decide(self, service: str, region: str, operation: str) -> str:
        with self._lock:
            roll, delay = self.rng.random(), self.rng.uniform(0, 0.04)
        time.sleep(0 if self.calm else delay)
        if self.calm:
            outcome = "forwarded"
        elif region == self.denied:
            outcome = "denied"
        elif roll < 0.20:
            outcome = "throttled"
        elif roll < 0.23:
            outcome = "error"
        else:
            outcome = "forwarded"
        with self._lock:
            self.outcomes[outcome] += 1
        return outcome


class Receiver:
    """A loopback webhook: the body of every delivery, in order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def config(proxy: str, hook: str) -> str:
    return f"""
sources:
  - name: soak
    provider: aws
    regions: [{", ".join(REGIONS)}]
    endpoint_url: {proxy}
    types: [server, disk, snapshot, security_group, database]
    max_attempts: 3
notifiers:
  - {{name: hook, type: webhook, url: "{hook}"}}
routes:
  - {{notifiers: [hook], repeat_interval: 1h}}
retention:
  changes: 3m
  scope_runs: 3m
  outbox_sent: 3m
  resolved_findings: 3m
  deleted_resources: 3m
"""


def churn(url: str, rng: random.Random, cycle: int) -> None:
    """Launch or terminate an instance somewhere; open or close SSH on a group."""
    region = rng.choice(REGIONS)
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=url)
    running = [
        i["InstanceId"]
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] == "running"
    ]
    if running and rng.random() < 0.5:
        ec2.terminate_instances(InstanceIds=[rng.choice(running)])
    else:
        ec2.run_instances(ImageId="ami-0abcdef1234567890", MinCount=1, MaxCount=1)
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    try:
        if cycle % 2:
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[ssh])
        else:
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[ssh])
    except Exception:  # already open / already closed: the churn is random on purpose
        pass


def truth(url: str) -> set[str]:
    """Native ids of the instances and groups that exist in moto now."""
    ids: set[str] = set()
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=url)
        for reservation in ec2.describe_instances()["Reservations"]:
            ids.update(
                i["InstanceId"]
                for i in reservation["Instances"]
                if i["State"]["Name"] != "terminated"
            )
        ids.update(g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"])
    return ids


def vigil(workdir: Path, *args: str) -> int:
    env = {**os.environ, "VIGIL_DATABASE_URL": f"sqlite:///{workdir}/soak.db"}
    return subprocess.run(
        [sys.executable, "-m", "vigil", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        check=False,
    ).returncode


def audit(db: sa.Engine, since: str, exists: set[str]) -> tuple[int, int]:
    """(false deletions, false resolutions) recorded at or after `since`."""
    with db.connect() as conn:
        deleted = conn.execute(
            sa.text(
                "SELECT r.native_id FROM vigil_changes c JOIN vigil_resources r ON r.uid = c.uid "
                "WHERE c.kind = 'deleted' AND c.at >= :since "
                "AND r.type IN ('server', 'security_group')"
            ),
            {"since": since},
        ).scalars()
        false_deletions = sum(1 for native_id in deleted if native_id in exists)
        resolved = conn.execute(
            sa.text(
                "SELECT f.source, r.account, f.region, f.type, f.rule, f.native_id, "
                "f.resolution FROM vigil_findings f "
                "JOIN vigil_resources r ON r.uid = f.resource_uid "
                "WHERE f.status = 'resolved' AND f.resolved_at >= :since"
            ),
            {"since": since},
        ).all()
        complete = {
            tuple(row)
            for row in conn.execute(
                sa.text(
                    "SELECT source, account, region, type FROM vigil_scope_runs "
                    "WHERE status = 'complete' AND finished_at >= :since"
                ),
                {"since": since},
            )
        }
    false = [row for row in resolved if tuple(row)[:4] not in complete]
    for row in false:
        print(f"  resolved without its scope completing: {tuple(row)}", flush=True)
        with db.connect() as conn:
            detail = conn.execute(
                sa.text(
                    "SELECT f.rule, f.status, f.resolution, f.resolved_at, f.title, f.evidence "
                    "FROM findings f WHERE f.rule = :rule AND f.resolved_at >= :since"
                ),
                {"rule": row[4], "since": since},
            ).all()
            runs = conn.execute(
                sa.text(
                    "SELECT scope_key, status, started_at, finished_at, error FROM scope_runs "
                    "WHERE finished_at >= :since ORDER BY finished_at"
                ),
                {"since": since},
            ).all()
        print(f"    finding: {detail}\n    runs this cycle: {runs}", flush=True)
    return false_deletions, len(false)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--servers", type=int, default=4, help="servers per region at start")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.environ.update(CREDENTIALS)
    port = free_port()
    env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    moto = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    receiver = Receiver()
    try:
        wait_for_port(port, timeout=60)
        seed_estate(url, regions=REGIONS, servers_per_region=args.servers)
        proxy = HostileProxy(url, random.Random(args.seed + 1)).start()
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            (workdir / "vigil.yaml").write_text(config(proxy.url, receiver.url))
            run_cycles(args.cycles, workdir, url, proxy, receiver, rng)
        proxy.stop()
    finally:
        moto.terminate()
        moto.wait()


def run_cycles(
    cycles: int,
    workdir: Path,
    url: str,
    proxy: HostileProxy,
    receiver: Receiver,
    rng: random.Random,
) -> None:
    db = sa.create_engine(f"sqlite:///{workdir}/soak.db")
    times, failures = [], [0, 0]
    print(f"# machine: {os.cpu_count()} cores; moto estate, {len(REGIONS)} regions")
    for cycle in range(1, cycles + 2):
        final = cycle == cycles + 1  # fault-free: drains the outbox, settles the inventory
        proxy.calm = final
        proxy.denied = rng.choice(REGIONS) if not final and rng.random() < 1 / 3 else ""
        if not final:
            churn(url, rng, cycle)
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        started = time.monotonic()
        codes = (vigil(workdir, "collect"), vigil(workdir, "check"), vigil(workdir, "prune"))
        times.append(time.monotonic() - started)
        deletions, resolutions = audit(db, since, truth(url))
        failures[0] += deletions
        failures[1] += resolutions
        size = sum(f.stat().st_size for f in workdir.glob("soak.db*")) / 1e6  # with the WAL
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"cycle {cycle:>3}{' (calm)' if final else ''}: {times[-1]:5.1f}s exit {codes} "
            f"denied {proxy.denied or '-':<14} db {size:5.2f} MB, peak child RSS {rss:.0f} MB, "
            f"false deletions {deletions}, false resolutions {resolutions}",
            flush=True,
        )
    with db.connect() as conn:
        keys = set(conn.execute(sa.text("SELECT key FROM notify_outbox")).scalars())
        undelivered = conn.execute(
            sa.text("SELECT count(*) FROM notify_outbox WHERE status <> 'sent'")
        ).scalar_one()
    received = Counter(body.get("key") for body in receiver.bodies)
    lost = len({k for k in keys if k not in received}) if keys else undelivered
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"summary: {cycles} faulty cycles + 1 calm; proxy outcomes {dict(proxy.outcomes)}; "
        f"false deletions {failures[0]}, false resolutions {failures[1]}; "
        f"notifications {len(receiver.bodies)} delivered, {len(received)} distinct keys, "
        f"lost {lost} (outbox rows not sent: {undelivered}), re-sent with the same key "
        f"{sum(n - 1 for n in received.values())}; "
        f"cycle time p50 {statistics.median(ordered):.1f}s p99 {p99:.1f}s"
    )


if __name__ == "__main__":
    main()

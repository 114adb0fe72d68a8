"""Benchmark: `executor.kind: queue` with 1, 2 and 4 `vigil worker` processes.

    .venv/bin/python bench/scaleout.py [--accounts 20] [--latency 0.1] [--workers 1,2,4]
                                       [--concurrency 4]

An AWS Organization of N member accounts in moto (its multi-account support: each member is
reached through AssumeRole), two regions, three resource types, behind a loopback proxy that
adds `--latency` seconds to every call. A real PostgreSQL cluster holds the database and the
job queue. For each worker count W: a fresh database, W workers with `--concurrency C`, one
timed `vigil collect`. The floor is what a plain boto3 thread pool of W × C threads takes to
make the same number of calls per scope through the same proxy (pure latency, no parsing, no
storage): the scale-out target is Vigil's speed-up ≥ 0.8 × the floor's. Duplicate scope runs
(a scope completed twice in one pass) must be 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import sqlalchemy as sa

from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.database import PostgresCluster
from tests.fixtures.services import free_port, wait_for_port

REGIONS = ("us-east-1", "eu-west-1")
TYPES = ("server", "disk", "security_group")
"""Not `snapshot`: moto lists 1,301 snapshots in every account, each described with
DescribeSnapshotAttribute, so those scopes measure EC2's 20/s budget, not the scale-out."""
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def organization(url: str, accounts: int) -> None:
    client = boto3.client("organizations", endpoint_url=url, region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    for n in range(accounts):
        client.create_account(Email=f"member{n}@example.com", AccountName=f"member{n}")


def write_config(workdir: Path, proxy: str) -> None:
    (workdir / "vigil.yaml").write_text(
        "sources:\n"
        "  - name: org\n"
        "    provider: aws\n"
        f"    regions: [{', '.join(REGIONS)}]\n"
        f"    types: [{', '.join(TYPES)}]\n"
        f"    endpoint_url: {proxy}\n"
        "    organization: {}\n"
        "executor:\n"
        "  kind: queue\n"
        "  stalled_after: 10s\n"
    )


def vigil(workdir: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vigil", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_pass(
    workdir: Path, cluster: PostgresCluster, workers: int, concurrency: int
) -> tuple[float, int, int, int]:
    """(wall seconds, scopes, failed, duplicate completions) of one pass on `workers`."""
    url = cluster.create_database()
    env = {
        **os.environ,
        **ENV,
        "VIGIL_DATABASE_URL": url,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    sa.create_engine(url).dispose()
    started: list[subprocess.Popen[str]] = []
    for _ in range(workers):
        port = free_port()
        started.append(
            vigil(
                workdir,
                env,
                "worker",
                "--concurrency",
                str(concurrency),
                "--metrics",
                f"127.0.0.1:{port}",
            )
        )
        wait_for_port(port, timeout=60)
    engine = sa.create_engine(url)
    try:
        began = time.monotonic()
        collect = vigil(workdir, env, "collect")
        stdout, stderr = collect.communicate(timeout=3600)
        wall = time.monotonic() - began
        with engine.connect() as conn:  # the workers' connections, this one excluded
            connections = conn.execute(
                sa.text(
                    "SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()"
                )
            ).scalar_one()
        usage = [_usage(process.pid) for process in started]
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            process.wait(timeout=30)
    cpu = sum(u[0] for u in usage)
    print(
        f"  workers' CPU {cpu:.1f}s in all, peak RSS {max(u[1] for u in usage):.0f} MB, "
        f"{connections / workers:.1f} database connections each"
    )
    with engine.connect() as conn:
        scopes, failed = conn.execute(
            sa.text(
                "SELECT count(DISTINCT scope_key), count(DISTINCT scope_key) FILTER "
                "(WHERE status = 'failed') FROM scope_runs WHERE pass_id IS NOT NULL"
            )
        ).one()
        duplicates = conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT pass_id, scope_key FROM scope_runs WHERE status = "
                "'complete' GROUP BY 1, 2 HAVING count(*) > 1) twice"
            )
        ).scalar_one()
    engine.dispose()
    if collect.returncode not in (0, 1):
        raise SystemExit(f"vigil collect failed ({collect.returncode}):\n{stderr}")
    return wall, scopes, failed, duplicates


def _usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = Path(f"/proc/{pid}/status").read_text()
    peak = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return cpu, int(peak.split()[1]) / 1024


def floor(proxy: str, scopes: int, calls_per_scope: float, threads: int) -> float:
    """A plain boto3 thread pool making the same calls per scope through the proxy."""
    calls = max(1, round(calls_per_scope))
    local = boto3.session.Session()

    def scope(_: int) -> None:
        client = local.client("sts", endpoint_url=proxy, region_name="us-east-1")
        for _ in range(calls):
            client.get_caller_identity()

    began = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(scope, range(scopes)))
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    os.environ.update(ENV)
    counts = [int(n) for n in args.workers.split(",")]

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_for_port(port)
    moto = f"http://127.0.0.1:{port}"
    organization(moto, args.accounts)
    proxy = AwsProxy(moto, latency=args.latency).start()
    cluster = PostgresCluster()
    print(
        f"estate: {args.accounts + 1} accounts x {len(REGIONS)} regions x {len(TYPES)} types, "
        f"{args.latency * 1000:.0f} ms per call; {os.cpu_count()} cores; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="vigil-scaleout-") as tmp:
            workdir = Path(tmp)
            write_config(workdir, proxy.url)
            for workers in counts:
                proxy.reset()
                wall, scopes, failed, duplicates = one_pass(
                    workdir, cluster, workers, args.concurrency
                )
                calls = proxy.count / max(1, scopes)
                results[workers] = (wall, scopes, calls)
                print(
                    f"workers {workers} x {args.concurrency}: {wall:.2f}s, {scopes} scopes "
                    f"({failed} failed), {proxy.count} calls ({calls:.1f}/scope), duplicate "
                    f"scope runs {duplicates}"
                )
            base_wall, scopes, calls = results[counts[0]]
            base_floor = floor(proxy.url, scopes, calls, counts[0] * args.concurrency)
            for workers in counts[1:]:
                wall = results[workers][0]
                floor_wall = floor(proxy.url, scopes, calls, workers * args.concurrency)
                ours, theirs = base_wall / wall, base_floor / floor_wall
                print(
                    f"speed-up {counts[0]}->{workers} workers: vigil {ours:.2f}x, floor (boto3 "
                    f"pool of {workers * args.concurrency} threads) {theirs:.2f}x "
                    f"({base_floor:.2f}s -> {floor_wall:.2f}s): {ours / theirs:.2f} of the "
                    "floor's (target >= 0.8)"
                )
    finally:
        cluster.stop()
        proxy.stop()
        server.stop()


if __name__ == "__main__":
    main()

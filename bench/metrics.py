"""Benchmark: `/metrics` scrape latency at 100k resources, 2k certificates, 10k findings.

Storage is filled through the real Reconciler and FindingStore; the exporter is the real
collector behind the real HTTP server on loopback, scraped over HTTP like Prometheus does.

    .venv/bin/python bench/metrics.py [--resources 100000] [--scrapes 200] [--database URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.db import Database
from storage.findings import FindingStore
from storage.reconcile import Reconciler
from vigil.app.metrics import MetricsServer, VigilCollector
from vigil.core.model import Finding, Resource, Scope, Severity

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
ACCOUNTS = ("111111111111", "222222222222")
PAGE = 1000
NOW = datetime.now(UTC)
RULES = (
    ("backup.missing", Severity.HIGH),
    ("backup.stale", Severity.MEDIUM),
    ("network.open_port", Severity.CRITICAL),
    ("cert.expiring", Severity.MEDIUM),
    ("drift.changed", Severity.MEDIUM),
    ("disk.full", Severity.HIGH),
)


def shares(total: int, certificates: int) -> dict[str, int]:
    rest = total - certificates
    counts = {"server": 0.2, "disk": 0.28, "snapshot": 0.35, "security_group": 0.07}
    counts_n = {k: int(rest * v) for k, v in counts.items()}
    counts_n["database"] = rest - sum(counts_n.values())
    return {**counts_n, "certificate": certificates}


def attributes(type_: str, i: int, scope: Scope) -> dict[str, Any]:
    if type_ == "certificate":
        expiry = NOW + timedelta(days=i % 400)
        return {"common_name": f"svc-{i}.example.com", "not_after": expiry.isoformat()}
    if type_ == "snapshot":
        disk = f"aws/{scope.account}/{scope.region}/disk/vol-{i % 20000:06d}"
        started = (NOW - timedelta(hours=i % 200)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"source_uid": disk, "state": "completed", "started_at": started}
    if type_ == "database":
        return {"backup_retention_days": 7, "latest_restorable_time": NOW.isoformat()}
    return {"size_gb": i % 500, "state": "running"}


def fill(db: Database, total: int, certificates: int) -> list[str]:
    """Ingest the estate scope by scope; returns some uids to hang findings on."""
    reconciler = Reconciler(db)
    uids: list[str] = []
    scopes = [(a, r) for a in ACCOUNTS for r in REGIONS]
    for type_, count in shares(total, certificates).items():
        for index, (account, region) in enumerate(scopes):
            scope = Scope("aws-bench", "aws", account, region, type_)
            run = reconciler.start(scope)
            items = range(index, count, len(scopes))
            page: list[Resource] = []
            for i in items:
                native = f"vol-{i:06d}" if type_ == "disk" else f"{type_}-{i:06d}"
                resource = Resource(
                    "aws-bench", "aws", account, region, type_, native, name=native,
                    attributes=attributes(type_, i, scope),
                )  # fmt: skip
                page.append(resource)
                if len(uids) < 20000:
                    uids.append(resource.uid)
                if len(page) == PAGE:
                    reconciler.add_page(run, page)
                    page = []
            if page:
                reconciler.add_page(run, page)
            reconciler.complete(run)
    return uids


def add_findings(db: Database, uids: list[str], count: int) -> None:
    found = []
    for i in range(count):
        rule, severity = RULES[i % len(RULES)]
        found.append(Finding(rule, severity, f"{rule} #{i}", "", uids[i % len(uids)]))
    FindingStore(db).apply(found, NOW)


def scrape(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    return time.perf_counter() - started, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--certificates", type=int, default=2_000)
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--database", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="vigil-bench-metrics-")
    db = Database(args.database or f"sqlite:///{directory}/vigil.db")

    started = time.perf_counter()
    uids = fill(db, args.resources, args.certificates)
    add_findings(db, uids, args.findings)
    filled = time.perf_counter() - started

    collector = VigilCollector(db, intervals={"aws-bench": 900})
    refreshes = []
    for _ in range(3):
        began = time.perf_counter()
        collector.refresh()
        refreshes.append(time.perf_counter() - began)
    server = MetricsServer(collector, ("127.0.0.1", 0), ready=lambda: (True, ""))
    server.start()
    url = f"http://127.0.0.1:{server.port}/metrics"
    scrape(url)  # warm-up
    latencies, body = [], b""
    for _ in range(args.scrapes):
        seconds, body = scrape(url)
        latencies.append(seconds * 1000)
    server.stop()
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]

    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"estate: {args.resources} resources ({args.certificates} certificates), "
        f"{args.findings} findings, backend {db.engine.dialect.name}; filled in {filled:.1f}s"
    )
    print(f"refresh (storage aggregates, off the scrape path): {min(refreshes) * 1000:.0f} ms")
    print(
        f"scrape over HTTP, {args.scrapes} scrapes: median {statistics.median(latencies):.1f} ms, "
        f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"
    )
    families = Counter(
        line.split("{")[0].split(" ")[0]
        for line in body.decode().splitlines()
        if line and not line.startswith("#")
    )
    largest = ", ".join(f"{name} {count}" for name, count in families.most_common(3))
    print(f"exposition: {series} series, {len(body) / 1024:.0f} KiB; largest: {largest}")
    db.dispose()


if __name__ == "__main__":
    main()

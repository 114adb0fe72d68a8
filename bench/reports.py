"""Benchmark: every report format over 100k resources and 20k findings.

    .venv/bin/python bench/reports.py [--resources 100000] [--findings 20000] [--formats html,pdf]

Seeds a fresh SQLite database through the real Reconciler (10 scopes, one failed scope) and
FindingStore (findings spread over the security-group, certificate and backup rules, 1%
silenced), gathers the report once, then renders each format in a forked child so each
figure is that format's own time and peak RSS growth. Prints estate size and machine.
Targets (DESIGN.md / issue 8): HTML, CSV, JSON < 10 s; PDF < 60 s; memory bounded.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rules.backup import BackupMissing  # noqa: E402
from rules.base import finding  # noqa: E402
from rules.certificates import CertificateExpired  # noqa: E402
from rules.compliance import FRAMEWORKS  # noqa: E402
from rules.network import OpenPort  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.findings import FindingStore  # noqa: E402
from storage.reconcile import Reconciler  # noqa: E402
from storage.silences import SilenceStore  # noqa: E402
from vigil.app.reports.contents import FORMATS, ReportParams, gather  # noqa: E402
from vigil.app.reports.formats import write_report  # noqa: E402
from vigil.core.model import Resource, Scope  # noqa: E402

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TYPES = ("server", "disk", "security_group", "certificate", "snapshot")
REGIONS = ("us-east-1", "eu-west-1")
RULES = {"security_group": OpenPort(), "certificate": CertificateExpired(), "disk": BackupMissing()}


def seed(db: Database, resources: int, findings: int) -> None:
    reconciler = Reconciler(db, clock=lambda: NOW - timedelta(hours=1))
    per_scope = resources // (len(TYPES) * len(REGIONS))
    judged: list[Resource] = []
    for region in REGIONS:
        for type_ in TYPES:
            where = Scope("aws-prod", "aws", "123456789012", region, type_)
            run = reconciler.start(where)
            for start in range(0, per_scope, 5000):
                page = [_resource(where, i) for i in range(start, min(per_scope, start + 5000))]
                reconciler.add_page(run, page)
                if type_ in RULES:
                    judged.extend(page[: findings // 6 + 1])
            reconciler.complete(run)
    failed = reconciler.start(Scope("aws-prod", "aws", "123456789012", "ap-south-1", "server"))
    reconciler.fail(failed, "AccessDenied")
    store = FindingStore(db)
    SilenceStore(db).add_silence(
        rule="backup.missing",
        reason="legacy",
        author="bench",
        expires_at=NOW + timedelta(days=30),
        now=NOW - timedelta(hours=1),
        labels={"region": "eu-west-1"},
    )
    produced = [
        finding(RULES[r.type], r, f"{RULES[r.type].title}: {r.native_id}", "bench")
        for r in judged[:findings]
    ]
    store.apply(produced, NOW - timedelta(minutes=30))


def _resource(where: Scope, index: int) -> Resource:
    return Resource(
        source=where.source,
        provider="aws",
        account=where.account,
        region=where.region,
        type=where.type,
        native_id=f"{where.type}-{index:07d}",
        name=f"{where.type} {index}",
        tags={"team": ("payments", "web", "data")[index % 3], "env": "prod"},
        attributes={"size_gb": index % 500, "state": "running"},
    )


def _child(report_args: tuple[Database, ReportParams], fmt: str, out: Path) -> None:
    db, params = report_args
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    report = gather(db, params)
    gathered = time.perf_counter() - start
    write_report(report, fmt, out)
    seconds = time.perf_counter() - start
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    size = out.stat().st_size / 1e6
    print(
        f"{fmt:6} {seconds:7.1f} s (gather {gathered:4.1f} s)  peak RSS +{peak:6.0f} MB"
        f"  {size:7.1f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vigil-bench-reports-"))
    db = Database(f"sqlite:///{folder / 'vigil.db'}")
    start = time.perf_counter()
    # Seeded in a child too, so the parent's peak RSS (every child's baseline) stays small.
    pid = os.fork()
    if pid == 0:
        seed(Database(db.url), args.resources, args.findings)
        os._exit(0)
    os.waitpid(pid, 0)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, SQLite"
    )
    print(
        f"estate: {args.resources} resources, {args.findings} findings "
        f"(seeded in {time.perf_counter() - start:.0f} s)"
    )
    params = ReportParams(
        frameworks=tuple(FRAMEWORKS), at=NOW, since=NOW - timedelta(days=30), generated_at=NOW
    )
    db.dispose()  # children open their own connections
    print("format    time (gather + render)       memory           file size")
    for fmt in args.formats.split(","):
        pid = os.fork()
        if pid == 0:
            _child((Database(db.url), params), fmt, folder / f"report.{fmt}")
            os._exit(0)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()

"""Benchmark: every built-in rule over a synthetic 100k-resource estate in storage.

    .venv/bin/python bench/rules.py [--resources 100000] [--db /tmp/vigil-bench.db]

Builds an estate of every resource type (with a few percent of problems of each kind, a
Terraform state declaring most servers, and a rescan that records drift) through storage's
real write path (Reconciler), then prints: the time to read the inventory into the view, the
evaluation time of all built-in rules (target < 3 s at 100k), the findings-store apply time,
the end-to-end `vigil check --no-notify` time in a subprocess, and peak RSS of both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource as rusage
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rules.engine import Engine  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.findings import FindingStore  # noqa: E402
from storage.reconcile import Reconciler  # noqa: E402
from vigil.app.check import build_view  # noqa: E402
from vigil.app.config import RulesConfig  # noqa: E402
from vigil.core.model import Resource, Scope, make_uid, utcnow  # noqa: E402

ACCOUNT, REGION, SOURCE = "123456789012", "us-east-1", "bench"
# Share of the estate per type (sums to 1).
MIX = {
    "server": 0.20,
    "disk": 0.25,
    "snapshot": 0.20,
    "security_group": 0.05,
    "certificate": 0.05,
    "dns_zone": 0.001,
    "dns_record": 0.149,
    "database": 0.02,
    "load_balancer": 0.01,
    "bucket": 0.04,
    "cache": 0.01,
    "cdn": 0.005,
    "kubernetes_cluster": 0.001,
    "function": 0.014,
}
PAGE = 1000


def when(days: float) -> str:
    return (utcnow() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def uid(type_: str, native_id: str) -> str:
    return make_uid("aws", ACCOUNT, REGION, type_, native_id)


def attributes(type_: str, i: int, counts: dict[str, int]) -> dict[str, Any]:
    """Plausible attributes, with every 25th-or-so resource carrying a problem."""
    bad = i % 25 == 0
    if type_ == "server":
        return {
            "instance_type": "t3.large",
            "public_ips": [f"52.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"],
            "private_ips": [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"],
            "state": "running",
            "open_ports": [22, 443] if bad else [443],
            "allowed_ports": [443],
        }
    if type_ == "disk":
        return {"size_gb": 100, "encrypted": not bad, "attached_to": [f"i-{i % counts['server']}"]}
    if type_ == "snapshot":
        return {
            "source_uid": uid("disk", f"vol-{i}"),
            "state": "completed",
            "kind": "ebs",
            "started_at": when(-30 if bad else -1),
        }
    if type_ == "security_group":
        port = 22 if bad else 443
        return {
            "group_id": f"sg-{i}",
            "egress": [],
            "ingress": [
                {
                    "protocol": "tcp",
                    "from_port": port,
                    "to_port": port,
                    "source": "0.0.0.0/0",
                    "source_kind": "ipv4",
                },
                {
                    "protocol": "tcp",
                    "from_port": 0,
                    "to_port": 65535,
                    "source": "10.0.0.0/8",
                    "source_kind": "ipv4",
                },
            ],
        }
    if type_ == "certificate":
        return {
            "common_name": f"svc{i}.example.com",
            "not_after": when(5 if bad else 200),
            "key_algorithm": "RSA",
            "key_size": 1024 if i % 50 == 0 else 2048,
            "signature_algorithm": "SHA256WITHRSA",
        }
    if type_ == "dns_zone":
        return {"zone_id": f"Z{i}", "zone_name": f"zone{i}.example.com.", "private": False}
    if type_ == "dns_record":
        target = f"52.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" if not bad else "54.200.1.1"
        return {"zone_id": "Z0", "record_type": "A", "values": [target], "alias_target": None}
    if type_ == "database":
        return {
            "engine": "postgres",
            "backup_retention_days": 0 if bad else 7,
            "latest_restorable_time": when(-0.01),
            "endpoint": f"db{i}.x.us-east-1.rds.amazonaws.com",
            "zones": ["us-east-1a"] if bad else ["us-east-1a", "us-east-1b"],
            "storage_encrypted": True,
            "publicly_accessible": bad,
            "port": 5432,
            "security_groups": [f"sg-{i % counts['security_group']}"],
        }
    if type_ == "load_balancer":
        return load_balancer(i, bad)
    if type_ == "cache":
        return {
            "engine": "redis",
            "zones": ["us-east-1a"] if bad else ["us-east-1a", "us-east-1b"],
            "multi_az": not bad,
            "encrypted": not bad,
            "transit_encryption": not bad,
            "security_groups": [f"sg-{i % counts['security_group']}"],
        }
    if type_ == "cdn":
        return {
            "domain_name": f"d{i}.cloudfront.net",
            "viewer_protocol_policy": "allow-all" if bad else "redirect-to-https",
            "enabled": True,
        }
    if type_ == "kubernetes_cluster":
        return {"version": "1.24" if bad else "1.40", "endpoint_public": bad}
    if type_ == "function":
        return {"runtime": "python3.7" if bad else "python3.12"}
    return {"versioning": not bad, "public": bad, "encrypted": True}


def load_balancer(i: int, bad: bool) -> dict[str, Any]:
    health = "unhealthy" if bad else "healthy"
    return {
        "dns_name": f"lb{i}.us-east-1.elb.amazonaws.com",
        "scheme": "internet-facing",
        "zones": ["us-east-1a", "us-east-1b"],
        "listeners": [
            {"protocol": "HTTP", "port": 80, "default_action": "forward" if bad else "redirect"},
            {
                "protocol": "HTTPS",
                "port": 443,
                "default_action": "forward",
                "target_groups": ["tg"],
            },
        ],
        "targets": [
            {"id": f"i-{i}", "target_group": "tg", "health": "healthy"},
            {"id": f"i-{i + 1}", "target_group": "tg", "health": health},
        ],
    }


def estate(total: int) -> dict[str, list[Resource]]:
    counts = {t: max(1, int(total * share)) for t, share in MIX.items()}
    out: dict[str, list[Resource]] = {}
    for type_, count in counts.items():
        prefix = {"server": "i-", "disk": "vol-", "snapshot": "snap-"}.get(type_, f"{type_}-")
        out[type_] = [
            Resource(
                source=SOURCE,
                provider="aws",
                account=ACCOUNT,
                region=REGION,
                type=type_,
                native_id=f"{prefix}{i}",
                name=f"{type_}{i}" if type_ != "dns_record" else f"r{i}.zone0.example.com",
                tags={"team": f"team{i % 20}"},
                attributes=attributes(type_, i, counts),
            )
            for i in range(count)
        ]
    return out


def pages(items: list[Resource]) -> Iterator[list[Resource]]:
    for start in range(0, len(items), PAGE):
        yield items[start : start + PAGE]


def load(db: Database, resources: dict[str, list[Resource]]) -> float:
    reconciler = Reconciler(db)
    started = time.perf_counter()
    for type_, items in resources.items():
        run = reconciler.start(Scope(SOURCE, "aws", ACCOUNT, REGION, type_))
        for page in pages(items):
            reconciler.add_page(run, page)
        reconciler.complete(run)
    # A rescan where 2% of the security groups changed: drift.changed has events to read.
    groups = resources["security_group"]
    for group in groups[::50]:
        group.attributes = {
            **group.attributes,
            "egress": [{"protocol": "all", "source": "0.0.0.0/0", "source_kind": "ipv4"}],
        }
    run = reconciler.start(Scope(SOURCE, "aws", ACCOUNT, REGION, "security_group"))
    for page in pages(groups):
        reconciler.add_page(run, page)
    reconciler.complete(run)
    return time.perf_counter() - started


def terraform_state(path: Path, servers: list[Resource]) -> None:
    """Declares 90% of the servers (and a few that no longer exist), owned by ACCOUNT."""
    instances = [
        {"index_key": i, "attributes": {"id": s.native_id, "owner_id": ACCOUNT}}
        for i, s in enumerate(servers)
        if i % 10
    ]
    instances += [
        {"index_key": f"gone{i}", "attributes": {"id": f"i-gone{i}", "owner_id": ACCOUNT}}
        for i in range(20)
    ]
    state = {
        "version": 4,
        "resources": [
            {"mode": "managed", "type": "aws_instance", "name": "fleet", "instances": instances}
        ],
    }
    path.write_text(json.dumps(state))


def peak_rss_mb(who: int = rusage.RUSAGE_SELF) -> float:
    return rusage.getrusage(who).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="SQLite file (default: a temp dir)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    db_path = Path(args.db) if args.db else workdir / "vigil.db"
    url = f"sqlite:///{db_path}"
    db = Database(url)
    resources = estate(args.resources)
    total = sum(len(v) for v in resources.values())
    state = workdir / "terraform.tfstate"
    terraform_state(state, resources["server"])
    seconds = load(db, resources)
    del resources
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"estate: {total} resources of {len(MIX)} types; loaded via Reconciler in {seconds:.1f}s")

    tf = {"state_files": [str(state)], "types": ["server"]}
    config = RulesConfig(params={"drift.unmanaged": tf, "drift.missing": tf})
    engine = Engine.from_config(config)
    started = time.perf_counter()
    view = build_view(db)
    view_seconds = time.perf_counter() - started
    evaluation = engine.evaluate(view)
    started = time.perf_counter()
    transitions = FindingStore(db).apply(evaluation.findings, view.now)
    apply_seconds = time.perf_counter() - started
    print(f"read inventory into the view: {view_seconds:.2f}s")
    print(
        f"evaluation, {len(evaluation.rules)} rules: {evaluation.seconds:.2f}s "
        f"({len(evaluation.findings)} findings; target < 3 s)"
    )
    slowest = sorted(evaluation.per_rule_seconds.items(), key=lambda kv: -kv[1])[:4]
    print("  slowest rules: " + ", ".join(f"{rule} {s:.2f}s" for rule, s in slowest))
    print(f"findings apply (first check, {len(transitions)} transitions): {apply_seconds:.2f}s")
    print(f"in-process peak RSS: {peak_rss_mb():.0f} MB")
    db.dispose()

    (workdir / "vigil.yaml").write_text(
        "rules:\n  params:\n"
        f"    drift.unmanaged: {{state_files: [{state}], types: [server]}}\n"
        f"    drift.missing: {{state_files: [{state}], types: [server]}}\n"
    )
    env = {**os.environ, "VIGIL_DATABASE_URL": url, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "vigil", "check", "--no-notify"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
    print(
        f"`vigil check --no-notify` end to end (second check): {elapsed:.2f}s, "
        f"exit {result.returncode}"
    )
    print(f"  subprocess peak RSS: {peak_rss_mb(rusage.RUSAGE_CHILDREN):.0f} MB")
    print("  " + result.stdout.strip().splitlines()[0] if result.stdout else "")


if __name__ == "__main__":
    main()

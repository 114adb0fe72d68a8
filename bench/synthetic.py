"""A synthetic estate for benchmarks: realistic records, pages after a fixed latency.

The collector is a real `Collector` (plan + collect) handed to the real pipeline and storage;
only the cloud is simulated, so the figures are Vigil's own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

from collectors.base import SourceConfig
from storage.db import Database
from storage.reconcile import Reconciler
from vigil.collect import Collection
from vigil.model import GLOBAL_REGION, Resource, Scope

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
PAGE = 1000
# Share of the estate per type; regional types are split over the regions.
MIX = {
    "server": 0.20,
    "disk": 0.28,
    "snapshot": 0.35,
    "security_group": 0.05,
    "database": 0.02,
    "certificate": 0.01,
    "dns_record": 0.09,
}
GLOBAL_TYPES = {"dns_record"}


class SyntheticCollector:
    """`size` resources over three regions, each page delivered after `latency` seconds."""

    provider: ClassVar[str] = "synthetic"
    config_model: ClassVar[type[SourceConfig]] = SourceConfig
    resource_types: ClassVar[tuple[str, ...]] = tuple(MIX)
    volatile_attributes: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, size: int, latency: float, *, version: int = 0) -> None:
        self.size, self.latency, self.version = size, latency, version

    def plan(self, types: set[str] | None = None) -> list[Scope]:
        return [
            Scope("synthetic", "synthetic", "000000000000", region, type_)
            for type_ in MIX
            for region in ([GLOBAL_REGION] if type_ in GLOBAL_TYPES else REGIONS)
        ]

    def scope_size(self, scope: Scope) -> int:
        share = MIX[scope.type] * self.size
        return int(share if scope.region == GLOBAL_REGION else share / len(REGIONS))

    def pages_of(self, scope: Scope) -> int:
        return -(-self.scope_size(scope) // PAGE)

    def collect(self, scope: Scope) -> Iterator[list[Resource]]:
        total = self.scope_size(scope)
        for start in range(0, total, PAGE):
            time.sleep(self.latency)
            yield [self.record(scope, n) for n in range(start, min(total, start + PAGE))]

    def record(self, scope: Scope, n: int) -> Resource:
        native_id = f"{scope.type[:3]}-{scope.region}-{n:07d}"
        return Resource(
            source=scope.source,
            provider=scope.provider,
            account=scope.account,
            region=scope.region,
            type=scope.type,
            native_id=native_id,
            name=f"{scope.type}-{n}",
            tags={
                "Name": f"{scope.type}-{n}",
                "team": ("payments", "search")[n % 2],
                "env": "prod",
            },
            attributes=_attributes(scope.type, n, self.version),
        )


def _attributes(type_: str, n: int, version: int) -> dict[str, Any]:
    common: dict[str, Any] = {"state": "running", "version": version}
    if type_ == "server":
        return {
            **common,
            "instance_type": "m5.large",
            "private_ips": [f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"],
            "public_ips": [],
            "security_groups": [f"sg-{n % 50:05d}"],
            "volume_ids": [f"vol-{n:07d}"],
            "launch_time": "2026-01-01T00:00:00Z",
            "vpc_id": "vpc-1",
            "availability_zone": "a",
        }
    if type_ == "security_group":
        rule = {"protocol": "tcp", "from_port": 443, "to_port": 443, "source": "0.0.0.0/0"}
        return {**common, "group_id": f"sg-{n:05d}", "ingress": [rule], "egress": []}
    return {**common, "size_gb": 100, "encrypted": True, "created_at": "2026-01-01T00:00:00Z"}


def run_synthetic_child(size: int, latency: float, database: str) -> None:
    """Runs in a child process: one full pass, printed as one line."""
    db = Database(database)
    collector = SyntheticCollector(size, latency)
    floor = max(collector.pages_of(s) for s in collector.plan()) * latency
    source = SourceConfig(name="synthetic", provider="synthetic")
    started = time.monotonic()
    result = Collection(db, [source], collector_factory=lambda _: collector).run()
    wall = time.monotonic() - started
    assert not result.failed, result.failed
    rescan = Collection(db, [source], collector_factory=lambda _: collector).run()
    written = sum(o.created + o.changed + o.deleted for o in rescan.outcomes)
    print(
        f"synthetic {result.seen:>6} resources, {len(result.outcomes)} scopes: full pass "
        f"{wall:.2f}s = {wall / floor:.2f}x the floor {floor:.2f}s; "
        f"{result.seen / wall:,.0f} resources/s; no-change rescan {rescan.duration:.2f}s, "
        f"{written} records written",
        flush=True,
    )


def measure_ingest(size: int) -> tuple[float, float]:
    """Ingest + reconcile alone into a fresh SQLite file: (first scan, rescan) resources/s."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/ingest.db")
        collector = SyntheticCollector(size, 0.0)
        scopes = collector.plan()
        pages = [(scope, list(collector.collect(scope))) for scope in scopes]
        total = sum(len(page) for _, scope_pages in pages for page in scope_pages)
        rates = []
        for _ in range(2):  # the first scan creates everything; the second changes nothing
            reconciler = Reconciler(db)
            started = time.monotonic()
            for scope, scope_pages in pages:
                run = reconciler.start(scope)
                for page in scope_pages:
                    reconciler.add_page(run, page)
                reconciler.complete(run)
            rates.append(total / (time.monotonic() - started))
        db.dispose()
    return rates[0], rates[1]

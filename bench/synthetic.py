"""A synthetic estate for benchmarks: realistic records, pages after a fixed latency.

The collector is a real `Collector` (plan + collect) handed to the real pipeline and storage;
only the cloud is simulated, so the figures are Vigil's own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from collectors.aws import (
    cloudfront,
    ebs,
    ec2,
    eks,
    elasticache,
    elb,
    lambda_,
    rds,
    route53,
    s3,
    security_groups,
)
from collectors.aws.details import DETAIL_WORKERS
from collectors.base import SourceConfig
from vigil.core.model import GLOBAL_REGION, Resource, Scope

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
PAGE = 1000
# `paging="aws"`: the page size Vigil's AWS collector asks each list API for.
AWS_PAGES = {
    "server": ec2.PAGE_SIZE,
    "disk": ebs.VOLUME_PAGE_SIZE,
    "snapshot": ebs.SNAPSHOT_PAGE_SIZE,
    "security_group": security_groups.PAGE_SIZE,
    "database": rds.PAGE_SIZE,
    "certificate": PAGE,
    "dns_record": route53.RECORD_PAGE_SIZE,
    "load_balancer": elb.PAGE_SIZE,
    "cdn": cloudfront.PAGE_SIZE,
    "bucket": s3.PAGE_SIZE,
    "cache": elasticache.PAGE_SIZE,
    "kubernetes_cluster": eks.PAGE_SIZE,
    "function": lambda_.PAGE_SIZE,
}
# Share of the estate per type; regional types are split over the regions. The web estate
# is a few percent of a typical account: many servers, disks and snapshots per balancer.
MIX = {
    "server": 0.19,
    "disk": 0.26,
    "snapshot": 0.33,
    "security_group": 0.05,
    "database": 0.02,
    "certificate": 0.01,
    "dns_record": 0.09,
    "load_balancer": 0.01,
    "cdn": 0.002,
    "bucket": 0.01,
    "cache": 0.005,
    "kubernetes_cluster": 0.001,
    "function": 0.012,
}
GLOBAL_TYPES = {"dns_record", "cdn", "bucket"}
DETAIL_CALLS = {
    # type → (calls per item after its list page, how many the collector keeps in flight)
    "certificate": (2, 1),  # DescribeCertificate + ListTagsForCertificate
    "load_balancer": (3, 1),  # listeners, target groups, target health (tags: 20 a call)
    "cdn": (1, 1),  # ListTagsForResource
    "bucket": (7, DETAIL_WORKERS),  # location, ACL, policy status, block, encryption, ...
    "cache": (1, 1),  # ListTagsForResource
    "kubernetes_cluster": (1, 1),  # DescribeCluster
    "function": (1, 1),  # ListTags
}
"""Per-item calls the AWS collector makes, so a page costs more than its list call."""


class SyntheticCollector:
    """`size` resources over three regions, each page delivered after `latency` seconds.

    `paging="uniform"` pages every type 1000 at a time (the whole estate arrives within a
    dozen pages: the hardest case for the pipeline); `paging="aws"` pages each type as the
    AWS collector does (DescribeVolumes 500, RDS 100, Route 53 300 ...).
    """

    provider: ClassVar[str] = "synthetic"
    config_model: ClassVar[type[SourceConfig]] = SourceConfig
    resource_types: ClassVar[tuple[str, ...]] = tuple(MIX)
    volatile_attributes: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(
        self, size: int, latency: float, *, version: int = 0, paging: str = "uniform"
    ) -> None:
        self.size, self.latency = size, latency
        # Records whose number divides by `changed_every` carry `version`; the others 0.
        self.version, self.changed_every = version, 1
        self.page_sizes = AWS_PAGES if paging == "aws" else dict.fromkeys(MIX, PAGE)

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
        return -(-self.scope_size(scope) // self.page_sizes[scope.type])

    def sequential_calls(self, scope: Scope) -> int:
        """The scope's critical path in calls: its list pages plus each page's detail calls
        as the collector overlaps them."""
        total, page = self.scope_size(scope), self.page_sizes[scope.type]
        return sum(
            1 + _detail_rounds(scope.type, min(page, total - start))
            for start in range(0, total, page)
        )

    def collect(self, scope: Scope) -> Iterator[list[Resource]]:
        total, page = self.scope_size(scope), self.page_sizes[scope.type]
        for start in range(0, total, page):
            time.sleep(self.latency * (1 + _detail_rounds(scope.type, min(page, total - start))))
            yield [self.record(scope, n) for n in range(start, min(total, start + page))]

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
            attributes=_attributes(
                scope.type, n, self.version if n % self.changed_every == 0 else 0
            ),
        )


class SyntheticSourceConfig(SourceConfig):
    """`provider: synthetic` in a vigil.yaml: the synthetic estate as a real source, so that
    `vigil collect` runs it under every executor (worker processes build it from the file)."""

    provider: Literal["synthetic"] = "synthetic"
    size: int = 100_000
    latency: float = 0.1
    paging: Literal["uniform", "aws"] = "uniform"
    version: int = 0
    changed_every: int = 1


class SyntheticSource(SyntheticCollector):
    """The synthetic collector as a source provider (`plugin_path` installs it)."""

    config_model: ClassVar[type[SourceConfig]] = SyntheticSourceConfig

    def __init__(self, config: SyntheticSourceConfig) -> None:
        super().__init__(config.size, config.latency, version=config.version, paging=config.paging)
        self.changed_every = config.changed_every


def plugin_path(directory: Path) -> Path:
    """A directory that, on PYTHONPATH, declares `SyntheticSource` as Vigil's collector
    plugin `synthetic` (the entry-point group `vigil.collectors`), for this process's children
    and their worker processes alike."""
    info = directory / "vigil_bench_synthetic-0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vigil-bench-synthetic\nVersion: 0.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[vigil.collectors]\nsynthetic = bench.synthetic:SyntheticSource\n"
    )
    return directory


def _detail_rounds(type_: str, items: int) -> int:
    calls, in_flight = DETAIL_CALLS.get(type_, (0, 1))
    return -(-items * calls // in_flight)


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


def run_synthetic_child(size: int, latency: float, database: str, paging: str) -> None:
    """Runs in a child process: a first pass, a pass with 2% changed, a no-change pass."""
    # Imported here: a worker process loading `SyntheticSource` as a plugin is inside
    # collectors.registry's import, which vigil.app.collect imports too.
    from storage.db import Database
    from vigil.app.collect import Collection

    db = Database(database)
    collector = SyntheticCollector(size, latency, paging=paging)
    floor = max(collector.sequential_calls(s) for s in collector.plan()) * latency
    source = SourceConfig(name="synthetic", provider="synthetic")
    passes = []
    for label, version in (("first", 0), ("2% changed", 1), ("no change", 1)):
        collector.version, collector.changed_every = version, 50
        started = time.monotonic()
        result = Collection(db, [source], collector_factory=lambda _: collector).run()
        wall = time.monotonic() - started
        assert not result.failed, result.failed
        written = sum(o.created + o.changed + o.deleted for o in result.outcomes)
        passes.append(
            f"{label} {wall:.2f}s = {wall / floor:.2f}x "
            f"({result.seen / wall:,.0f}/s, {written} written)"
        )
    print(
        f"synthetic {result.seen:>6} resources, {paging} paging, {len(result.outcomes)} scopes, "
        f"floor {floor:.2f}s: {'; '.join(passes)}",
        flush=True,
    )


def measure_ingest(size: int, url: str | None = None) -> tuple[float, float]:
    """Ingest + reconcile alone into a fresh SQLite file, or the fresh database at `url`:
    (first scan, rescan) resources/s."""
    import tempfile

    from storage.db import Database
    from storage.reconcile import Reconciler

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(url or f"sqlite:///{tmp}/ingest.db")
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

"""Benchmark: resolving references at reconcile, in an estate of many scopes naming each other.

    .venv/bin/python bench/resolve.py [--regions 40]

Per region: 500 servers, 100 load balancers, 50 buckets and 300 DNS records, a third routing
to a load balancer of the next region by DNS name (`dns:`), a third to a bucket of the next
region (`native:bucket:`), a third to a SaaS name nothing in the inventory answers (pending
forever). Each scope is one run through storage's real write path (Reconciler), into a fresh
SQLite file; then a no-change rescan. Prints the first pass, the time spent in
`storage.links.resolve` and a digest of the present links (from, kind, target, to_uid): the
same digest from two versions of Vigil means they resolved the same links.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from storage import links as link_store  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.reconcile import Reconciler  # noqa: E402
from vigil.core.model import Resource, Scope, dns_ref, native_ref  # noqa: E402


def estate(regions: int) -> list[tuple[Scope, list[Resource]]]:
    def scope(region: str, type_: str) -> Scope:
        return Scope("bench", "aws", "111111111111", region, type_)

    def record(where: Scope, native_id: str, **attributes: Any) -> Resource:
        return Resource(
            source=where.source,
            provider=where.provider,
            account=where.account,
            region=where.region,
            type=where.type,
            native_id=native_id,
            name=native_id,
            attributes=attributes,
        )

    runs = []
    for r in range(regions):
        region, following = f"region-{r}", (r + 1) % regions
        servers, balancers = scope(region, "server"), scope(region, "load_balancer")
        records, buckets = scope(region, "dns_record"), scope(region, "bucket")
        runs.append((servers, [record(servers, f"i-{r}-{n}") for n in range(500)]))
        runs.append(
            (
                balancers,
                [
                    record(balancers, f"lb-{r}-{n}", dns_name=f"lb-{r}-{n}.elb.amazonaws.com")
                    for n in range(100)
                ],
            )
        )
        page = []
        for n in range(300):
            item = record(records, f"rec-{r}-{n}")
            if n % 3 == 0:
                item.link("routes_to", dns_ref(f"lb-{following}-{n % 100}.elb.amazonaws.com"))
            elif n % 3 == 1:
                item.link("routes_to", dns_ref(f"saas-{r}-{n}.example.net"))
            else:
                item.link("routes_to", native_ref("bucket", f"b-{following}-{n % 50}"))
            page.append(item)
        runs.append((records, page))
        runs.append((buckets, [record(buckets, f"b-{r}-{n}") for n in range(50)]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", type=int, default=40)
    args = parser.parse_args()
    spent = [0.0]
    resolve = link_store.resolve

    def timed(*args: Any, **kwargs: Any) -> int:
        started = time.perf_counter()
        try:
            return resolve(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    link_store.resolve = timed  # storage.reconcile calls it through the module
    runs = estate(args.regions)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-resolve-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'vigil.db'}")
        reconciler = Reconciler(db)
        seconds = []
        for _ in range(2):
            started = time.perf_counter()
            for where, items in runs:
                run = reconciler.start(where)
                reconciler.add_page(run, items)
                reconciler.complete(run)
            seconds.append(time.perf_counter() - started)
            if len(seconds) == 1:
                first_resolve = spent[0]
        with db.connect() as conn:
            rows = sorted(
                tuple(map(str, row))
                for row in conn.execute(
                    sa.text(
                        "SELECT from_uid, kind, target, to_uid FROM resource_links "
                        "WHERE deleted_at IS NULL"
                    )
                )
            )
        db.dispose()
    pending = sum(1 for *_, to_uid in rows if to_uid == "None")
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    print(
        f"resolve: {sum(len(items) for _, items in runs):,} resources, {len(rows):,} links "
        f"({pending:,} pending), {len(runs)} scopes: first pass {seconds[0]:.2f} s "
        f"(resolve {first_resolve:.2f} s), rescan {seconds[1]:.2f} s; links digest {digest}"
    )


if __name__ == "__main__":
    main()

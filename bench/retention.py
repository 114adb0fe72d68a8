"""Benchmark: a long history with and without retention, through storage's real write path.

    .venv/bin/python bench/retention.py [--resources 2000] [--cycles 1000] [--churn 0.1]

Simulates one collection cycle per day: a share (`--churn`) of the estate changes every cycle
(host disks whose usage moves), one scope run per cycle. It runs the same history twice, once
never pruned and once pruned daily with the default `retention:` windows, and prints the
database size, change events and scope runs every 100 cycles, then the time of the last prune
and of an `--as-of` read at the window's edge (exact: checked against the unpruned database).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from storage import inventory  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.reconcile import Reconciler  # noqa: E402
from storage.retention import prune  # noqa: E402
from storage.tables import events  # noqa: E402
from storage.tables import scope_runs as runs  # noqa: E402
from vigil.core.model import Resource, Scope  # noqa: E402
from vigil.core.retention import RetentionPolicy  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)
SCOPE = Scope(
    source="bench", provider="aws", account="123456789012", region="eu-west-1", type="disk"
)


def estate(count: int, usage: list[int]) -> list[Resource]:
    return [
        Resource(
            source=SCOPE.source,
            provider=SCOPE.provider,
            account=SCOPE.account,
            region=SCOPE.region,
            type=SCOPE.type,
            native_id=f"vol-{i:06d}",
            name=f"vol-{i:06d}",
            attributes={"size_gb": 100, "used_percent": usage[i]},
        )
        for i in range(count)
    ]


def rows(db: Database, table: sa.Table) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6


def simulate(
    path: Path, args: argparse.Namespace, on_cycle: Callable[[Database, datetime], None]
) -> Database:
    db = Database(f"sqlite:///{path}")
    clock = [START]
    reconciler = Reconciler(db, clock=lambda: clock[0])
    chooser = random.Random(7)
    usage = [50] * args.resources
    for cycle in range(1, args.cycles + 1):
        clock[0] = START + timedelta(days=cycle)
        for i in chooser.sample(range(args.resources), int(args.resources * args.churn)):
            usage[i] = chooser.randint(1, 99)
        run = reconciler.start(SCOPE)
        reconciler.add_page(run, estate(args.resources, usage))
        reconciler.complete(run)
        on_cycle(db, clock[0])
        if cycle % 100 == 0 or cycle == args.cycles:
            print(
                f"  cycle {cycle:>5}  {size_mb(path):>8.1f} MB  "
                f"{rows(db, events):>9,} events  {rows(db, runs):>6,} runs",
                flush=True,
            )
    return db


def _states(resources: Iterable[Resource]) -> list[dict[str, Any]]:
    """What a resource was at a time, without `last_seen` (which scope runs decide)."""
    return [{k: v for k, v in r.to_dict().items() if k != "last_seen"} for r in resources]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=2000)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--churn", type=float, default=0.1)
    args = parser.parse_args()
    policy = RetentionPolicy()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-retention-"))
    print(
        f"{args.resources:,} resources, {args.cycles:,} daily cycles, "
        f"{args.churn:.0%} of them changing per cycle"
    )

    print("without retention:")
    kept = simulate(work / "kept.db", args, lambda db, now: None)

    timings: list[float] = []

    def prune_daily(db: Database, now: datetime) -> None:
        began = time.perf_counter()
        prune(db, policy, now)
        timings.append(time.perf_counter() - began)

    print("with retention (default windows, pruned after every cycle):")
    pruned = simulate(work / "pruned.db", args, prune_daily)

    end = START + timedelta(days=args.cycles)
    edge = end - policy.changes + timedelta(hours=1)
    began = time.perf_counter()
    after = list(inventory.inventory(pruned, as_of=edge))
    as_of_seconds = time.perf_counter() - began
    exact = _states(after) == _states(inventory.inventory(kept, as_of=edge))
    # last_seen at a past time comes from the scope's newest completed run by then: exact
    # while the runs of that time are kept (`scope_runs`), the last change's time beyond.
    runs_edge = end - policy.scope_runs + timedelta(hours=1)
    seen = {
        name: [r.last_seen for r in inventory.inventory(db, as_of=at)]
        for name, db, at in (("pruned", pruned, edge), ("kept", kept, edge))
    }
    seen_in_runs = [r.last_seen for r in inventory.inventory(pruned, as_of=runs_edge)] == [
        r.last_seen for r in inventory.inventory(kept, as_of=runs_edge)
    ]
    timings.sort()
    print(
        f"prune: median {timings[len(timings) // 2] * 1000:.0f} ms, "
        f"max {timings[-1] * 1000:.0f} ms per daily prune"
    )
    print(f"--as-of at the window's edge: {as_of_seconds:.2f} s, states exact: {exact}")
    print(
        f"last_seen exact inside the scope_runs window ({policy.scope_runs.days} d): "
        f"{seen_in_runs}; at the changes window's edge: {seen['pruned'] == seen['kept']} "
        "(older runs pruned: the last change's time)"
    )


if __name__ == "__main__":
    main()

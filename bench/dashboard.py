"""Benchmark: the dashboard's first view and an inventory filter at 100k resources.

    .venv/bin/python bench/dashboard.py [--resources 100000] [--findings 20000]

Builds a synthetic estate through storage's real write path (Reconciler, FindingStore): two
collections a day apart, `--findings` findings of which a tenth then resolve. Serves the
dashboard with `streamlit run` on loopback and drives Debian's headless Chromium (Playwright,
/usr/bin/chromium). Prints, in seconds from navigation: the overview's open-finding count
visible on a cold server (first view, empty caches) and warm; the inventory page; and an
inventory search until the filtered count shows. Target: first view < 2 s. Saves a screenshot
of the overview and prints its path.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from bench.synthetic import SyntheticCollector  # noqa: E402
from storage import inventory  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.findings import FindingStore  # noqa: E402
from storage.reconcile import Reconciler  # noqa: E402
from tests.fixtures.browser import launch_chromium, serve_dashboard  # noqa: E402
from vigil.core.model import Finding, Resource, Scope, Severity, utcnow  # noqa: E402

OUT = REPO / "bench" / "out"
RULES = (
    ("network.open_port", Severity.CRITICAL),
    ("backup.missing", Severity.HIGH),
    ("cert.expiring", Severity.MEDIUM),
    ("drift.changed", Severity.MEDIUM),
    ("drift.unmanaged", Severity.LOW),
)


def estate(size: int, now: datetime, *, version: int = 0) -> list[list[Resource]]:
    """The synthetic estate as scopes of records; certificates get an expiry date."""
    collector = SyntheticCollector(size, 0.0, version=version)
    scopes = []
    for scope in collector.plan():
        records = [collector.record(scope, n) for n in range(collector.scope_size(scope))]
        if scope.type == "certificate":
            for n, record in enumerate(records):
                expires = now + timedelta(days=n % 400 - 20)
                record.attributes["not_after"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
                record.attributes["origin"] = "acm"
        scopes.append(records)
    return scopes


def collect(db: Database, scopes: list[list[Resource]], at: datetime) -> list[Resource]:
    reconciler = Reconciler(db, clock=lambda: at)
    seen: list[Resource] = []
    for records in scopes:
        first = records[0]
        scope = Scope(first.source, first.provider, first.account, first.region, first.type)
        run = reconciler.start(scope)
        for start in range(0, len(records), 1000):
            reconciler.add_page(run, records[start : start + 1000])
        reconciler.complete(run)
        seen += records
    return seen


def findings(resources: list[Resource], count: int) -> list[Finding]:
    step = max(1, len(resources) // count)
    chosen = resources[::step][:count]
    return [
        Finding(
            rule=RULES[i % len(RULES)][0],
            severity=RULES[i % len(RULES)][1],
            title=f"{RULES[i % len(RULES)][0]} on {r.native_id}",
            detail="synthetic",
            resource_uid=r.uid,
            native_id=r.native_id,
            type=r.type,
            source=r.source,
            region=r.region,
            labels={"owner": r.tags.get("team", "")},
        )
        for i, r in enumerate(chosen)
    ]


def build(path: Path, size: int, finding_count: int) -> float:
    """Build the database; returns the seconds it took."""
    started = time.monotonic()
    now = utcnow()
    db = Database(f"sqlite:///{path}")
    collect(db, estate(size, now), now - timedelta(days=2))
    resources = collect(db, estate(size, now, version=1)[:3], now - timedelta(days=1))
    resources = collect(db, estate(size, now), now - timedelta(minutes=10))
    found = findings(resources, finding_count)
    store = FindingStore(db)
    store.apply(found, now - timedelta(days=1))
    store.apply(found[: len(found) * 9 // 10], now - timedelta(minutes=5))
    db.dispose()
    return time.monotonic() - started


def timed(page: Page, url: str, label: str, value: str) -> float:
    """Seconds from navigation until the metric `label` shows `value`."""
    started = time.monotonic()
    page.goto(url, wait_until="commit")
    tile = page.get_by_test_id("stMetric").filter(has_text=label)
    expect(tile.get_by_test_id("stMetricValue")).to_have_text(value, timeout=60_000)
    return time.monotonic() - started


def search(page: Page, text: str, expected: int) -> float:
    """Seconds from typing a search (Enter) until the filtered count shows."""
    box = page.get_by_label("Search name or id")
    box.fill(text)
    started = time.monotonic()
    box.press("Enter")
    tile = page.get_by_test_id("stMetric").filter(has_text="Matching resources")
    expect(tile.get_by_test_id("stMetricValue")).to_have_text(str(expected), timeout=60_000)
    return time.monotonic() - started


def measure(database: Path, open_findings: int, resources: int) -> None:
    """Two servers: one measured from cold, one whose imports a first visit already paid."""
    OUT.mkdir(parents=True, exist_ok=True)
    screenshot = OUT / "dashboard-overview.png"
    url = f"sqlite:///{database}"
    value = str(open_findings)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        with serve_dashboard(url) as base:
            cold = timed(browser.new_page(), base, "Open findings", value)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})  # empty HTTP cache
            cached = timed(page, base, "Open findings", value)
            page.wait_for_timeout(1500)  # let the charts draw for the screenshot
            page.screenshot(path=str(screenshot), full_page=True)
            inventory = timed(page, f"{base}/inventory", "Matching resources", str(resources))
            filtered = search(page, "ser-us-east-1-0000042", 1)  # one server's native id
        with serve_dashboard(url) as base:
            timed(browser.new_page(), f"{base}/collectors", "Scopes failed", "0")  # imports only
            first = timed(browser.new_page(), base, "Open findings", value)
        browser.close()
    print(f"overview, new visitor, data not cached yet:   {first:.2f} s  (target < 2 s)")
    print(f"overview, new visitor, data cached (TTL 30s): {cached:.2f} s")
    print(f"overview, very first session of the server:  {cold:.2f} s  (Python imports included)")
    print(f"inventory page, first view:                   {inventory:.2f} s")
    print(f"inventory search by native id:                {filtered:.2f} s")
    print(f"screenshot: {screenshot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--db", type=Path, help="Keep the estate here; reused when it exists.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-dash-") as tmp:
        database = args.db or Path(tmp) / "vigil.db"
        seconds = 0.0
        if not database.exists():
            seconds = build(database, args.resources, args.findings)
        db = Database(f"sqlite:///{database}")
        present = inventory.count_resources(db)
        open_findings = len(list(FindingStore(db).findings()))
        db.dispose()
        print(
            f"estate: {present:,} resources, {args.findings:,} findings ({open_findings:,} open), "
            f"built in {seconds:.1f} s (0: reused); {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        measure(database, open_findings, present)


if __name__ == "__main__":
    main()

"""Benchmark: links at 100k resources: ingest, the `--from` walk, exposure paths, the page.

    .venv/bin/python bench/topology.py [--resources 100000] [--findings 20000] [--no-browser]
                                       [--keep DIR]

Builds bench/synthetic.py's estate with the links a real account has: servers protected by
security groups, disks attached to servers, snapshots backing up disks, load balancers
targeting 20 servers each and serving a certificate, CDNs whose origin is a load balancer's
DNS name, and DNS records routing to load balancers and CDNs by name (references storage
resolves at reconcile), databases and caches behind security groups, read replicas. Collects
it through storage's real write path (Reconciler) twice, into fresh SQLite files, with and
without its links: the difference is what the links cost, as links/s. Then prints, each timed
in-process (the query, not a process start): `vigil topology --from NAME --depth 4` from
DNS names and from a security group (starts + topology, as the CLI calls them; target
< 200 ms), exposure paths for `--findings` findings (storage.exposure.entry_points; target
< 2 s), and the dashboard's Topology page first view in headless Chromium until the graph is
drawn (target < 2 s; Graphviz's SVG from the server, or in the browser without `dot`),
checked on every frame the browser draws; a new visitor's uncached view is the median over
`--new-servers` servers, beside a title-only Streamlit page's (the front end's floor).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from bench.dashboard import collect, estate, findings  # noqa: E402
from storage import exposure, topology  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.findings import FindingStore, worst_open  # noqa: E402
from storage.tables import resources  # noqa: E402
from tests.fixtures.browser import (  # noqa: E402
    launch_chromium,
    serve_dashboard,
    serving,
    until_shown,
)
from tests.fixtures.services import free_port  # noqa: E402
from vigil.core.model import Direction, LinkKind, Resource, dns_ref, utcnow  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

TARGETS_PER_BALANCER = 20
INTERNET_FACING = 0.7
"""Share of load balancers that are internet-facing (the rest internal)."""
DEPTH = 4


def _by_type(scopes: list[list[Resource]]) -> dict[tuple[str, str], list[Resource]]:
    return {(records[0].type, records[0].region): records for records in scopes if records}


def _pick(pool: list[Resource], n: int) -> Resource | None:
    return pool[n % len(pool)] if pool else None


def add_links(scopes: list[list[Resource]]) -> int:
    """Give the estate its links (and the attributes links are resolved by); returns how many."""
    found = _by_type(scopes)
    regions = sorted({region for _, region in found if region != "global"})

    def pool(type_: str, region: str) -> list[Resource]:
        return found.get((type_, region), [])

    total = 0

    def link(record: Resource, kind: LinkKind, target: str) -> None:
        nonlocal total
        record.link(kind, target)
        total += 1

    balancer_names: list[str] = []
    for region in regions:
        groups, servers, disks = (pool(t, region) for t in ("security_group", "server", "disk"))
        for n, server in enumerate(pool("server", region)):
            for offset in (0, 1) if n % 2 else (0,):
                if group := _pick(groups, n + offset * 7):
                    link(server, LinkKind.PROTECTED_BY, group.uid)
        for n, disk in enumerate(disks):
            if (server := _pick(servers, n)) and n % 10:  # nine in ten disks are attached
                link(disk, LinkKind.ATTACHED_TO, server.uid)
        for n, snapshot in enumerate(pool("snapshot", region)):
            if disk := _pick(disks, n * 3):
                link(snapshot, LinkKind.BACKS_UP, disk.uid)
        databases = pool("database", region)
        for n, database in enumerate(databases):
            if group := _pick(groups, n):
                link(database, LinkKind.PROTECTED_BY, group.uid)
            if n % 10 == 9 and (source := _pick(databases, n - 1)):
                link(database, LinkKind.REPLICA_OF, source.uid)
        for n, cache in enumerate(pool("cache", region)):
            if group := _pick(groups, n):
                link(cache, LinkKind.PROTECTED_BY, group.uid)
        certificates = pool("certificate", region)
        for n, balancer in enumerate(pool("load_balancer", region)):
            public = n % 10 < INTERNET_FACING * 10
            name = f"{balancer.native_id}.{region}.elb.amazonaws.com"
            balancer.attributes.update(
                kind="application",
                scheme="internet-facing" if public else "internal",
                dns_name=name,
            )
            if public:
                balancer_names.append(name)
            for k in range(TARGETS_PER_BALANCER):
                if server := _pick(servers, n * TARGETS_PER_BALANCER + k):
                    link(balancer, LinkKind.TARGETS, server.uid)
            if group := _pick(groups, n):
                link(balancer, LinkKind.PROTECTED_BY, group.uid)
            if certificate := _pick(certificates, n):
                link(balancer, LinkKind.SERVES, certificate.uid)
    cdn_names: list[str] = []
    certificates = pool("certificate", "us-east-1")  # CloudFront's certificates live there
    for n, cdn in enumerate(pool("cdn", "global")):
        cdn.attributes["domain_name"] = f"d{n:07d}.cloudfront.net"
        cdn_names.append(cdn.attributes["domain_name"])
        if balancer_names:
            link(cdn, LinkKind.ORIGIN, dns_ref(balancer_names[n % len(balancer_names)]))
        if certificate := _pick(certificates, n):
            link(cdn, LinkKind.SERVES, certificate.uid)
    for n, record in enumerate(pool("dns_record", "global")):
        record.name = f"r{n}.example.com."
        if n % 10 < 3 and balancer_names:  # aliases to load balancers
            link(record, LinkKind.ROUTES_TO, dns_ref(balancer_names[n % len(balancer_names)]))
        elif n % 10 == 3 and cdn_names:  # CNAMEs to CDNs; the rest point at addresses
            link(record, LinkKind.ROUTES_TO, dns_ref(cdn_names[n % len(cdn_names)]))
    return total


def ingest(path: Path, scopes: list[list[Resource]], at: Any) -> tuple[float, list[Resource]]:
    db = Database(f"sqlite:///{path}")
    started = time.monotonic()
    seen = collect(db, scopes, at)
    seconds = time.monotonic() - started
    db.dispose()
    return seconds, seen


def build(directory: Path, size: int, finding_count: int) -> tuple[Path, dict[str, Any]]:
    """Two fresh databases of the same estate, with and without links; findings on the first."""
    now, at = utcnow(), utcnow() - timedelta(minutes=10)
    bare = [records for records in estate(size, now) if records]
    scopes = [records for records in estate(size, now) if records]
    links = add_links(scopes)
    # Twice each, alternating, into fresh files; the faster of each (a shared machine).
    plain, linked = [], []
    for attempt in range(2):
        plain.append(ingest(directory / f"plain-{attempt}.db", bare, at)[0])
        (directory / f"plain-{attempt}.db").unlink()
        path = directory / ("vigil.db" if attempt else "linked-0.db")
        seconds, seen = ingest(path, scopes, at)
        linked.append(seconds)
        if not attempt:
            path.unlink()
    plain_seconds, linked_seconds = min(plain), min(linked)
    db = Database(f"sqlite:///{path}")
    FindingStore(db).apply(findings(seen, finding_count), now - timedelta(minutes=5))
    db.dispose()
    figures = {
        "resources": len(seen),
        "links": links,
        "plain": plain_seconds,
        "linked": linked_seconds,
    }
    return path, figures


def timed_walks(db: Database, names: list[str]) -> tuple[list[float], int, int]:
    """Seconds of each `--from NAME --depth 4` (starts + topology), and the last graph's size."""
    seconds, nodes, edges = [], 0, 0
    for name in names:
        started = time.perf_counter()
        uids = topology.starts(db, name)
        graph = topology.topology(db, uids, depth=DEPTH, direction=Direction.BOTH)
        seconds.append(time.perf_counter() - started)
        nodes, edges = len(graph.nodes), len(graph.edges)
    return seconds, nodes, edges


def queries(path: Path) -> str:
    """Print the walk and exposure figures; returns a routed DNS record's uid for the page."""
    db = Database(f"sqlite:///{path}")
    names = [f"r{n}.example.com" for n in range(400) if n % 10 < 4][:40]  # routed ones
    timed_walks(db, names[:2])  # warm the connection pool and the page cache
    walks, nodes, edges = timed_walks(db, names)
    group = _first_uid(db, "security_group")
    group_walks, group_nodes, group_edges = timed_walks(db, [group] * 5)
    print(
        f"--from NAME --depth {DEPTH} (both ways), {len(walks)} DNS names: "
        f"median {statistics.median(walks) * 1000:.1f} ms, max {max(walks) * 1000:.1f} ms "
        f"(last: {nodes} resources, {edges} links)  (target < 200 ms)"
    )
    print(
        f"--from a security group --depth {DEPTH}: median "
        f"{statistics.median(group_walks) * 1000:.1f} ms ({group_nodes} resources, "
        f"{group_edges} links)"
    )
    open_uids = [f.resource_uid for f in FindingStore(db).findings()]
    runs = []
    with db.connect() as conn:
        exposure.entry_points(conn, open_uids[:100])  # warm
        for _ in range(3):
            started = time.perf_counter()
            paths = exposure.entry_points(conn, open_uids)
            runs.append(time.perf_counter() - started)
    reached = sum(1 for entries in paths.values() if entries)
    hops = sum(len(entries or []) for entries in paths.values())
    print(
        f"exposure paths for {len(open_uids):,} findings: {min(runs):.2f} s, "
        f"{max(runs):.2f} s the slowest of 3 ({reached:,} reachable, {hops:,} entry points "
        f"in all)  (target < 2 s)"
    )
    (record,) = topology.starts(db, names[0])
    print(f"topology page's reads (first view, in-process): {_page_reads(db) * 1000:.0f} ms")
    db.dispose()
    return record


def _page_reads(db: Database) -> float:
    """Seconds of the reads the page's first view makes: the entry point list, the first
    one's walk at depth 4, its resources' worst open findings (uncached, as a new server)."""
    started = time.perf_counter()
    with db.connect() as conn:
        (first, _), *_ = exposure.search_entry_points(conn, "", 200)
    graph = topology.topology(db, [first], depth=DEPTH, direction=Direction.BOTH)
    worst_open(db, [node.uid for node in graph.nodes])
    return time.perf_counter() - started


def _first_uid(db: Database, type_: str) -> str:
    query = sa.select(sa.func.min(resources.c.uid)).where(resources.c.type == type_)
    with db.connect() as conn:
        return str(conn.execute(query).scalar_one())


GRAPH = 'svg[aria-label="Topology graph"] g.node, [data-testid=stGraphVizChart] g.node'
"""A box of the server's drawing (an inline SVG), or of the browser's when `dot` is missing."""
GRID = "[data-testid=stDataFrame] canvas"
"""The neighbour list: the last of the page to show."""


def page(path: Path, record: str, new_servers: int) -> None:
    """Seconds from navigation until the Topology page's graph shows its first box.

    Each visit is a new browser context (nothing cached in the browser) and is closed once its
    page has shown everything, so that no page still rendering shares the two cores with the
    next one's measurement."""
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    def drawn(page: Page, url: str | None) -> tuple[float, float]:
        """Seconds until the graph's first box, and until the title. With no `url`, by the
        sidebar's link from the page shown (the dashboard's own navigation: Streamlit's front
        end is loaded already)."""
        started = time.monotonic()
        if url is None:
            page.get_by_role("link", name="Topology").click()
        else:
            page.goto(url, wait_until="commit")
        shown = _until_titled(page, started)
        graph = until_shown(page, GRAPH, started)
        until_shown(page, GRID, started)
        page.close()
        return graph, shown

    def visit(browser: Browser, url: str, settled: str) -> None:
        """A page opened until `settled` shows, then closed (its Python is then imported)."""
        page = browser.new_page()
        page.goto(url, wait_until="commit")
        until_shown(page, settled, time.monotonic())
        page.close()

    url = f"sqlite:///{path}"
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        with serve_dashboard(url) as base:
            cold = drawn(browser.new_page(), f"{base}/topology")
            cached = drawn(browser.new_page(), f"{base}/topology")
            centred = drawn(browser.new_page(), f"{base}/topology?uid={quote(record, safe='')}")
        first = []
        for _ in range(new_servers):
            with serve_dashboard(url) as base:
                # Another page first, so that the figure is the page's, not Python's imports.
                visit(browser, f"{base}/collectors", GRID)
                first.append(drawn(browser.new_page(), f"{base}/topology"))
        with serve_dashboard(url) as base:
            visitor = browser.new_page()
            visitor.goto(f"{base}/")  # the overview, as an SRE opens the dashboard
            until_shown(visitor, GRID, time.monotonic())
            navigated = drawn(visitor, None)
        floor = _streamlit_floor(browser)
        browser.close()
    graphs = sorted(graph for graph, _ in first)
    median = statistics.median(graphs)
    print(f"a page of Streamlit's with a title only, new visitor: {floor}  (its front end)")
    print(
        f"topology page, new visitor, data not cached yet: median {median:.2f} s of "
        f"{new_servers} servers ({graphs[0]:.2f}–{graphs[-1]:.2f} s; page shown "
        f"{statistics.median(shown for _, shown in first):.2f} s)  (target < 2 s)"
    )
    print(f"topology page, from the overview by its link, data not cached: {_figure(navigated)}")
    print(f"topology page, new visitor, data cached (TTL 30s): {_figure(cached)}")
    print(f"topology page, centred on a DNS record (?uid=):    {_figure(centred)}")
    print(f"topology page, very first session of the server:   {_figure(cold)}  (imports)")


def _figure(times: tuple[float, float]) -> str:
    graph, shown = times
    return f"{graph:.2f} s (page shown {shown:.2f} s)"


def _until_titled(page: Page, started: float) -> float:
    """Seconds until the title reads "Topology" (a page left behind has another title)."""
    return until_shown(page, "h1", started, "Topology")


def _streamlit_floor(browser: Browser) -> str:
    """What no Streamlit page can beat on this machine: a new visitor's view of a page that
    is `st.title` alone (the front end's own load), best and worst of 3."""

    with tempfile.TemporaryDirectory(prefix="vigil-bench-floor-") as tmp:
        script = Path(tmp) / "title.py"
        script.write_text('import streamlit as st\n\nst.title("Topology")\n')
        port = free_port()
        command = [
            sys.executable, "-m", "streamlit", "run", str(script),
            "--server.address", "127.0.0.1", "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        shown = []
        with serving(command, env=dict(os.environ), cwd=Path(tmp), port=port) as base:
            for _ in range(3):
                page = browser.new_page()
                started = time.monotonic()
                page.goto(base, wait_until="commit")
                shown.append(_until_titled(page, started))
                page.close()
    return f"{min(shown):.2f}–{max(shown):.2f} s"


def _at_least_one(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--no-browser", action="store_true", help="Skip the dashboard page.")
    parser.add_argument(
        "--new-servers",
        type=_at_least_one,
        default=3,
        help="Dashboard servers to start for the uncached first view (its median).",
    )
    parser.add_argument(
        "--keep", type=Path, help="Build into this folder (kept); reuse its vigil.db if there."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-topo-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "vigil.db"
        machine = (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        if path.exists():
            print(f"estate: reused {path} (no ingest figures); {machine}")
        else:
            path, built = build(folder, args.resources, args.findings)
            link_seconds = max(built["linked"] - built["plain"], 1e-9)
            print(
                f"estate: {built['resources']:,} resources, {built['links']:,} links, "
                f"{args.findings:,} findings; {machine}"
            )
            print(
                f"ingest: {built['resources'] / built['plain']:,.0f} resources/s without links "
                f"({built['plain']:.2f} s), {built['resources'] / built['linked']:,.0f} "
                f"resources/s with them ({built['linked']:.2f} s): links at "
                f"{built['links'] / link_seconds:,.0f} links/s"
            )
        record = queries(path)
        if not args.no_browser:
            page(path, record, args.new_servers)


if __name__ == "__main__":
    main()

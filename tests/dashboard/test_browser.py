"""The real thing: `streamlit run` on loopback, headless Chromium reading the pages."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, expect

from dashboard.views.topology import FILLS, NO_FINDING_FILL
from storage.db import Database
from storage.findings import FindingStore
from tests.dashboard.estate import HOSTILE_NAME, HOSTILE_TAG, Estate, seed_linked
from tests.fixtures.services import require_service
from vigil.core.model import Severity
from vigil.core.text import printable

pytestmark = pytest.mark.slow


def test_overview_shows_the_open_finding_count_and_tags_stay_text(
    chromium: Browser, dashboard_server, estate: Estate, sqlite_db: Database, sqlite_url: str
) -> None:
    open_findings = len(list(FindingStore(sqlite_db).findings()))
    with dashboard_server(sqlite_url) as base:
        page = chromium.new_page()
        try:
            page.goto(base)
            tile = page.get_by_test_id("stMetric").filter(has_text="Open findings")
            expect(tile.get_by_test_id("stMetricValue")).to_have_text(
                str(open_findings), timeout=30_000
            )

            page.goto(f"{base}/inventory?uid={quote(estate.hostile.uid, safe='')}")
            expect(page.get_by_text(HOSTILE_TAG)).to_be_visible(timeout=30_000)
            # Shown as text: no <b> element holding "x" anywhere in the document.
            assert page.locator("b", has_text="x").count() == 0
        finally:
            page.close()


def test_topology_boxes_lead_to_resource_pages_and_names_stay_text(
    chromium: Browser, dashboard_server, sqlite_db: Database, sqlite_url: str
) -> None:
    require_service("dot")
    linked = seed_linked(sqlite_db)
    with dashboard_server(sqlite_url) as base:
        page = chromium.new_page(viewport={"width": 1600, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        try:
            page.goto(f"{base}/topology?uid={quote(linked.alb, safe='')}")
            graph = page.get_by_role("img", name="Topology graph")  # the server's SVG
            boxes = graph.locator("g.node")
            expect(boxes).to_have_count(7, timeout=30_000)
            assert page.get_by_test_id("stGraphVizChart").count() == 0
            # The hostile name is one box's text, drawn as named: no <b> or <script> element,
            # no script run, no link but the resource pages'.
            hostile = boxes.filter(has_text='<b>x</b>" ]; evil')
            expect(hostile.locator("text").last).to_have_text(printable(HOSTILE_NAME))
            assert page.locator("b", has_text="x").count() == 0
            assert graph.locator("script").count() == 0
            hrefs = graph.locator("a").evaluate_all(
                "links => links.map(a => a.getAttribute('xlink:href') || a.getAttribute('href'))"
            )
            assert len(hrefs) == 7 and all(h.startswith("inventory?uid=") for h in hrefs), hrefs
            group = boxes.filter(has_text="sg-web").locator("polygon").first
            assert group.get_attribute("fill") == FILLS[Severity.CRITICAL]

            # Anywhere in the box is its link (filled white: no open finding).
            web = boxes.filter(has_text="i-web").locator("polygon").first
            assert web.get_attribute("fill") == NO_FINDING_FILL
            box = web.bounding_box()
            assert box is not None
            page.mouse.click(box["x"] + 4, box["y"] + 4)  # a corner, away from the text
            expect(page).to_have_url(f"{base}/inventory?uid={quote(linked.web, safe='')}")
            expect(page.get_by_role("heading", name="Links")).to_be_visible(timeout=30_000)

            page.get_by_role("link", name="Show in topology").click()
            expect(page).to_have_url(f"{base}/topology?uid={quote(linked.web, safe='')}")
            expect(page.get_by_text("Centred on server i-web")).to_be_visible(timeout=30_000)
            expect(graph.locator("g.node")).to_have_count(6, timeout=30_000)
            # A new walk redraws the drawing in place: one link away, i-web, the load balancer
            # targeting it, its security group and its disk.
            page.get_by_role("slider", name="Depth (links away)").press("Home")
            expect(graph.locator("g.node")).to_have_count(4, timeout=30_000)
            assert not dialogs, dialogs
        finally:
            page.close()


def test_without_graphviz_on_the_server_the_topology_is_drawn_in_the_browser(
    chromium: Browser, dashboard_server, sqlite_db: Database, sqlite_url: str, tmp_path: Path
) -> None:
    linked = seed_linked(sqlite_db)
    (tmp_path / "bin").mkdir()
    with dashboard_server(sqlite_url, env={"PATH": str(tmp_path / "bin")}) as base:
        page = chromium.new_page(viewport={"width": 1600, "height": 1000})
        try:
            page.goto(f"{base}/topology?uid={quote(linked.alb, safe='')}")
            chart = page.get_by_test_id("stGraphVizChart")
            expect(chart.locator("g.node")).to_have_count(7, timeout=30_000)
            expect(page.get_by_text("Drawn in your browser, more slowly")).to_be_visible()
            assert page.get_by_role("img", name="Topology graph").count() == 0
        finally:
            page.close()

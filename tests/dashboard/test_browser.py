"""The real thing: `streamlit run` on loopback, headless Chromium reading the pages."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, expect

from storage.db import Database
from storage.findings import FindingStore
from tests.dashboard.estate import HOSTILE_TAG, Estate

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

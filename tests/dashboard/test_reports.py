"""The reports page: pick a framework and format, generate, download."""

from __future__ import annotations

from dashboard.context import load_settings
from dashboard.views.reports import build
from tests.dashboard.estate import HOSTILE_TAG, Estate


def test_generating_offers_the_report_for_download(open_page, estate: Estate) -> None:
    app = open_page("views/reports.py")
    assert not app.get("download_button")
    app.button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    labels = [b.proto.label for b in app.get("download_button")]
    assert labels == ["Download vigil-report-all.html"]


def test_the_html_report_names_findings_and_keeps_tags_as_text(
    dashboard_env, estate: Estate, sqlite_url: str
) -> None:
    content = build(sqlite_url, "cis-aws", "html", 30, load_settings(None)).decode()
    assert "open to the internet" in content  # the seeded world-open security group
    assert HOSTILE_TAG not in content

"""The whole login: `vigil dashboard` with OIDC against a real issuer on loopback, in Chromium.

The issuer (tests/fixtures/oidc.py) serves discovery, JWKS, authorize and token endpoints;
`vigil dashboard` renders Streamlit's `[auth]` secrets from vigil.yaml; Chromium clicks "Log
in", follows the redirects through the issuer and back to /oauth2callback, and lands on the
page that `dashboard.access` decides.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.dashboard.estate import Estate
from tests.fixtures.browser import serving
from tests.fixtures.cli import REPO
from tests.fixtures.oidc import CLIENT_ID, CLIENT_SECRET, Issuer
from tests.fixtures.services import free_port

pytestmark = pytest.mark.slow


@contextmanager
def vigil_dashboard(config: Path, database_url: str, port: int) -> Iterator[str]:
    """The real `vigil --config FILE dashboard --port P`; yields its base URL."""
    env = {k: v for k, v in os.environ.items() if k != "VIGIL_CONFIG"}
    env |= {
        "VIGIL_DATABASE_URL": database_url,
        "VIGIL_TEST_OIDC_SECRET": CLIENT_SECRET,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "vigil", "--config", str(config), "dashboard"]
    with serving([*command, "--port", str(port)], env=env, cwd=config.parent, port=port) as base:
        yield base


@pytest.fixture
def served(oidc_issuer: Issuer, estate: Estate, sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    """The dashboard with OIDC login against the loopback issuer, allowing example.com."""
    port = free_port()
    config = tmp_path / "vigil.yaml"
    config.write_text(
        "dashboard:\n"
        f"  url: http://127.0.0.1:{port}\n"
        "  oidc:\n"
        f"    server_metadata_url: {oidc_issuer.metadata_url}\n"
        f"    client_id: {CLIENT_ID}\n"
        "    client_secret: ${VIGIL_TEST_OIDC_SECRET}\n"
        "  access:\n"
        "    domains: [example.com]\n"
    )
    with vigil_dashboard(config, sqlite_url, port) as base:
        yield base


def log_in(chromium: Browser, base: str, issuer: Issuer, claims: dict[str, Any]) -> Page:
    """A fresh browser context that opens the dashboard and logs in as `claims`."""
    issuer.user = claims
    page = chromium.new_context().new_page()
    page.goto(base)
    page.get_by_role("button", name="Log in").click(timeout=30_000)
    page.wait_for_url(f"{base}/**", timeout=30_000)
    return page


def test_an_allowed_user_logs_in_and_sees_the_inventory(
    chromium: Browser, served: str, oidc_issuer: Issuer, estate: Estate
) -> None:
    page = log_in(
        chromium, served, oidc_issuer, {"email": "sre@example.com", "email_verified": True}
    )
    try:
        tile = page.get_by_test_id("stMetric").filter(has_text="Open findings")
        expect(tile).to_be_visible(timeout=30_000)
        expect(page.get_by_text("sre@example.com")).to_be_visible()
        assert oidc_issuer.tokens_issued == 1  # the code was exchanged at the token endpoint
        page.goto(f"{served}/inventory")
        expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=30_000)
    finally:
        page.context.close()


def test_a_user_not_on_the_allow_list_sees_not_allowed_and_no_resource(
    chromium: Browser, served: str, oidc_issuer: Issuer, estate: Estate
) -> None:
    claims = {"email": "mallory@example.com.evil.org", "email_verified": True}
    page = log_in(chromium, served, oidc_issuer, claims)
    try:
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        assert oidc_issuer.tokens_issued == 1
        for path in ("", "/inventory", "/findings"):
            page.goto(served + path)
            expect(page.get_by_role("heading", name="Not allowed")).to_be_visible(timeout=30_000)
            body = page.locator("body").inner_text()
            assert estate.hostile.name not in body and "web-1" not in body
            assert page.get_by_test_id("stMetric").count() == 0
            assert page.get_by_test_id("stDataFrame").count() == 0
    finally:
        page.context.close()

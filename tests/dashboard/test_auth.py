"""Optional login: with `dashboard.oidc` nothing shows before st.login, nor to a login that
`dashboard.access` does not list; without it, a notice of who can reach the page."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP
from tests.dashboard.estate import Estate
from tests.dashboard.helpers import texts
from vigil.app.config import load_config
from vigil.app.dashboard import secrets_toml, write_secrets

OIDC = """\
dashboard:
  url: https://vigil.example.com/
  oidc:
    server_metadata_url: https://idp.example.com/.well-known/openid-configuration
    client_id: vigil
    client_secret: ${VIGIL_TEST_OIDC_SECRET}
  access:
    domains: [example.com]
    groups: [sre]
"""


@pytest.fixture
def oidc_config(dashboard_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = dashboard_env / "vigil.yaml"
    path.write_text(OIDC)
    monkeypatch.setenv("VIGIL_TEST_OIDC_SECRET", "s3cret")
    monkeypatch.setenv("VIGIL_CONFIG", str(path))
    return path


def test_login_guards_every_page(oidc_config: Path, estate: Estate) -> None:
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.secrets["auth"] = tomllib.loads(secrets_toml(load_config(oidc_config)))["auth"]
    app.run()
    assert [b.label for b in app.button] == ["Log in"]
    assert not app.metric and not app.dataframe  # nothing of the estate before login


def logged_in(oidc_config: Path, **claims: object) -> AppTest:
    """The app as a visitor sees it after logging in with these ID-token claims."""
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.secrets["auth"] = tomllib.loads(secrets_toml(load_config(oidc_config)))["auth"]
    app.user = {"is_logged_in": True, **claims}
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "sre@example.com", "email_verified": True},
        {"email": "contractor@agency.net", "email_verified": True, "groups": ["sre"]},
    ],
    ids=["verified domain", "group"],
)
def test_an_allowed_login_sees_the_estate(
    oidc_config: Path, estate: Estate, claims: dict[str, object]
) -> None:
    app = logged_in(oidc_config, **claims)
    assert app.metric, "the overview shows its figures"
    assert "Not allowed" not in [t.value for t in app.title]
    assert "Log out" in [b.label for b in app.button]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"email": "mallory@gmail.com", "email_verified": True}, "not on the allow-list"),
        ({"email": "sre@example.com", "email_verified": False}, "did not confirm the email"),
        ({"email": "mallory@example.com.evil.org", "email_verified": True}, "not on the"),
        ({"email": "dev@agency.net", "email_verified": True, "groups": ["dev"]}, "groups"),
    ],
    ids=["other domain", "unverified", "suffix trick", "other group"],
)
def test_a_login_not_on_the_allow_list_sees_only_not_allowed_and_log_out(
    oidc_config: Path, estate: Estate, claims: dict[str, object], reason: str
) -> None:
    app = logged_in(oidc_config, **claims)
    assert [t.value for t in app.title] == ["Not allowed"]
    assert [b.label for b in app.button] == ["Log out"]
    shown = " ".join(str(t.value) for t in app.text)
    assert str(claims["email"]) in shown and reason in shown
    assert not app.metric and not app.dataframe and not app.code  # nothing of the estate
    assert estate.hostile.name not in shown + " ".join(str(m.value) for m in app.markdown)


def test_missing_auth_secrets_fail_closed(oidc_config: Path, estate: Estate) -> None:
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert "start it with `vigil dashboard`" in texts(app)
    assert not app.metric and not app.dataframe


def test_secrets_file_carries_the_auth_table(oidc_config: Path, tmp_path: Path) -> None:
    path = write_secrets(load_config(oidc_config), tmp_path)
    auth = tomllib.loads(path.read_text())["auth"]
    assert auth["redirect_uri"] == "https://vigil.example.com/oauth2callback"
    assert auth["client_secret"] == "s3cret" and len(auth["cookie_secret"]) >= 32
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("address", "notice"),
    [("127.0.0.1", "this machine only"), ("0.0.0.0", "anyone who can reach this address")],
)
def test_without_login_the_page_says_who_can_reach_it(
    open_page, estate: Estate, address: str, notice: str
) -> None:
    before = streamlit_config.get_option("server.address")
    streamlit_config.set_option("server.address", address)
    try:
        app = open_page()
    finally:
        streamlit_config.set_option("server.address", before)
    assert notice in texts(app)


def test_the_login_routes_dependencies_are_installed() -> None:
    """st.login's code exchange needs Authlib's Starlette client and httpx (streamlit[auth]).

    Without httpx, /auth/login answered 500 and nobody could log in; the browser test
    (test_oidc_login.py) shows the flow, this shows the install in the quick suite.
    """
    from authlib.integrations import starlette_client

    assert starlette_client.OAuth

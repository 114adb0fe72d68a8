"""Optional login: Streamlit's built-in OIDC (`st.login`) when `dashboard.oidc` is configured.

`vigil dashboard` hands Streamlit the `[auth]` secrets (vigil/app/dashboard.py). The guard fails
closed: with OIDC configured, nothing is shown to a visitor who has not logged in or whom
`dashboard.access` does not list (vigil.app.access decides), and a server started without the
secrets says how to fix it (see docs/dashboard.md).
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard.context import Settings
from vigil.app.access import decide
from vigil.app.dashboard import is_loopback

log = logging.getLogger("vigil.dashboard.auth")


def require_login(settings: Settings) -> None:
    """With OIDC configured, stop the page here unless the visitor is logged in."""
    if not settings.oidc_enabled:
        return
    if not _auth_secrets_present():
        st.error(
            "Login is configured (`dashboard.oidc`) but this server has no `[auth]` secrets: "
            "start it with `vigil dashboard`, which provides them (docs/dashboard.md)."
        )
        st.stop()
    if not st.user.get("is_logged_in"):  # absent (not logged in) reads as False
        st.title("Vigil")
        st.write("Log in to see the estate.")
        st.button("Log in", on_click=st.login, type="primary")
        st.stop()
    who = str(st.user.get("email") or st.user.get("name") or st.user.get("sub") or "")
    decision = decide(settings.access, st.user.to_dict())
    if not decision.allowed:
        _not_allowed(who, decision.reason)
    with st.sidebar:
        st.caption("Logged in")
        st.text(who)
        st.button("Log out", on_click=st.logout)


def _not_allowed(who: str, reason: str) -> None:
    """The whole page for a login the allow-list does not name: who, why, and a way out."""
    # The name is the issuer's claim: logged as data, shown with st.text (never Markdown).
    log.warning("dashboard login refused for %r: %s", who, reason)
    st.title("Not allowed")
    st.write("You are logged in, but this account may not see this dashboard:")
    st.text(f"{who or 'this account'}: {reason}")
    st.write("Log out and log in with another account, or ask its operators to add you.")
    st.button("Log out", on_click=st.logout, type="primary")
    st.stop()


def _auth_secrets_present() -> bool:
    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:  # no secrets file at all
        return False


def access_notice(settings: Settings) -> None:
    """Say in the sidebar who can reach this dashboard."""
    if settings.oidc_enabled:
        return
    address = st.get_option("server.address")
    if is_loopback(address):
        st.sidebar.caption(
            f"No login configured: served on {address} (this machine only). "
            "Configure `dashboard.oidc` in vigil.yaml before binding another address."
        )
    else:
        st.sidebar.warning(
            "No login configured and not bound to loopback: anyone who can reach this "
            "address sees the inventory. Configure `dashboard.oidc`, or run "
            "`vigil dashboard` (binds 127.0.0.1)."
        )

"""Optional login: Streamlit's built-in OIDC (`st.login`) when `dashboard.oidc` is configured.

`vigil dashboard` hands Streamlit the `[auth]` secrets (vigil/app/dashboard.py). The guard fails
closed: with OIDC configured, nothing is shown to a visitor who has not logged in, and a server
started without the secrets says how to fix it (see docs/dashboard.md).
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard.context import Settings, is_loopback


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
    with st.sidebar:
        st.caption("Logged in")
        st.text(str(st.user.get("email") or st.user.get("name") or ""))
        st.button("Log out", on_click=st.logout)


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

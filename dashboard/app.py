"""Vigil's dashboard: `vigil dashboard`, or `streamlit run dashboard/app.py`.

It only reads storage (through dashboard/data.py). The database comes from
VIGIL_DATABASE_URL and the config from VIGIL_CONFIG, both set by `vigil dashboard`. When the
config has `dashboard.oidc`, every page asks for a login first (dashboard/auth.py).
"""

from __future__ import annotations

import streamlit as st

from dashboard import auth, ui

PAGES = (
    ("views/overview.py", "Overview", ":material/monitor_heart:"),
    ("views/inventory.py", "Inventory", ":material/inventory_2:"),
    ("views/findings.py", "Findings", ":material/report:"),
    ("views/certificates.py", "Certificates", ":material/verified:"),
    ("views/changes.py", "Changes", ":material/history:"),
    ("views/topology.py", "Topology", ":material/account_tree:"),
    ("views/collectors.py", "Collectors", ":material/sync:"),
    ("views/reports.py", "Reports", ":material/description:"),
)


def main() -> None:
    st.set_page_config(page_title="Vigil", page_icon=":material/visibility:", layout="wide")
    settings = ui.settings()
    auth.require_login(settings)
    pages = [
        st.Page(path, title=title, icon=icon, default=index == 0)
        for index, (path, title, icon) in enumerate(PAGES)
    ]
    navigation = st.navigation(pages)
    auth.access_notice(settings)
    navigation.run()


main()

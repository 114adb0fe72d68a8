"""Changes: the drift timeline. What changed, when, and the old and new values."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from vigil.core.model import ChangeKind

WINDOWS = {"24 hours": 1, "7 days": 7, "30 days": 30, "90 days": 90}
COLUMNS = ["at", "kind", "type", "native_id", "name", "field", "old", "new", "source", "region"]


def render() -> None:
    """The changes page."""
    st.title("Changes")
    config = ui.settings()
    if not ui.has_data(config):
        return
    url = config.database_url
    window, kinds, types = st.columns([1, 2, 2])
    days = WINDOWS[window.selectbox("Since", list(WINDOWS), index=1, key="changes_window")]
    chosen_kinds = tuple(
        kinds.multiselect("kind", [k.value for k in ChangeKind], key="changes_kind")
    )
    chosen_types = tuple(types.multiselect("type", data.facets(url)["type"], key="changes_type"))
    per_day = pd.DataFrame(
        data.changes_per_day(url, days, chosen_types), columns=["day", "kind", "events"]
    )
    if chosen_kinds:
        per_day = per_day[per_day["kind"].isin(chosen_kinds)]
    page = data.recent_changes(url, days, chosen_kinds, chosen_types)
    st.metric("Change events", page.total)
    if page.total == 0:
        st.info("Nothing changed in this window. Every collection records what it finds changed.")
        return
    st.altair_chart(charts.changes_timeline(per_day), width="stretch")
    if page.total > len(page.rows):
        st.caption(
            f"The newest {len(page.rows)} of {page.total} events; narrow the filters to see others."
        )
    ui.table(ui.frame(_rows(page.rows), COLUMNS))


def _rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per changed field; created and deleted events as one row each."""
    rows: list[dict[str, Any]] = []
    for event in events:
        base = {
            k: event[k] for k in ("at", "kind", "type", "native_id", "name", "source", "region")
        }
        rows += ui.field_rows(base, event["changes"] if event["kind"] == "changed" else None)
    return rows


if __name__ == "__main__":
    render()

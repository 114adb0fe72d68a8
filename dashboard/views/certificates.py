"""Certificates: when each one expires, soonest first, and where it was found (ACM, probe)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui

COLUMNS = ["days_left", "not_after", "name", "native_id", "source", "origin", "issuer", "region"]


def render() -> None:
    """The certificates page."""
    st.title("Certificates")
    config = ui.settings()
    if not ui.has_data(config):
        return
    rows = data.certificates(config.database_url)
    if not rows:
        st.info(
            "No certificates in the inventory: add an AWS source (ACM) or a probe source with "
            "`tls:` endpoints to vigil.yaml, then run `vigil collect`."
        )
        return
    frame = ui.frame(rows, COLUMNS)
    expired, week, month = ((frame["days_left"] < limit).sum() for limit in (0, 7, 30))
    tiles = st.columns(4)
    tiles[0].metric("Certificates", len(frame))
    tiles[1].metric("Expired", int(expired))
    tiles[2].metric("Expiring in 7 days", int(week - expired))
    tiles[3].metric("Expiring in 30 days", int(month - expired))
    timeline = frame.assign(expires=pd.to_datetime(frame["not_after"], utc=True))
    st.altair_chart(charts.certificate_timeline(timeline[["expires", "source"]]), width="stretch")
    ui.table(
        frame,
        column_config={"days_left": st.column_config.NumberColumn("days left", format="%.1f")},
    )


if __name__ == "__main__":
    render()

"""Certificates: when each one expires, soonest first, where it was found (ACM, probe), where
it is bound and served, and the ACM certificates bound nowhere and served nowhere (unused)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui

COLUMNS = [
    "days_left",
    "not_after",
    "name",
    "native_id",
    "source",
    "origin",
    "bound_to",
    "served_at",
    "issuer",
    "region",
]
UNUSED_COLUMNS = ["name", "native_id", "source"]


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
    usage = {row["uid"]: row for row in data.certificate_usage(config.database_url)}
    frame = ui.frame([_with_usage(row, usage.get(row["uid"])) for row in rows], COLUMNS)
    unused = [row for row in usage.values() if row["unused"]]
    expired, week, month = ((frame["days_left"] < limit).sum() for limit in (0, 7, 30))
    tiles = st.columns(5)
    tiles[0].metric("Certificates", len(frame))
    tiles[1].metric("Expired", int(expired))
    tiles[2].metric("Expiring in 7 days", int(week - expired))
    tiles[3].metric("Expiring in 30 days", int(month - expired))
    tiles[4].metric("Unused", len(unused))
    timeline = frame.assign(expires=pd.to_datetime(frame["not_after"], utc=True))
    st.altair_chart(charts.certificate_timeline(timeline[["expires", "source"]]), width="stretch")
    ui.table(
        frame,
        column_config={"days_left": st.column_config.NumberColumn("days left", format="%.1f")},
    )
    st.subheader("Unused certificates")
    if unused:
        st.caption(
            "ACM certificates no load balancer or CDN binds, no probe saw served, and ACM "
            "reports in use by nothing."
        )
        ui.table(ui.frame(unused, UNUSED_COLUMNS))
    else:
        st.caption("None: every ACM certificate is bound or served somewhere (or ACM says so).")


def _with_usage(row: dict[str, Any], usage: dict[str, Any] | None) -> dict[str, Any]:
    """A certificate row with where it is bound and served, as comma-separated text."""
    found = usage or {}
    return {
        **row,
        "bound_to": ", ".join(found.get("bound_to") or ()),
        "served_at": ", ".join(found.get("served_at") or ()),
    }


if __name__ == "__main__":
    render()

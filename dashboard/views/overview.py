"""Overview: is anything on fire, what is about to expire, are the collectors healthy."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from storage.runs import HEALTH_FORMULA
from vigil.core.model import RunStatus


def render() -> None:
    """The overview page."""
    st.title("Overview")
    config = ui.settings()
    if not ui.has_data(config):
        return
    url = config.database_url
    _findings(url)
    _estate(url)
    _health(url)
    _trends(url)
    _expiring(url)
    _failing_scopes(url)


def _findings(url: str) -> None:
    counts = data.open_by_severity(url)
    total, before = sum(c.open for c in counts), sum(c.day_ago for c in counts)
    columns = st.columns(len(counts) + 1)
    columns[0].metric(
        "Open findings",
        total,
        delta=total - before,
        delta_color="inverse",
        help="Open now; the change is against 24 hours ago.",
    )
    for column, count in zip(columns[1:], counts, strict=True):
        column.metric(
            count.severity, count.open, delta=count.open - count.day_ago, delta_color="inverse"
        )


def _estate(url: str) -> None:
    resources = sum(n for _, _, n in data.counts_by_source_type(url))
    expiring = len(data.certificates(url, within_days=30))
    scopes = data.scope_statuses(url)
    failing = sum(1 for s in scopes if s.status == RunStatus.FAILED)
    tiles = [
        ("Resources", resources, "Present resources, as `vigil inventory` lists them."),
        ("Certificates expiring in 30 days", expiring, "Expired ones included."),
        ("Scopes failing", failing, f"Of {len(scopes)} scopes, by their newest run."),
    ]
    outbox = data.outbox_counts(url)
    tiles.append(("Notifications pending", outbox["pending"], "Waiting in the outbox."))
    tiles.append(("Notifications dead", outbox["dead"], "Gave up after retries."))
    for column, (label, value, helptext) in zip(st.columns(len(tiles)), tiles, strict=True):
        column.metric(label, value, help=helptext)


def _health(url: str) -> None:
    st.subheader("Health by source")
    rows = [vars(h) for h in data.source_health(url)]
    ui.table(
        ui.frame(rows, ["source", "score", "resources", "affected", "scopes", "scopes_ok"]),
        column_config={
            "score": st.column_config.ProgressColumn(
                "health", min_value=0, max_value=100, format="%d"
            ),
            "affected": st.column_config.NumberColumn("with critical/high findings"),
            "scopes_ok": st.column_config.NumberColumn("scopes ok"),
        },
    )
    st.caption(HEALTH_FORMULA)


def _trends(url: str) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Findings per day")
        frame = pd.DataFrame(data.findings_per_day(url), columns=["day", "new", "resolved"])
        st.altair_chart(charts.findings_trend(frame), width="stretch")
    with right:
        st.subheader("Inventory size")
        frame = pd.DataFrame(data.inventory_size_per_day(url), columns=["day", "resources"])
        st.altair_chart(charts.inventory_trend(frame), width="stretch")


def _expiring(url: str) -> None:
    st.subheader("Certificates expiring in 30 days")
    rows = data.certificates(url, within_days=30)
    if not rows:
        st.success("No certificate expires in the next 30 days.")
        return
    ui.table(
        ui.frame(rows, ["days_left", "name", "native_id", "source", "not_after"]),
        column_config={"days_left": st.column_config.NumberColumn("days left", format="%.1f")},
    )


def _failing_scopes(url: str) -> None:
    st.subheader("Collectors")
    scopes = data.scope_statuses(url)
    failed = [s for s in scopes if s.status == RunStatus.FAILED]
    if not failed:
        st.success(f"All {len(scopes)} scopes completed their newest run.")
        return
    rows = [
        {"scope": s.scope_key, "error": s.error or "", "last success": s.last_complete}
        for s in failed
    ]
    ui.table(ui.frame(rows, ["scope", "error", "last success"]))


if __name__ == "__main__":
    render()

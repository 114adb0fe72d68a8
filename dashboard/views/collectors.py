"""Collectors: each scope's newest run, last success, duration, status, throttling answers
and error."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from vigil.core.model import RunStatus, utcnow

COLUMNS = [
    "scope",
    "status",
    "last_success",
    "hours_since_success",
    "duration_s",
    "failures",
    "throttled",
    "error",
]

SCOPE_STATUSES = (RunStatus.COMPLETE, RunStatus.FAILED, RunStatus.RUNNING)


def render() -> None:
    """The collectors page."""
    st.title("Collectors")
    config = ui.settings()
    scopes = data.scope_statuses(config.database_url)
    if not scopes:
        ui.has_data(config)  # says what to do: configure sources, or collect
        return
    now = utcnow()
    counts = pd.Series([s.status for s in scopes]).value_counts()
    tiles = st.columns(3)
    for tile, status in zip(tiles, SCOPE_STATUSES, strict=True):
        tile.metric(f"Scopes {status}", int(counts.get(status, 0)))
    rows = [
        {
            "scope": s.scope_key,
            "status": s.status,
            "last_success": s.last_complete,
            "hours_since_success": (
                round((now - s.last_complete).total_seconds() / 3600, 1)
                if s.last_complete
                else None
            ),
            "duration_s": s.duration_seconds,
            "failures": s.failures_total,
            "throttled": s.throttled,
            "error": s.error or "",
        }
        for s in sorted(scopes, key=lambda s: (s.status == RunStatus.COMPLETE, s.scope_key))
    ]
    frame = ui.frame(rows, COLUMNS)
    chart = frame.rename(columns={"duration_s": "seconds"})[["scope", "seconds", "status"]]
    st.altair_chart(charts.scope_durations(chart.fillna({"seconds": 0})), width="stretch")
    ui.table(frame)


if __name__ == "__main__":
    render()

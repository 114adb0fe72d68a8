"""Vigil's dashboard: `streamlit run dashboard/app.py` (or `vigil dashboard`).

It only reads storage, through storage.queries. The database comes from VIGIL_DATABASE_URL
(set by `vigil dashboard`) or the default.
"""

from __future__ import annotations

import os
from collections import Counter

import pandas as pd
import streamlit as st

from storage import queries
from storage.db import Database
from vigil.config import DEFAULT_DATABASE_URL


@st.cache_resource
def database(url: str) -> Database:
    return Database(url)


@st.cache_data(ttl=30)
def counts_by_type(url: str) -> dict[str, int]:
    return dict(Counter(r.type for r in queries.inventory(database(url))))


@st.cache_data(ttl=30)
def scope_table(url: str) -> pd.DataFrame:
    rows = [
        {
            "scope": s.scope_key,
            "status": s.status,
            "last success": s.last_complete,
            "duration (s)": s.duration_seconds,
            "failures": s.failures_total,
            "error": s.error or "",
        }
        for s in queries.scope_statuses(database(url))
    ]
    return pd.DataFrame(rows)


def main() -> None:
    st.set_page_config(page_title="Vigil", layout="wide")
    url = os.environ.get("VIGIL_DATABASE_URL", DEFAULT_DATABASE_URL)
    st.title("Vigil")
    counts = counts_by_type(url)
    if not counts:
        st.info("The inventory is empty: configure sources (`vigil init`) and run `vigil collect`.")
        return
    st.subheader("Inventory")
    columns = st.columns(len(counts))
    for column, (type_, count) in zip(columns, sorted(counts.items()), strict=True):
        column.metric(type_, count)
    st.subheader("Collectors")
    st.dataframe(scope_table(url), hide_index=True, use_container_width=True)


main()

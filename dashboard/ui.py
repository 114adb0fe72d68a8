"""Helpers shared by the pages: settings, empty states, tables of untrusted text.

Resource names, tags and attributes come from anyone who can create a resource. Pages show
them only through widgets that render text literally (st.dataframe, st.json, st.code,
st.text), never through Markdown or HTML.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.context import Settings, config_path, load_settings
from vigil.core.model import utcnow
from vigil.core.text import printable
from vigil.core.urls import redact_url


def settings() -> Settings:
    """The environment's settings (the config file re-read at most every TTL_SECONDS)."""
    return _settings(config_path(), os.environ.get("VIGIL_DATABASE_URL"))


@st.cache_resource(ttl=data.TTL_SECONDS, show_spinner=False)
def _settings(path: str | None, database_url: str | None) -> Settings:
    # database_url only keys the cache: load_settings reads it from the environment.
    return load_settings(path)


def frame(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame with exactly `columns`, also when there are no rows; text cells with
    control and bidi-override characters shown as escapes (a name cannot reorder a row)."""
    grid = pd.DataFrame(list(rows), columns=list(columns))
    for column in grid.columns:
        # pandas 3 gives all-text columns the `str` dtype, mixed ones stay `object`.
        if grid[column].dtype == object or pd.api.types.is_string_dtype(grid[column].dtype):
            grid[column] = grid[column].map(lambda v: printable(v) if isinstance(v, str) else v)
    return grid


def table(rows: pd.DataFrame, **kwargs: Any) -> Any:
    """A read-only grid (canvas-rendered: cell text is never interpreted)."""
    return st.dataframe(rows, hide_index=True, width="stretch", **kwargs)


def age_days(when: datetime | None, now: datetime | None = None) -> float | None:
    """Days since `when`, one decimal."""
    if when is None:
        return None
    return round(((now or utcnow()) - when).total_seconds() / 86400, 1)


def tags_text(tags: dict[str, str] | None) -> str:
    return printable(", ".join(f"{key}={value}" for key, value in sorted((tags or {}).items())))


def field_rows(base: dict[str, Any], changes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A change event as rows: one per changed field (`field`, `old`, `new` as text), or
    one blank row when it names no field."""
    if not changes:
        return [base | {"field": "", "old": "", "new": ""}]
    return [
        base | {"field": name, "old": _text(change.get("old")), "new": _text(change.get("new"))}
        for name, change in sorted(changes.items())
    ]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def has_data(config: Settings) -> bool:
    """Whether anything was ever collected; otherwise show what to do next and say False."""
    url = config.database_url
    # Not counts_by_source_type: every page asks this, and counting 100k rows took 0.1 s.
    if data.has_present(url) or data.scope_statuses(url):
        return True
    if config.config_error:
        st.error(f"The config could not be read: {config.config_error}")
    elif not config.sources_configured:
        st.info(
            "No sources configured: run `vigil init`, add your clouds and hosts to vigil.yaml, "
            "then `vigil collect`. To look around first, `vigil demo --serve` builds a demo estate."
        )
    else:
        st.info("Inventory empty: run `vigil collect` (or start the daemon, `vigil run`).")
    st.caption(f"Database: {_redacted(url)}")
    return False


def _redacted(url: str) -> str:
    """The database URL without its password."""
    return redact_url(url)

"""Cached reads for the pages: storage's query modules behind `st.cache_data`.

Every function takes the database URL (the cache key) and filter values; results live for
TTL_SECONDS, so a page refresh within that window costs no query and a new collection shows
up within it. Arguments and results are small: pages, counts, a few hundred rows at most.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from storage import exposure, findings, history, inventory, outbox, runs, topology
from storage.certificate_usage import certificate_usage as _certificate_usage
from storage.db import Database
from storage.expressions import Page
from storage.findings import FindingQuery
from storage.inventory import InventoryQuery
from storage.silences import Silence, SilenceStore
from vigil.app.config import VigilConfig
from vigil.core.model import Direction, Severity, utcnow

TTL_SECONDS = 30


@st.cache_resource(show_spinner=False)
def database(url: str) -> Database:
    """One engine per database URL for the life of the server."""
    return Database(url)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def open_by_severity(url: str) -> list[findings.SeverityCount]:
    return findings.open_by_severity(database(url), utcnow())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def counts_by_source_type(url: str) -> list[tuple[str, str, int]]:
    return inventory.counts_by_source_type(database(url))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def has_present(url: str) -> bool:
    return inventory.has_present(database(url))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def source_health(url: str) -> list[runs.SourceHealth]:
    return runs.source_health(database(url))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def findings_per_day(url: str, days: int = 30) -> list[tuple[str, int, int]]:
    return findings.findings_per_day(database(url), utcnow(), days)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def inventory_size_per_day(url: str, days: int = 30) -> list[tuple[str, int]]:
    return history.inventory_size_per_day(database(url), utcnow(), days)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def certificates(url: str, within_days: int | None = None) -> list[dict[str, Any]]:
    return inventory.expiring_certificates(database(url), utcnow(), within_days=within_days)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def certificate_usage(url: str) -> list[dict[str, Any]]:
    return [usage.to_dict() for usage in _certificate_usage(database(url))]


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def scope_statuses(url: str) -> list[runs.ScopeStatus]:
    return runs.scope_statuses(database(url))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def facets(url: str) -> dict[str, list[str]]:
    return inventory.facets(database(url))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def inventory_page(url: str, query: InventoryQuery, limit: int, offset: int) -> Page:
    return inventory.inventory_page(database(url), query, limit=limit, offset=offset)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def findings_page(url: str, query: FindingQuery, limit: int, offset: int) -> Page:
    return findings.findings_page(database(url), query, limit=limit, offset=offset)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def findings_by_rule(url: str, query: FindingQuery) -> list[tuple[str, str, int]]:
    return findings.findings_by_rule(database(url), query)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def active_silences(url: str) -> list[Silence]:
    return SilenceStore(database(url)).silences(now=utcnow())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def resource(url: str, uid: str) -> dict[str, Any] | None:
    return inventory.resource(database(url), uid)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def resource_findings(url: str, uid: str) -> list[dict[str, Any]]:
    return findings.resource_findings(database(url), uid)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def resource_history(url: str, uid: str) -> list[dict[str, Any]]:
    return history.resource_history(database(url), uid)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def graph(url: str, start: tuple[str, ...], depth: int, direction: Direction) -> topology.Graph:
    """The links around `start` within `depth` steps (the `vigil topology --from` walk)."""
    return topology.topology(database(url), start, depth=depth, direction=direction)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def starts(url: str, name: str) -> list[str]:
    """The uids a uid or DNS name names (`vigil topology --from`)."""
    return topology.starts(database(url), name)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def entry_points(url: str, text: str, limit: int) -> list[tuple[str, str]]:
    """(uid, label) of the public entry points matching `text`, at most `limit`."""
    with database(url).connect() as conn:
        return exposure.search_entry_points(conn, text, limit)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def worst_open(url: str, uids: tuple[str, ...]) -> dict[str, Severity]:
    return findings.worst_open(database(url), uids)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def changes_per_day(url: str, days: int, types: tuple[str, ...]) -> list[tuple[str, str, int]]:
    since = utcnow() - timedelta(days=days)
    return history.changes_per_day(database(url), since, types=types)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def recent_changes(url: str, days: int, kinds: tuple[str, ...], types: tuple[str, ...]) -> Page:
    since = utcnow() - timedelta(days=days)
    return history.recent_changes(database(url), since, kinds=kinds, types=types)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def outbox_counts(url: str) -> dict[str, int]:
    """Notification outbox counts: pending (sending included), sent, failed and dead."""
    return outbox.counts(database(url))


@st.cache_resource(show_spinner=False)
def rule_catalog(_config: VigilConfig | None, config_path: str | None) -> dict[str, Any]:
    """rule id → rule (title, remediation, compliance), built-in and from the config's packs."""
    from rules.registry import all_rules  # only the findings page needs the rules: import late

    return {rule.id: rule for rule in all_rules(_config.rules if _config else None)}

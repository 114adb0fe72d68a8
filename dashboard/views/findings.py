"""Findings: what the rules flagged, filtered like `vigil findings`, with silences and why."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from storage.findings import FindingQuery
from vigil.core.model import FindingStatus, Severity, utcnow

PAGE_SIZE = 200
COLUMNS = [
    "severity",
    "status",
    "rule",
    "title",
    "native_id",
    "resource_name",
    "source",
    "region",
    "first_seen",
    "age_days",
    "remediation",
    "compliance",
    "silence",
]


def render() -> None:
    """The findings page."""
    st.title("Findings")
    config = ui.settings()
    if not ui.has_data(config):
        return
    url = config.database_url
    catalog = data.rule_catalog(config.config, config.config_path)
    query = _filters(url, sorted(catalog))
    number = int(st.session_state.get("findings_page", 1))
    page = data.findings_page(url, query, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    st.metric("Matching findings", page.total)
    by_rule = data.findings_by_rule(url, query)
    if by_rule:
        frame = pd.DataFrame(by_rule, columns=["rule", "severity", "findings"])
        st.altair_chart(charts.findings_by_rule(frame), width="stretch")
    silences = {s.id: s for s in data.active_silences(url)}
    ui.table(ui.frame((_row(f, catalog, silences) for f in page.rows), COLUMNS))
    pages = max(1, -(-page.total // PAGE_SIZE))
    st.number_input(f"Page (of {pages})", 1, pages, min(number, pages), key="findings_page")
    _silences(list(silences.values()))


def _filters(url: str, rules: list[str]) -> FindingQuery:
    status, severity, rule, source, owner = st.columns(5)
    return FindingQuery(
        statuses=tuple(
            status.multiselect(
                "status", [s.value for s in FindingStatus], default=["open"], key="findings_status"
            )
        ),
        severities=tuple(
            severity.multiselect("severity", [s.value for s in Severity], key="findings_severity")
        ),
        rules=tuple(rule.multiselect("rule", rules, key="findings_rule")),
        sources=tuple(
            source.multiselect("source", data.facets(url)["source"], key="findings_source")
        ),
        owner=owner.text_input("owner tag", key="findings_owner").strip(),
    )


def _row(
    finding: dict[str, Any], catalog: dict[str, Any], silences: dict[str, Any]
) -> dict[str, Any]:
    rule = catalog.get(finding["rule"])
    silence = silences.get(finding["silence_id"] or "")
    controls = rule.compliance if rule else {}
    return finding | {
        "age_days": ui.age_days(finding["first_seen"], utcnow()),
        "remediation": rule.remediation if rule else "",
        "compliance": "; ".join(f"{fw} {', '.join(ids)}" for fw, ids in sorted(controls.items())),
        "silence": f"{silence.reason} ({silence.author})" if silence else "",
    }


def _silences(silences: list[Any]) -> None:
    st.subheader("Active silences")
    if not silences:
        st.caption("None. `vigil silence add` silences a rule, a resource or a label match.")
        return
    rows = [s.to_dict() for s in silences]
    ui.table(ui.frame(rows, ["rule", "resource", "match", "reason", "author", "expires_at", "id"]))


if __name__ == "__main__":
    render()

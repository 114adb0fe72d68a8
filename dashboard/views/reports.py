"""Reports: generate a compliance report for a framework and download it.

The same content as `vigil report` (vigil/reports), rendered on demand: nothing is written
to the server's disk beyond a private temporary file, and nothing is kept.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import streamlit as st

from dashboard import data, ui
from dashboard.context import Settings
from rules.compliance import FRAMEWORKS
from vigil.core.model import utcnow

FORMATS = {
    "html": ("HTML (self-contained, printable)", "text/html"),
    "pdf": ("PDF (summary + appendix)", "application/pdf"),
    "csv": ("CSV (findings)", "text/csv"),
    "json": ("JSON", "application/json"),
    "ocsf": ("OCSF Detection Findings", "application/json"),
    "sarif": ("SARIF 2.1.0", "application/json"),
}
EXTENSIONS = {"ocsf": "ocsf.json", "sarif": "sarif.json"}


def render() -> None:
    """The reports page."""
    st.title("Reports")
    settings = ui.settings()
    if not ui.has_data(settings):
        return
    st.caption(
        "Findings mapped to controls, accepted exceptions, the inventory and its changes. "
        "For tamper-evident evidence packs use `vigil report pack`."
    )
    left, middle, right = st.columns(3)
    framework = left.selectbox("Framework", ["all", *FRAMEWORKS])
    fmt = middle.selectbox("Format", list(FORMATS), format_func=lambda f: FORMATS[f][0])
    days = right.number_input("Changes over the last (days)", min_value=1, value=30)
    if not st.button("Generate report", type="primary"):
        return
    with st.spinner("Gathering findings, controls and inventory..."):
        content = build(settings.database_url, framework, fmt, int(days), settings)
    name = f"vigil-report-{framework}.{EXTENSIONS.get(fmt, fmt)}"
    st.download_button(f"Download {name}", content, file_name=name, mime=FORMATS[fmt][1])


def build(url: str, framework: str, fmt: str, days: int, settings: Settings) -> bytes:
    """Render one report into memory through a private temporary file."""
    from vigil.app.reports.contents import ReportParams, gather
    from vigil.app.reports.formats import write_report

    now = utcnow()
    config = settings.config
    params = ReportParams(
        frameworks=tuple(FRAMEWORKS) if framework == "all" else (framework,),
        at=now,
        since=now - timedelta(days=days),
        generated_at=now,
        organization=config.reports.organization if config else "",
    )
    report = gather(data.database(url), params, config.rules if config else None)
    with tempfile.TemporaryDirectory(prefix="vigil-report-") as private:
        path = Path(private) / f"report.{fmt}"
        write_report(report, fmt, path)
        return path.read_bytes()


if __name__ == "__main__":
    render()

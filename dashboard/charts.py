"""Altair charts for the pages. Each takes a small DataFrame shaped by the page.

Tooltips and axes show data as text through Vega, which escapes it: no resource text is
ever interpreted as HTML here.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from vigil.core.model import RunStatus, Severity

SEVERITY_COLORS = {
    Severity.CRITICAL.value: "#b71c1c",
    Severity.HIGH.value: "#e65100",
    Severity.MEDIUM.value: "#f9a825",
    Severity.LOW.value: "#1565c0",
    Severity.INFO.value: "#78909c",
}
KIND_COLORS = {
    "created": "#2e7d32",
    "changed": "#f9a825",
    "deleted": "#b71c1c",
    "retired": "#757575",
}


def _scale(colors: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def findings_trend(frame: pd.DataFrame) -> alt.Chart:
    """New vs resolved findings per day: columns `day`, `new`, `resolved`."""
    long = frame.melt("day", ["new", "resolved"], var_name="what", value_name="findings")
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title=None),
            xOffset="what:N",
            y=alt.Y("findings:Q", title="findings"),
            color=alt.Color(
                "what:N", scale=_scale({"new": "#e65100", "resolved": "#2e7d32"}), title=None
            ),
            tooltip=["day:T", "what:N", "findings:Q"],
        )
        .properties(height=220)
    )


def inventory_trend(frame: pd.DataFrame) -> alt.Chart:
    """Resources present at the end of each day: columns `day`, `resources`."""
    return (
        alt.Chart(frame)
        .mark_area(line=True, opacity=0.3)
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("resources:Q", title="resources", scale=alt.Scale(zero=False)),
            tooltip=["day:T", "resources:Q"],
        )
        .properties(height=220)
    )


def findings_by_rule(frame: pd.DataFrame) -> alt.Chart:
    """Findings per rule stacked by severity: columns `rule`, `severity`, `findings`."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("rule:N", sort="-x", title=None),
            x=alt.X("findings:Q", title="findings"),
            color=alt.Color("severity:N", scale=_scale(SEVERITY_COLORS)),
            tooltip=["rule:N", "severity:N", "findings:Q"],
        )
        .properties(height=alt.Step(22))
    )


def certificate_timeline(frame: pd.DataFrame) -> alt.LayerChart:
    """Certificates expiring per week, by source, with a rule at today: `not_after`, `source`."""
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("yearweek(expires):T", title="expires (week)"),
            y=alt.Y("count():Q", title="certificates"),
            color=alt.Color("source:N"),
            tooltip=[
                alt.Tooltip("yearweek(expires):T", title="week"),
                "source:N",
                alt.Tooltip("count():Q", title="certificates"),
            ],
        )
    )
    today = pd.DataFrame({"today": [pd.Timestamp.now(tz="UTC")]})
    rule = alt.Chart(today).mark_rule(color="#b71c1c", strokeDash=[4, 4]).encode(x="today:T")
    return (bars + rule).properties(height=240)


def changes_timeline(frame: pd.DataFrame) -> alt.Chart:
    """Change events per day by kind: columns `day`, `kind`, `events`."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("events:Q", title="change events"),
            color=alt.Color("kind:N", scale=_scale(KIND_COLORS)),
            tooltip=["day:T", "kind:N", "events:Q"],
        )
        .properties(height=220)
    )


def scope_durations(frame: pd.DataFrame) -> alt.Chart:
    """Duration of each scope's newest run, coloured by status: `scope`, `seconds`, `status`."""
    colors: dict[str, str] = {
        RunStatus.COMPLETE: "#2e7d32",
        RunStatus.FAILED: "#b71c1c",
        RunStatus.RUNNING: "#1565c0",
    }
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("scope:N", sort="-x", title=None),
            x=alt.X("seconds:Q", title="duration of the newest run (s)"),
            color=alt.Color("status:N", scale=_scale(colors)),
            tooltip=["scope:N", "status:N", "seconds:Q"],
        )
        .properties(height=alt.Step(18))
    )

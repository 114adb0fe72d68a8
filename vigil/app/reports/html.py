"""The HTML report: one self-contained file (inline CSS, charts as inline SVG), printable.

Resource names, tags, finding titles and silence reasons come from anyone who can create a
resource or a silence: every value passes through `_e` (HTML-escaped, quotes included)
before it reaches the page, so a tag `<script>` shows as text. The page loads nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from html import escape
from typing import Any, TextIO

from rules.compliance import control_title
from vigil.app.reports import diagram
from vigil.app.reports.contents import Report, ReportFinding, framework_name
from vigil.app.reports.controls import ControlResult
from vigil.app.reports.recovery import write_html_section as _disaster_recovery
from vigil.core.model import Severity, iso

_CSS = """
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;
margin:0 auto;max-width:1200px;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #d0d7de}
h3{font-size:14px;margin:18px 0 6px}.meta{color:#57606a}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td{word-break:break-word}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:22px}.warn{background:#fff8c5;border-color:#d4a72c}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
.not_evaluated{color:#9a6700;font-weight:600}.callout{background:#fff8c5;border:1px solid #d4a72c;
padding:8px 12px;border-radius:6px}.charts{display:flex;gap:24px;flex-wrap:wrap}
.sev-critical{color:#a40e26;font-weight:600}.sev-high{color:#cf222e}.sev-medium{color:#9a6700}
@media print{body{max-width:none;padding:0;font-size:10px}h2{break-after:avoid}
tr{break-inside:avoid}thead{display:table-header-group}.card{break-inside:avoid}}
"""
_SEVERITY_COLOURS = {
    "critical": "#a40e26",
    "high": "#cf222e",
    "medium": "#d4a72c",
    "low": "#54aeff",
    "info": "#8c959f",
}
_STATUS_COLOURS = {"pass": "#2da44e", "fail": "#cf222e", "not_evaluated": "#d4a72c"}
_SHOWN_RESOURCES = 10


def _e(value: Any) -> str:
    """Escape anything for HTML text and attribute values."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    return escape(str(value), quote=True)


def write_html(report: Report, out: TextIO) -> None:
    """Write the whole page, streaming the large tables."""
    for chunk in _page(report):
        out.write(chunk)


def _page(report: Report) -> Iterator[str]:
    params = report.params
    title = "Compliance report" + (f": {params.organization}" if params.organization else "")
    yield '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    yield f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
    yield f"<h1>{_e(title)}</h1>"
    frameworks = ", ".join(framework_name(f) for f in params.frameworks)
    yield (
        f'<p class="meta">As of {_e(iso(params.at))} · changes since {_e(iso(params.since))}'
        f" · generated {_e(iso(params.generated_at))} · frameworks: {_e(frameworks)}"
        f"{' · sources: ' + _e(', '.join(params.sources)) if params.sources else ''}</p>\n"
    )
    yield from _summary(report)
    yield from _scopes(report)
    yield from _controls(report)
    yield from _findings(report.findings)
    yield from _exceptions(report)
    yield from diagram.html_section(report)
    yield from _disaster_recovery(report)
    yield from _inventory(report)
    yield from _changes(report)
    yield "</body></html>\n"


def _summary(report: Report) -> Iterator[str]:
    totals = report.totals()
    controls = totals["controls"]
    yield "<h2>Summary</h2>"
    if report.incomplete_scopes:
        yield (
            f'<p class="callout"><b>{len(report.incomplete_scopes)} incomplete scope(s).</b> '
            "Their data may be stale or missing; controls that depend on them are not "
            "evaluated, never counted as passing. See Scope below.</p>"
        )
    if report.last_check is None:
        yield '<p class="callout"><b>No check has recorded results.</b> Run `vigil check`.</p>'
    cards = [
        ("Resources", totals["resources"], False),
        (
            "Sources / accounts / regions",
            "{sources} / {accounts} / {regions}".format(**totals),
            False,
        ),
        ("Open findings", totals["open_findings"], totals["open_findings"] > 0),
        ("Controls passed", controls["pass"], False),
        ("Controls failed", controls["fail"], controls["fail"] > 0),
        ("Not evaluated", controls["not_evaluated"], controls["not_evaluated"] > 0),
        ("Incomplete scopes", totals["incomplete_scopes"], totals["incomplete_scopes"] > 0),
        ("Accepted exceptions", totals["exceptions"], False),
        ("Changes in period", totals["changes"], False),
    ]
    yield '<div class="cards">'
    for label, value, warn in cards:
        yield f'<div class="card{" warn" if warn else ""}"><b>{_e(value)}</b>{_e(label)}</div>'
    yield "</div>"
    yield f'<p class="meta">Last check: {_e(totals["last_check"] or "never")}</p>'
    yield '<div class="charts">'
    yield _severity_chart(report.open_by_severity())
    yield _controls_chart(report)
    yield "</div>"


def _severity_chart(counts: dict[str, int]) -> str:
    """Horizontal bars of open findings by severity."""
    top = max(counts.values(), default=0) or 1
    rows = []
    for index, severity in enumerate(s.value for s in Severity):
        y = 22 + index * 22
        width = 220 * counts[severity] / top
        rows.append(
            f'<text x="0" y="{y + 12}" font-size="11">{severity}</text>'
            f'<rect x="70" y="{y}" width="{width:.1f}" height="16" '
            f'fill="{_SEVERITY_COLOURS[severity]}"/>'
            f'<text x="{74 + width:.1f}" y="{y + 12}" font-size="11">{counts[severity]}</text>'
        )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="340" height="140" role="img" '
        'aria-label="Open findings by severity"><text x="0" y="12" font-size="12" '
        'font-weight="600">Open findings by severity</text>' + "".join(rows) + "</svg>"
    )


def _controls_chart(report: Report) -> str:
    """One stacked bar per framework: passed, failed, not evaluated."""
    parts = []
    for index, framework in enumerate(report.params.frameworks):
        mine = [c for c in report.controls if c.framework == framework]
        y = 22 + index * 24
        parts.append(f'<text x="0" y="{y + 12}" font-size="11">{_e(framework)}</text>')
        x = 70.0
        for status, colour in _STATUS_COLOURS.items():
            count = sum(1 for c in mine if c.status == status)
            width = 240 * count / (len(mine) or 1)
            if count:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="16" fill="{colour}">'
                    f"<title>{status}: {count}</title></rect>"
                )
            x += width
    height = 30 + 24 * len(report.params.frameworks)
    legend = " ".join(
        f'<tspan fill="{colour}">■ {status.replace("_", " ")}</tspan>'
        for status, colour in _STATUS_COLOURS.items()
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="340" height="{height + 14}" role="img" '
        'aria-label="Controls by status"><text x="0" y="12" font-size="12" font-weight="600">'
        f"Controls by status</text>{''.join(parts)}"
        f'<text x="0" y="{height + 8}" font-size="11">{legend}</text></svg>'
    )


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str) -> Iterator[str]:
    yield "<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead>"
    yield "<tbody>\n"
    count = 0
    for row in rows:
        yield "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n"
        count += 1
    if not count:
        yield f'<tr><td colspan="{len(headers)}">{_e(empty)}</td></tr>'
    yield "</tbody></table>\n"


def _scopes(report: Report) -> Iterator[str]:
    yield "<h2>Scope</h2>"
    yield (
        f"<p>Sources: {_e(', '.join(sorted(report.sources)) or 'none')} · accounts: "
        f"{_e(', '.join(sorted(report.accounts)) or 'none')} · regions: "
        f"{_e(', '.join(sorted(report.regions)) or 'none')}</p>"
    )
    ordered = sorted(report.scopes, key=lambda s: (not s.incomplete, s.scope_key))
    rows = (
        (
            _e(s.scope_key),
            f'<span class="{"fail" if s.incomplete else "pass"}">'
            f"{_e('incomplete' if s.incomplete else 'complete')}</span>",
            _e(iso(s.last_complete) or "never"),
            _e(s.problem),
        )
        for s in ordered
    )
    headers = ("Scope (source/account/region/type)", "State", "Last complete", "Problem")
    yield from _table(headers, rows, "no scope has been collected")


def _controls(report: Report) -> Iterator[str]:
    yield "<h2>Controls</h2>"
    for framework in report.params.frameworks:
        yield f"<h3>{_e(framework_name(framework))}</h3>"
        mine = [c for c in report.controls if c.framework == framework]
        rows = (_control_row(c) for c in mine)
        headers = ("Control", "Status", "Rules", "Why", "Resources behind a failure")
        yield from _table(headers, rows, "no rule maps to this framework")


def _control_row(control: ControlResult) -> tuple[str, ...]:
    resources = control.resources
    shown = "<br>".join(_e(uid) for uid in resources[:_SHOWN_RESOURCES])
    if len(resources) > _SHOWN_RESOURCES:
        shown += f"<br>… and {len(resources) - _SHOWN_RESOURCES} more (see Findings)"
    title = f"<br><small>{_e(control.title)}</small>" if control.title else ""
    return (
        _e(control.control) + title,
        f'<span class="{control.status}">{_e(control.status.replace("_", " "))}</span>',
        _e(", ".join(control.rules)),
        _e(control.reason),
        shown,
    )


def _control_label(label: str) -> str:
    """`soc2-2017 CC7.1`, its title shown on hover."""
    framework, _, control = label.partition(" ")
    title = control_title(framework, control)
    return f'<abbr title="{_e(title)}">{_e(label)}</abbr>' if title else _e(label)


def _findings(findings: list[ReportFinding]) -> Iterator[str]:
    open_ = [f for f in findings if f.status.value == "open"]
    yield f"<h2>Open findings ({len(open_)})</h2>"
    rows = (
        (
            _severity(f.finding.severity.value),
            _e(f.finding.title) + f"<br><small>{_e(f.finding.rule)}</small>",
            _e(f.finding.native_id) + f"<br><small>{_e(f.finding.type)} · {_e(f.finding.source)} · "
            f"{_e(f.finding.account)} · {_e(f.finding.region)}</small>",
            _e(iso(f.finding.first_seen)),
            _e(f"{f.age_days} d"),
            ", ".join(_control_label(c) for c in f.controls),
            _e(f.remediation),
        )
        for f in open_
    )
    headers = ("Severity", "Finding", "Resource", "First seen", "Age", "Controls", "Remediation")
    yield from _table(headers, rows, "no open findings")


def _severity(value: str) -> str:
    return f'<span class="sev-{_e(value)}">{_e(value)}</span>'


def _exceptions(report: Report) -> Iterator[str]:
    yield f"<h2>Accepted exceptions ({len(report.exceptions)})</h2>"
    rows = (
        (
            _e(x.silence.rule),
            _e(x.silence.resource_uid or x.silence.to_dict()["match"] or "any"),
            _e(x.silence.reason),
            _e(x.silence.author),
            _e(iso(x.silence.created_at)),
            _e(iso(x.silence.expires_at)),
            _e(x.findings),
        )
        for x in report.exceptions
    )
    headers = ("Rule", "Covers", "Reason", "Author", "Created", "Expires", "Findings")
    yield from _table(headers, rows, "no silences were active at the report time")


def _inventory(report: Report) -> Iterator[str]:
    total = sum(report.resources_by_type.values())
    yield f"<h2>Inventory as of {_e(iso(report.params.at))} ({total} resources)</h2>"
    by_type = ", ".join(f"{t}: {n}" for t, n in sorted(report.resources_by_type.items()))
    yield f"<p>{_e(by_type)}</p>"
    rows = (
        (
            _e(r.type),
            _e(r.name),
            _e(r.native_id),
            _e(r.source),
            _e(r.account),
            _e(r.region),
            _e(r.tags),
            _e(iso(r.first_seen)),
        )
        for r in report.inventory()
    )
    headers = ("Type", "Name", "Native id", "Source", "Account", "Region", "Tags", "First seen")
    yield from _table(headers, rows, "no resources at the report time")


def _changes(report: Report) -> Iterator[str]:
    total = sum(report.changes_by_kind.values())
    yield f"<h2>Changes since {_e(iso(report.params.since))} ({total})</h2>"
    rows = (
        (
            _e(iso(c.at)),
            _e(c.kind),
            _e(c.type),
            _e(c.native_id),
            _e(c.name),
            _e(c.source),
            _e(", ".join(sorted(c.changes))),
        )
        for c in report.changes()
    )
    headers = ("At", "Kind", "Type", "Native id", "Name", "Source", "Attributes changed")
    yield from _table(headers, rows, "no changes in the period")

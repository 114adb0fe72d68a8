"""The PDF report (fpdf2): a summary an auditor reads, then a paged appendix of everything.

fpdf2 is pure Python (no system libraries, unlike WeasyPrint's Pango/Cairo) and kept up to
date. Its table and cell layout is slow per cell (about 0.4 ms), fine for the summary's
few hundred cells but not for an appendix of 100k resources; the appendix is therefore
laid out by hand in a monospace font, one `text()` call per line (about 25 µs), with
fixed-width columns and its own page breaks and repeated column headings.

The core PDF fonts cover Latin-1 only: other characters are printed as `?` (the HTML, CSV
and JSON reports carry the exact text). Text is drawn, never interpreted, so untrusted
names cannot inject anything into the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from fpdf import FPDF
from fpdf.fonts import FontFace

from vigil.app.reports import diagram, recovery
from vigil.app.reports.contents import Report, framework_name
from vigil.core.model import Severity, iso

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LINE = 3.2  # mm per appendix line
_MONO_SIZE = 6.5  # pt
_CHAR = _MONO_SIZE * 0.6 * 25.4 / 72  # Courier glyph width in mm
_TOP_FINDINGS = 25
_SEVERITY_RGB = {
    "critical": (164, 14, 38),
    "high": (207, 34, 46),
    "medium": (212, 167, 44),
    "low": (84, 174, 255),
    "info": (140, 149, 159),
}


def clean(value: object) -> str:
    """Text the core fonts can print: Latin-1, no control characters."""
    text = "" if value is None else str(value)
    text = _CONTROL_CHARS.sub(" ", text)
    return text.encode("latin-1", "replace").decode("latin-1")


class _Document(FPDF):
    """A landscape A4 document with a running header and page numbers."""

    def __init__(self, heading: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.heading = clean(heading)
        self.set_margins(10, 12, 10)
        self.set_auto_page_break(True, margin=12)
        self.set_title(self.heading)
        self.set_creator("Vigil")

    def header(self) -> None:
        self.set_font("Helvetica", size=7)
        self.set_text_color(90, 90, 90)
        self.text(10, 7, self.heading)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_font("Helvetica", size=7)
        self.set_text_color(90, 90, 90)
        # fpdf2 substitutes the page-count alias only in cell text, never in text().
        self.set_xy(self.w - 40, self.h - 8)
        self.cell(30, 4, f"page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def write_pdf(report: Report, out: BinaryIO) -> None:
    """Render the summary and the appendix; writes the finished document to `out`."""
    params = report.params
    heading = "Vigil compliance report" + (
        f": {params.organization}" if params.organization else ""
    )
    doc = _Document(f"{heading} - as of {iso(params.at)}")
    doc.add_page()
    _title(doc, report, heading)
    _numbers(doc, report)
    _severity_chart(doc, report)
    _controls(doc, report)
    _top_findings(doc, report)
    _exceptions(doc, report)
    _remediation(doc, report)
    diagram.pdf_section(doc, report)
    _disaster_recovery(doc, report)
    _appendix(doc, report)
    out.write(bytes(doc.output()))


def _title(doc: _Document, report: Report, heading: str) -> None:
    params = report.params
    doc.set_font("Helvetica", "B", 16)
    doc.cell(0, 9, clean(heading), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=9)
    lines = [
        f"As of {iso(params.at)}; changes since {iso(params.since)}; "
        f"generated {iso(params.generated_at)}",
        "Frameworks: " + "; ".join(framework_name(f) for f in params.frameworks),
        "Sources: "
        + (", ".join(sorted(report.sources)) or "none")
        + "   Accounts: "
        + (", ".join(sorted(report.accounts)) or "none")
        + "   Regions: "
        + (", ".join(sorted(report.regions)) or "none"),
        f"Last check: {iso(report.last_check) or 'never'}",
    ]
    for line in lines:
        doc.multi_cell(0, 4.5, clean(line), new_x="LMARGIN", new_y="NEXT")
    if report.incomplete_scopes:
        doc.set_fill_color(255, 248, 197)
        doc.set_font("Helvetica", "B", 9)
        keys = ", ".join(s.scope_key for s in report.incomplete_scopes[:8])
        more = " ..." if len(report.incomplete_scopes) > 8 else ""
        doc.multi_cell(
            0,
            5,
            clean(
                f"{len(report.incomplete_scopes)} incomplete scope(s): {keys}{more}. Their data "
                "may be stale or missing; controls depending on them are not evaluated."
            ),
            fill=True,
            new_x="LMARGIN",
            new_y="NEXT",
        )
    doc.ln(2)


def _numbers(doc: _Document, report: Report) -> None:
    totals = report.totals()
    controls = totals["controls"]
    cells = [
        ("Resources", totals["resources"]),
        ("Open findings", totals["open_findings"]),
        ("Controls passed", controls["pass"]),
        ("Controls failed", controls["fail"]),
        ("Not evaluated", controls["not_evaluated"]),
        ("Incomplete scopes", totals["incomplete_scopes"]),
        ("Accepted exceptions", totals["exceptions"]),
        ("Changes in period", totals["changes"]),
    ]
    width = (doc.w - doc.l_margin - doc.r_margin) / len(cells)
    doc.set_font("Helvetica", "B", 14)
    for _, value in cells:
        doc.cell(width, 8, clean(value), border="LTR", align="C")
    doc.ln()
    doc.set_font("Helvetica", size=8)
    for label, _ in cells:
        doc.cell(width, 5, label, border="LBR", align="C")
    doc.ln(8)


def _severity_chart(doc: _Document, report: Report) -> None:
    counts = report.open_by_severity()
    top = max(counts.values(), default=0) or 1
    doc.set_font("Helvetica", "B", 10)
    doc.cell(0, 6, "Open findings by severity", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", size=8)
    for severity in (s.value for s in Severity):
        y = doc.get_y()
        doc.text(doc.l_margin, y + 3.3, severity)
        doc.set_fill_color(*_SEVERITY_RGB[severity])
        width = 120 * counts[severity] / top
        if width:
            doc.rect(doc.l_margin + 20, y + 0.5, width, 3.5, style="F")
        doc.text(doc.l_margin + 22 + width, y + 3.3, str(counts[severity]))
        doc.set_y(y + 4.5)
    doc.ln(3)


def _table(
    doc: _Document,
    headings: Sequence[str],
    rows: Iterable[Sequence[object]],
    widths: Sequence[float],
) -> None:
    doc.set_font("Helvetica", size=7.5)
    heading_style = FontFace(emphasis="BOLD", fill_color=(246, 248, 250))
    with doc.table(
        col_widths=widths,
        headings_style=heading_style,
        line_height=3.8,
        text_align="LEFT",
        width=doc.w - doc.l_margin - doc.r_margin,
    ) as table:
        table.row([clean(h) for h in headings])
        for row in rows:
            table.row([clean(cell) for cell in row])
    doc.ln(2)


def _section(doc: _Document, title: str) -> None:
    doc.set_font("Helvetica", "B", 12)
    doc.cell(0, 8, clean(title), new_x="LMARGIN", new_y="NEXT")


def _controls(doc: _Document, report: Report) -> None:
    for framework in report.params.frameworks:
        _section(doc, f"Controls: {framework_name(framework)}")
        mine = [c for c in report.controls if c.framework == framework]
        if not mine:
            doc.set_font("Helvetica", size=8)
            doc.cell(0, 5, "No rule maps to this framework.", new_x="LMARGIN", new_y="NEXT")
            continue
        rows = (
            (
                f"{c.control} - {c.title}" if c.title else c.control,
                c.status.replace("_", " ").upper(),
                ", ".join(c.rules),
                c.reason,
                ", ".join(c.resources[:3]) + (" ..." if len(c.resources) > 3 else ""),
            )
            for c in mine
        )
        _table(
            doc,
            ("Control", "Status", "Rules", "Why", "Resources behind a failure"),
            rows,
            (46, 16, 34, 48, 56),
        )


def _top_findings(doc: _Document, report: Report) -> None:
    open_ = report.open_findings
    _section(doc, f"Most severe open findings ({min(len(open_), _TOP_FINDINGS)} of {len(open_)})")
    rows = (
        (
            f.finding.severity.value,
            f.finding.title,
            f.finding.native_id,
            f.finding.region,
            iso(f.finding.first_seen),
            f"{f.age_days} d",
        )
        for f in open_[:_TOP_FINDINGS]
    )
    _table(
        doc,
        ("Severity", "Finding", "Resource", "Region", "First seen", "Age"),
        rows,
        (14, 80, 60, 20, 26, 10),
    )


def _exceptions(doc: _Document, report: Report) -> None:
    _section(doc, f"Accepted exceptions ({len(report.exceptions)})")
    rows = (
        (
            x.silence.rule,
            x.silence.resource_uid or x.silence.to_dict()["match"] or "any",
            x.silence.reason,
            x.silence.author,
            iso(x.silence.created_at),
            iso(x.silence.expires_at),
            x.findings,
        )
        for x in report.exceptions
    )
    _table(
        doc,
        ("Rule", "Covers", "Reason", "Author", "Created", "Expires", "Findings"),
        rows,
        (20, 50, 60, 25, 26, 26, 12),
    )


def _disaster_recovery(doc: _Document, report: Report) -> None:
    """Per public entry point, its components' backup, last proven restore, replicas, zones."""
    entries = recovery.report_section(report)
    _section(doc, "Disaster recovery")
    doc.set_font("Helvetica", size=8)
    if entries is None:
        doc.multi_cell(0, 4, "Not shown for a report as of a past time: entry points come from "
                       "today's links.", new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        return
    if not entries:
        doc.multi_cell(0, 4, "No component is reachable from a public entry point (or links are "
                       "unknown).", new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        return
    headings = ("Entry point", "Component", "Type", "Backup", "Last proven restore", "Replicas",
                "Zones")  # fmt: skip
    cells = (
        (
            r["entry_point"],
            r["component"],
            r["type"],
            r["backup"],
            r["last_restore"],
            r["replicas"],
            r["zones"],
        )  # fmt: skip
        for r in recovery.rows(entries)
    )
    _table(doc, headings, cells, (34, 34, 20, 28, 28, 22, 24))


def _remediation(doc: _Document, report: Report) -> None:
    rules = sorted({f.finding.rule for f in report.open_findings})
    _section(doc, "Remediation by rule")
    rows = (
        (
            rule,
            report.rules[rule].title if rule in report.rules else rule,
            report.rules[rule].remediation if rule in report.rules else "",
        )
        for rule in rules
    )
    _table(doc, ("Rule", "Title", "Remediation"), rows, (25, 45, 130))


# -- the appendix: monospace lines, one text() call each ----------------------------------


class _Listing:
    """Fixed-width columns written line by line, with headings repeated on each page."""

    def __init__(self, doc: _Document, title: str, columns: Sequence[tuple[str, int]]) -> None:
        self.doc = doc
        self.title = clean(title)
        self.columns = columns
        self.bottom = doc.h - 14
        self.y = self.bottom + 1
        self.count = 0

    def _line(self, cells: Sequence[object]) -> str:
        return " ".join(
            clean(c)[:w].ljust(w) for c, (_, w) in zip(cells, self.columns, strict=True)
        )

    def _new_page(self) -> None:
        doc = self.doc
        doc.add_page()
        doc.set_font("Helvetica", "B", 10)
        doc.text(doc.l_margin, 17, self.title + (" (continued)" if self.count else ""))
        doc.set_font("Courier", "B", _MONO_SIZE)
        doc.text(doc.l_margin, 22, self._line([name for name, _ in self.columns]))
        doc.set_font("Courier", size=_MONO_SIZE)
        self.y = 22 + _LINE

    def add(self, cells: Sequence[object]) -> None:
        if self.y > self.bottom:
            self._new_page()
        self.doc.text(self.doc.l_margin, self.y, self._line(cells))
        self.y += _LINE
        self.count += 1

    def finish(self, empty: str) -> None:
        if not self.count:
            self.add([empty] + [""] * (len(self.columns) - 1))


def _appendix(doc: _Document, report: Report) -> None:
    findings = _Listing(
        doc,
        "Appendix A: open and silenced findings",
        (
            ("SEVERITY", 8),
            ("STATUS", 8),
            ("RULE", 17),
            ("TITLE", 58),
            ("RESOURCE", 40),
            ("REGION", 14),
            ("FIRST SEEN", 20),
            ("AGE", 5),
            ("CONTROLS", 20),
        ),
    )
    for f in report.findings:
        s = f.finding
        findings.add(
            (
                s.severity.value,
                f.status.value,
                s.rule,
                s.title,
                s.native_id,
                s.region,
                iso(s.first_seen),
                f"{f.age_days}d",
                " ".join(f.controls),
            )
        )
    findings.finish("no findings")
    scopes = _Listing(
        doc,
        "Appendix B: scopes",
        (
            ("SCOPE", 70),
            ("STATE", 10),
            ("LAST COMPLETE", 20),
            ("PROBLEM", 95),
        ),
    )
    for sc in report.scopes:
        scopes.add(
            (
                sc.scope_key,
                "INCOMPLETE" if sc.incomplete else "complete",
                iso(sc.last_complete) or "never",
                sc.problem,
            )
        )
    scopes.finish("no scopes")
    _inventory_appendix(doc, report)
    _changes_appendix(doc, report)


def _inventory_appendix(doc: _Document, report: Report) -> None:
    listing = _Listing(
        doc,
        f"Appendix C: inventory as of {iso(report.params.at)}",
        (
            ("TYPE", 14),
            ("NAME", 36),
            ("NATIVE ID", 48),
            ("SOURCE", 14),
            ("ACCOUNT", 14),
            ("REGION", 14),
            ("FIRST SEEN", 20),
            ("TAGS", 32),
        ),
    )
    for r in report.inventory():
        tags = ",".join(f"{k}={v}" for k, v in sorted(r.tags.items()))
        listing.add(
            (r.type, r.name, r.native_id, r.source, r.account, r.region, iso(r.first_seen), tags)
        )
    listing.finish("no resources at the report time")


def _changes_appendix(doc: _Document, report: Report) -> None:
    listing = _Listing(
        doc,
        f"Appendix D: changes since {iso(report.params.since)}",
        (
            ("AT", 20),
            ("KIND", 8),
            ("TYPE", 14),
            ("NATIVE ID", 48),
            ("NAME", 30),
            ("SOURCE", 14),
            ("ATTRIBUTES CHANGED", 60),
        ),
    )
    for c in report.changes():
        listing.add(
            (iso(c.at), c.kind, c.type, c.native_id, c.name, c.source, ",".join(sorted(c.changes)))
        )
    listing.finish("no changes in the period")

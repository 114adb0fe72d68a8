"""CSV and JSON: the report for spreadsheets and scripts, streamed row by row.

`report.csv` has one row per control and finding behind it (one row for a control with
none); the pack's `inventory.csv`, `findings.csv`, `changes.csv` and `exceptions.csv` hold
the tables in full. Every cell goes through `csv_cell`, so a name such as `=HYPERLINK(...)`
stays text in a spreadsheet. `report.json` is one document with the same content.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from vigil.app.output import csv_cell
from vigil.app.reports import recovery
from vigil.app.reports.contents import (
    CHANGE_COLUMNS,
    EXCEPTION_COLUMNS,
    FINDING_COLUMNS,
    INVENTORY_COLUMNS,
    Report,
    ReportFinding,
    change_row,
    inventory_row,
)

CONTROL_COLUMNS = (
    "framework",
    "control",
    "control_title",
    "control_status",
    "reason",
    "rules",
    "finding_status",
    "severity",
    "rule",
    "title",
    "resource_uid",
    "native_id",
    "type",
    "source",
    "account",
    "region",
    "first_seen",
    "age_days",
    "remediation",
    "fingerprint",
)


def write_rows(out: TextIO, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> int:
    """A formula-safe CSV of `rows` under a header of `columns`; returns the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
        count += 1
    return count


def write_csv(report: Report, out: TextIO) -> None:
    """The per-control results, with each finding behind a control on its own row."""
    write_rows(out, CONTROL_COLUMNS, _control_rows(report))


def _control_rows(report: Report) -> Iterable[dict[str, Any]]:
    # A finding sits behind several controls; build its cells once.
    cells = {f.finding.fingerprint: _finding_cells(f) for f in report.findings}
    for control in report.controls:
        head = {
            "framework": control.framework,
            "control": control.control,
            "control_title": control.title,
            "control_status": control.status,
            "reason": control.reason,
            "rules": " ".join(control.rules),
        }
        behind = [*control.failing, *control.excepted]
        if not behind:
            yield head
        for found in behind:
            yield head | cells[found.finding.fingerprint]


def _finding_cells(found: ReportFinding) -> dict[str, Any]:
    row = found.to_dict()
    row["finding_status"] = row.pop("status")
    return row


def write_inventory_csv(report: Report, out: TextIO) -> int:
    return write_rows(out, INVENTORY_COLUMNS, (inventory_row(r) for r in report.inventory()))


def write_findings_csv(report: Report, out: TextIO) -> int:
    rows = ({**f.to_dict(), "controls": " ".join(f.controls)} for f in report.findings)
    return write_rows(out, FINDING_COLUMNS, rows)


def write_changes_csv(report: Report, out: TextIO) -> int:
    columns = (*CHANGE_COLUMNS, "changes")
    return write_rows(out, columns, (change_row(e) for e in report.changes()))


def write_exceptions_csv(report: Report, out: TextIO) -> int:
    return write_rows(out, EXCEPTION_COLUMNS, (e.to_dict() for e in report.exceptions))


def write_json(report: Report, out: TextIO) -> None:
    """One JSON document; the inventory and changes arrays are written as they stream."""
    out.write("{\n")
    head: dict[str, Any] = {
        "report": report.params.to_dict(),
        "summary": report.totals(),
        "scopes": [s.to_dict() for s in report.scopes],
        "controls": [c.to_dict() for c in report.controls],
        "findings": [f.to_dict() for f in report.findings],
        "exceptions": [e.to_dict() for e in report.exceptions],
        "changes_by_kind": dict(report.changes_by_kind),
        "disaster_recovery": _disaster_recovery(report),
    }
    for key, value in head.items():
        out.write(f"{json.dumps(key)}: {json.dumps(value, default=str)},\n")
    _array(out, "inventory", (inventory_row(r) for r in report.inventory()))
    out.write(",\n")
    _array(out, "changes", (change_row(e) for e in report.changes()))
    out.write("\n}\n")


def _disaster_recovery(report: Report) -> list[dict[str, Any]] | None:
    entries = recovery.report_section(report)
    return None if entries is None else [e.to_dict() for e in entries]


def _array(out: TextIO, key: str, rows: Iterable[dict[str, Any]]) -> None:
    out.write(f"{json.dumps(key)}: [")
    for index, row in enumerate(rows):
        out.write(",\n" if index else "\n")
        out.write(json.dumps(row, default=str))
    out.write("\n]")

"""Rendering rows as a table, JSON or CSV: streamed, and safe for untrusted text."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vigil.core.text import printable


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


Row = dict[str, Any]
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def render(
    rows: Iterable[Row],
    fmt: OutputFormat,
    *,
    columns: Sequence[str],
    table_cell: Callable[[str, Any], str] | None = None,
    out: TextIO | None = None,
    empty: str = "nothing to show",
) -> int:
    """Write `rows` in `fmt`; returns how many. JSON carries every key, table/CSV `columns`."""
    out = out or sys.stdout
    if fmt is OutputFormat.JSON:
        return _json(rows, out)
    if fmt is OutputFormat.CSV:
        return _csv(rows, columns, out)
    return _table(rows, columns, table_cell or _cell, out, empty)


def _json(rows: Iterable[Row], out: TextIO) -> int:
    count = 0
    out.write("[")
    for row in rows:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(row, default=str, sort_keys=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _csv(rows: Iterable[Row], columns: Sequence[str], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
        count += 1
    return count


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, default=str)
    elif isinstance(value, bool | int | float):
        return str(value)
    text = printable(str(value))
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(
    rows: Iterable[Row],
    columns: Sequence[str],
    cell: Callable[[str, Any], str],
    out: TextIO,
    empty: str,
) -> int:
    # Piped output has no terminal width; do not squeeze it into 80 columns.
    console = Console(file=out, soft_wrap=False, width=None if out.isatty() else 240)
    table = Table(*columns, header_style="bold", show_lines=False)
    count = 0
    for row in rows:
        # Text(), not markup: names and tags are untrusted and may contain "[bold]" etc.
        # printable(): a tag's ANSI escape must not drive the terminal that shows it.
        table.add_row(*(Text(printable(cell(column, row.get(column)))) for column in columns))
        count += 1
    if count:
        console.print(table)
    else:
        console.print(Text(empty))
    return count

"""Writing a report in one format to a file: atomically, so a failure leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vigil.app.reports.contents import Report
from vigil.app.reports.csv_json import write_csv, write_json
from vigil.app.reports.html import write_html
from vigil.app.reports.ocsf import write_ocsf
from vigil.app.reports.pdf import write_pdf
from vigil.app.reports.sarif import write_sarif
from vigil.core.errors import InputError

Writer = Callable[[Report, Any], Any]

WRITERS: dict[str, tuple[Writer, bool]] = {
    "html": (write_html, False),
    "pdf": (write_pdf, True),
    "csv": (write_csv, False),
    "json": (write_json, False),
    "ocsf": (write_ocsf, False),
    "sarif": (write_sarif, False),
}
"""Format → (writer, whether it writes bytes)."""

FILE_NAMES = {
    "html": "report.html",
    "pdf": "report.pdf",
    "csv": "report.csv",
    "json": "report.json",
    "ocsf": "report.ocsf.json",
    "sarif": "report.sarif",
}


def check_out_path(path: Path) -> None:
    """Refuse an output path whose folder does not exist, before any work is done."""
    if path.is_dir():
        raise InputError("is a directory", path=str(path), fix="give a file name for --out")
    if not path.parent.is_dir():
        raise InputError(
            f"folder {path.parent} does not exist", path=str(path), fix="create it or pick another"
        )


def write_file(path: Path, writer: Writer, report: Report, *, binary: bool) -> None:
    """Render into a temporary file beside `path`, then move it into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if binary:
            with os.fdopen(handle, "wb") as out:
                writer(report, out)
        else:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                writer(report, out)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_report(report: Report, fmt: str, path: Path) -> None:
    """Write `report` as `fmt` (one of FORMATS) to `path`."""
    writer, binary = WRITERS[fmt]
    write_file(path, writer, report, binary=binary)

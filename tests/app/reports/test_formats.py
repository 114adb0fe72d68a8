"""Each format over the seeded report: escaped, formula-safe, schema-valid, readable PDF."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.app.reports.seed import EVIL_NAME, EXPIRED_TITLE, FORMULA_TAG, OPEN_PORT_TITLE
from tests.fixtures.services import require_service
from vigil.app.reports import csv_json
from vigil.app.reports.contents import Report
from vigil.app.reports.formats import write_file, write_report

SCHEMAS = Path(__file__).resolve().parents[2] / "data" / "schemas"


def render(report: Report, fmt: str, tmp_path: Path) -> Path:
    out = tmp_path / f"report.{fmt}"
    write_report(report, fmt, out)
    return out


def test_html_escapes_untrusted_names_tags_and_reasons(report: Report, tmp_path: Path) -> None:
    page = render(report, "html", tmp_path).read_text()

    assert "<script" not in page and "<img" not in page and "<b>ticket" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page  # the name, as text
    assert "&lt;img src=x&gt;" in page  # a tag value
    assert "&lt;b&gt;ticket&lt;/b&gt;" in page  # the silence reason
    assert "Example &lt;Corp&gt;" in page  # the organization


def test_html_is_self_contained_with_inline_charts(report: Report, tmp_path: Path) -> None:
    page = render(report, "html", tmp_path).read_text()
    assert page.count("<svg") == 2 and "<style>" in page
    assert "src=" not in page.replace("&lt;img src=x&gt;", "") and "<link" not in page
    assert "1 incomplete scope(s)." in page
    assert OPEN_PORT_TITLE in page and "alice" in page


def test_csv_cells_never_run_as_formulas(report: Report) -> None:
    out = io.StringIO()
    csv_json.write_inventory_csv(report, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    group = next(r for r in rows if r["native_id"] == "sg-open")
    assert group["name"] == EVIL_NAME
    assert json.loads(group["tags"])["owner"] == FORMULA_TAG  # JSON-encoded: starts with {
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


def test_report_csv_has_a_row_per_control_and_finding(report: Report, tmp_path: Path) -> None:
    rows = list(csv.DictReader(render(report, "csv", tmp_path).open()))
    cc71 = [r for r in rows if (r["framework"], r["control"]) == ("soc2-2017", "CC7.1")]
    assert [(r["control_status"], r["title"]) for r in cc71] == [("fail", EXPIRED_TITLE)]
    cc67 = [r for r in rows if (r["framework"], r["control"]) == ("soc2-2017", "CC6.7")]
    assert [(r["control_status"], r["title"]) for r in cc67] == [("pass", "")]


def test_json_document_has_every_section(report: Report, tmp_path: Path) -> None:
    document = json.loads(render(report, "json", tmp_path).read_text())
    assert document["summary"]["open_findings"] == 2
    assert document["summary"]["controls"] == report.control_counts()
    assert len(document["inventory"]) == 6
    assert [c["kind"] for c in document["changes"]].count("deleted") == 1
    assert document["exceptions"][0]["author"] == "alice"
    assert document["scopes"][0]["incomplete"] is True


def test_ocsf_events_validate_against_the_detection_finding_schema(
    report: Report, tmp_path: Path
) -> None:
    schema = json.loads((SCHEMAS / "ocsf-1.5.0-detection_finding.schema.json").read_text())
    events = json.loads(render(report, "ocsf", tmp_path).read_text())
    for event in events:
        jsonschema.validate(event, schema)
    assert len(events) == 3
    by_title = {e["finding_info"]["title"]: e for e in events}
    assert by_title[EXPIRED_TITLE]["severity_id"] == 5
    assert by_title[EXPIRED_TITLE]["status_id"] == 1
    silenced = [e for e in events if e["status_id"] == 3]
    assert silenced[0]["unmapped"]["silence"]["author"] == "alice"


def test_ocsf_schema_rejects_a_wrong_class(report: Report, tmp_path: Path) -> None:
    schema = json.loads((SCHEMAS / "ocsf-1.5.0-detection_finding.schema.json").read_text())
    event = json.loads(render(report, "ocsf", tmp_path).read_text())[0]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(event | {"class_uid": 2003}, schema)


def test_sarif_validates_and_suppresses_silenced_findings(report: Report, tmp_path: Path) -> None:
    schema = json.loads((SCHEMAS / "sarif-2.1.0-subset.schema.json").read_text())
    log = json.loads(render(report, "sarif", tmp_path).read_text())
    jsonschema.validate(log, schema)
    run = log["runs"][0]
    assert len(run["results"]) == 3
    suppressed = [r for r in run["results"] if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["backup.missing"]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert run["invocations"][0]["executionSuccessful"] is False  # a scope is incomplete


def test_pdf_text_has_summary_numbers_and_findings(report: Report, tmp_path: Path) -> None:
    pdftotext = require_service("pdftotext")
    pdftoppm = require_service("pdftoppm")
    pdf = render(report, "pdf", tmp_path)
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert EXPIRED_TITLE in text
    assert "1 incomplete scope(s)" in text
    summary = text.split("Open findings by severity")[0]
    numbers = summary.split()
    for label, value in (("Resources", "6"), ("Open", "2"), ("Incomplete", "1")):
        assert label in summary and value in numbers
    assert "Appendix C: inventory" in text and "i-0003" in text
    assert "Use of cryptography" in text  # a control title next to its id
    subprocess.run(
        [pdftoppm, "-r", "50", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "page-1.png").stat().st_size > 1000


def test_a_failure_while_rendering_leaves_no_file(report: Report, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()

    def breaks_halfway(report: Report, out: io.TextIOBase) -> None:
        out.write("<html>half a page")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_file(folder / "report.html", breaks_halfway, report, binary=False)
    assert list(folder.iterdir()) == []


def test_every_format_listing_controls_shows_their_titles(report: Report, tmp_path: Path) -> None:
    title = "Use of cryptography"  # ISO/IEC 27001:2022 A.8.24, behind the expired certificate
    rows = list(csv.DictReader(render(report, "csv", tmp_path).open()))
    a824 = [r for r in rows if (r["framework"], r["control"]) == ("iso27001-2022", "A.8.24")]
    assert a824 and {r["control_title"] for r in a824} == {title}
    document = json.loads(render(report, "json", tmp_path).read_text())
    controls = {(c["framework"], c["control"]): c["title"] for c in document["controls"]}
    assert controls[("iso27001-2022", "A.8.24")] == title
    assert (
        controls[("hipaa", "164.308(a)(7)(ii)(A)")]
        == "Contingency plan: data backup plan (required)"
    )
    page = render(report, "html", tmp_path).read_text()
    assert f"A.8.24<br><small>{title}</small>" in page
    assert f'<abbr title="{title}">iso27001-2022 A.8.24</abbr>' in page  # on the finding


def test_pdf_footer_counts_the_real_number_of_pages(report: Report, tmp_path: Path) -> None:
    pdftotext = require_service("pdftotext")
    pdf = render(report, "pdf", tmp_path)
    pages = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")
    pages = [page for page in pages if page.strip()]
    assert len(pages) > 1  # the seeded report needs an appendix page
    assert f"page 1 of {len(pages)}" in pages[0]
    assert f"page {len(pages)} of {len(pages)}" in pages[-1]
    assert "{nb}" not in "".join(pages)

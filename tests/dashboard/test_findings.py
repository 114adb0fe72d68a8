"""The findings page: the counts of `vigil findings`, its filters, and silences with reasons."""

from __future__ import annotations

from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from tests.dashboard.estate import Estate
from tests.dashboard.helpers import metric, table

PAGE = "views/findings.py"


def count(db: Database, **query: tuple[str, ...]) -> int:
    return len(list(FindingStore(db).findings(FindingQuery(**query))))


def test_default_view_is_the_open_findings(open_page, estate: Estate, sqlite_db: Database) -> None:
    app = open_page(PAGE)
    assert metric(app, "Matching findings") == count(sqlite_db) > 0
    shown = table(app, "remediation")
    assert set(shown["status"]) == {"open"}
    open_port = shown[shown["rule"] == "network.open_port"].iloc[0]
    assert open_port["remediation"] and open_port["compliance"]
    assert open_port["native_id"] == "sg-open"


def test_filters_narrow_like_the_cli(open_page, estate: Estate, sqlite_db: Database) -> None:
    app = open_page(PAGE)
    app.multiselect(key="findings_status").set_value([]).run()
    assert metric(app, "Matching findings") == count(sqlite_db, statuses=())
    app.multiselect(key="findings_severity").set_value(["critical"]).run()
    critical = count(sqlite_db, statuses=(), severities=("critical",))
    assert metric(app, "Matching findings") == critical
    app.multiselect(key="findings_severity").set_value([]).run()
    app.multiselect(key="findings_rule").set_value(["cert.expired"]).run()
    assert (
        metric(app, "Matching findings")
        == count(sqlite_db, statuses=(), rules=("cert.expired",))
        == 1
    )


def test_owner_filter(open_page, estate: Estate) -> None:
    app = open_page(PAGE)
    app.text_input(key="findings_owner").input("team-a").run()
    assert table(app, "remediation")["native_id"].tolist() == ["sg-open"]


def test_silences_and_their_reasons_are_visible(open_page, estate: Estate) -> None:
    app = open_page(PAGE)
    app.multiselect(key="findings_status").set_value(["silenced"]).run()
    shown = table(app, "remediation")
    assert shown["rule"].tolist() == ["backup.missing"]
    assert "scratch volume, rebuilt nightly" in shown["silence"].iloc[0]
    silences = table(app, "reason")
    assert silences["author"].tolist() == ["sre@example.com"]

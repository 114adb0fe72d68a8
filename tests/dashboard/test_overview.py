"""The overview shows the same numbers as `vigil findings` and `vigil inventory`."""

from __future__ import annotations

import json
from collections import Counter

from storage import inventory
from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from storage.runs import HEALTH_FORMULA
from tests.dashboard.estate import Estate
from tests.dashboard.helpers import metric, table, texts
from tests.fixtures.cli import VigilCli


def test_open_findings_match_vigil_findings(
    open_page, estate: Estate, sqlite_db: Database, sqlite_url: str, vigil_cli: VigilCli
) -> None:
    app = open_page()
    result = vigil_cli("findings", "--format", "json", env={"VIGIL_DATABASE_URL": sqlite_url})
    assert result.returncode == 0, result.stderr
    reported = json.loads(result.stdout)
    assert metric(app, "Open findings") == len(reported) > 0
    by_severity = Counter(f["severity"] for f in reported)
    for severity in ("critical", "high", "medium", "low", "info"):
        assert metric(app, severity) == by_severity.get(severity, 0)


def test_estate_tiles_match_the_inventory(open_page, estate: Estate, sqlite_db: Database) -> None:
    app = open_page()
    assert metric(app, "Resources") == inventory.count_resources(sqlite_db)
    assert metric(app, "Certificates expiring in 30 days") == 3  # expired, 5 and 20 days
    assert metric(app, "Scopes failing") == 1


def test_health_per_source_is_explained(open_page, estate: Estate) -> None:
    app = open_page()
    health = table(app, "score").set_index("source")
    # sg-open has an open critical/high finding and one scope of seven failed: below 100.
    assert 0 < health.loc["aws-test", "score"] < 100
    assert health.loc["aws-test", "affected"] >= 1
    assert HEALTH_FORMULA in texts(app)


def test_failing_scope_and_expiring_certificates_listed(open_page, estate: Estate) -> None:
    app = open_page()
    failing = table(app, "error")
    assert failing["scope"].tolist() == [estate.failed_scope]
    assert "AccessDenied" in failing["error"].iloc[0]
    expiring = table(app, "days_left")
    assert expiring["name"].tolist() == ["c0.example.com", "c1.example.com", "c2.example.com"]


def test_silenced_findings_are_not_counted_open(open_page, estate: Estate, sqlite_db) -> None:
    app = open_page()
    silenced = list(FindingStore(sqlite_db).findings(FindingQuery(statuses=("silenced",))))
    assert silenced  # the seeded silence took effect
    assert metric(app, "Open findings") == len(list(FindingStore(sqlite_db).findings()))

"""`vigil findings` says from which public names each finding's resource is reachable."""

from __future__ import annotations

import csv
import io
import json

from storage.db import Database
from tests.fixtures.cli import VigilCli
from tests.storage.test_exposure import ALB, CDN, DNS, SG_WEB, WEB, build_estate
from vigil.core.model import utcnow


def checked(cli: VigilCli) -> None:
    db = Database(f"sqlite:///{cli.database_path}")
    build_estate(db, clock=utcnow)  # fresh: the rules judge it
    db.dispose()
    result = cli("check", "--no-notify")
    assert result.returncode == 0, result.stderr


def test_findings_json_carries_each_findings_entry_points(vigil_cli: VigilCli) -> None:
    checked(vigil_cli)

    result = vigil_cli("findings", "--format", "json", "--rule", "network.open_port")

    assert result.returncode == 0, result.stderr
    rows = {row["native_id"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"sg-web", "sg-private", "sg-legacy"}
    assert rows["sg-web"]["entry_points"][-1] == {
        "name": "shop.example.com",
        "uid": DNS,
        "path": [DNS, CDN, ALB, WEB, SG_WEB],
    }
    assert [e["name"] for e in rows["sg-web"]["entry_points"]] == [
        "web-prod-1.elb.amazonaws.com",
        "d123.cloudfront.net",
        "shop.example.com",
    ]
    assert rows["sg-private"]["entry_points"] == []
    assert rows["sg-legacy"]["entry_points"] is None  # its source never stored a link


def test_findings_table_and_csv_show_where_a_finding_is_reachable_from(
    vigil_cli: VigilCli,
) -> None:
    checked(vigil_cli)

    table = vigil_cli("findings", "--rule", "network.open_port")
    result = vigil_cli("findings", "--format", "csv", "--rule", "network.open_port")

    assert "reachable_from" in table.stdout and "shop.example.com" in table.stdout
    cells = {
        r["native_id"]: r["reachable_from"] for r in csv.DictReader(io.StringIO(result.stdout))
    }
    assert cells == {"sg-web": "shop.example.com", "sg-private": "", "sg-legacy": "?"}

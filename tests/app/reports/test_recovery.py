"""The report's disaster-recovery section: per entry point, the components behind it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from rules.config import RulesConfig
from storage.db import Database
from tests.app.reports.conftest import params
from tests.app.reports.test_formats import render
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.fixtures.services import require_service
from tests.storage.test_exposure import SG_WEB, WEB, build_estate
from tests.storage.test_links import linked
from vigil.app.reports.contents import gather
from vigil.app.reports.recovery import disaster_recovery

SHOP = "shop.example.com"


def components(db: Database) -> dict[str, dict[str, str]]:
    """name → the component's row, under the one entry point the estate has."""
    [entry] = disaster_recovery(db)
    assert entry.name == SHOP
    return {c.name: c.to_dict() for c in entry.components}


def test_every_component_behind_the_entry_point_is_listed_once(db: Database) -> None:
    build_estate(db)

    found = components(db)

    # The CDN and the load balancer are entry points too, but inner ones: the name users type
    # is shop.example.com. i-private (internal load balancer) and the colo host are not behind it.
    assert sorted(found) == ["E123", "i-web", "vol-web", "web-prod"]
    assert found["vol-web"]["backup"] == "none"  # attached, needs one, has no snapshot
    assert found["vol-web"]["last_restore"] == "unknown"  # restores never read: not "none"
    assert found["i-web"]["backup"] == "not needed"


def test_backup_restore_replica_and_zone_come_from_the_inventory(db: Database) -> None:
    reconciler = build_estate(db)
    disks, snapshots = scope(type_="disk"), scope(type_="snapshot")
    volume = linked(
        "vol-web", disks, ("attached_to", WEB), attached_to=WEB, availability_zone="us-east-1a",
        restore_evidence="aws_backup", last_restore_at="2026-10-26T04:12:44Z",
        last_restore_kind="restore_test",
    )  # fmt: skip
    scan(reconciler, disks, [[volume]])
    snapshot = resource(
        "snap-1", within=snapshots, source_uid=volume.uid, state="completed",
        started_at="2026-11-01T00:00:00Z",
    )  # fmt: skip
    scan(reconciler, snapshots, [[snapshot]])

    row = components(db)["vol-web"]

    assert row["backup"] == "snapshot 2026-11-01T00:00:00Z"
    assert row["last_restore"] == "2026-10-26T04:12:44Z (restore test)"
    assert row["zones"] == "single zone (us-east-1a)"


def test_html_and_json_carry_the_section_and_escape_names(db: Database, tmp_path: Path) -> None:
    reconciler = build_estate(db)
    disks = scope(type_="disk")
    hostile = linked("vol-web", disks, ("attached_to", WEB), attached_to=WEB)
    hostile.name = "<script>alert(1)</script>"
    scan(reconciler, disks, [[hostile]])
    report = gather(db, params(as_of_given=False))

    html = render(report, "html", tmp_path).read_text()
    document = json.loads(render(report, "json", tmp_path).read_text())

    assert "<h2>Disaster recovery</h2>" in html and f"<h3>{SHOP}</h3>" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    [entry] = document["disaster_recovery"]
    assert entry["entry_point"] == SHOP
    assert {c["component"] for c in entry["components"]} >= {"<script>alert(1)</script>"}


def test_the_pdf_lists_each_component_behind_the_entry_point(db: Database, tmp_path: Path) -> None:
    pdftotext = require_service("pdftotext")
    build_estate(db)
    report = gather(db, params(as_of_given=False))
    out = render(report, "pdf", tmp_path)

    text = subprocess.run(
        [pdftotext, "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    section = text.split("Disaster recovery", 1)[1].split("Appendix A", 1)[0]
    rows = {name: row for name, row in components(db).items()}
    assert rows and all(name in section for name in rows)
    assert all(row["backup"].split()[0] in section for row in rows.values())
    assert SHOP in section


def test_a_report_as_of_a_past_time_leaves_the_section_out(db: Database, tmp_path: Path) -> None:
    build_estate(db)
    report = gather(db, params(as_of_given=True))

    document = json.loads(render(report, "json", tmp_path).read_text())

    assert document["disaster_recovery"] is None
    assert (
        "Not shown for a report as of a past time" in render(report, "html", tmp_path).read_text()
    )


def test_a_disk_without_snapshot_where_snapshots_are_not_known_is_unknown_not_none(
    db: Database,
) -> None:
    reconciler = build_estate(db)  # snapshots collected once, none of vol-web
    scan(reconciler, scope(type_="snapshot"), [[]], fail=True)  # and failing since, long ago

    row = components(db)["vol-web"]

    assert row["backup"] == "unknown"  # backup.missing leaves it undecided too


TABLE = "arn:aws:dynamodb:us-east-1:111111111111:table/orders"


def _table_behind_a_name(db: Database, **attributes: object) -> dict[str, str]:
    """A DynamoDB table an entry point of its own routes to; its row."""
    reconciler = build_estate(db)
    tables, records = scope(type_="database"), scope(type_="dns_record", region="global")
    table = resource(TABLE, within=tables, name="orders", kind="table", **attributes)
    scan(reconciler, tables, [[table]])
    shop = linked("shop", records, ("routes_to", "d123.cloudfront.net."))
    orders = linked("orders", records, ("routes_to", table.uid))
    shop.name, orders.name = "shop.example.com.", "orders.example.com."
    scan(reconciler, records, [[shop, orders]])
    by_name = {entry.name: entry for entry in disaster_recovery(db)}
    [row] = [c.to_dict() for c in by_name["orders.example.com"].components]
    return row


def test_a_table_with_on_demand_backups_of_unknown_time_is_not_reported_as_none(
    db: Database,
) -> None:
    row = _table_behind_a_name(
        db, point_in_time_recovery=False, on_demand_backups=2, latest_backup_at=None
    )

    assert row["backup"] == "2 on-demand (time unknown)"


def test_a_table_without_any_backup_is_none(
    db: Database,
) -> None:
    none = _table_behind_a_name(db, point_in_time_recovery=False, on_demand_backups=0)
    assert none["backup"] == "none"


def test_a_table_with_a_dated_on_demand_backup_shows_its_time(db: Database) -> None:
    row = _table_behind_a_name(
        db,
        point_in_time_recovery=False,
        on_demand_backups=1,
        latest_backup_at="2026-11-20T03:00:00Z",
    )
    assert row["backup"] == "on-demand backup 2026-11-20T03:00:00Z"


def test_a_custom_backup_tag_from_the_rules_config_decides_what_needs_a_backup(
    db: Database, tmp_path: Path
) -> None:
    reconciler = build_estate(db)
    servers = scope(type_="server")
    web = linked("i-web", servers, ("protected_by", SG_WEB))
    web.tags = {"dr-tier": "critical"}
    scan(reconciler, servers, [[web]])
    tier = {"tag": "dr-tier", "required_values": ["critical"]}
    rules = RulesConfig(params={"backup.missing": tier})

    document = json.loads(
        render(gather(db, params(as_of_given=False), rules), "json", tmp_path).read_text()
    )

    [entry] = document["disaster_recovery"]
    web_row = next(c for c in entry["components"] if c["component"] == "i-web")
    assert web_row["backup"] == "none"  # needs one under the configured tag; not "not needed"


def test_no_restore_in_aws_backups_bounded_history_says_how_far_it_looked(db: Database) -> None:
    row = _table_behind_a_name(
        db,
        point_in_time_recovery=True,
        restore_evidence="aws_backup",
        last_restore_at=None,
        restore_history_days=30,
    )

    assert row["last_restore"] == "none in the last 30d"  # not "none on record": jobs expire

"""The report's disaster-recovery section: per entry point, the components behind it."""

from __future__ import annotations

import json
from pathlib import Path

from storage.db import Database
from tests.app.reports.conftest import params
from tests.app.reports.test_formats import render
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.storage.test_exposure import WEB, build_estate
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


def test_a_report_as_of_a_past_time_leaves_the_section_out(db: Database, tmp_path: Path) -> None:
    build_estate(db)
    report = gather(db, params(as_of_given=True))

    document = json.loads(render(report, "json", tmp_path).read_text())

    assert document["disaster_recovery"] is None
    assert (
        "Not shown for a report as of a past time" in render(report, "html", tmp_path).read_text()
    )

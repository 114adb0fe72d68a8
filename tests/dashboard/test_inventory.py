"""The inventory page: counts as `vigil inventory`, filters narrow, a resource in detail."""

from __future__ import annotations

import csv
import io
import json

from storage import inventory
from storage.db import Database
from tests.dashboard.estate import HOSTILE_TAG, Estate
from tests.dashboard.helpers import metric, table

PAGE = "views/inventory.py"


def test_counts_match_vigil_inventory(open_page, estate: Estate, sqlite_db: Database) -> None:
    app = open_page(PAGE)
    assert metric(app, "Matching resources") == inventory.count_resources(sqlite_db)


def test_filters_narrow_the_results(open_page, estate: Estate, sqlite_db: Database) -> None:
    app = open_page(PAGE)
    everything = list(inventory.inventory(sqlite_db))
    app.multiselect(key="inventory_type").set_value(["certificate"]).run()
    assert metric(app, "Matching resources") == sum(r.type == "certificate" for r in everything)
    assert set(table(app, "uid")["type"]) == {"certificate"}

    app.multiselect(key="inventory_type").set_value([]).run()
    app.text_input(key="inventory_text").input("I-001").run()  # case-insensitive
    assert table(app, "uid")["native_id"].tolist() == ["i-0010"]  # i-0011 was deleted

    app.text_input(key="inventory_text").input("").run()
    app.text_input(key="inventory_tag_key").input("owner").run()
    app.text_input(key="inventory_tag_value").input("team-a").run()
    expected = sum(r.tags.get("owner") == "team-a" for r in everything)
    assert metric(app, "Matching resources") == expected == 6  # five servers and sg-open


def test_resource_detail_shows_tags_literally_and_its_history(open_page, estate: Estate) -> None:
    app = open_page(PAGE, uid=estate.hostile.uid)
    tags = json.loads(app.json[0].value)
    assert tags["note"] == HOSTILE_TAG
    assert app.code[0].value == estate.hostile.name
    assert "created" in table(app, "kind")["kind"].tolist()


def test_resource_detail_lists_findings_and_changes(open_page, estate: Estate) -> None:
    app = open_page(PAGE, uid=estate.open_world.uid)
    findings = table(app, "rule")
    assert "network.open_port" in findings["rule"].tolist()

    renamed = open_page(PAGE, uid=estate.hostile.uid.replace("i-0000", "i-0003"))
    history = table(renamed, "old")
    change = history[history["field"] == "tags.Name"].iloc[0]
    assert (change["old"], change["new"]) == ("web-3", "web-3-renamed")


def test_csv_download_holds_every_matching_resource(dashboard_env, estate: Estate, sqlite_url):
    from dashboard.views.inventory import inventory_csv
    from storage.inventory import InventoryQuery

    rows = list(
        csv.DictReader(io.StringIO(inventory_csv(sqlite_url, InventoryQuery(types=("server",)))))
    )
    assert sorted(r["native_id"] for r in rows) == [f"i-{i:04d}" for i in range(11)]
    assert (
        json.loads(next(r for r in rows if r["native_id"] == "i-0000")["tags"])["note"]
        == HOSTILE_TAG
    )


def test_the_grid_shows_a_bidi_override_as_an_escape(open_page, estate: Estate) -> None:
    app = open_page(PAGE)
    grid = table(app, "uid")
    (tags,) = grid[grid["uid"] == estate.hostile.uid]["tags"].tolist()
    assert "\u202e" not in tags
    assert "note=<b>x</b>\\u202efdp.exe" in tags

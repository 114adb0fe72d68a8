"""The dashboard's aggregates agree with the row-by-row queries, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

from storage import findings, history, inventory, runs
from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from storage.inventory import InventoryQuery
from storage.reconcile import Reconciler
from tests.dashboard.estate import Estate, seed
from tests.factories import resources, scope
from tests.factories.storage import scan


def test_inventory_pages_cover_the_inventory_once(db: Database) -> None:
    seed(db)
    everything = [r.uid for r in inventory.inventory(db)]
    pages = [
        inventory.inventory_page(db, InventoryQuery(), limit=5, offset=o) for o in range(0, 30, 5)
    ]
    assert {p.total for p in pages} == {len(everything)}
    assert [row["uid"] for p in pages for row in p.rows] == everything


def test_inventory_filters(db: Database) -> None:
    seed(db)
    everything = list(inventory.inventory(db))

    def total(**query: object) -> int:
        return inventory.inventory_page(db, InventoryQuery(**query)).total  # type: ignore[arg-type]

    assert total(types=("certificate",)) == sum(r.type == "certificate" for r in everything)
    assert total(text="WEB-1") == 0  # names are native ids here; search is on name and native id
    assert total(text="i-001") == 1
    assert total(text="%") == 0  # LIKE wildcards are literal
    assert total(tag_key="owner") == sum("owner" in r.tags for r in everything)
    assert total(tag_key="owner", tag_value="team-b") == sum(
        r.tags.get("owner") == "team-b" for r in everything
    )


def test_open_by_severity_matches_the_store(db: Database) -> None:
    estate: Estate = seed(db)
    counts = {c.severity: c.open for c in findings.open_by_severity(db, estate.now)}
    expected = Counter(f.severity.value for f in FindingStore(db).findings(FindingQuery()))
    assert counts == {s: expected.get(s, 0) for s in counts}


def test_trends_per_day(db: Database) -> None:
    estate = seed(db)
    sizes = history.inventory_size_per_day(db, estate.now, days=5)
    assert len(sizes) == 5
    assert sizes[-1][1] == inventory.count_resources(db)
    assert sizes[0][1] == 0  # before the first collection
    assert sum(new for _, new, _ in findings.findings_per_day(db, estate.now, days=5)) == len(
        list(FindingStore(db).findings(FindingQuery(statuses=())))
    )


def test_certificates_and_health(db: Database) -> None:
    estate = seed(db)
    soon = inventory.expiring_certificates(db, estate.now, within_days=30)
    assert [round(c["days_left"]) for c in soon] == [-2, 5, 20]
    (health,) = runs.source_health(db)
    # five collected types (snapshots among them, none found), and the failed one
    assert (health.scopes, health.scopes_ok) == (6, 5)
    assert health.score == round(100 * (1 - health.affected / health.resources) * 5 / 6)


def test_findings_page_matches_the_store(db: Database) -> None:
    seed(db)
    store = list(FindingStore(db).findings(FindingQuery(statuses=())))
    page = findings.findings_page(db, FindingQuery(statuses=()), limit=1000)
    assert [r["fingerprint"] for r in page.rows] == [f.fingerprint for f in store]
    owned = findings.findings_page(db, FindingQuery(owner="team-a"))
    assert [r["native_id"] for r in owned.rows] == ["sg-open"]


def test_has_present_says_whether_any_resource_is_present_not_whether_any_was(
    db: Database,
) -> None:
    servers = scope(type_="server")
    reconciler = Reconciler(db)
    assert not inventory.has_present(db)  # nothing collected yet

    scan(reconciler, servers, [resources(2, within=servers)])
    assert inventory.has_present(db)

    scan(reconciler, servers, [[]])  # the scope completed and saw neither: both deleted
    assert not inventory.has_present(db)
    assert inventory.count_resources(db) == 0

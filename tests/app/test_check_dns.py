"""dns.dangling through storage and `run_check` (SQLite and PostgreSQL): history decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import history
from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from storage.reconcile import Reconciler
from tests.factories import resource, scope
from vigil.app.check import run_check
from vigil.core.model import FindingStatus, Resource, Scope, fingerprint

SERVERS = scope(type_="server")
RECORDS = scope(type_="dns_record", region="global")
LEASED = "52.1.2.3"


class Estate:
    """Scans through the real write path, and checks at the same clock."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
        self.reconciler = Reconciler(db, clock=lambda: self.now)

    def scan(self, target: Scope, *resources: Resource, fail: bool = False) -> None:
        self.now += timedelta(minutes=15)
        run = self.reconciler.start(target)
        self.reconciler.add_page(run, list(resources))
        if fail:
            self.reconciler.fail(run, "Throttling")
        else:
            self.reconciler.complete(run)

    def check(self) -> None:
        self.now += timedelta(minutes=1)
        run_check(self.db, now=self.now)

    def dangling(self, record: Resource) -> FindingStatus | None:
        wanted = fingerprint("dns.dangling", record.uid)
        found = FindingStore(self.db).findings(FindingQuery(statuses=()))
        return next((f.status for f in found if f.fingerprint == wanted), None)


def server(native_id: str, *addresses: str) -> Resource:
    return resource(native_id, within=SERVERS, public_ips=list(addresses), private_ips=[])


def a_record(name: str, address: str) -> Resource:
    return resource(f"Z1/{name}/A/", within=RECORDS, name=name, record_type="A", values=[address])


def test_a_record_to_the_address_of_a_deleted_server_is_dangling(db: Database) -> None:
    estate = Estate(db)
    app, saas = a_record("app.example.com.", LEASED), a_record("shop.example.com.", "198.51.100.7")
    estate.scan(SERVERS, server("i-web", LEASED))
    estate.scan(RECORDS, app, saas)
    estate.check()
    assert estate.dangling(app) is None  # the server holds it

    estate.scan(SERVERS)  # the server is terminated; the record still points at its address
    estate.check()
    assert estate.dangling(app) is FindingStatus.OPEN
    assert estate.dangling(saas) is None  # nobody of ours ever held the SaaS address


def test_unknown_servers_keep_the_finding_then_a_server_taking_the_address_resolves_it(
    db: Database,
) -> None:
    estate = Estate(db)
    app = a_record("app.example.com.", LEASED)
    estate.scan(SERVERS, server("i-web", LEASED))
    estate.scan(RECORDS, app)
    estate.scan(SERVERS)
    estate.check()
    assert estate.dangling(app) is FindingStatus.OPEN

    for _ in range(5):  # failing past the 1h window: who holds the address is unknown
        estate.scan(SERVERS, fail=True)
    estate.scan(RECORDS, app)  # the record's own scope completes: it alone would resolve
    estate.check()
    assert estate.dangling(app) is FindingStatus.OPEN

    estate.scan(SERVERS, server("i-new", LEASED))
    estate.check()
    assert estate.dangling(app) is FindingStatus.RESOLVED


def test_states_mentioning_finds_past_states_of_deleted_resources(db: Database) -> None:
    estate = Estate(db)
    estate.scan(SERVERS, server("i-old", "52.9.9.9"), server("i-other", "52.8.8.8"))
    estate.scan(SERVERS)
    found = list(history.states_mentioning(db, ["52.9.9.9", "NOT-THERE.example"]))
    assert found and all("52.9.9.9" in f["attributes"]["public_ips"] for f in found)
    assert {f["type"] for f in found} == {"server"}
    assert list(history.states_mentioning(db, [])) == []

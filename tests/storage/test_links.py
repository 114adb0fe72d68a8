"""Links are reconciled like resources: only a completed scope adds or removes one, history
replays with --as-of, names resolve to what the inventory holds, and the BI view shows them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from hypothesis import example, given
from hypothesis import strategies as st

from storage.db import Database
from storage.reconcile import Reconciler
from storage.retire import retire_unplanned
from storage.topology import topology
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.storage.test_reconcile import FakeClock, database_properties
from vigil.core.model import Resource, Scope, dns_ref, native_ref

Edge = tuple[str, str, str, bool]


def linked(
    native_id: str, within: Scope, *targets: tuple[str, str], **attributes: object
) -> Resource:
    record = resource(native_id, within=within, **attributes)
    for kind, target in targets:
        record.link(kind, target)
    return record


def edges(db: Database, as_of: datetime | None = None) -> set[Edge]:
    """Every edge as (from native id, kind, target's native id or reference, resolved)."""
    graph = topology(db, None, as_of=as_of)
    return {
        (e.from_uid.rsplit("/", 1)[-1], e.kind, e.to.rsplit("/", 1)[-1], e.resolved)
        for e in graph.edges
    }


def link_writes(db: Database) -> Callable[[], list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        text = " ".join(statement.split()).upper()
        if text.startswith(("INSERT", "UPDATE", "DELETE")) and "RESOURCE_LINKS" in text:
            seen.append(text)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    return lambda: seen


def test_a_failed_scope_neither_adds_nor_removes_links(db: Database) -> None:
    servers, disks = scope(type_="server"), scope(type_="disk")
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, servers, [[resource("i-1"), resource("i-2")]])
    scan(
        reconciler,
        disks,
        [[linked("vol-1", disks, ("attached_to", "aws/111111111111/us-east-1/server/i-1"))]],
    )
    before = edges(db)

    failed = [linked("vol-2", disks, ("attached_to", "aws/111111111111/us-east-1/server/i-2"))]
    scan(reconciler, disks, [failed], fail=True)

    assert before == {("vol-1", "attached_to", "i-1", True)}
    assert edges(db) == before


def test_a_completed_scope_ends_its_vanished_links_and_as_of_replays_them(db: Database) -> None:
    servers, disks = scope(type_="server"), scope(type_="disk")
    clock = FakeClock()
    reconciler = Reconciler(db, clock=clock)
    server = "aws/111111111111/us-east-1/server/"
    scan(reconciler, servers, [[resource("i-1"), resource("i-2")]])
    scan(reconciler, disks, [[linked("vol-1", disks, ("attached_to", server + "i-1"))]])
    attached_to_first = clock.now

    scan(reconciler, disks, [[linked("vol-1", disks, ("attached_to", server + "i-2"))]])

    assert edges(db) == {("vol-1", "attached_to", "i-2", True)}
    assert edges(db, as_of=attached_to_first) == {("vol-1", "attached_to", "i-1", True)}


def test_a_rescan_with_the_same_links_writes_no_link_rows(db: Database) -> None:
    disks = scope(type_="disk")
    reconciler = Reconciler(db, clock=FakeClock())
    page = [linked(f"vol-{n}", disks, ("attached_to", f"aws/a/r/server/i-{n}")) for n in range(50)]
    scan(reconciler, disks, [page])
    writes = link_writes(db)

    scan(reconciler, disks, [page])

    assert writes() == []
    # The servers are not in the inventory: the links are kept, unresolved.
    assert {resolved for *_, resolved in edges(db)} == {False}
    assert len(edges(db)) == 50


def test_a_name_resolves_when_the_resource_answering_it_arrives_later(db: Database) -> None:
    records, balancers = scope(type_="dns_record", region="global"), scope(type_="load_balancer")
    reconciler = Reconciler(db, clock=FakeClock())
    shop = linked("shop", records, ("routes_to", dns_ref("Web-1.elb.amazonaws.com.")))
    scan(reconciler, records, [[shop]])
    assert edges(db) == {("shop", "routes_to", "dns:web-1.elb.amazonaws.com", False)}

    scan(
        reconciler,
        balancers,
        [[resource("lb-1", within=balancers, dns_name="web-1.elb.amazonaws.com")]],
    )

    assert edges(db) == {("shop", "routes_to", "lb-1", True)}


def route_shop_to(reconciler: Reconciler, records: Scope, name: str) -> None:
    """A completed scan of `records` holding one record, `shop`, routed to DNS name `name`."""
    scan(reconciler, records, [[linked("shop", records, ("routes_to", dns_ref(name)))]])


def test_a_name_two_resources_answer_stays_unresolved(db: Database) -> None:
    records, balancers = scope(type_="dns_record", region="global"), scope(type_="load_balancer")
    reconciler = Reconciler(db, clock=FakeClock())
    twins = [resource(f"lb-{n}", within=balancers, dns_name="twin.example.com") for n in (1, 2)]
    scan(reconciler, balancers, [twins])

    route_shop_to(reconciler, records, "twin.example.com")

    assert edges(db) == {("shop", "routes_to", "dns:twin.example.com", False)}


def test_a_name_two_resources_answered_resolves_once_a_completed_scope_deletes_one(
    db: Database,
) -> None:
    records, balancers = scope(type_="dns_record", region="global"), scope(type_="load_balancer")
    reconciler = Reconciler(db, clock=FakeClock())
    twins = [resource(f"lb-{n}", within=balancers, dns_name="twin.example.com") for n in (1, 2)]
    scan(reconciler, balancers, [twins])
    route_shop_to(reconciler, records, "twin.example.com")

    scan(reconciler, balancers, [twins[:1]], fail=True)  # a failed scope deletes nothing
    assert edges(db) == {("shop", "routes_to", "dns:twin.example.com", False)}

    scan(reconciler, balancers, [twins[:1]])  # lb-2 is gone: nothing else was created

    assert edges(db) == {("shop", "routes_to", "lb-1", True)}


def test_a_name_resolves_when_one_of_two_resources_answering_it_is_renamed(db: Database) -> None:
    records, balancers = scope(type_="dns_record", region="global"), scope(type_="load_balancer")
    reconciler = Reconciler(db, clock=FakeClock())
    twins = [resource(f"lb-{n}", within=balancers, dns_name="twin.example.com") for n in (1, 2)]
    scan(reconciler, balancers, [twins])
    route_shop_to(reconciler, records, "twin.example.com")

    renamed = resource("lb-2", within=balancers, dns_name="other.example.com")
    scan(reconciler, balancers, [[twins[0], renamed]])

    assert edges(db) == {("shop", "routes_to", "lb-1", True)}


def test_a_name_resolves_once_a_retired_scope_takes_its_twin_away(db: Database) -> None:
    records = scope(type_="dns_record", region="global")
    east, west = scope(type_="load_balancer"), scope(type_="load_balancer", region="us-west-2")
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, east, [[resource("lb-1", within=east, dns_name="twin.example.com")]])
    scan(reconciler, west, [[resource("lb-2", within=west, dns_name="twin.example.com")]])
    route_shop_to(reconciler, records, "twin.example.com")
    assert edges(db) == {("shop", "routes_to", "dns:twin.example.com", False)}

    retire_unplanned(db, planned=[records.key, east.key])  # the config dropped us-west-2

    assert edges(db) == {("shop", "routes_to", "lb-1", True)}


def test_a_name_whose_resource_was_deleted_stays_unresolved(db: Database) -> None:
    records, balancers = scope(type_="dns_record", region="global"), scope(type_="load_balancer")
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, balancers, [[resource("lb-1", within=balancers, dns_name="gone.example.com")]])
    scan(reconciler, balancers, [[]])

    route_shop_to(reconciler, records, "gone.example.com")

    assert edges(db) == {("shop", "routes_to", "dns:gone.example.com", False)}


def test_a_native_reference_resolves_when_its_bucket_arrives_in_a_later_scope_run(
    db: Database,
) -> None:
    records, buckets = scope(type_="dns_record", region="global"), scope(type_="bucket")
    reconciler = Reconciler(db, clock=FakeClock())
    assets = linked("assets", records, ("routes_to", native_ref("bucket", "assets-bucket")))
    scan(reconciler, records, [[assets]])
    scan(reconciler, buckets, [[resource("other-bucket", within=buckets)]])
    assert edges(db) == {("assets", "routes_to", "native:bucket:assets-bucket", False)}

    scan(reconciler, buckets, [[resource("assets-bucket", within=buckets)]])

    assert edges(db) == {("assets", "routes_to", "assets-bucket", True)}


def test_a_link_moves_with_its_resource_to_the_scope_that_now_returns_it(db: Database) -> None:
    old, new = scope(source="old", type_="disk"), scope(source="new", type_="disk")
    reconciler = Reconciler(db, clock=FakeClock())
    target = ("attached_to", "aws/111111111111/us-east-1/server/i-1")
    scan(reconciler, old, [[linked("vol-1", old, target)]])
    scan(reconciler, new, [[linked("vol-1", new, target)]])

    scan(reconciler, old, [[]])  # the old scope no longer has it: the new scope owns it now

    (row,) = _rows(db, "SELECT scope_key, deleted_at FROM resource_links")
    assert row == (new.key, None)


def test_retired_resources_take_their_links_with_them(db: Database) -> None:
    disks = scope(type_="disk")
    reconciler = Reconciler(db, clock=FakeClock())
    scan(reconciler, disks, [[linked("vol-1", disks, ("attached_to", "aws/a/r/server/i-1"))]])

    retire_unplanned(db, planned=[])

    assert _rows(db, "SELECT from_uid FROM vigil_links") == []


def test_vigil_links_lists_present_links_with_unresolved_targets_null(db: Database) -> None:
    records = scope(type_="dns_record", region="global")
    reconciler = Reconciler(db, clock=FakeClock())
    shop = linked("shop", records, ("routes_to", dns_ref("elsewhere.example.net")))
    scan(reconciler, records, [[shop]])

    rows = _rows(db, "SELECT from_uid, kind, to_uid, target FROM vigil_links")

    assert rows == [(shop.uid, "routes_to", None, "dns:elsewhere.example.net")]


def _rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql))]


# --- property: random scans, some failing; links follow the completed ones ----------------------

DISKS = [f"vol-{n}" for n in range(5)]
link_scan = st.fixed_dictionaries(
    {
        "scope": st.integers(0, 1),
        "attached": st.dictionaries(st.sampled_from(DISKS), st.integers(0, 2), max_size=5),
        "fail": st.booleans(),
    }
)


@database_properties
@given(scans=st.lists(link_scan, min_size=1, max_size=8))
def test_random_scans_links_follow_completed_scopes_and_replay(
    db: Database, scans: list[dict]
) -> None:
    account = uuid.uuid4().hex[:12]
    scopes = [
        scope(source=f"p-{account}", account=account, region=r, type_="disk") for r in ("a", "b")
    ]
    clock = FakeClock()
    reconciler = Reconciler(db, clock=clock)
    model: dict[str, dict[str, int]] = {s.key: {} for s in scopes}
    checkpoints: list[tuple[datetime, set[tuple[str, str]]]] = []
    for step in scans:
        where = scopes[step["scope"]]
        page = [
            linked(disk, where, ("attached_to", f"server/i-{server}"))
            for disk, server in sorted(step["attached"].items())
        ]
        scan(reconciler, where, [page], fail=step["fail"])
        if not step["fail"]:
            model[where.key] = dict(step["attached"])
        expected = {
            (f"{key}/{disk}", f"i-{server}")
            for key, items in model.items()
            for disk, server in items.items()
        }
        checkpoints.append((clock.now, expected))
        assert _model_links(db, account) == expected
    for moment, expected in checkpoints:
        assert _model_links(db, account, moment) == expected


def _model_links(db: Database, account: str, as_of: datetime | None = None) -> set[tuple[str, str]]:
    uids = [f"aws/{account}/{region}/disk/{disk}" for region in ("a", "b") for disk in DISKS]
    graph = topology(db, uids, depth=1, direction="down", as_of=as_of)  # type: ignore[arg-type]
    nodes = {n.uid: n for n in graph.nodes}
    return {
        (f"{nodes[e.from_uid].scope_key}/{nodes[e.from_uid].native_id}", e.to.rsplit("/", 1)[-1])
        for e in graph.edges
    }


# --- property: a name is resolved as soon as exactly one present resource answers to it -------

NAMES = ("a", "b", "c")
BALANCERS = [f"lb-{n}" for n in range(3)]
RECORDS = [f"rec-{n}" for n in range(3)]
name_scan = st.fixed_dictionaries(
    {
        "scope": st.integers(0, 2),  # two balancer scopes, then the records' scope
        "items": st.dictionaries(st.sampled_from(BALANCERS), st.sampled_from(NAMES), max_size=3),
        "fail": st.booleans(),
    }
)


@database_properties
@given(scans=st.lists(name_scan, min_size=1, max_size=10))
@example(  # twins, a record naming them, then one twin deleted by a run creating nothing
    scans=[
        {"scope": 0, "items": {"lb-0": "a", "lb-1": "a"}, "fail": False},
        {"scope": 2, "items": {"lb-0": "a"}, "fail": False},
        {"scope": 0, "items": {"lb-0": "a"}, "fail": False},
    ]
)
def test_random_scans_resolve_a_name_once_one_present_resource_answers_it(
    db: Database, scans: list[dict]
) -> None:
    account = uuid.uuid4().hex[:12]
    balancers = [
        scope(source=f"p-{account}", account=account, region=r, type_="load_balancer")
        for r in ("a", "b")
    ]
    records = scope(source=f"p-{account}", account=account, region="global", type_="dns_record")
    reconciler = Reconciler(db, clock=FakeClock())
    named: dict[str, dict[str, str]] = {s.key: {} for s in balancers}  # scope -> lb -> name
    routes: dict[str, str] = {}  # record -> name, as the records' scope last completed
    resolved: dict[str, str] = {}  # record -> the balancer its link resolved to (kept)
    # A link resolved to a balancer since deleted keeps its uid; the graph shows it unresolved.

    def host(name: str) -> str:
        return f"{name}.{account}.example.com"

    for step in scans:
        if step["scope"] < 2:
            where = balancers[step["scope"]]
            page = [
                resource(lb, within=where, dns_name=host(name))
                for lb, name in sorted(step["items"].items())
            ]
        else:
            where = records
            items = {f"rec-{lb[-1]}": name for lb, name in step["items"].items()}
            page = [
                linked(record, where, ("routes_to", dns_ref(host(name))))
                for record, name in sorted(items.items())
            ]
        scan(reconciler, where, [page], fail=step["fail"])
        if step["fail"]:
            pass
        elif where is records:
            for record in [r for r in routes if routes[r] != items.get(r)]:
                routes.pop(record)
                resolved.pop(record, None)  # the link ended; a new one starts unresolved
            routes.update(items)
        else:
            named[where.key] = dict(step["items"])
        holders: dict[str, set[str]] = {}
        for key, items_of_scope in named.items():
            for lb, name in items_of_scope.items():
                holders.setdefault(name, set()).add(f"{key}/{lb}")
        for record, name in routes.items():
            if record not in resolved and len(holders.get(name, ())) == 1:
                resolved[record] = next(iter(holders[name]))
        present = set().union(*holders.values())
        expected = {
            (
                record,
                "routes_to",
                resolved[record].rsplit("/", 1)[-1] if record in resolved else dns_ref(host(name)),
                resolved.get(record) in present,
            )
            for record, name in routes.items()
        }
        assert _edges_of(db, records) == expected


def _edges_of(db: Database, where: Scope) -> set[Edge]:
    with db.connect() as conn:
        uids = [
            uid
            for (uid,) in conn.execute(
                sa.text("SELECT uid FROM resources WHERE scope_key = :key AND state = 'present'"),
                {"key": where.key},
            )
        ]
    graph = topology(db, uids, depth=1, direction="down")
    return {
        (e.from_uid.rsplit("/", 1)[-1], e.kind, e.to.rsplit("/", 1)[-1], e.resolved)
        for e in graph.edges
    }

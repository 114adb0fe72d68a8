"""`vigil topology` on a seeded estate (record → CDN → load balancer → servers → security
group), as a user runs it: JSON, DOT that Graphviz renders, the table, --as-of, bad --from."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.fixtures.cli import VigilCli
from tests.fixtures.services import require_service
from vigil.core.model import Resource, Scope, dns_ref, iso

START = datetime(2026, 11, 1, tzinfo=UTC)
ACCOUNT = "111111111111"
HOSTILE = 'web "prod" \\N <b>}'
"""A load balancer's Name tag: quotes, a DOT escape, HTML-like and brace text."""


def _uid(type_: str, native_id: str, region: str = "us-east-1") -> str:
    return f"aws/{ACCOUNT}/{region}/{type_}/{native_id}"


def _linked(native_id: str, within: Scope, links: list[tuple[str, str]], **kw: object) -> Resource:
    record = resource(native_id, within=within, **kw)  # type: ignore[arg-type]
    for kind, target in links:
        record.link(kind, target)
    return record


def seed(url: str) -> datetime:
    """The estate; returns a time at which lb-1 still targeted i-old (retargeted an hour later)."""
    clock = [START]
    db = Database(url)
    reconciler = Reconciler(db, clock=lambda: clock[0])
    servers, groups = scope(type_="server"), scope(type_="security_group")
    balancers, cdns = scope(type_="load_balancer"), scope(type_="cdn", region="global")
    records = scope(type_="dns_record", region="global")
    sg = ("protected_by", _uid("security_group", "sg-web"))
    scan(reconciler, groups, [[resource("sg-web", within=groups)]])
    scan(
        reconciler,
        servers,
        [[_linked(i, servers, [sg]) for i in ("i-old", "i-1", "i-2")]],
    )

    def balancer(targets: list[str]) -> Resource:
        links = [("targets", _uid("server", t)) for t in targets] + [sg]
        return _linked("lb-1", balancers, links, name=HOSTILE, dns_name="lb-1.elb.amazonaws.com")

    scan(reconciler, balancers, [[balancer(["i-old"])]])
    origin = [("origin", dns_ref("LB-1.elb.amazonaws.com"))]
    scan(reconciler, cdns, [[_linked("E1", cdns, origin, domain_name="d1.cloudfront.net")]])
    shop = [("routes_to", dns_ref("d1.cloudfront.net"))]
    away = [("routes_to", dns_ref("elsewhere.example.net"))]
    scan(
        reconciler,
        records,
        [
            [
                _linked("Z1/shop.example.com./A/", records, shop, name="shop.example.com."),
                _linked("Z1/old.example.com./CNAME/", records, away, name="old.example.com."),
            ]
        ],
    )
    clock[0] = START + timedelta(hours=1)
    scan(reconciler, balancers, [[balancer(["i-1", "i-2"])]])
    db.dispose()
    return START + timedelta(minutes=30)


def _json(vigil_cli: VigilCli, url: str, *args: str) -> dict[str, list[dict[str, object]]]:
    result = vigil_cli("topology", *args, "--format", "json", env={"VIGIL_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _names(graph: dict[str, list[dict[str, object]]]) -> set[str]:
    return {str(node["native_id"]) for node in graph["nodes"]}


def test_from_a_dns_name_down_reaches_every_component_behind_it(
    vigil_cli: VigilCli, db_url: str
) -> None:
    seed(db_url)

    graph = _json(vigil_cli, db_url, "--from", "Shop.Example.com", "--direction", "down")

    assert _names(graph) == {"Z1/shop.example.com./A/", "E1", "lb-1", "i-1", "i-2", "sg-web"}
    edges = {(e["from"], e["kind"], e["to"]) for e in graph["edges"]}
    assert (_uid("cdn", "E1", "global"), "origin", _uid("load_balancer", "lb-1")) in edges
    assert (_uid("load_balancer", "lb-1"), "targets", _uid("server", "i-1")) in edges
    assert all(e["resolved"] for e in graph["edges"])
    lb = next(n for n in graph["nodes"] if n["native_id"] == "lb-1")
    assert lb["name"] == HOSTILE and lb["type"] == "load_balancer"  # inventory objects


def test_up_from_a_server_reaches_the_names_it_serves_and_depth_bounds_the_walk(
    vigil_cli: VigilCli, sqlite_url: str
) -> None:
    seed(sqlite_url)
    server = _uid("server", "i-1")

    up = _json(vigil_cli, sqlite_url, "--from", server, "--direction", "up")
    near = _json(vigil_cli, sqlite_url, "--from", server, "--direction", "up", "--depth", "1")
    both = _json(vigil_cli, sqlite_url, "--from", server, "--depth", "1")

    assert _names(up) == {"i-1", "lb-1", "E1", "Z1/shop.example.com./A/"}
    assert _names(near) == {"i-1", "lb-1"}
    assert _names(both) == {"i-1", "lb-1", "sg-web"}  # both: the up walk and the down walk


def test_as_of_shows_the_links_of_that_time(vigil_cli: VigilCli, db_url: str) -> None:
    before = seed(db_url)
    lb = _uid("load_balancer", "lb-1")

    then = _json(
        vigil_cli, db_url, "--from", lb, "--direction", "down", "--as-of", iso(before) or ""
    )
    now = _json(vigil_cli, db_url, "--from", lb, "--direction", "down")

    assert _names(then) == {"lb-1", "i-old", "sg-web"}
    assert _names(now) == {"lb-1", "i-1", "i-2", "sg-web"}


def test_an_unresolved_name_is_an_edge_to_the_name_not_a_node(
    vigil_cli: VigilCli, sqlite_url: str
) -> None:
    seed(sqlite_url)

    graph = _json(vigil_cli, sqlite_url, "--from", "old.example.com.")

    assert _names(graph) == {"Z1/old.example.com./CNAME/"}
    (edge,) = graph["edges"]
    assert (edge["to"], edge["resolved"]) == ("dns:elsewhere.example.net", False)


def test_dot_output_escapes_names_and_graphviz_renders_it(
    vigil_cli: VigilCli, sqlite_url: str
) -> None:
    dot = require_service("dot")
    seed(sqlite_url)

    result = vigil_cli("topology", "--from", "shop.example.com", "--format", "dot")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph vigil {")
    rendered = subprocess.run(
        [dot, "-Tsvg"], input=result.stdout, capture_output=True, text=True, check=True
    )
    # The name arrives as text: not cut at its quote, its \N not replaced by the node id.
    assert "web &quot;prod&quot; \\N &lt;b&gt;}" in rendered.stdout
    assert rendered.stdout.count('<g id="node') == 6


def test_the_table_lists_one_edge_per_line(vigil_cli: VigilCli, sqlite_url: str) -> None:
    seed(sqlite_url)

    result = vigil_cli("topology", "--from", _uid("load_balancer", "lb-1"), "--direction", "down")

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if " targets " in line]
    assert len(lines) == 2 and all("server" in line for line in lines)


@pytest.mark.parametrize("start", ["nothing.example.com", _uid("server", "i-none")])
def test_an_unknown_from_exits_2_naming_it(vigil_cli: VigilCli, start: str) -> None:
    seed(f"sqlite:///{vigil_cli.database_path}")

    result = vigil_cli("topology", "--from", start)

    assert result.returncode == 2
    assert start in result.stderr and "no resource has that uid or DNS name" in result.stderr

"""The topology page: an entry point's graph coloured by worst open finding, boxes that link to
their resource pages, a neighbour list, names escaped; the resource page lists its links."""

from __future__ import annotations

import re
import subprocess

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.views.topology import FILLS, MAX_NODES
from storage.db import Database
from storage.reconcile import Reconciler
from tests.dashboard.estate import HOSTILE_NAME, LinkedEstate, seed_linked
from tests.dashboard.helpers import set_widget, table, texts
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.fixtures.services import require_service
from tests.storage.test_links import linked
from vigil.core.model import Severity, dns_ref

PAGE = "views/topology.py"
FLEET = 160
"""Servers behind one load balancer: more than MAX_NODES boxes one link away."""
assert FLEET > MAX_NODES


@pytest.fixture
def estate(sqlite_db: Database) -> LinkedEstate:
    return seed_linked(sqlite_db)


def _dot(app: AppTest) -> str:
    charts = app.get("graphviz_chart")
    assert charts, f"no graph drawn; the page says: {texts(app)}"
    spec: str = charts[0].proto.spec
    return spec


def _boxes(dot: str) -> dict[str, str]:
    """tooltip (a uid, or an unresolved target) → the box's attributes, as DOT text."""
    found = {}
    for line in dot.splitlines():
        tooltip = re.search(r'tooltip="((?:[^"\\]|\\.)*)"', line)
        if tooltip and " -> " not in line:
            found[tooltip[1]] = line
    return found


def _fill(box: str) -> str | None:
    fill = re.search(r'fillcolor="([^"]+)"', box)
    return fill[1] if fill else None


def test_the_first_entry_point_is_drawn_coloured_by_its_worst_open_finding(
    open_page, estate: LinkedEstate
) -> None:
    app = open_page(PAGE)

    (picker,) = app.selectbox
    assert picker.value == estate.cdn  # the first entry point by public name
    boxes = _boxes(_dot(app))
    assert set(boxes) == {
        estate.dns, estate.cdn, estate.alb, estate.web, estate.hostile, estate.group,
        estate.certificate,
    }  # fmt: skip
    assert _fill(boxes[estate.group]) == FILLS[Severity.CRITICAL]  # network.open_port
    assert _fill(boxes[estate.certificate]) == FILLS[Severity.MEDIUM]  # cert.expiring
    assert _fill(boxes[estate.web]) is None  # nothing open on the server itself
    assert "penwidth=3" in boxes[estate.cdn] and "penwidth" not in boxes[estate.alb]
    # Every box is a link to its resource page.
    assert (
        'URL="inventory?uid=aws%2F111111111111%2Fus-east-1%2Fserver%2Fi-web"' in (boxes[estate.web])
    )


def test_searching_narrows_the_entry_points_and_a_dns_name_starts_the_walk(
    open_page, estate: LinkedEstate
) -> None:
    app = open_page(PAGE)

    set_widget(app, "topology_find", "ELB")
    (picker,) = app.selectbox
    assert picker.options == ["web-prod-1.elb.amazonaws.com (alb web-prod)"]

    set_widget(app, "topology_find", "shop.example.com")
    assert not app.selectbox  # a DNS name is a start by itself, like `--from`
    assert "penwidth=3" in _boxes(_dot(app))[estate.dns]

    set_widget(app, "topology_find", "nothing-like-it")
    assert "No entry point's name contains 'nothing-like-it'" in texts(app)


def test_depth_and_direction_bound_the_walk(open_page, estate: LinkedEstate) -> None:
    app = open_page(PAGE, uid=estate.alb)

    set_widget(app, "topology_direction", "down")
    assert set(_boxes(_dot(app))) == {
        estate.alb, estate.web, estate.hostile, estate.group, estate.certificate,
    }  # fmt: skip
    set_widget(app, "topology_depth", 1)
    assert set(_boxes(_dot(app))) == {estate.alb, estate.web, estate.hostile, estate.certificate}
    set_widget(app, "topology_direction", "up")
    assert set(_boxes(_dot(app))) == {estate.alb, estate.cdn}


def test_a_resource_in_the_url_is_the_centre_and_its_neighbours_are_listed(
    open_page, estate: LinkedEstate
) -> None:
    app = open_page(PAGE, uid=estate.group)

    assert "penwidth=3" in _boxes(_dot(app))[estate.group]
    neighbours = table(app, "way")
    assert sorted(zip(neighbours["way"], neighbours["kind"], neighbours["uid"], strict=True)) == [
        ("up", "protected_by", estate.hostile),
        ("up", "protected_by", estate.web),
    ]
    hostile = neighbours[neighbours["uid"] == estate.hostile].iloc[0]
    assert hostile["name"] == HOSTILE_NAME.replace("\u202e", "\\u202e")  # literal, bidi escaped
    assert hostile["page"] == "inventory?uid=aws%2F111111111111%2Fus-east-1%2Fserver%2Fi-evil"


def test_an_unknown_uid_in_the_url_says_so(open_page, estate: LinkedEstate) -> None:
    app = open_page(PAGE, uid="aws/111111111111/us-east-1/server/i-none")
    assert "No present resource with this uid" in texts(app)
    assert not app.get("graphviz_chart")


def test_a_hostile_name_stays_one_labelled_box_when_graphviz_renders_it(
    open_page, estate: LinkedEstate
) -> None:
    dot = require_service("dot")
    app = open_page(PAGE, uid=estate.alb)

    svg = subprocess.run(
        [dot, "-Tsvg"], input=_dot(app), capture_output=True, text=True, check=True
    ).stdout

    # One box per resource: the quote did not end the label and start a node `evil`, and the
    # edge to the certificate (an ARN: `arn:...`) reaches its box, a colon read as no port.
    assert svg.count('<g id="node') == len(_boxes(_dot(app))) == 7
    assert "javascript:" not in re.findall(r'xlink:href="([^"]*)"', svg).__str__()
    assert "&lt;b&gt;x&lt;/b&gt;&quot; ]; evil [label=&quot;pwn\\N&quot;" in svg
    assert "\u202e" not in svg and "\\u202efdp.exe" in svg


def _fleet(db: Database) -> tuple[str, str]:
    """fleet.example.com → an internet-facing load balancer targeting FLEET servers."""
    reconciler = Reconciler(db)
    servers = scope(region="eu-west-1")
    fleet = [resource(f"i-fleet-{n:03d}", within=servers) for n in range(FLEET)]
    scan(reconciler, servers, [fleet])
    balancers = scope(type_="load_balancer", region="eu-west-1")
    targets = [("targets", server.uid) for server in fleet]
    balancer = linked(
        "fleet", balancers, *targets, scheme="internet-facing", dns_name="fleet.elb.amazonaws.com"
    )
    scan(reconciler, balancers, [[balancer]])
    records = scope(type_="dns_record", region="global")
    record = linked("fleet", records, ("routes_to", dns_ref("fleet.elb.amazonaws.com")))
    record.name = "fleet.example.com."
    shop = linked("shop", records, ("routes_to", dns_ref("d123.cloudfront.net.")))
    shop.name = "shop.example.com."
    scan(reconciler, records, [[record, shop]])
    return record.uid, balancer.uid


def test_a_walk_too_big_to_draw_is_shortened_and_its_neighbours_still_listed(
    open_page, estate: LinkedEstate, sqlite_db: Database
) -> None:
    record, balancer = _fleet(sqlite_db)

    app = open_page(PAGE, uid=record)
    assert set(_boxes(_dot(app))) == {record, balancer}
    assert f"Drawn 1 links deep: 4 would be more than {MAX_NODES} boxes." in texts(app)

    app = open_page(PAGE, uid=balancer)
    assert not app.get("graphviz_chart")
    assert "too many to draw" in texts(app)
    assert len(table(app, "way")) == FLEET + 1  # every server, and the record above


def test_the_resource_page_lists_its_links_and_leads_to_the_topology(
    open_page, estate: LinkedEstate
) -> None:
    app = open_page("views/inventory.py", uid=estate.web)

    links = table(app, "way")
    assert sorted(zip(links["way"], links["kind"], links["uid"], strict=True)) == [
        ("down", "protected_by", estate.group),
        ("up", "attached_to", estate.disk),
        ("up", "targets", estate.alb),
    ]
    assert set(links["page"]) == {f"?uid={u.replace('/', '%2F')}" for u in links["uid"]}
    (link,) = [p for p in app.get("page_link") if p.proto.label == "Show in topology"]
    assert link.proto.page == "topology"
    assert link.proto.query_string == "uid=" + estate.web.replace("/", "%2F")

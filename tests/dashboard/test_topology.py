"""The topology page: an entry point's graph, drawn on the server by Graphviz, coloured by worst
open finding, boxes that link to their resource pages, a neighbour list, names escaped; the
resource page lists its links."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.views.topology import FILLS, MAX_NODES, NO_FINDING_FILL
from storage.db import Database
from storage.reconcile import Reconciler
from tests.dashboard.estate import HOSTILE_NAME, LinkedEstate, seed_linked
from tests.dashboard.helpers import set_widget, table, texts
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.fixtures.services import require_service
from tests.storage.test_links import linked
from vigil.core.model import Severity, dns_ref
from vigil.core.text import printable

PAGE = "views/topology.py"
FLEET = 160
"""Servers behind one load balancer: more than MAX_NODES boxes one link away."""
assert FLEET > MAX_NODES
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
DRAWN = {"svg", "g", "a", "polygon", "path", "text"}
"""The elements a drawing is made of: what `dot -Tsvg` writes for boxes."""


@pytest.fixture
def estate(sqlite_db: Database) -> LinkedEstate:
    require_service("dot")
    return seed_linked(sqlite_db)


@dataclass(frozen=True)
class Box:
    """One resource's box as the SVG draws it."""

    fill: str
    link: str | None
    bold: bool
    lines: list[str]


def _drawings(app: AppTest) -> list[str]:
    """The SVG text of every dashboard.inline_svg element on the page."""
    return [
        json.loads(element.proto.json)
        for element in app.get("bidi_component")
        if element.proto.component_name == "vigil.inline_svg"
    ]


def _drawing(app: AppTest) -> ET.Element:
    """The graph's inline SVG, parsed as XML: markup a name broke out into would fail here."""
    drawings = _drawings(app)
    assert drawings, f"no graph drawn; the page says: {texts(app)}"
    assert not app.get("graphviz_chart")  # drawn on the server, not in the browser
    (body,) = drawings
    return ET.fromstring(body)


def _boxes(app: AppTest) -> dict[str, Box]:
    """tooltip (a uid, or an unresolved target) → its box."""
    found = {}
    for node in _drawing(app).iter(f"{SVG}g"):
        if node.get("class") != "node":
            continue
        anchor = node.find(f".//{SVG}a")
        outline = node.find(f".//{SVG}polygon")
        assert anchor is not None and outline is not None
        found[anchor.get(f"{XLINK}title", "")] = Box(
            fill=outline.get("fill", ""),
            link=anchor.get(f"{XLINK}href"),
            bold=outline.get("stroke-width") == "3",
            lines=[text.text or "" for text in node.iter(f"{SVG}text")],
        )
    return found


def test_the_first_entry_point_is_drawn_coloured_by_its_worst_open_finding(
    open_page, estate: LinkedEstate
) -> None:
    app = open_page(PAGE)

    (picker,) = app.selectbox
    assert picker.value == estate.cdn  # the first entry point by public name
    boxes = _boxes(app)
    assert set(boxes) == {
        estate.dns, estate.cdn, estate.alb, estate.web, estate.hostile, estate.group,
        estate.certificate,
    }  # fmt: skip
    assert boxes[estate.group].fill == FILLS[Severity.CRITICAL]  # network.open_port
    assert boxes[estate.certificate].fill == FILLS[Severity.MEDIUM]  # cert.expiring
    assert boxes[estate.web].fill == NO_FINDING_FILL  # nothing open on the server itself
    assert boxes[estate.cdn].bold and not boxes[estate.alb].bold
    assert boxes[estate.web].lines == ["server", "i-web"]
    # Every box is a link to its resource page.
    assert boxes[estate.web].link == "inventory?uid=aws%2F111111111111%2Fus-east-1%2Fserver%2Fi-web"
    assert all(box.link and box.link.startswith("inventory?uid=") for box in boxes.values())
    # No Markdown at all: no note of the page's code shown (Streamlit's magic).
    assert [text.value[:30] for text in app.markdown] == []


def test_searching_narrows_the_entry_points_and_a_dns_name_starts_the_walk(
    open_page, estate: LinkedEstate
) -> None:
    app = open_page(PAGE)

    set_widget(app, "topology_find", "ELB")
    (picker,) = app.selectbox
    assert picker.options == ["web-prod-1.elb.amazonaws.com (alb web-prod)"]

    set_widget(app, "topology_find", "shop.example.com")
    assert not app.selectbox  # a DNS name is a start by itself, like `--from`
    assert _boxes(app)[estate.dns].bold

    set_widget(app, "topology_find", "nothing-like-it")
    assert "No entry point's name contains 'nothing-like-it'" in texts(app)


def test_depth_and_direction_bound_the_walk(open_page, estate: LinkedEstate) -> None:
    app = open_page(PAGE, uid=estate.alb)

    set_widget(app, "topology_direction", "down")
    assert set(_boxes(app)) == {
        estate.alb, estate.web, estate.hostile, estate.group, estate.certificate,
    }  # fmt: skip
    set_widget(app, "topology_depth", 1)
    assert set(_boxes(app)) == {estate.alb, estate.web, estate.hostile, estate.certificate}
    set_widget(app, "topology_direction", "up")
    assert set(_boxes(app)) == {estate.alb, estate.cdn}


def test_a_resource_in_the_url_is_the_centre_and_its_neighbours_are_listed(
    open_page, estate: LinkedEstate
) -> None:
    app = open_page(PAGE, uid=estate.group)

    assert _boxes(app)[estate.group].bold
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
    assert not app.get("graphviz_chart") and not _drawings(app)


def test_a_hostile_name_is_one_box_of_literal_text_in_the_drawing(
    open_page, estate: LinkedEstate
) -> None:
    app = open_page(PAGE, uid=estate.alb)

    drawing = _drawing(app)  # well-formed XML: no attribute or element was broken out of
    boxes = _boxes(app)
    # One box per resource: the quote did not end the DOT label and start a node `evil`, and
    # the edge to the certificate (an ARN: `arn:...`) reaches its box, a colon read as no port.
    assert len(boxes) == 7
    # Drawn exactly as named, bidi override shown as an escape: `\\N` not replaced by the node
    # id, `&#8238;` and `&lt;i&gt;` not decoded into a real override and a tag.
    assert boxes[estate.hostile].lines == ["server", printable(HOSTILE_NAME)]
    assert boxes[estate.hostile].link == (
        "inventory?uid=aws%2F111111111111%2Fus-east-1%2Fserver%2Fi-evil"
    )
    elements = list(drawing.iter())
    assert {e.tag.rpartition("}")[2] for e in elements} <= DRAWN  # no script, no <b> or <i>
    assert not [name for e in elements for name in e.attrib if name.lower().startswith("on")]
    links = [e.get(f"{XLINK}href") or "" for e in elements if f"{XLINK}href" in e.attrib]
    assert len(links) == 7 and all(link.startswith("inventory?uid=") for link in links)
    assert "\u202e" not in ET.tostring(drawing, encoding="unicode")


def test_without_graphviz_on_the_server_the_browser_draws_it_and_the_page_says_so(
    open_page, estate: LinkedEstate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert shutil.which("dot")
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    st.cache_data.clear()  # drawings of this graph other tests cached

    app = open_page(PAGE, uid=estate.alb)

    assert not _drawings(app)
    (chart,) = app.get("graphviz_chart")
    dot: str = chart.proto.spec
    assert 'URL="inventory?uid=aws%2F111111111111%2Fus-east-1%2Fserver%2Fi-web"' in dot
    assert "Drawn in your browser, more slowly" in texts(app)
    assert "`dot` was not found on PATH" in texts(app)


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
    assert set(_boxes(app)) == {record, balancer}
    assert f"Drawn 1 links deep: 4 would be more than {MAX_NODES} boxes." in texts(app)

    app = open_page(PAGE, uid=balancer)
    assert not app.get("graphviz_chart") and not _drawings(app)
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

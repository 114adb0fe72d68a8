"""The architecture diagram in the HTML and PDF reports, over an estate with links and history.

Estate (seed below): shop.example.com → CDN E1 → internet-facing load balancer lb-1 (a
hostile name) → servers → security group sg-web; lb-1 targets i-old until an hour after
START, then i-1 and i-2. old.example.com points at a name nothing collected answers;
a TXT record (a hostile name) links to nothing.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import Database
from storage.reconcile import Reconciler
from tests.app.reports.conftest import params
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.fixtures.cli import VigilCli
from tests.fixtures.services import require_service
from vigil.app.reports import diagram
from vigil.app.reports.contents import Report, gather
from vigil.app.reports.formats import write_report
from vigil.core.model import Resource, Scope, dns_ref

START = datetime(2026, 11, 1, tzinfo=UTC)
BEFORE = START + timedelta(minutes=30)
"""lb-1 still targets i-old."""
AFTER = START + timedelta(hours=2)
ACCOUNT = "111111111111"
HOSTILE = '<script>alert("x")</script> \\N "} node [label=pwn] {'
"""lb-1's Name tag: HTML, a DOT escape, quotes and braces that would end a DOT string."""
TXT_NAME = '<b>"txt"</b>.example.com.'
"""A TXT record's name (links to nothing): listed, escaped."""
SVG = "{http://www.w3.org/2000/svg}"


def _uid(type_: str, native_id: str, region: str = "us-east-1") -> str:
    return f"aws/{ACCOUNT}/{region}/{type_}/{native_id}"


def _linked(native_id: str, within: Scope, links: list[tuple[str, str]], **kw: object) -> Resource:
    record = resource(native_id, within=within, **kw)  # type: ignore[arg-type]
    for kind, target in links:
        record.link(kind, target)
    return record


def seed(db: Database, *, servers: int = 2, extra_cdns: int = 0) -> None:
    """The estate above; `servers` behind lb-1 after the retarget, `extra_cdns` CDNs chained
    between E1 and lb-1 (E1 → E2 → … → lb-1) to make the walk deeper."""
    clock = [START]
    reconciler = Reconciler(db, clock=lambda: clock[0])
    hosts, groups = scope(type_="server"), scope(type_="security_group")
    balancers, cdns = scope(type_="load_balancer"), scope(type_="cdn", region="global")
    records = scope(type_="dns_record", region="global")
    sg = ("protected_by", _uid("security_group", "sg-web"))
    names = ["i-old"] + [f"i-{n}" for n in range(1, servers + 1)]
    scan(reconciler, groups, [[resource("sg-web", within=groups)]])
    scan(reconciler, hosts, [[_linked(i, hosts, [sg]) for i in names]])

    def balancer(targets: list[str]) -> Resource:
        links = [("targets", _uid("server", t)) for t in targets]
        return _linked(
            "lb-1",
            balancers,
            links,
            name=HOSTILE,
            dns_name="lb-1.elb.amazonaws.com",
            scheme="internet-facing",
        )

    scan(reconciler, balancers, [[balancer(["i-old"])]])
    chain = [f"E{n}" for n in range(1, extra_cdns + 2)]
    distributions = []
    for index, cdn in enumerate(chain):
        following = chain[index + 1] if index + 1 < len(chain) else None
        origin = dns_ref(
            f"{following.lower()}.cloudfront.net" if following else "LB-1.elb.amazonaws.com"
        )
        distributions.append(
            _linked(cdn, cdns, [("origin", origin)], domain_name=f"{cdn.lower()}.cloudfront.net")
        )
    scan(reconciler, cdns, [distributions])
    shop = [("routes_to", dns_ref("e1.cloudfront.net"))]
    away = [("routes_to", dns_ref("elsewhere.example.net"))]
    scan(
        reconciler,
        records,
        [
            [
                _linked("Z1/shop.example.com./A/", records, shop, name="shop.example.com."),
                _linked("Z1/old.example.com./CNAME/", records, away, name="old.example.com."),
                _linked("Z1/txt/TXT/", records, [], name=TXT_NAME),
            ]
        ],
    )
    clock[0] = START + timedelta(hours=1)
    scan(reconciler, balancers, [[balancer(names[1:])]])


def _report(db: Database, at: datetime) -> Report:
    return gather(db, params(at=at, since=START, generated_at=AFTER))


def _html(db: Database, at: datetime, tmp_path: Path) -> str:
    out = tmp_path / "report.html"
    write_report(_report(db, at), "html", out)
    return out.read_text()


def _diagrams(page: str) -> dict[str, ET.Element]:
    """The architecture section's diagrams by entry point, parsed as XML (well formed)."""
    section = page.split("<h2>Architecture as of", 1)[1].split("<h2>", 1)[0]
    found = re.findall(r"<h3>(.*?)</h3>.*?(<svg.*?</svg>)", section, re.DOTALL)
    return {name: ET.fromstring(drawing) for name, drawing in found}


def _node_texts(drawing: ET.Element) -> list[str]:
    """Each node's label lines joined by a space, as the SVG shows them."""
    return [
        " ".join(text.text or "" for text in group.iter(f"{SVG}text"))
        for group in drawing.iter(f"{SVG}g")
        if group.get("class") == "node"
    ]


def test_html_shows_each_entry_point_as_an_inline_svg_with_its_resources(
    sqlite_db: Database, tmp_path: Path
) -> None:
    require_service("dot")
    seed(sqlite_db)

    page = _html(sqlite_db, AFTER, tmp_path)

    drawn = _diagrams(page)
    assert list(drawn) == ["old.example.com", "shop.example.com"]  # E1 and lb-1 are in shop's
    shop, old = drawn["shop.example.com"], drawn["old.example.com"]
    assert "also drawn: e1.cloudfront.net, lb-1.elb.amazonaws.com" in page
    assert sorted(_node_texts(shop)) == sorted(
        [
            "dns_record shop.example.com.",
            "cdn E1",
            f"load_balancer {HOSTILE}",
            "server i-1",
            "server i-2",
            "security_group sg-web",
        ]
    )
    assert _node_texts(old) == ["dns_record old.example.com.", "dns:elsewhere.example.net"]
    assert "Cut at" not in page and "Limited to" not in page
    unlinked = "1 entry point(s) link to nothing and are not drawn: "
    assert unlinked + "&lt;b&gt;&quot;txt&quot;&lt;/b&gt;.example.com." in page
    ids = re.findall(r' id="([^"]*)"', page)
    assert len(ids) == len(set(ids))  # each diagram's ids are its own


def test_a_hostile_name_is_text_in_the_dot_the_svg_and_the_page(
    sqlite_db: Database, tmp_path: Path
) -> None:
    require_service("dot")
    seed(sqlite_db)
    architecture = diagram.gather(_report(sqlite_db, AFTER))
    (shop,) = [d for d in architecture.diagrams if d.name == "shop.example.com"]

    source = diagram.to_dot(shop)
    page = _html(sqlite_db, AFTER, tmp_path)

    # DOT: quotes escaped, the backslash doubled (no `\N` escape), ids opaque.
    assert '\\"} node [label=pwn] {' in source and "\\\\N" in source
    assert "pwn" not in re.sub(r'"(?:\\.|[^"\\])*"', '""', source)  # only inside strings
    # The SVG: the name is one node's text, exactly; no node was injected.
    drawing = _diagrams(page)["shop.example.com"]
    assert f"load_balancer {HOSTILE}" in _node_texts(drawing) and len(_node_texts(drawing)) == 6
    # The page: never markup.
    assert "<script" not in page and "<b>&quot;txt" not in page and '<b>"txt' not in page
    assert "&lt;script&gt;alert(" in page


def test_a_report_as_of_before_a_retarget_shows_the_link_of_that_time(
    db_url: str, tmp_path: Path
) -> None:
    require_service("dot")
    db = Database(db_url)
    seed(db)

    then = _node_texts(_diagrams(_html(db, BEFORE, tmp_path))["shop.example.com"])
    now = _node_texts(_diagrams(_html(db, AFTER, tmp_path))["shop.example.com"])
    db.dispose()

    assert "server i-old" in then and "server i-1" not in then
    assert "server i-old" not in now and "server i-1" in now


def test_the_diagram_is_bounded_and_says_what_it_left_out(
    sqlite_db: Database, tmp_path: Path
) -> None:
    require_service("dot")
    seed(sqlite_db, servers=45, extra_cdns=1)  # shop → E1 → E2 → lb-1 → servers → sg-web

    page = _html(sqlite_db, AFTER, tmp_path)

    shop = _node_texts(_diagrams(page)["shop.example.com"])
    assert len(shop) == diagram.MAX_NODES
    assert "security_group sg-web" not in shop  # 5 links away
    assert "Limited to the nearest 40 resources: 9 more within 4 links are not drawn." in page
    assert "Cut at 4 links: at least 1 more resource(s) further away are not drawn." in page


@pytest.mark.slow
def test_vigil_report_as_of_draws_the_links_of_that_time(vigil_cli: VigilCli) -> None:
    require_service("dot")
    database = Database(f"sqlite:///{vigil_cli.database_path}")
    seed(database)
    database.dispose()

    done = vigil_cli("report", "--format", "html", "--out", "r.html", "--as-of", BEFORE.isoformat())

    assert done.returncode == 0, done.stderr
    shop = _node_texts(_diagrams((vigil_cli.cwd / "r.html").read_text())["shop.example.com"])
    assert "server i-old" in shop and "server i-1" not in shop


def test_pdf_has_the_diagram_as_an_image(sqlite_db: Database, tmp_path: Path) -> None:
    require_service("dot")
    pdfimages = require_service("pdfimages")
    pdftotext = require_service("pdftotext")
    seed(sqlite_db)
    out = tmp_path / "report.pdf"

    write_report(_report(sqlite_db, AFTER), "pdf", out)

    listing = subprocess.run(
        [pdfimages, "-list", str(out)], capture_output=True, text=True, check=True
    ).stdout
    images = [line.split() for line in listing.splitlines()[2:] if line.split()[2] == "image"]
    assert len(images) == 2  # shop.example.com and old.example.com
    text = subprocess.run(
        [pdftotext, "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    architecture = text.split("Architecture as of", 1)[1].split("Disaster recovery", 1)[0]
    assert "shop.example.com" in architecture and "old.example.com" in architecture
    assert "also drawn: e1.cloudfront.net, lb-1.elb.amazonaws.com" in architecture


def test_no_entry_points_says_so_in_html_and_pdf(report: Report, tmp_path: Path) -> None:
    pdftotext = require_service("pdftotext")
    html, pdf = tmp_path / "report.html", tmp_path / "report.pdf"

    write_report(report, "html", html)
    write_report(report, "pdf", pdf)

    none = "No public entry points (DNS record, CDN or internet-facing load balancer)"
    assert none in html.read_text()
    text = subprocess.run(
        [pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert none in " ".join(text.split())


def test_without_graphviz_the_report_is_written_and_says_how_to_get_the_diagram(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_db)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` there

    page = _html(sqlite_db, AFTER, tmp_path)
    write_report(_report(sqlite_db, AFTER), "pdf", tmp_path / "report.pdf")

    assert "<b>Diagrams not drawn:</b> Graphviz&#x27;s `dot` was not found on PATH" in page
    assert "apt-get install graphviz" in page
    assert "<li>shop.example.com" in page
    assert (tmp_path / "report.pdf").stat().st_size > 1000

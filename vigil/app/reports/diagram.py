"""The architecture diagram of a report: each public entry point and what it depends on.

An entry point is what `storage.exposure` calls one (a DNS record, a CDN, an
internet-facing load balancer) present at the report time. Each is drawn with the
resources it depends on (the `down` walk of `vigil topology`) over the links alive at the
report time, so a report as of a past date shows the estate's wiring of that date.

Bounds, so that a report stays readable at any estate size: at most `MAX_DEPTH` links
from the entry point, `MAX_NODES` resources per diagram (the nearest kept, breadth first)
and `MAX_DIAGRAMS` diagrams; each cut is stated under its diagram. An entry point already
drawn inside another one's diagram (the CDN behind a DNS name) gets no diagram of its own:
names first, then CDNs, then load balancers.

Like the inventory, the section is read from storage when a format renders it, at the
report's pinned time, so the HTML and the PDF of a pack draw the same graphs.

Graphviz draws the diagrams (`dot -Tsvg` inline in the HTML, `dot -Tpng` in the PDF), run
with a timeout. Without Graphviz the section says so and how to install it, and the rest
of the report is written as usual.

Resource names are untrusted: DOT nodes get opaque ids (`n0`, `n1`), labels and tooltips go
through `vigil.app.drawing.text` and the package's quoting, so a name can neither end its
string, reach a DOT keyword nor smuggle an entity reference; Graphviz XML-escapes them into
the SVG, and what the HTML says around the SVG passes through `html.escape`.
"""

from __future__ import annotations

import io
import logging
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

import graphviz

from storage import inventory
from storage.db import Database
from storage.exposure import Node, public_name
from storage.topology import Edge, Graph, topology, with_links
from vigil.app import drawing
from vigil.app.drawing import DrawingError
from vigil.app.reports.contents import Report
from vigil.core.model import Direction, Resource, ResourceType, iso

if TYPE_CHECKING:
    from fpdf import FPDF

log = logging.getLogger(__name__)

MAX_DEPTH = 4
"""Links drawn from an entry point: name → CDN → load balancer → server → security group."""
MAX_NODES = 40
"""Resources (and unresolved targets) per diagram."""
MAX_DIAGRAMS = 25
"""Diagrams per report; the remaining entry points are counted, not drawn."""
DOT_TIMEOUT = 30.0
"""Seconds Graphviz may take for one diagram."""
PNG_DPI = 150
"""Pixels per inch of the PDF's images, drawn no larger than the page (see `png`)."""
_ORDER = {
    ResourceType.DNS_RECORD.value: 0,
    ResourceType.CDN.value: 1,
    ResourceType.LOAD_BALANCER.value: 2,
}
ENTRY_TYPES = tuple(_ORDER)
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class EntryDiagram:
    """One entry point's diagram: the graph drawn, and what the bounds left out."""

    entry: Resource
    name: str
    """The public name: a DNS record's name, a load balancer's or CDN's DNS name."""
    graph: Graph
    at: datetime
    deeper: int = 0
    """Resources one link beyond `MAX_DEPTH` (at least this many more are not drawn)."""
    over_limit: int = 0
    """Resources within `MAX_DEPTH` left out by `MAX_NODES`."""
    inner: tuple[str, ...] = ()
    """Public names of the other entry points this diagram includes."""

    @property
    def cuts(self) -> list[str]:
        """What the bounds left out, as sentences (empty: the whole topology is drawn)."""
        said = []
        if self.over_limit:
            said.append(
                f"Limited to the nearest {MAX_NODES} resources: {self.over_limit} more within "
                f"{MAX_DEPTH} links are not drawn."
            )
        if self.deeper:
            said.append(
                f"Cut at {MAX_DEPTH} links: at least {self.deeper} more resource(s) further "
                "away are not drawn."
            )
        if said:
            said.append(
                f"`vigil topology --from {self.entry.uid} --direction down --as-of "
                f"{iso(self.at)}` lists them all."
            )
        return said


@dataclass(frozen=True)
class Architecture:
    at: datetime
    diagrams: list[EntryDiagram]
    entry_points: int
    """Entry points present at the report time, drawn or not."""
    not_drawn: int
    """Entry points neither drawn nor inside a drawn diagram (beyond `MAX_DIAGRAMS`)."""
    unlinked: tuple[str, ...] = ()
    """Public names of the entry points with no link from them (a TXT record): not drawn."""


def _node(resource: Resource) -> Node:
    return Node(
        resource.uid,
        resource.type,
        resource.native_id,
        resource.name or "",
        resource.source,
        resource.attributes,
    )


def gather(report: Report) -> Architecture:
    """The entry points at the report time and their bounded topologies, from storage."""
    params = report.params
    filters = inventory.InventoryFilter(types=ENTRY_TYPES, sources=params.sources)
    named: dict[str, str] = {}
    candidates: list[tuple[int, str, Resource]] = []
    for resource in inventory.inventory(report.db, filters, as_of=params.at):
        node = _node(resource)
        if node.is_entry_point:
            named[resource.uid] = public_name(node)
            candidates.append((_ORDER[resource.type], named[resource.uid], resource))
    linked = with_links(report.db, named, as_of=params.at)
    candidates.sort(key=lambda c: (c[0], c[1], c[2].uid))
    covered: set[str] = set()
    diagrams: list[EntryDiagram] = []
    not_drawn = 0
    for _, name, entry in candidates:
        if entry.uid in covered or entry.uid not in linked:
            continue
        if len(diagrams) >= MAX_DIAGRAMS:
            not_drawn += 1
            continue
        diagram = _diagram(report.db, entry, name, params.at, named)
        covered |= {node.uid for node in diagram.graph.nodes}
        diagrams.append(diagram)
    unlinked = tuple(name for _, name, entry in candidates if entry.uid not in linked)
    return Architecture(params.at, diagrams, len(candidates), not_drawn, unlinked)


def _diagram(
    db: Database, entry: Resource, name: str, at: datetime, named: dict[str, str]
) -> EntryDiagram:
    """The down walk from `entry`, one link deeper than drawn to know whether it was cut."""
    full = topology(db, [entry.uid], depth=MAX_DEPTH + 1, direction=Direction.DOWN, as_of=at)
    known = {node.uid for node in full.nodes}
    leaving: dict[str, list[Edge]] = {}
    for edge in full.edges:
        leaving.setdefault(edge.from_uid, []).append(edge)
    order, seen, frontier, deeper = [entry.uid], {entry.uid}, [entry.uid], 0
    for step in range(1, MAX_DEPTH + 2):
        reached = []
        for here in frontier:
            for edge in leaving.get(here, ()):
                if edge.to not in seen:
                    seen.add(edge.to)
                    reached.append(edge.to)
        if step > MAX_DEPTH:
            deeper = len(reached)
            break
        order.extend(reached)
        frontier = [uid for uid in reached if uid in known]
        if not frontier:
            break
    kept = set(order[:MAX_NODES])
    graph = Graph(
        [node for node in full.nodes if node.uid in kept],
        [edge for edge in full.edges if edge.from_uid in kept and edge.to in kept],
    )
    inner = tuple(sorted(named[uid] for uid in kept if uid in named and uid != entry.uid))
    return EntryDiagram(entry, name, graph, at, deeper, len(order) - len(kept), inner)


# -- DOT and Graphviz ---------------------------------------------------------------------


def _text(value: str) -> str:
    """Untrusted text for a DOT string (`drawing.text`: backslashes and `&` literal, as `vigil
    topology --format dot` does) and no control characters, which could stop `dot`."""
    return drawing.text(_CONTROL_CHARS.sub(" ", value))


def to_dot(diagram: EntryDiagram) -> str:
    """The diagram as DOT: resources as boxes (the entry point filled), unresolved dashed."""
    dot = graphviz.Digraph(
        "architecture",
        graph_attr={"rankdir": "LR", "fontname": "Helvetica"},
        node_attr={"shape": "box", "fontname": "Helvetica", "fontsize": "10"},
        edge_attr={"fontname": "Helvetica", "fontsize": "8", "color": "grey40"},
    )
    ids: dict[str, str] = {}

    def ident(uid: str) -> str:
        return ids.setdefault(uid, f"n{len(ids)}")

    for node in diagram.graph.nodes:
        style = {"style": "filled,bold", "fillcolor": "#ddf4ff"}
        extra = style if node.uid == diagram.entry.uid else {}
        label = f"{_text(node.type)}\\n{_text(node.name or node.native_id)}"
        dot.node(ident(node.uid), label=label, tooltip=_text(node.uid), **extra)
    known = {node.uid for node in diagram.graph.nodes}
    for target in sorted({edge.to for edge in diagram.graph.edges if edge.to not in known}):
        dot.node(
            ident(target),
            label=_text(target),
            tooltip=_text("not collected: " + target),
            style="dashed",
            color="grey50",
            fontcolor="grey30",
        )
    for edge in diagram.graph.edges:
        dot.edge(ident(edge.from_uid), ident(edge.to), label=_text(edge.kind))
    return str(dot.source)


def svg(diagram: EntryDiagram, index: int = 0) -> str:
    """The diagram as an `<svg>` element to inline in HTML (no prolog, doctype or comments);
    its element ids start `architecture-<index>_`, unique among the page's diagrams."""
    drawn = render(to_dot(diagram), "svg", f"-Gid=architecture-{index}")
    label = escape(f"Architecture of {diagram.name}", quote=True)
    return drawing.svg_element(
        drawn, f'style="max-width:100%;height:auto" role="img" aria-label="{label}"'
    )


def png(diagram: EntryDiagram, width_mm: float, height_mm: float) -> bytes:
    """The diagram as a PNG no larger than `width_mm` by `height_mm` at `PNG_DPI`: Graphviz
    shrinks a larger drawing itself, so the image never has more pixels than the page uses
    (a 40-resource diagram drawn at full size was 2.4 Mpx and 0.7 s to draw and embed)."""
    size = f"-Gsize={width_mm / 25.4:.2f},{height_mm / 25.4:.2f}"
    return render(to_dot(diagram), "png", f"-Gdpi={PNG_DPI}", size)


def render(source: str, fmt: str, *options: str) -> bytes:
    """`drawing.render` with the reports' timeout."""
    return drawing.render(source, fmt, *options, timeout=DOT_TIMEOUT)


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height in pixels, from the PNG header."""
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


# -- the report sections ------------------------------------------------------------------

_INTRO = (
    "Each public entry point (DNS record, CDN, internet-facing load balancer) present at the "
    f"report time, and what it depends on over the links of that time: up to {MAX_DEPTH} "
    f"links and {MAX_NODES} resources per entry point, at most {MAX_DIAGRAMS} diagrams. An "
    "entry point drawn inside another one's diagram has none of its own. Dashed: a target "
    "no collector has seen."
)
_SHOWN_UNLINKED = 10
_NONE = (
    "No public entry points (DNS record, CDN or internet-facing load balancer) at the report time."
)


def _subtitle(diagram: EntryDiagram) -> str:
    entry = diagram.entry
    text = f"{entry.type} {entry.uid}"
    if diagram.inner:
        text += " · also drawn: " + ", ".join(diagram.inner)
    return text


def _notes(architecture: Architecture) -> list[str]:
    """What the section says after the diagrams: the entry points it did not draw."""
    notes = []
    if architecture.not_drawn:
        notes.append(
            f"{architecture.not_drawn} more entry point(s) not drawn (at most {MAX_DIAGRAMS} "
            "diagrams per report); `vigil topology --from NAME --as-of TIME --format dot` "
            "draws any of them."
        )
    if architecture.unlinked:
        shown = ", ".join(architecture.unlinked[:_SHOWN_UNLINKED])
        more = len(architecture.unlinked) - _SHOWN_UNLINKED
        notes.append(
            f"{len(architecture.unlinked)} entry point(s) link to nothing and are not drawn: "
            + shown
            + (f" and {more} more." if more > 0 else ".")
        )
    return notes


def html_section(report: Report) -> Iterator[str]:
    """The report's Architecture section: an inline SVG per entry point."""
    architecture = gather(report)
    yield f"<h2>Architecture as of {escape(iso(architecture.at) or '')}</h2>"
    yield f'<p class="meta">{escape(_INTRO)}</p>'
    if not architecture.entry_points:
        yield f"<p>{escape(_NONE)}</p>\n"
        return
    try:
        drawings = [svg(diagram, index) for index, diagram in enumerate(architecture.diagrams)]
    except DrawingError as exc:
        log.warning("architecture diagram not drawn: %s", exc.message)
        yield f'<p class="callout"><b>Diagrams not drawn:</b> {escape(exc.message)}.</p><ul>'
        for diagram in architecture.diagrams:
            yield f"<li>{escape(diagram.name)} <small>{escape(_subtitle(diagram))}</small></li>"
        yield "</ul>\n"
        drawings = []
    for diagram, picture in zip(architecture.diagrams, drawings, strict=False):
        yield f"<h3>{escape(diagram.name)}</h3>"
        yield f'<p class="meta">{escape(_subtitle(diagram))}</p>'
        for cut in diagram.cuts:
            yield f'<p class="callout">{escape(cut)}</p>'
        yield f'<div class="diagram" style="overflow-x:auto">{picture}</div>\n'
    for note in _notes(architecture):
        yield f'<p class="callout">{escape(note)}</p>\n'


def pdf_section(doc: FPDF, report: Report) -> None:
    """The same section in the PDF, on a new page: a PNG per entry point."""
    from vigil.app.reports.pdf import clean  # pdf.py imports this module

    architecture = gather(report)
    doc.add_page()
    doc.set_font("Helvetica", "B", 12)
    doc.cell(
        0, 8, clean(f"Architecture as of {iso(architecture.at)}"), new_x="LMARGIN", new_y="NEXT"
    )
    doc.set_font("Helvetica", size=8)
    doc.multi_cell(0, 4, clean(_INTRO), new_x="LMARGIN", new_y="NEXT")
    doc.ln(2)
    if not architecture.entry_points:
        doc.set_font("Helvetica", size=9)
        doc.multi_cell(0, 5, clean(_NONE), new_x="LMARGIN", new_y="NEXT")
        return
    usable = doc.w - doc.l_margin - doc.r_margin
    tallest = (doc.h - doc.t_margin - doc.b_margin) * 0.8
    try:
        images = [png(diagram, usable, tallest) for diagram in architecture.diagrams]
    except DrawingError as exc:
        log.warning("architecture diagram not drawn: %s", exc.message)
        doc.set_font("Helvetica", "B", 9)
        doc.multi_cell(
            0, 5, clean(f"Diagrams not drawn: {exc.message}."), new_x="LMARGIN", new_y="NEXT"
        )
        doc.set_font("Helvetica", size=8)
        for diagram in architecture.diagrams:
            line = f"- {diagram.name} ({_subtitle(diagram)})"
            doc.multi_cell(0, 4, clean(line), new_x="LMARGIN", new_y="NEXT")
        images = []
    for diagram, image in zip(architecture.diagrams, images, strict=False):
        width_px, height_px = _png_size(image)
        width, height = (px / PNG_DPI * 25.4 for px in (width_px, height_px))
        scale = min(1.0, usable / width, tallest / height)
        width, height = width * scale, height * scale
        text_height = 10 + 4 * len(diagram.cuts)
        if doc.get_y() + text_height + height > doc.h - doc.b_margin:
            doc.add_page()
        doc.set_font("Helvetica", "B", 10)
        doc.cell(0, 6, clean(diagram.name), new_x="LMARGIN", new_y="NEXT")
        doc.set_font("Helvetica", size=7.5)
        doc.multi_cell(0, 4, clean(_subtitle(diagram)), new_x="LMARGIN", new_y="NEXT")
        for cut in diagram.cuts:
            doc.multi_cell(0, 4, clean(cut), new_x="LMARGIN", new_y="NEXT")
        top = doc.get_y() + 1
        doc.image(io.BytesIO(image), x=doc.l_margin, y=top, w=width, h=height)
        doc.set_y(top + height + 4)
    doc.set_font("Helvetica", size=8)
    for note in _notes(architecture):
        doc.multi_cell(0, 4, clean(note), new_x="LMARGIN", new_y="NEXT")

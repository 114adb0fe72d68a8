"""Topology: an entry point or a resource and what it links to, coloured by worst open finding.

The graph is `vigil topology --from`'s walk (storage.topology), drawn on the server by
Graphviz's `dot -Tsvg` (vigil.app.drawing; at most MAX_NODES boxes, DOT_TIMEOUT seconds, each
drawing cached by its DOT text, which holds the graph, its fills and its centre) and shown
inline by dashboard.inline_svg, which the browser parses natively (st.markdown's pipeline
took 0.15 s longer; st.html's sanitiser keeps no SVG at all). Drawing in the
browser (st.graphviz_chart: a WebAssembly Graphviz loaded on first use) made the page's first
view take 2.9 s at 100k resources; without `dot` on the server, or when it fails, the page
still draws that way and says so. Every box is a link to its resource page
(`inventory?uid=...`), and selecting a row of the neighbour list beside the graph centres the
graph on that neighbour (`topology?uid=...`).

Names are untrusted, and dashboard.inline_svg sanitises nothing: the DOT text escapes them
(vigil.app.topology.to_dot, through vigil.app.drawing.text: no entity reference, no
HTML-like label), Graphviz XML-escapes labels and tooltips into the SVG, box links are
percent-encoded uids (vigil.app.drawing.link), and vigil.app.drawing.clean_svg parses
Graphviz's output as XML and writes it out again with SVG shapes, text and those links only,
every text and attribute escaped. Names are shown literally everywhere else.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import quote

import streamlit as st

from dashboard import data, inline_svg, ui
from storage.topology import Graph
from vigil.app import drawing
from vigil.app.topology import NEIGHBOUR_COLUMNS, neighbour_rows, to_dot
from vigil.core.model import Direction, Severity
from vigil.core.text import printable

# Notes on the constants are comments, not docstrings: Streamlit's magic would show a page's
# bare strings on the page.
MAX_NODES = 150  # boxes drawn at most: past this the walk is shortened until it fits
DOT_TIMEOUT = 5.0  # seconds `dot` may take (150 boxes: 0.1 s) before the browser draws it
DRAWINGS_CACHED = 256  # drawings kept per server (up to about 150 kB each)
DEFAULT_DEPTH = 4
MAX_DEPTH = 6
ENTRY_LIMIT = 200
# Box fill per worst open finding: light tints of the charts' colours, black text readable;
# without one, white (filled, so that all of a box is its link).
FILLS = {
    Severity.CRITICAL: "#ef5350",
    Severity.HIGH: "#ffa726",
    Severity.MEDIUM: "#ffee58",
    Severity.LOW: "#90caf9",
    Severity.INFO: "#cfd8dc",
}
NO_FINDING_FILL = "#ffffff"
LEGEND = (
    "Fill: the resource's worst open finding — critical red, high orange, medium yellow, "
    "low blue, info grey; white: none open. Bold: where the walk starts. Dashed: a target "
    "that is not in the inventory. Click a box to open its resource page."
)


def resource_url(uid: str) -> str:
    """The resource page of `uid`, relative to the current page (works under a base path)."""
    return f"inventory?uid={quote(uid, safe='')}"


def render() -> None:
    """The topology page, centred on `?uid=...` when the URL names a resource."""
    st.title("Topology")
    config = ui.settings()
    if not ui.has_data(config):
        return
    url = config.database_url
    start = _start(url)
    if not start:
        return
    depth_column, direction_column, _ = st.columns([2, 2, 3])
    depth = depth_column.slider(
        "Depth (links away)", 1, MAX_DEPTH, DEFAULT_DEPTH, key="topology_depth"
    )
    direction = Direction(
        direction_column.radio(
            "Direction",
            [d.value for d in Direction],
            index=[d.value for d in Direction].index(Direction.BOTH.value),
            horizontal=True,
            key="topology_direction",
            help="down: what it depends on; up: what depends on it; both: the two walks.",
        )
    )
    graph, drawn = _fitting(url, start, depth, direction)
    worst = data.worst_open(url, tuple(sorted(node.uid for node in graph.nodes)))
    picture, neighbours = st.columns([3, 2])
    with picture:
        _chart(graph, worst, start, drawn, depth)
    with neighbours:
        _neighbours(graph, worst, start)


def _start(url: str) -> tuple[str, ...]:
    """The uids the walk starts from: the URL's resource, else the picked entry point."""
    uid = st.query_params.get("uid")
    if uid:
        row = data.resource(url, uid)
        st.button("← Choose an entry point", on_click=lambda: st.query_params.clear())
        if row is None or row["state"] != "present":
            st.warning("No present resource with this uid in the inventory.")
            return ()
        st.text(f"Centred on {row['type']} {printable(row['name'] or row['native_id'])}")
        return (uid,)
    text = st.text_input(
        "Find an entry point (DNS name, load balancer, CDN), or a resource uid",
        key="topology_find",
    ).strip()
    if text:
        named = data.starts(url, text)
        if named:
            return tuple(named)
    choices = dict(data.entry_points(url, text, ENTRY_LIMIT))
    if not choices:
        st.info(
            f"No entry point's name contains {text!r}."
            if text
            else "No public entry point (DNS record, internet-facing load balancer, CDN) in "
            "the inventory. A resource's page links to its topology."
        )
        return ()
    picked = st.selectbox(
        "Entry point",
        list(choices),
        format_func=lambda uid: printable(choices.get(uid) or uid),
        key="topology_entry",
    )
    if len(choices) == ENTRY_LIMIT:
        st.caption(f"The first {ENTRY_LIMIT} by name; type to narrow.")
    return (picked,) if picked else ()


def _fitting(
    url: str, start: tuple[str, ...], depth: int, direction: Direction
) -> tuple[Graph, int]:
    """The graph at the deepest depth up to `depth` that fits MAX_NODES (0: none fits; the
    one-step graph then still lists the neighbours)."""
    graph = Graph()
    for steps in range(depth, 0, -1):
        graph = data.graph(url, start, steps, direction)
        if _boxes(graph) <= MAX_NODES:
            return graph, steps
    return graph, 0


def _boxes(graph: Graph) -> int:
    known = {node.uid for node in graph.nodes}
    return len(known) + len({edge.to for edge in graph.edges if edge.to not in known})


def _chart(
    graph: Graph, worst: dict[str, Severity], start: Collection[str], drawn: int, depth: int
) -> None:
    if not graph.edges:
        st.info("No links to or from this resource (as far as its collector saw).")
        return
    if drawn == 0:
        st.warning(
            f"{_boxes(graph)} resources are one link away: too many to draw "
            f"(at most {MAX_NODES}). The list beside has them all."
        )
        return
    if drawn < depth:
        st.caption(f"Drawn {drawn} links deep: {depth} would be more than {MAX_NODES} boxes.")
    fills = {node.uid: NO_FINDING_FILL for node in graph.nodes}
    fills |= {uid: FILLS[severity] for uid, severity in worst.items()}
    dot = to_dot(graph, fills=fills, url=resource_url, focus=start, printable=printable)
    try:
        image = svg(dot)
    except drawing.DrawingError as exc:
        st.caption(
            f"Drawn in your browser, more slowly: the server could not draw it ({exc.message})."
        )
        st.graphviz_chart(dot, width="stretch")
    else:
        # drawing.clean_svg rebuilt it from Graphviz's output: SVG shapes and escaped text only.
        inline_svg.show_clean_svg(image, key="topology_drawing")
    st.caption(LEGEND)


@st.cache_data(ttl=600, max_entries=DRAWINGS_CACHED, show_spinner=False)
def svg(dot: str) -> str:
    """`dot` drawn by Graphviz, as a sanitised inline `<svg>` element (drawing.clean_svg);
    DrawingError when `dot` is missing, fails or takes longer than DOT_TIMEOUT (not cached:
    tried again next time)."""
    drawn = drawing.render(dot, "svg", timeout=DOT_TIMEOUT)
    return drawing.clean_svg(
        drawn, style="max-width:100%;height:auto", role="img", aria_label="Topology graph"
    )


def _neighbours(graph: Graph, worst: dict[str, Severity], start: Collection[str]) -> None:
    st.subheader("Neighbours")
    rows = neighbour_rows(graph, start)
    if not rows:
        st.caption("None.")
        return
    frame = ui.frame(
        (_neighbour(row, worst) for row in rows), [*NEIGHBOUR_COLUMNS, "worst", "page"]
    )
    event = ui.table(
        frame,
        key="topology_neighbours",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "uid": None,
            "page": st.column_config.LinkColumn("resource", display_text="open"),
            "way": st.column_config.TextColumn(
                "way", help="down: it depends on; up: depends on it"
            ),
        },
    )
    selected = event.selection.rows if event else []
    if selected and frame.iloc[selected[0]]["uid"]:
        st.query_params["uid"] = frame.iloc[selected[0]]["uid"]
        st.rerun()
    st.caption("Select a row to centre the graph on it.")


def _neighbour(row: dict[str, Any], worst: dict[str, Severity]) -> dict[str, Any]:
    uid = row["uid"]
    severity = worst.get(uid)
    return row | {
        "worst": severity.value if severity else "",
        "page": resource_url(uid) if uid else None,
    }


if __name__ == "__main__":
    render()

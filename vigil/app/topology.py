"""Rendering the topology graph: table rows (one per edge) and DOT (Graphviz's language).

Resource names are untrusted text (anyone who can tag a resource names it): DOT labels go
through `vigil.app.drawing.text` and the package's quoting, so a name can neither end its
string nor smuggle in escape sequences, entity references or an HTML-like label; a node's
URL must pass `vigil.app.drawing.link`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import graphviz

from storage.topology import Graph
from vigil.app import drawing
from vigil.core.model import Resource

TABLE_COLUMNS = ("from_type", "from_name", "kind", "to_type", "to_name", "to")
NEIGHBOUR_COLUMNS = ("way", "kind", "type", "name", "uid")


def edge_rows(graph: Graph) -> Iterator[dict[str, Any]]:
    """One row per edge, the nodes at both ends named."""
    nodes = {node.uid: node for node in graph.nodes}
    for edge in graph.edges:
        source, target = nodes[edge.from_uid], nodes.get(edge.to)
        yield {
            "from_type": source.type,
            "from_name": source.name or source.native_id,
            "kind": edge.kind,
            "to_type": target.type if target else "(unresolved)",
            "to_name": (target.name or target.native_id) if target else "",
            "to": edge.to,
        }


def neighbour_rows(graph: Graph, uids: Collection[str]) -> list[dict[str, Any]]:
    """The resources one link away from `uids`: `way` down (what it depends on: the link
    goes from it) or up (what depends on it), unresolved targets by the name the collector saw."""
    nodes = {node.uid: node for node in graph.nodes}
    rows = []
    for edge in graph.edges:
        for way, here, there in (("down", edge.from_uid, edge.to), ("up", edge.to, edge.from_uid)):
            if here not in uids or there in uids:
                continue
            node = nodes.get(there)
            rows.append(
                {
                    "way": way,
                    "kind": edge.kind,
                    "type": node.type if node else "(unresolved)",
                    "name": (node.name or node.native_id) if node else there,
                    "uid": there if node else "",
                }
            )
    return sorted(rows, key=lambda r: (r["way"], r["kind"], r["type"], r["name"], r["uid"]))


def _label(node: Resource, printable: Callable[[str], str]) -> str:
    name = printable(node.name or node.native_id)
    return f"{drawing.text(node.type)}\\n{drawing.text(name)}"


def to_dot(
    graph: Graph,
    *,
    fills: Mapping[str, str] | None = None,
    url: Callable[[str], str] | None = None,
    focus: Collection[str] = (),
    printable: Callable[[str], str] = str,
) -> str:
    """The graph as DOT text: resources as boxes, unresolved targets dashed.

    `fills` colours nodes by uid, `url(uid)` makes a node a link (Graphviz's URL attribute:
    an SVG anchor, opened in the same tab), `focus` draws nodes bold, `printable` shows
    names' control characters as escapes (the dashboard's rendering); labels and tooltips
    are escaped either way.
    """
    dot = graphviz.Digraph("vigil", graph_attr={"rankdir": "LR"}, node_attr={"shape": "box"})
    # Node ids are generated: a uid is no DOT identifier (an ARN's or a reference's colon
    # reads as a port in an edge statement, a trailing backslash escapes the closing quote).
    ids = {node.uid: f"r{index}" for index, node in enumerate(graph.nodes)}
    for node in graph.nodes:
        style: dict[str, str] = {}
        if fills and node.uid in fills:
            style |= {"style": "filled", "fillcolor": fills[node.uid]}
        if url is not None:
            style |= {"URL": drawing.link(url(node.uid)), "target": "_self"}
        if node.uid in focus:
            style |= {"penwidth": "3"}
        tooltip = drawing.text(printable(node.uid))
        dot.node(ids[node.uid], label=_label(node, printable), tooltip=tooltip, **style)
    unresolved = sorted({edge.to for edge in graph.edges if edge.to not in ids})
    for index, target in enumerate(unresolved):
        ids[target] = f"u{index}"
        label = drawing.text(printable(target))
        dot.node(ids[target], label=label, style="dashed", color="grey50", tooltip=label)
    for edge in graph.edges:
        dot.edge(ids[edge.from_uid], ids[edge.to], label=drawing.text(edge.kind))
    return str(dot.source)

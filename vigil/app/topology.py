"""Rendering the topology graph: table rows (one per edge) and DOT (Graphviz's language).

Resource names are untrusted text (anyone who can tag a resource names it): DOT labels go
through `graphviz.escape` and the package's quoting, so a name can neither end its string
nor smuggle in escape sequences or an HTML-like label.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import graphviz

from storage.topology import Graph
from vigil.core.model import Resource

TABLE_COLUMNS = ("from_type", "from_name", "kind", "to_type", "to_name", "to")


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


def _label(node: Resource) -> str:
    return f"{graphviz.escape(node.type)}\\n{graphviz.escape(node.name or node.native_id)}"


def to_dot(graph: Graph) -> str:
    """The graph as DOT text: resources as boxes, unresolved targets dashed."""
    dot = graphviz.Digraph("vigil", graph_attr={"rankdir": "LR"}, node_attr={"shape": "box"})
    for node in graph.nodes:
        dot.node(node.uid, label=_label(node), tooltip=graphviz.escape(node.uid))
    known = {node.uid for node in graph.nodes}
    for target in sorted({edge.to for edge in graph.edges if edge.to not in known}):
        dot.node(target, label=graphviz.escape(target), style="dashed", color="grey50")
    for edge in graph.edges:
        dot.edge(edge.from_uid, edge.to, label=graphviz.escape(edge.kind))
    return str(dot.source)

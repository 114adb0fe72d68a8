"""`vigil topology`: resources and the links between them, around a resource or a DNS name."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli.options import TimeHelp, parse_time_option
from vigil.cli.state import state
from vigil.core.errors import InputError
from vigil.core.lazy import lazy_import
from vigil.core.model import Direction

if TYPE_CHECKING:
    from storage import topology as graph_store
    from vigil.app import output, topology
else:
    graph_store = lazy_import("storage.topology")
    output = lazy_import("vigil.app.output")
    topology = lazy_import("vigil.app.topology")

DEFAULT_DEPTH = 4


class TopologyFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    DOT = "dot"


def register(app: typer.Typer) -> None:
    app.command("topology")(topology_command)


def topology_command(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="A resource uid or a DNS name (a record's, or a load balancer's or CDN's); "
            "default: every link.",
        ),
    ] = None,
    depth: Annotated[
        int, typer.Option("--depth", min=1, max=20, help="How many links away to go.")
    ] = DEFAULT_DEPTH,
    direction: Annotated[
        Direction,
        typer.Option(
            "--direction",
            case_sensitive=False,
            help="down: what it depends on; up: what depends on it; both: the two walks.",
        ),
    ] = Direction.BOTH,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help=f"The topology as it was then: {TimeHelp}.")
    ] = None,
    fmt: Annotated[
        TopologyFormat,
        typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
    ] = TopologyFormat.TABLE,
) -> None:
    """Show resources and the links between them (routes_to, origin, targets, attached_to,
    backs_up, replica_of, protected_by, serves), now or at --as-of.

    JSON is {"nodes": [inventory objects], "edges": [{"from", "kind", "to", "resolved"}]};
    an unresolved edge's "to" is the name the collector saw. DOT renders with Graphviz
    (`vigil topology --format dot | dot -Tsvg > estate.svg`).

    Example: vigil topology --from shop.example.com --direction down --format dot
    """
    when = parse_time_option(as_of, end=True)
    app_state = state(ctx)
    app_state.require_history(when)
    db = app_state.database()
    uids = None
    if start is not None:
        uids = graph_store.starts(db, start, as_of=when)
        if not uids:
            raise InputError(
                f"--from {start!r}: no resource has that uid or DNS name"
                + (" at that time" if when else "")
                + "; see `vigil inventory` for uids"
            )
    graph = graph_store.topology(db, uids, depth=depth, direction=direction, as_of=when)
    if fmt is TopologyFormat.JSON:
        typer.echo(json.dumps(graph.to_dict(), indent=2, sort_keys=True))
    elif fmt is TopologyFormat.DOT:
        typer.echo(topology.to_dot(graph), nl=False)
    else:
        output.render(
            topology.edge_rows(graph),
            output.OutputFormat.TABLE,
            columns=topology.TABLE_COLUMNS,
            empty="no links",
        )

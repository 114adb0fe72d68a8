"""`vigil inventory` and `vigil changes`: the inventory now or at a past time, and its history."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.app.output import OutputFormat, render
from vigil.cli.options import FormatOption, SourceOption, TimeHelp, TypeOption, parse_time_option
from vigil.cli.state import state
from vigil.core.lazy import lazy_import
from vigil.core.model import ChangeKind

if TYPE_CHECKING:
    from storage import certificate_usage, history, inventory
else:
    certificate_usage = lazy_import("storage.certificate_usage")
    history = lazy_import("storage.history")
    inventory = lazy_import("storage.inventory")

INVENTORY_COLUMNS = (
    "type",
    "name",
    "native_id",
    "source",
    "account",
    "region",
    "state",
    "tags",
    "first_seen",
    "last_seen",
)
CHANGE_COLUMNS = ("at", "kind", "type", "native_id", "name", "source", "region", "changes")


def register(app: typer.Typer) -> None:
    app.command("inventory")(inventory_command)
    app.command("changes")(changes_command)


def inventory_command(
    ctx: typer.Context,
    type_: TypeOption = None,
    source: SourceOption = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", help="Region (repeatable).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help=f"Show the inventory as it was then: {TimeHelp}.")
    ] = None,
    include_deleted: Annotated[
        bool, typer.Option("--include-deleted", help="Also list deleted resources.")
    ] = False,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List the inventory: present resources now, or as they were at --as-of.

    Example: vigil inventory --type database --as-of 2026-11-01T00:00:00Z
    """
    when = parse_time_option(as_of, end=True)
    filters = inventory.InventoryFilter(
        types=tuple(type_ or ()),
        sources=tuple(source or ()),
        regions=tuple(region or ()),
        include_deleted=include_deleted,
    )
    app_state = state(ctx)
    app_state.require_history(when)
    db = app_state.database()
    rows: Iterable[dict[str, Any]] = (
        r.to_dict() for r in inventory.inventory(db, filters, as_of=when)
    )
    if fmt is OutputFormat.JSON and when is None and (not type_ or "certificate" in type_):
        rows = _with_usage(rows, certificate_usage.certificate_usage(db))
    render(rows, fmt, columns=INVENTORY_COLUMNS, empty="no resources: run `vigil collect` first")


def _with_usage(rows: Iterable[dict[str, Any]], found: list[Any]) -> Iterator[dict[str, Any]]:
    """Certificates (now, in JSON) with `usage`: where bound and served, and whether unused."""
    by_uid = {usage.uid: usage for usage in found}
    for row in rows:
        usage = by_uid.get(row["uid"]) if row["type"] == "certificate" else None
        if usage is not None:
            row["usage"] = {
                "bound_to": list(usage.bound_to),
                "served_at": list(usage.served_at),
                "unused": usage.unused,
            }
        yield row


def changes_command(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--since", help=f"Changes at or after this time: {TimeHelp}.")
    ] = "24h",
    until: Annotated[str | None, typer.Option("--until", help="Changes up to this time.")] = None,
    type_: TypeOption = None,
    source: SourceOption = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="created, changed, deleted or retired (repeatable)."),
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List change events (the drift history): what was created, changed, deleted or retired
    (left the config), and when.

    Example: vigil changes --since 24h --type security_group
    """
    kinds = [k.value for k in ChangeKind]
    for value in kind or []:
        if value not in kinds:
            raise typer.BadParameter(f"unknown kind {value!r}; use {', '.join(kinds)}")
    filters = inventory.InventoryFilter(
        types=tuple(type_ or ()), sources=tuple(source or ()), include_deleted=True
    )
    # Parsed before the database is opened: a bad time is exit 2 and creates nothing.
    start, end = parse_time_option(since), parse_time_option(until, end=True)
    events = history.changes(
        state(ctx).database(), since=start, until=end, filters=filters, kinds=tuple(kind or ())
    )
    render(
        (e.to_dict() for e in events),
        fmt,
        columns=CHANGE_COLUMNS,
        table_cell=_change_cell,
        empty="no changes in that period",
    )


def _change_cell(column: str, value: Any) -> str:
    if column == "changes" and isinstance(value, dict):
        return "; ".join(f"{k}: {v.get('old')!r} -> {v.get('new')!r}" for k, v in value.items())
    if value is None:
        return ""
    return str(value)

"""Inventory: every resource, filtered and paged in the database; one resource in detail."""

from __future__ import annotations

import io
from functools import partial
from typing import Any
from urllib.parse import quote

import streamlit as st

from dashboard import data, ui
from storage import inventory
from storage.inventory import InventoryQuery
from vigil.app.output import OutputFormat
from vigil.app.output import render as render_rows
from vigil.app.topology import NEIGHBOUR_COLUMNS, neighbour_rows
from vigil.core.model import Direction, iso
from vigil.core.text import printable

COLUMNS = ["type", "name", "native_id", "source", "account", "region", "tags", "last_seen", "uid"]
CSV_COLUMNS = (*inventory.INVENTORY_FIELDS, "tags", "first_seen", "last_seen")
PAGE_SIZES = (50, 100, 500)


def render() -> None:
    """The inventory page, or one resource when the URL names it (`?uid=...`)."""
    config = ui.settings()
    uid = st.query_params.get("uid")
    if uid:
        _detail(config.database_url, uid)
        return
    st.title("Inventory")
    if not ui.has_data(config):
        return
    url = config.database_url
    query = _filters(url)
    size = int(st.session_state.get("inventory_page_size", PAGE_SIZES[0]))
    number = int(st.session_state.get("inventory_page", 1))
    page = data.inventory_page(url, query, size, (number - 1) * size)
    if not page.rows and number > 1:  # the filters shrank the result under this page
        number, page = 1, data.inventory_page(url, query, size, 0)
    st.metric("Matching resources", page.total)
    _table(page.rows)
    _pager(page.total, size, number)
    st.download_button(
        "Download CSV (all matching resources)",
        data=partial(inventory_csv, url, query),
        file_name="vigil-inventory.csv",
        mime="text/csv",
        on_click="ignore",
    )


def _filters(url: str) -> InventoryQuery:
    options = data.facets(url)
    columns = st.columns(5)
    chosen = {
        name: tuple(column.multiselect(name, options[name], key=f"inventory_{name}"))
        for column, name in zip(
            columns, ("source", "provider", "account", "region", "type"), strict=True
        )
    }
    text, tag_key, tag_value = st.columns([2, 1, 1])
    return InventoryQuery(
        sources=chosen["source"],
        providers=chosen["provider"],
        accounts=chosen["account"],
        regions=chosen["region"],
        types=chosen["type"],
        text=text.text_input("Search name or id", key="inventory_text").strip(),
        tag_key=tag_key.text_input("Tag key", key="inventory_tag_key").strip(),
        tag_value=tag_value.text_input("Tag value (optional)", key="inventory_tag_value"),
    )


def _table(rows: list[dict[str, Any]]) -> None:
    shown = [row | {"tags": ui.tags_text(row["tags"])} for row in rows]
    frame = ui.frame(shown, COLUMNS)
    event = ui.table(
        frame,
        key="inventory_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={"uid": st.column_config.TextColumn("uid (select a row for details)")},
    )
    selected = event.selection.rows if event else []
    if selected:
        st.query_params["uid"] = frame.iloc[selected[0]]["uid"]
        st.rerun()


def _pager(total: int, size: int, number: int) -> None:
    pages = max(1, -(-total // size))
    left, right, _ = st.columns([1, 1, 4])
    left.number_input(f"Page (of {pages})", 1, pages, min(number, pages), key="inventory_page")
    right.selectbox("Rows per page", PAGE_SIZES, key="inventory_page_size")


def inventory_csv(url: str, query: InventoryQuery) -> str:
    """Every matching resource as CSV, with `vigil inventory --format csv`'s cell escaping."""
    out = io.StringIO()
    rows = (
        row | {"first_seen": iso(row["first_seen"]), "last_seen": iso(row["last_seen"])}
        for row in inventory.inventory_rows(data.database(url), query)
    )
    render_rows(rows, OutputFormat.CSV, columns=CSV_COLUMNS, out=out)
    return out.getvalue()


def _detail(url: str, uid: str) -> None:
    st.button("← Back to the inventory", on_click=lambda: st.query_params.clear())
    row = data.resource(url, uid)
    if row is None:
        st.warning("No resource with this uid in the inventory.")
        return
    st.title("Resource")
    st.code(printable(row["name"] or row["native_id"]), language=None)
    fields = ("uid", "type", "native_id", "source", "provider", "account", "region", "state")
    identity: list[dict[str, str | None]] = [{"field": f, "value": str(row[f])} for f in fields]
    identity += [
        {"field": f, "value": iso(row[f])} for f in ("first_seen", "last_seen", "deleted_at")
    ]
    ui.table(ui.frame(identity, ["field", "value"]))
    tags, attributes = st.columns(2)
    with tags:
        st.subheader("Tags")
        st.json(row["tags"] or {})
    with attributes:
        st.subheader("Attributes")
        st.json(row["attributes"] or {}, expanded=2)
    st.subheader("Findings")
    findings = data.resource_findings(url, uid)
    if findings:
        columns = ["severity", "status", "rule", "title", "first_seen", "last_seen", "resolved_at"]
        ui.table(ui.frame(findings, columns))
    else:
        st.success("No rule has ever flagged this resource.")
    _links(url, uid)
    st.subheader("Change history")
    ui.table(
        ui.frame(
            _history_rows(data.resource_history(url, uid)), ["at", "kind", "field", "old", "new"]
        )
    )


def _links(url: str, uid: str) -> None:
    """The resources one link away, each a link to its page; the topology around it."""
    st.subheader("Links")
    graph = data.graph(url, (uid,), 1, Direction.BOTH)
    rows = neighbour_rows(graph, {uid})
    if rows:
        shown = [
            row | {"page": f"?uid={quote(row['uid'], safe='')}" if row["uid"] else None}
            for row in rows
        ]
        ui.table(
            ui.frame(shown, [*NEIGHBOUR_COLUMNS, "page"]),
            column_config={
                "uid": None,
                "page": st.column_config.LinkColumn("resource", display_text="open"),
            },
        )
    else:
        st.caption("No links to or from this resource (as far as its collector saw).")
    st.page_link("views/topology.py", label="Show in topology", query_params={"uid": uid})


def _history_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per changed field (one per event when it carries no field changes)."""
    rows: list[dict[str, Any]] = []
    for event in events:
        rows += ui.field_rows({"at": event["at"], "kind": event["kind"]}, event["changes"])
    return rows


if __name__ == "__main__":
    render()

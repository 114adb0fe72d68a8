"""`vigil findings`: list findings by status, severity, rule and source."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.app.output import OutputFormat, render
from vigil.cli.options import FormatOption, SourceOption
from vigil.cli.state import state
from vigil.core.model import FindingStatus, Severity

if TYPE_CHECKING:
    from vigil.core.transitions import StoredFinding

COLUMNS = (
    "severity",
    "status",
    "rule",
    "title",
    "type",
    "native_id",
    "source",
    "region",
    "first_seen",
    "last_seen",
    "reachable_from",
)
STATUSES = [s.value for s in FindingStatus] + ["all"]


def register(app: typer.Typer) -> None:
    app.command("findings")(findings_command)


def _status(value: str) -> str:
    if value not in STATUSES:
        raise typer.BadParameter(f"unknown status {value!r}; use {', '.join(STATUSES)}")
    return value


def findings_command(
    ctx: typer.Context,
    status: Annotated[
        str,
        typer.Option("--status", help="open, resolved, silenced or all.", callback=_status),
    ] = "open",
    severity: Annotated[
        list[Severity] | None,
        typer.Option("--severity", help="Severity (repeatable).", case_sensitive=False),
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", "-r", help="Rule id (repeatable).")
    ] = None,
    source: SourceOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List findings, most severe first: open ones unless --status says otherwise.

    Example: vigil findings --severity high --format json | jq '.[].title'
    """
    from storage.exposure import entry_points, outermost
    from storage.findings import FindingQuery, FindingStore

    query = FindingQuery(
        statuses=() if status == "all" else (status,),
        severities=tuple(s.value for s in severity or ()),
        rules=tuple(rule or ()),
        sources=tuple(source or ()),
    )
    db = state(ctx).database()
    found = list(FindingStore(db).findings(query))
    with db.connect() as conn:
        exposure = entry_points(conn, (f.resource_uid for f in found))

    def row(finding: StoredFinding) -> dict[str, Any]:
        entries = exposure.get(finding.resource_uid)
        names = [entry.name for entry in outermost(entries or [])]
        return finding.to_dict() | {
            "entry_points": None if entries is None else [e.to_dict() for e in entries],
            "reachable_from": "?" if entries is None else _short(names),
        }

    render((row(f) for f in found), fmt, columns=COLUMNS, empty="no findings match")


def _short(names: list[str], limit: int = 2) -> str:
    """The table's `reachable_from`: a name or two, `?` while links are unknown."""
    more = f" +{len(names) - limit}" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more

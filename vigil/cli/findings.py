"""`vigil findings`: list findings by status, severity, rule and source."""

from __future__ import annotations

from typing import Annotated

import typer

from vigil.app.output import OutputFormat, render
from vigil.cli.options import FormatOption, SourceOption
from vigil.cli.state import state
from vigil.core.model import FindingStatus, Severity

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
    from storage.findings import FindingQuery, FindingStore

    query = FindingQuery(
        statuses=() if status == "all" else (status,),
        severities=tuple(s.value for s in severity or ()),
        rules=tuple(rule or ()),
        sources=tuple(source or ()),
    )
    rows = (f.to_dict() for f in FindingStore(state(ctx).database()).findings(query))
    render(rows, fmt, columns=COLUMNS, empty="no findings match")

"""`vigil db backup|check`: Vigil's own database, backed up online and checked without writes."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from storage import maintenance
from storage.db import Database
from vigil.app.config import resolve_database_url
from vigil.cli.state import state


class CheckFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


db_app = typer.Typer(
    help="Vigil's own database: an online backup (SQLite) and a health check.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("backup")
def backup_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Copy the SQLite database to FILE while Vigil keeps running, and verify the copy.

    Uses SQLite's online backup API, so a daemon writing meanwhile is fine; the copy is
    renamed into place only after it passed an integrity check. PostgreSQL: use pg_dump
    (docs/operations.md). Restore: stop Vigil, copy FILE over the database file, delete its
    -wal and -shm files, start Vigil.

    Example: vigil db backup /backup/vigil-$(date +%F).db
    """
    result = maintenance.backup(state(ctx).database(), file, overwrite=force)
    typer.echo(
        f"backed up to {result.path} ({result.size_bytes:,} bytes, "
        f"schema revision {result.revision or 'none'})"
    )


@db_app.command("check")
def check_command(
    ctx: typer.Context,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
    ] = CheckFormat.TABLE,
) -> None:
    """Check the database's integrity and schema revision without changing anything.

    Exit 0 when it is sound and this version can use it (a schema that is behind is migrated
    by the next command); 1 when the integrity check finds damage or the schema is newer than
    this version of Vigil.

    Example: vigil db check --format json
    """
    app_state = state(ctx)
    health = maintenance.check(Database(resolve_database_url(app_state.config()), migrate=False))
    if fmt is CheckFormat.JSON:
        typer.echo(json.dumps(_as_json(health), indent=2))
    else:
        _print(health)
    if not health.healthy:
        raise typer.Exit(1)


def _as_json(health: maintenance.DatabaseHealth) -> dict[str, object]:
    return {
        "database": health.url,
        "engine": health.engine,
        "revision": health.revision,
        "head": health.head,
        "schema": health.schema,
        "healthy": health.healthy,
        "problems": health.problems,
        "rows": health.rows,
    }


def _print(health: maintenance.DatabaseHealth) -> None:
    typer.echo(f"database   {health.url} ({health.engine})")
    typer.echo(f"schema     {health.schema}")
    typer.echo(
        f"integrity  {'ok' if not health.problems else f'{len(health.problems)} problem(s)'}"
    )
    for problem in health.problems:
        typer.echo(f"  - {problem}")
    for table, count in sorted(health.rows.items()):
        typer.echo(f"  {table:<24} {count:>10,} rows")

"""`vigil prune [--dry-run]`: delete history older than `retention:`, as the daemon does daily."""

from __future__ import annotations

from typing import Annotated

import typer

from vigil.cli.state import state
from vigil.core.model import iso, utcnow


def register(app: typer.Typer) -> None:
    app.command("prune")(prune_command)


def prune_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Delete change events, scope runs, sent and dead notifications, resolved findings and
    deleted resources older than their `retention:` windows, in short batches.

    Kept whatever their age: each scope's newest completed and newest finished runs (they
    decide what is known), each resource's newest change before the window (so --as-of stays
    exact inside it), present resources, open findings and undelivered notifications.

    Example: vigil prune --dry-run
    """
    app_state = state(ctx)
    config = app_state.config()
    from storage.retention import prune
    from vigil.core.retention import RetentionPolicy

    policy = config.retention.policy() if config else RetentionPolicy()
    report = prune(app_state.database(), policy, utcnow(), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for kind, rows in report.deleted.items():
        window = getattr(policy, kind)
        typer.echo(
            f"{kind:<18} {rows:>10,} rows {verb} (older than {window.days}d, "
            f"before {iso(report.cutoffs[kind])})"
        )
    typer.echo(f"{report.total:,} rows {verb}")

"""`vigil collect`: one collection pass, with progress and a per-scope summary."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from vigil.cli.options import SourceOption, TypeOption
from vigil.cli.state import state
from vigil.core.lazy import lazy_import

if TYPE_CHECKING:
    from vigil.app import collect as pipeline
    from vigil.app.scope_writer import ScopeOutcome
else:
    pipeline = lazy_import("vigil.app.collect")
from vigil.core.model import Scope
from vigil.core.timeutil import format_duration


def register(app: typer.Typer) -> None:
    app.command("collect")(collect_command)


def collect_command(
    ctx: typer.Context, source: SourceOption = None, type_: TypeOption = None
) -> None:
    """Run one collection pass over the configured sources and print per-scope results.

    Exits 1 when any scope failed. A failed scope changes nothing in the inventory.

    Example: vigil collect --source aws-prod --type server --type disk
    """
    app_state = state(ctx)
    config = app_state.require_config()
    sources = [config.source(name) for name in source] if source else list(config.sources)
    if not sources:
        raise typer.BadParameter("the config has no sources; add one under `sources:`")
    # Opened by the pass while its plans wait on their first API responses (start-up).
    db = pipeline.DatabaseToOpen(app_state.database_url(), app_state.database)
    err = Console(stderr=True)
    with _TerminalProgress(err) as progress:
        result = pipeline.collect(
            db,
            sources,
            types=set(type_) if type_ else None,
            progress=progress,
            retire=not source and not type_,
            executor=config.executor,
            config_path=config.path,
            pass_deadline=config.pass_deadline(sources),
        )
    print_summary(result, Console(width=None if sys.stdout.isatty() else 200))
    if result.failed:
        err.print(Text(f"{len(result.failed)} scope(s) failed; nothing of them was changed."))
        raise typer.Exit(1)


def print_summary(result: pipeline.CollectionResult, console: Console) -> None:
    # `throttled` only when AWS throttled a scope: the usual table keeps its columns, and the
    # error, free text, keeps the room that is left at the end of the line.
    throttled = any(outcome.throttled for outcome in result.outcomes)
    table = Table(
        "source", "account", "region", "type", "status",
        "seen", "new", "changed", "deleted", "time",
        *(["throttled"] if throttled else []),
        "error",
    )  # fmt: skip
    for outcome in sorted(result.outcomes, key=lambda o: o.scope.key):
        scope = outcome.scope
        table.add_row(
            Text(scope.source),
            Text(scope.account),
            Text(scope.region),
            Text(scope.type),
            Text(outcome.status, style="green" if not outcome.failed else "red"),
            str(outcome.seen),
            str(outcome.created),
            str(outcome.changed),
            str(outcome.deleted),
            f"{outcome.duration:.1f}s",
            *([str(outcome.throttled or "")] if throttled else []),
            Text(outcome.error or ""),
        )
    console.print(table)
    console.print(
        Text(
            f"{len(result.outcomes)} scopes, {len(result.failed)} failed, "
            f"{result.seen} resources seen in {_seconds(result.duration)}"
        )
    )


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else format_duration(timedelta(seconds=seconds))


class _TerminalProgress:
    """A progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, console: Console) -> None:
        self.enabled = sys.stderr.isatty()
        self.bar = Progress(
            TextColumn("collecting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("scopes · {task.fields[resources]} resources"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not self.enabled,
        )
        self.task = self.bar.add_task("collect", total=None, resources=0)
        self.resources = 0

    def __enter__(self) -> _TerminalProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def planned(self, total_scopes: int) -> None:
        self.bar.update(self.task, total=total_scopes)

    def page(self, scope: Scope, resources: int) -> None:
        self.resources += resources
        self.bar.update(self.task, resources=self.resources)

    def finished(self, outcome: ScopeOutcome) -> None:
        self.bar.advance(self.task)

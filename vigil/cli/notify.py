"""`vigil notify status` and `vigil notify test NAME`: the outbox, and a test message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from vigil.app.output import OutputFormat, render
from vigil.cli.options import FormatOption
from vigil.cli.state import state
from vigil.core.lazy import lazy_import

if TYPE_CHECKING:
    from storage import outbox as store
    from storage import tables
    from vigil.app import notify as use_case
else:
    store = lazy_import("storage.outbox")
    tables = lazy_import("storage.tables")
    use_case = lazy_import("vigil.app.notify")
from vigil.core.model import iso

COLUMNS = ("id", "status", "notifier", "route", "summary", "alerts", "attempts", "next_attempt",
           "last_error")  # fmt: skip

notify_app = typer.Typer(
    help="Alert delivery: what is queued, failing or dead; send a test message.\n\n"
    "Example: vigil notify test oncall-slack",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")


@notify_app.command("status")
def status_command(
    ctx: typer.Context,
    fmt: FormatOption = OutputFormat.TABLE,
    all_: Annotated[
        bool, typer.Option("--all", help="Include messages already sent (newest first).")
    ] = False,
) -> None:
    """Outbox messages not yet sent: pending, failed (retrying with backoff) and dead.

    A dead message failed `max_attempts` times, or could not succeed on retry (bad
    credentials, a refused address); its last error says why. The table starts with the
    counts per status.

    Example: vigil notify status
    """
    db = state(ctx).database()
    if fmt is OutputFormat.TABLE:
        counts = use_case.outbox_counts(db)
        line = ", ".join(
            f"{name} {counts.get(name, 0)}" for name in ("pending", "sent", "failed", "dead")
        )
        Console(soft_wrap=True).print(Text(f"outbox: {line}"))
    unsent = (tables.PENDING, tables.SENDING, tables.FAILED, tables.DEAD)
    rows = _rows(store.entries(db, () if all_ else unsent))
    render(rows, fmt, columns=COLUMNS, empty="no unsent messages")


def _rows(entries: Iterator[store.OutboxEntry]) -> Iterator[dict[str, Any]]:
    for entry in entries:
        yield {
            "id": entry.id,
            "status": entry.status,
            "notifier": entry.notifier,
            "route": entry.route,
            "rule": entry.rule,
            "severity": entry.severity,
            "summary": entry.summary,
            "alerts": entry.alerts,
            "attempts": entry.attempts,
            "created_at": iso(entry.created_at),
            "next_attempt": iso(entry.next_attempt_at) if entry.status != tables.SENT else None,
            "sent_at": iso(entry.sent_at),
            "last_error": entry.last_error,
        }


@notify_app.command("test")
def test_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The notifier's name in the config.")],
) -> None:
    """Send a test message through one notifier now (not through the outbox).

    Exits 0 when it was delivered, 1 when the channel refused or could not be reached,
    2 when no notifier has that name.

    Example: vigil notify test oncall-slack
    """
    config = state(ctx).require_config()
    typer.echo(use_case.send_test(config, name))

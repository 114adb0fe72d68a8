"""`vigil silence add|list|remove`: acknowledge findings for a while, with a reason."""

from __future__ import annotations

import getpass
import os
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.app.output import OutputFormat, render
from vigil.cli.options import FormatOption
from vigil.cli.state import state
from vigil.core.lazy import lazy_import

if TYPE_CHECKING:
    from storage import silences
else:
    silences = lazy_import("storage.silences")
from vigil.core.model import utcnow
from vigil.core.timeutil import DURATION_HELP, parse_duration

COLUMNS = ("id", "rule", "resource", "match", "reason", "author", "created_at", "expires_at")

silence_app = typer.Typer(
    help="Silence findings for a while, with a reason auditors can read.\n\n"
    "Example: vigil silence list",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(silence_app, name="silence")


def _labels(values: list[str] | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values or []:
        key, sep, wanted = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{value!r} is not label=value (e.g. team=payments)")
        labels[key] = wanted
    return labels


def _author() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@silence_app.command("add")
def add_command(
    ctx: typer.Context,
    rule: Annotated[str, typer.Option("--rule", "-r", help="Rule id, or * for every rule.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; auditors read this.")],
    expires: Annotated[str, typer.Option("--expires", help=f"How long: {DURATION_HELP}.")],
    resource: Annotated[
        str | None, typer.Option("--resource", help="Only this resource uid.")
    ] = None,
    match: Annotated[
        list[str] | None,
        typer.Option("--match", "-m", help="label=value the finding must carry (repeatable)."),
    ] = None,
    author: Annotated[
        str | None, typer.Option("--author", help="Who silences [default: $USER].")
    ] = None,
) -> None:
    """Silence the findings of a rule (optionally one resource, or matching labels).

    Example: vigil silence add --rule network.open_port --match team=edge --expires 7d --reason VPN
    """
    try:
        duration = parse_duration(expires)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--expires") from None
    if duration <= timedelta(0):
        raise typer.BadParameter("a silence must last longer than 0s", param_hint="--expires")
    if not reason.strip():
        raise typer.BadParameter("give a reason", param_hint="--reason")
    labels = _labels(match)  # every argument is checked before the database is opened
    _known_rule(ctx, rule)
    now = utcnow()
    silence = silences.SilenceStore(state(ctx).database()).add_silence(
        rule=rule,
        reason=reason,
        author=author or _author(),
        expires_at=now + duration,
        now=now,
        resource_uid=resource,
        labels=labels,
    )
    typer.echo(f"silence {silence.id} added; it applies from the next `vigil check`")


def _known_rule(ctx: typer.Context, rule: str) -> None:
    if rule == "*":
        return
    from rules.registry import all_rules

    config = state(ctx).config()
    known = {r.id for r in all_rules(config.rules if config else None)}
    if rule not in known:
        raise typer.BadParameter(
            f"unknown rule {rule!r}; `vigil rules list` shows every id", param_hint="--rule"
        )


@silence_app.command("list")
def list_command(
    ctx: typer.Context,
    include_expired: Annotated[
        bool, typer.Option("--include-expired", help="Also show expired silences.")
    ] = False,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List silences with their matcher, reason, author and expiry.

    Example: vigil silence list
    """
    store = silences.SilenceStore(state(ctx).database())
    listed = store.silences(now=None if include_expired else utcnow())
    render((s.to_dict() for s in listed), fmt, columns=COLUMNS, empty="no silences")


@silence_app.command("remove")
def remove_command(
    ctx: typer.Context, silence_id: Annotated[str, typer.Argument(help="The silence id.")]
) -> None:
    """Remove a silence; its findings show as open again from the next check.

    Example: vigil silence remove 3
    """
    if not silences.SilenceStore(state(ctx).database()).remove_silence(silence_id):
        raise typer.BadParameter(f"no silence with id {silence_id!r}")
    typer.echo(f"silence {silence_id} removed")

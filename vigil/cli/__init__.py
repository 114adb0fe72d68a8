"""The `vigil` command line. Library code raises VigilError; only here do they become exit codes."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from vigil.cli import (
    check,
    collect,
    config,
    dashboard,
    db,
    demo,
    findings,
    init,
    inventory,
    notify,
    prune,
    report,
    rules,
    run,
    silence,
    topology,
    worker,
)
from vigil.cli.state import AppState
from vigil.core.errors import VigilError

app = typer.Typer(
    name="vigil",
    help="Multi-cloud inventory, monitoring and alerting: collect, judge, alert, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from vigil import __version__

        typer.echo(f"vigil {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file [env VIGIL_CONFIG; default ./vigil.yaml].",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Vigil keeps a current inventory of clouds and hosts, judges it and alerts.

    The database comes from the config's `database_url`, env VIGIL_DATABASE_URL, or
    sqlite:///vigil.db. Exit codes: 0 success, 1 findings over --fail-on or a failed scope,
    2 bad usage or an invalid config/input file (nothing is written then).
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = AppState.from_options(config)


for module in (
    init,
    config,
    collect,
    inventory,
    demo,
    dashboard,
    check,
    findings,
    silence,
    rules,
    notify,
    run,
    report,
    db,
    prune,
    topology,
    worker,
):
    module.register(app)


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except VigilError as exc:
        typer.echo(f"vigil: error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("vigil: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # `vigil inventory | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)

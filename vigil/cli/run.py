"""`vigil run`: the daemon, in the foreground, until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.app.logs import LogFormat, database_secrets, setup_logging
from vigil.cli.state import AppState, state
from vigil.core.errors import ConfigError, secrets_of
from vigil.core.yamlsource import load_yaml

if TYPE_CHECKING:
    from vigil.app.config import VigilConfig

log = logging.getLogger("vigil.run")


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)


def run_command(
    ctx: typer.Context,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format", help="text for people, json for log shippers.", case_sensitive=False
        ),
    ] = LogFormat.TEXT,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Run the daemon: collect on schedule, check the rules, send notifications, and serve
    /metrics, /healthz and /readyz on metrics.listen.

    One daemon per database: a second `vigil run` exits 1 naming the one that holds the lock.

    SIGTERM or SIGINT stops it within 10 s with exit 0: scopes in flight are recorded as
    failed and delete nothing; unsent notifications wait in the outbox.

    Example: vigil run
    """
    level = logging.getLevelName(log_level.upper())
    if not isinstance(level, int):
        raise typer.BadParameter(
            f"unknown log level {log_level!r}; use debug, info, warning or error"
        )
    from vigil.app.config import resolve_database_url
    from vigil.app.daemon import STOP_BUDGET, Daemon, install_signal_handlers

    app_state = state(ctx)
    config = app_state.require_config()
    _check_schedule_sources(app_state, config)
    secrets = [*secrets_of(config), *database_secrets(resolve_database_url(config))]
    setup_logging(log_format, level=level, secrets=secrets)
    daemon = Daemon(app_state.database(), config)
    install_signal_handlers(daemon)
    daemon.start()
    daemon.wait()
    if not daemon.shutdown(STOP_BUDGET):
        # Worker threads stuck in a network call would hold the interpreter past the
        # promised deadline; their runs are marked failed at the next start.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)


def _check_schedule_sources(app_state: AppState, config: VigilConfig) -> None:
    """A schedule override for a source that does not exist is a typo: say where."""
    known = {source.name for source in config.sources}
    for name in config.schedule.sources:
        if name not in known:
            document = load_yaml(app_state.config_path)
            raise ConfigError(
                f"schedule.sources.{name}: no source is named {name!r}",
                path=app_state.config_path,
                line=document.line_of(("schedule", "sources", name)),
                fix=f"use one of the names under sources: ({', '.join(sorted(known)) or 'none'})",
            )
    if not config.sources:
        raise ConfigError(
            "the config has no sources, so `vigil run` has nothing to collect",
            path=app_state.config_path,
            fix="add a source under `sources:` (see `vigil init`)",
        )

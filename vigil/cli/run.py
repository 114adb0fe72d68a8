"""`vigil run`: the daemon, in the foreground, until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

import typer

from vigil.app.logs import LogFormat
from vigil.cli.options import (
    LogFormatOption,
    LogLevelOption,
    log_level_option,
    log_without_secrets,
)
from vigil.cli.state import AppState, state
from vigil.core.errors import ConfigError
from vigil.core.yamlsource import load_yaml

if TYPE_CHECKING:
    from vigil.app.config import VigilConfig

log = logging.getLogger("vigil.run")


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)


def run_command(
    ctx: typer.Context,
    log_format: LogFormatOption = LogFormat.TEXT,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the daemon: collect on schedule, check the rules, send notifications, and serve
    /metrics, /healthz and /readyz on metrics.listen.

    One daemon per database: a second `vigil run` exits 1 naming the one that holds the lock.

    SIGTERM or SIGINT stops it within 10 s with exit 0: scopes in flight are recorded as
    failed and delete nothing; unsent notifications wait in the outbox.

    Example: vigil run
    """
    level = log_level_option(log_level)
    from vigil.app.daemon import STOP_BUDGET, Daemon, install_signal_handlers

    app_state = state(ctx)
    config = app_state.require_config()
    _check_schedule_sources(app_state, config)
    log_without_secrets(config, log_format, level)
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

"""`vigil worker`: run the scopes of `executor.kind: queue` passes, on any machine."""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Annotated

import typer

from vigil.app.logs import LogFormat
from vigil.cli.options import (
    LogFormatOption,
    LogLevelOption,
    log_level_option,
    log_without_secrets,
)
from vigil.cli.state import state
from vigil.core.errors import ConfigError

DEFAULT_CONCURRENCY = 8


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)


def worker_command(
    ctx: typer.Context,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", min=1, help="Scopes this worker collects at once."),
    ] = DEFAULT_CONCURRENCY,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            help="Serve this worker's /metrics, /healthz and /readyz on host:port "
            "(its scopes, running scopes, AWS throttling).",
            show_default=False,
        ),
    ] = None,
    log_format: LogFormatOption = LogFormat.TEXT,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the scopes of queued passes (config `executor: {kind: queue}`) until SIGTERM.

    Start any number, on any machines, with the same config file and environment as the
    daemon (no credential travels in a job). Scopes are jobs in the PostgreSQL database; a
    scope runs on one worker at a time. SIGTERM or SIGINT: no new scope is taken, running ones
    are handed back to the queue at their next page, and the worker exits 0 within 10 s. A
    worker killed outright has its scopes retried elsewhere once its heartbeat is
    `executor.stalled_after` old. Exits 1 when the database is unreachable at start or stays
    so for `stalled_after`; 2 on a bad config (SQLite, or kind other than queue).

    Example: vigil worker --concurrency 16 --metrics 0.0.0.0:9465
    """
    level = log_level_option(log_level)
    from vigil.app import queue
    from vigil.app.config import MetricsConfig

    app_state = state(ctx)
    config = app_state.require_config()
    if config.executor.kind != "queue":
        raise ConfigError(
            f"vigil worker runs the jobs of executor kind queue; {config.path} has kind "
            f"{config.executor.kind}, whose scopes run inside `vigil collect` / `vigil run`",
            path=config.path,
            fix="set executor: {kind: queue} (with a PostgreSQL database_url)",
        )
    address = None
    if metrics is not None:
        try:
            address = MetricsConfig(listen=metrics).address()
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--metrics") from None
    log_without_secrets(config, log_format, level)

    def serve_metrics(worker: queue.WorkerState) -> None:
        if address is None:
            return
        from vigil.app.metrics import MetricsServer
        from vigil.app.metrics.worker import WorkerCollector

        collector = WorkerCollector(lambda: dict(worker.scopes), lambda: worker.running)

        def ready() -> tuple[bool, str]:
            stopping = worker.stopping.is_set()
            return not stopping, "stopping" if stopping else "ok"

        MetricsServer(collector, address, ready=ready).start()

    exit_code = queue.serve(config, concurrency=concurrency, on_ready=serve_metrics)
    logging.shutdown()
    sys.stderr.flush()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate()[1:]):
        # A scope stuck in a network call would hold the interpreter past the promised
        # 10 s; its job is retried elsewhere, its run abandoned by that attempt.
        os._exit(exit_code)
    raise typer.Exit(exit_code)

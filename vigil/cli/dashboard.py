"""`vigil dashboard`: serve the Streamlit dashboard over the configured database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.state import AppState, state
from vigil.config import resolve_database_url

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard_command)


def dashboard_command(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 8501,
    address: Annotated[
        str,
        typer.Option("--address", help="Address to bind; loopback unless you mean otherwise."),
    ] = "127.0.0.1",
) -> None:
    """Serve the dashboard (binds 127.0.0.1 unless --address says otherwise)."""
    serve_dashboard(state(ctx), address=address, port=port)


def serve_dashboard(app_state: AppState, *, address: str, port: int) -> None:
    app_state.database()  # fail here, with a clear message, if the database cannot be opened
    env = {**os.environ, "VIGIL_DATABASE_URL": resolve_database_url(app_state.config())}
    if app_state.config_explicit or Path(app_state.config_path).exists():
        env["VIGIL_CONFIG"] = str(Path(app_state.config_path).resolve())
    typer.echo(f"dashboard on http://{address}:{port} (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    try:
        raise typer.Exit(subprocess.call(command, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None

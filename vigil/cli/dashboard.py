"""`vigil dashboard`: serve the Streamlit dashboard over the configured database."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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
    config = app_state.config()
    env = {**os.environ, "VIGIL_DATABASE_URL": resolve_database_url(config)}
    if app_state.config_explicit or Path(app_state.config_path).exists():
        env["VIGIL_CONFIG"] = str(Path(app_state.config_path).resolve())
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", address,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    oidc = config is not None and bool(config.dashboard.oidc)
    with tempfile.TemporaryDirectory(prefix="vigil-dashboard-") as private:
        if oidc:
            assert config is not None
            from dashboard.auth import write_secrets  # streamlit loads only when serving

            # Streamlit reads OIDC settings only from a secrets file: a private one per start.
            command += ["--secrets.files", str(write_secrets(config, Path(private)))]
        login = "OIDC login" if oidc else "no login configured"
        typer.echo(f"dashboard on http://{address}:{port} ({login}; Ctrl-C to stop)")
        try:
            code = subprocess.call(command, env=env)
        except KeyboardInterrupt:
            code = 0
    raise typer.Exit(code)

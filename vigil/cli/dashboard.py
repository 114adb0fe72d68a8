"""`vigil dashboard`: serve the Streamlit dashboard over the configured database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli.state import AppState, state
from vigil.core.lazy import lazy_import

if TYPE_CHECKING:
    from vigil.app import config as app_config
    from vigil.app import dashboard
else:
    app_config = lazy_import("vigil.app.config")
    dashboard = lazy_import("vigil.app.dashboard")


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard_command)


def dashboard_command(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 8501,
    address: Annotated[
        str,
        typer.Option("--address", help="Address to bind; loopback unless you mean otherwise."),
    ] = "127.0.0.1",
    allow_no_login: Annotated[
        bool,
        typer.Option(
            "--allow-no-login",
            help="Bind beyond loopback without dashboard.oidc; only when something else "
            "restricts who reaches the address (a container port published on 127.0.0.1).",
        ),
    ] = False,
) -> None:
    """Serve the dashboard (binds 127.0.0.1 unless --address says otherwise).

    Beyond loopback it needs a login (dashboard.oidc and dashboard.access) or --allow-no-login.

    Example: vigil dashboard --port 8501
    """
    serve_dashboard(state(ctx), address=address, port=port, allow_no_login=allow_no_login)


def serve_dashboard(
    app_state: AppState, *, address: str, port: int, allow_no_login: bool = False
) -> None:
    config = app_state.config()
    dashboard.check_exposure(config, address, allow_no_login=allow_no_login)
    app_state.database()  # fail here, with a clear message, if the database cannot be opened
    path = Path(app_state.config_path)
    code = dashboard.serve(
        config,
        database_url=app_config.resolve_database_url(config),
        config_path=path if app_state.config_explicit or path.exists() else None,
        address=address,
        port=port,
        announce=typer.echo,
        allow_no_login=allow_no_login,
    )
    raise typer.Exit(code)

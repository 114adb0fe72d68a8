"""`vigil init`: write a commented example config to start from."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.state import state


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)


def example_config() -> str:
    return files("vigil").joinpath("templates/vigil.example.yaml").read_text(encoding="utf-8")


def init_command(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example config (to --config, default ./vigil.yaml)."""
    path = Path(state(ctx).config_path)
    if path.exists() and not force:
        typer.echo(f"vigil: {path} already exists; pass --force to overwrite it", err=True)
        raise typer.Exit(2)
    path.write_text(example_config(), encoding="utf-8")
    typer.echo(f"wrote {path}: edit its sources, then run `vigil collect`")

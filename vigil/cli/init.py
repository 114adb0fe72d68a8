"""`vigil init`: write a commented example config to start from."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.state import state

SCHEMA_FILE = "vigil.schema.json"


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)


def example_config() -> str:
    return files("vigil").joinpath("templates/vigil.example.yaml").read_text(encoding="utf-8")


def init_command(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example config (to --config, default ./vigil.yaml).

    Beside it goes vigil.schema.json, which the config's first line points editors at, so
    VS Code (with the YAML extension) and other YAML language servers complete and check it.

    Example: vigil --config /etc/vigil/vigil.yaml init
    """
    path = Path(state(ctx).config_path)
    if path.exists() and not force:
        typer.echo(f"vigil: {path} already exists; pass --force to overwrite it", err=True)
        raise typer.Exit(2)
    from vigil.app.config_check import schema_text

    modeline = f"# yaml-language-server: $schema=./{SCHEMA_FILE}\n"
    path.write_text(modeline + example_config(), encoding="utf-8")
    path.with_name(SCHEMA_FILE).write_text(schema_text(), encoding="utf-8")
    typer.echo(f"wrote {path} and {SCHEMA_FILE}: edit its sources, then run `vigil collect`")

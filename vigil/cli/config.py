"""`vigil config schema|validate`: the config's JSON Schema for editors, and a dry check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.state import state

config_app = typer.Typer(
    help="The config file: its JSON Schema for editors, and a check that writes nothing.\n\n"
    "Example: vigil config validate /etc/vigil/vigil.yaml",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("schema")
def schema_command(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of vigil.yaml (every source, notifier and rule param).

    Editors that speak the YAML language server complete and check the file with it: put
    `# yaml-language-server: $schema=./vigil.schema.json` on the config's first line
    (`vigil init` does both).

    Example: vigil config schema --out vigil.schema.json
    """
    from vigil.app.config_check import schema_text

    text = schema_text()
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")


@config_app.command("validate")
def validate_command(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="The config to check [default: --config, env VIGIL_CONFIG, ./vigil.yaml]."
        ),
    ] = None,
) -> None:
    """Check a config and the files it names, without touching the database.

    Checks the schema, rule ids and params, rule packs, local Terraform states and Ansible
    inventories, and reports every problem with its file and line. Exit 0 when all is well,
    2 otherwise.

    Example: vigil config validate deploy/vigil.yaml
    """
    path = file or Path(state(ctx).config_path)
    from vigil.app.config_check import validate

    result = validate(path)
    for problem in result.problems:
        typer.echo(f"vigil: error: {problem.message}", err=True)
    if not result.ok:
        count = len(result.problems)
        typer.echo(f"{path}: {count} problem{'s' if count > 1 else ''}", err=True)
        raise typer.Exit(2)
    for line in result.checked:
        typer.echo(f"ok       {line}")
    for line in result.skipped:
        typer.echo(f"skipped  {line}")

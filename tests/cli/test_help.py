"""`--help` shows an example for every command, and the shell completes command names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main

from vigil.cli import app


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


VIGIL = str(Path(sys.executable).with_name("vigil"))
"""The console script: completion is keyed on the program's name."""
COMMANDS = _commands(typer.main.get_command(app))  # type: ignore[arg-type]


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_help_shows_an_example(path: tuple[str, ...]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vigil", *path, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Example: vigil " in result.stdout


def test_bash_completes_command_names() -> None:
    env = {
        **os.environ,
        "_VIGIL_COMPLETE": "complete_bash",
        "COMP_WORDS": "vigil col",
        "COMP_CWORD": "1",
    }
    result = subprocess.run([VIGIL], capture_output=True, text=True, env=env, check=False)
    assert result.stdout.split() == ["collect"]


def test_show_completion_prints_a_script_for_the_shell() -> None:
    # Typer guesses the shell from the parent process; without that guess it takes one.
    env = {**os.environ, "SHELL": "/bin/bash", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    result = subprocess.run(
        [VIGIL, "--show-completion", "bash"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "complete -o default -F _vigil_completion vigil" in result.stdout


def test_help_starts_without_the_storage_layer_or_the_rules() -> None:
    """`vigil --help` and tab completion stay fast: the command line imports the database
    layer, the rules and the collectors only when a command runs (vigil.core.lazy)."""
    probe = (
        "import sys; from vigil.cli import app; "
        "print(sorted(m for m in ('sqlalchemy', 'rules.registry', 'boto3', 'storage.inventory') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

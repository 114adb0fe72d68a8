"""Option types shared by several commands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from vigil.cli.output import OutputFormat
from vigil.model import ResourceType
from vigil.timeutil import TIME_HELP, parse_time


def parse_time_option(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def check_types(values: list[str] | None) -> list[str]:
    known = {t.value for t in ResourceType}
    for value in values or []:
        if value not in known:
            raise typer.BadParameter(
                f"unknown resource type {value!r}; known types: {', '.join(sorted(known))}"
            )
    return values or []


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
]
TypeOption = Annotated[
    list[str] | None,
    typer.Option("--type", "-t", help="Resource type (repeatable).", callback=check_types),
]
SourceOption = Annotated[
    list[str] | None, typer.Option("--source", "-s", help="Source name (repeatable).")
]
TimeHelp = TIME_HELP

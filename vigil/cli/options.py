"""Option types shared by several commands."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from rules.compliance import resolve
from vigil.app.output import OutputFormat
from vigil.core.model import ResourceType
from vigil.core.timeutil import TIME_HELP, is_age, parse_time


def parse_time_option(value: str | None, *, end: bool = False) -> datetime | None:
    """Parse TIME. As an end bound, a time given to the second covers that whole second,
    so a timestamp copied from Vigil's output (which has no fractions) includes its event."""
    if value is None:
        return None
    try:
        moment = parse_time(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if end and not is_age(value) and "." not in value:
        moment += timedelta(seconds=1) - timedelta(microseconds=1)
    return moment


def framework_option(value: str | None) -> str | None:
    """The versioned id of a `--framework` value; old ids such as `cis-aws` stay accepted."""
    if value is None:
        return None
    try:
        return resolve(value)
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

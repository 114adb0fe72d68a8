"""Option types shared by several commands."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from rules.compliance import resolve
from vigil.app.logs import LogFormat, database_secrets, setup_logging
from vigil.app.output import OutputFormat
from vigil.core.errors import secrets_of
from vigil.core.model import ResourceType
from vigil.core.timeutil import TIME_HELP, is_age, parse_time

if TYPE_CHECKING:
    from vigil.app.config import VigilConfig


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


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format", help="text for people, json for log shippers.", case_sensitive=False
    ),
]
LogLevelOption = Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")]


def log_level_option(name: str) -> int:
    """The logging level named by --log-level; a bad name is a usage error."""
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        raise typer.BadParameter(f"unknown log level {name!r}; use debug, info, warning or error")
    return level


def log_without_secrets(config: VigilConfig, log_format: LogFormat, level: int) -> None:
    """Log as a long-running command does: every secret of the config and the database URL
    scrubbed from every line."""
    from vigil.app.config import resolve_database_url

    secrets = [*secrets_of(config), *database_secrets(resolve_database_url(config))]
    setup_logging(log_format, level=level, secrets=secrets)

"""`vigil report`, `vigil report pack`, `vigil report verify`: compliance reports for auditors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rules.compliance import FRAMEWORKS, choices
from vigil.cli.options import SourceOption, TimeHelp, framework_option, parse_time_option
from vigil.cli.state import AppState, state
from vigil.core.errors import InputError
from vigil.core.model import utcnow
from vigil.core.timeutil import is_age, parse_duration

if TYPE_CHECKING:
    from vigil.app.reports.contents import Report, ReportParams

# The report modules are imported inside the commands: fpdf2 and py-ocsf-models take about
# a second to import, which every other `vigil` command would otherwise pay; and the report
# modules use vigil.app.output, which imports this package.
FORMATS = ("html", "pdf", "csv", "json", "ocsf", "sarif")

report_app = typer.Typer(
    help="Compliance reports, evidence packs and their verification.\n\n"
    "Example: vigil report --format pdf --framework soc2-2017 --out soc2.pdf",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


def _format(value: str | None) -> str | None:
    if value is not None and value not in FORMATS:
        raise typer.BadParameter(f"unknown format {value!r}; use {', '.join(FORMATS)}")
    return value


FrameworkOption = Annotated[
    str | None,
    typer.Option(
        "--framework",
        help=f"One framework: {choices()} (default: all).",
        callback=framework_option,
    ),
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help=f"Report the estate as it was then: {TimeHelp}.")
]
SinceOption = Annotated[
    str,
    typer.Option(
        "--since", help="Start of the change period: a time, or an age before the report time."
    ),
]


@report_app.callback()
def report_command(
    ctx: typer.Context,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.", callback=_format),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File to write.")] = None,
    framework: FrameworkOption = None,
    as_of: AsOfOption = None,
    since: SinceOption = "30d",
    source: SourceOption = None,
) -> None:
    """Write a compliance report: scope, controls, findings, exceptions, inventory, changes.

    `vigil report pack --out FILE.zip` writes every format as an evidence pack;
    `vigil report verify FILE.zip` checks one (exit 0 intact, 1 with what differs).

    Example: vigil report --format html --framework cis-aws-3.0 --out report.html
    """
    if ctx.invoked_subcommand is not None:
        return
    if fmt is None or out is None:
        raise typer.BadParameter(
            "give --format and --out, e.g. `vigil report --format html --out report.html`, "
            "or use `vigil report pack` / `vigil report verify`"
        )
    from vigil.app.reports.formats import check_out_path, write_report

    check_out_path(out)
    report = _gather(state(ctx), framework, as_of, since, source)
    write_report(report, fmt, out)
    _summary(report, out)


@report_app.command("pack")
def pack_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Zip file to write.")],
    framework: FrameworkOption = None,
    as_of: AsOfOption = None,
    since: SinceOption = "30d",
    source: SourceOption = None,
) -> None:
    """Write an evidence pack: every format, the CSV tables and a hashed, chained manifest.

    Example: vigil report pack --out evidence-2026-q4.zip --since 90d
    """
    from vigil.app.reports.formats import check_out_path
    from vigil.app.reports.pack import build_pack, load_signing_key

    check_out_path(out)
    app_state = state(ctx)
    config = app_state.config()
    key_path = config.reports.signing_key if config else None
    signing_key = (
        load_signing_key(key_path, config_path=app_state.config_path) if key_path else None
    )
    report = _gather(app_state, framework, as_of, since, source)
    result = build_pack(
        report, app_state.database(), out, now=report.params.generated_at, signing_key=signing_key
    )
    _summary(report, out)
    typer.echo(f"manifest SHA-256 {result.manifest_sha256}")
    typer.echo(f"previous manifest {result.previous_sha256 or 'none (first pack)'}")
    typer.echo(f"signed by key {result.key_id}" if result.key_id else "not signed")


@report_app.command("verify")
def verify_command(
    ctx: typer.Context,
    pack: Annotated[Path, typer.Argument(help="The evidence pack zip.")],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="Ed25519 public key PEM the pack must be signed with."),
    ] = None,
    previous: Annotated[
        Path | None, typer.Option("--previous", help="The pack made before this one.")
    ] = None,
    no_storage: Annotated[
        bool,
        typer.Option("--no-storage", help="Do not check the chain against the database."),
    ] = False,
) -> None:
    """Check a pack's file hashes, signature and chain; exit 0 intact, 1 with what differs.

    Example: vigil report verify evidence-2026-q4.zip --previous evidence-2026-q3.zip
    """
    from vigil.app.reports.pack import load_public_key, load_signing_key, verify_pack

    app_state = state(ctx)
    trusted = load_public_key(public_key) if public_key else None
    config = app_state.config()
    if trusted is None and config is not None and config.reports.signing_key:
        key = load_signing_key(config.reports.signing_key, config_path=app_state.config_path)
        trusted = key.public_key()
    db = None if no_storage else app_state.database()
    result = verify_pack(pack, trusted_key=trusted, db=db, previous=previous)
    for note in result.notes:
        typer.echo(f"ok: {note}")
    for problem in result.problems:
        typer.echo(f"MISMATCH: {problem}")
    if not result.intact:
        typer.echo(f"{pack}: NOT intact ({len(result.problems)} problem(s))")
        raise typer.Exit(1)
    typer.echo(f"{pack}: intact")


def _gather(
    app_state: AppState,
    framework: str | None,
    as_of: str | None,
    since: str,
    sources: list[str] | None,
) -> Report:
    from vigil.app.reports.contents import ReportParams, gather

    config = app_state.config()
    now = utcnow()
    at = parse_time_option(as_of, end=True) or now
    params = ReportParams(
        frameworks=(framework,) if framework else tuple(FRAMEWORKS),
        at=at,
        since=_since(since, at),
        generated_at=now,
        as_of_given=as_of is not None,
        sources=tuple(sources or ()),
        organization=config.reports.organization if config else "",
    )
    db = app_state.database()
    if as_of is not None:
        app_state.require_history(at)
    _check_sources(app_state, params)
    return gather(db, params, config.rules if config else None)


def _since(value: str, at: datetime) -> datetime:
    # An age counts back from the report time, so `--as-of 2026-10-01 --since 7d` is the
    # week before October, not the week before today.
    if is_age(value):
        try:
            return at - parse_duration(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    moment = parse_time_option(value)
    assert moment is not None
    return moment


def _check_sources(app_state: AppState, params: ReportParams) -> None:
    from storage.runs import scopes_at

    if not params.sources:
        return
    config = app_state.config()
    known = {s.name for s in config.sources} if config else set()
    known |= {s.source for s in scopes_at(app_state.database(), params.at)}
    for name in params.sources:
        if name not in known:
            raise InputError(
                f"--source {name}: no source of that name in the config or the inventory",
                fix=f"use one of: {', '.join(sorted(known)) or 'none (run `vigil collect` first)'}",
            )


def _summary(report: Report, out: Path) -> None:
    totals = report.totals()
    controls = totals["controls"]
    typer.echo(
        f"wrote {out}: {totals['resources']} resources, {totals['open_findings']} open findings, "
        f"controls {controls['pass']} passed / {controls['fail']} failed / "
        f"{controls['not_evaluated']} not evaluated, {totals['incomplete_scopes']} incomplete "
        f"scope(s), {totals['exceptions']} accepted exception(s)"
    )

"""`vigil check`: evaluate the rules on the current inventory and update findings."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from vigil import check as use_case
from vigil.cli.state import state
from vigil.model import SEVERITY_ORDER, Severity


def register(app: typer.Typer) -> None:
    app.command("check")(check_command)


def check_command(
    ctx: typer.Context,
    fail_on: Annotated[
        Severity | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when an open, unsilenced finding of this severity or higher exists.",
            case_sensitive=False,
        ),
    ] = None,
    no_notify: Annotated[
        bool,
        typer.Option(
            "--no-notify",
            help="Do not send notifications. Until alerting lands, check never notifies, "
            "so this is the only mode.",
        ),
    ] = False,
) -> None:
    """Evaluate every enabled rule on the current inventory and update findings.

    Prints open findings by severity and what changed (new, reopened, resolved). Exits 0
    whatever it finds unless --fail-on is given. Notifications are not sent yet.
    """
    app_state = state(ctx)
    config = app_state.config()
    result = use_case.run_check(app_state.database(), config)
    print_summary(result, Console(soft_wrap=True))
    if fail_on is not None and result.open_at_least(fail_on):
        raise typer.Exit(1)


def print_summary(result: use_case.CheckResult, console: Console) -> None:
    evaluation = result.evaluation
    console.print(
        Text(
            f"checked {result.resources} resources with {len(evaluation.rules)} rules "
            f"in {evaluation.seconds:.2f}s: {len(evaluation.findings)} findings"
        )
    )
    by_severity = ", ".join(
        f"{sev.value} {result.open_by_severity.get(sev, 0)}" for sev in SEVERITY_ORDER
    )
    console.print(Text(f"open: {by_severity}"))
    kinds = Counter(t.kind.value for t in result.transitions)
    order = ("new", "reopened", "resolved", "silenced", "unsilenced", "still_open")
    console.print(Text("transitions: " + ", ".join(f"{k} {kinds.get(k, 0)}" for k in order)))
    for transition in result.transitions:
        if transition.kind.value == "still_open":
            continue
        finding = transition.finding
        console.print(
            Text(f"  {transition.kind.value:<10} {finding.severity.value:<8} {finding.title}")
        )

"""`vigil check`: evaluate the rules on the current inventory and update findings."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from vigil.cli.state import state
from vigil.core.lazy import lazy_import
from vigil.core.model import SEVERITY_ORDER, Severity

if TYPE_CHECKING:
    from vigil.app import check as use_case
    from vigil.app import notify
else:
    use_case = lazy_import("vigil.app.check")
    notify = lazy_import("vigil.app.notify")


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
            help="Update findings without queueing or sending notifications.",
        ),
    ] = False,
) -> None:
    """Evaluate every enabled rule on the current inventory, update findings and notify.

    Prints open findings by severity and what changed (new, reopened, resolved). Transitions
    are routed by the config's `routes`, written to the outbox with the findings, then sent;
    a send that fails is retried with backoff by the next check or `vigil run` (see
    `vigil notify status`). Exits 0 whatever it finds unless --fail-on is given; a failed
    send does not change the exit code.

    Example: vigil check --fail-on high --no-notify
    """
    app_state = state(ctx)
    config = app_state.config()
    engine = use_case.prepare_engine(config)  # bad packs or state files: exit 2, no database
    db = app_state.database()
    hook = None if no_notify else notify.outbox_hook(config)
    result = use_case.run_check(db, config, engine=engine, on_transitions=hook)
    console = Console(soft_wrap=True)
    print_summary(result, console)
    if hook is not None and config is not None:
        print_delivery(notify.deliver(db, config), console)
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
    order = (
        "new", "reopened", "resolved", "silenced", "unsilenced", "still_open", "severity_changed"
    )  # fmt: skip
    console.print(Text("transitions: " + ", ".join(f"{k} {kinds.get(k, 0)}" for k in order)))
    for transition in result.transitions:
        if transition.kind.value == "still_open":
            continue
        finding = transition.finding
        console.print(
            Text(f"  {transition.kind.value:<10} {finding.severity.value:<8} {finding.title}")
        )


def print_delivery(report: notify.DeliveryReport, console: Console) -> None:
    """One line on what was sent; errors are ours (never a secret) but quoted as plain text."""
    console.print(
        Text(
            f"notifications: {report.sent} sent, {report.failed} failed (will retry), "
            f"{report.dead} dead"
        )
    )
    for error in report.errors[:10]:
        console.print(Text(f"  {error}"))

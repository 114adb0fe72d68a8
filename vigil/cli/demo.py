"""`vigil demo`: build the embedded demo estate, run one full cycle, print a summary."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from storage import queries
from vigil.app import check
from vigil.app import collect as pipeline
from vigil.cli.check import print_summary as print_check_summary
from vigil.cli.collect import print_summary
from vigil.cli.dashboard import serve_dashboard
from vigil.cli.state import state


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)


def demo_command(
    ctx: typer.Context,
    servers_per_region: Annotated[
        int, typer.Option("--servers-per-region", min=1, max=2000, help="Size of the estate.")
    ] = 8,
    serve: Annotated[
        bool, typer.Option("--serve", help="Then serve the dashboard until interrupted.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Dashboard port with --serve.")] = 8501,
) -> None:
    """Build a fake AWS account (three regions, seeded problems) and run one full cycle.

    The estate lives in an embedded moto server for the length of the command; the inventory
    goes into the configured database, where every other command (and the dashboard) sees it.
    """
    # Seeding needs boto3 and cryptography: loaded here, not on every `vigil` start.
    from vigil.app.demo import DEMO_REGIONS, fake_aws
    from vigil.app.demo_estate import seed_estate

    app_state = state(ctx)
    db = app_state.database()
    console = Console()
    with fake_aws() as aws:
        console.print(f"seeding a fake AWS account in {', '.join(DEMO_REGIONS)} ...")
        estate = seed_estate(
            aws.endpoint_url, regions=DEMO_REGIONS, servers_per_region=servers_per_region
        )
        result = pipeline.collect(db, [aws.source()])
    print_summary(result, console)
    counts = Counter(r.type for r in queries.inventory(db))
    table = Table("type", "resources", title=f"demo account {estate.account}")
    for type_, count in sorted(counts.items()):
        table.add_row(type_, str(count))
    console.print(table)
    console.print(
        "seeded problems: "
        + ", ".join(f"{rule} ({len(ids)})" for rule, ids in sorted(estate.problems.items()))
    )
    print_check_summary(check.run_check(db, app_state.config()), console)
    console.print("next: `vigil findings`, `vigil inventory`, `vigil changes`, `vigil dashboard`")
    if result.failed:
        raise typer.Exit(1)
    if serve:
        serve_dashboard(app_state, address="127.0.0.1", port=port)

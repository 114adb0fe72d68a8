"""`vigil demo`: build the embedded demo estate, run one full cycle, print a summary."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.check import print_summary as print_check_summary
from vigil.cli.collect import print_summary

DEMO_DATABASE_URL = "sqlite:///demo/vigil.db"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)


def demo_command(
    servers_per_region: Annotated[
        int, typer.Option("--servers-per-region", min=1, max=2000, help="Size of the estate.")
    ] = 8,
    serve: Annotated[
        bool, typer.Option("--serve", help="Then serve the dashboard until interrupted.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Dashboard port with --serve.")] = 8501,
    database: Annotated[
        str,
        typer.Option(
            "--database",
            help="Where the demo writes. Never the configured database or VIGIL_DATABASE_URL.",
        ),
    ] = DEMO_DATABASE_URL,
) -> None:
    """Build a fake AWS account (three regions, seeded problems) and run one full cycle.

    The estate lives in an embedded moto server for the length of the command; the inventory
    goes into the demo's own database (./demo/vigil.db unless --database says otherwise),
    sealed from the configured one, so a fake estate never reaches real routes.

    Example: vigil demo --serve
    (from the CLI, look at it with VIGIL_DATABASE_URL=sqlite:///demo/vigil.db vigil findings)
    """
    # Seeding needs boto3 and cryptography: loaded here, not on every `vigil` start.
    from storage import inventory
    from storage.db import Database
    from vigil.app import check, dashboard
    from vigil.app import collect as pipeline
    from vigil.app.demo import DEMO_REGIONS, fake_aws
    from vigil.app.demo_estate import seed_estate
    from vigil.core.urls import redact_url

    db = Database(database)
    console = Console()
    with fake_aws() as aws:
        console.print(f"seeding a fake AWS account in {', '.join(DEMO_REGIONS)} ...")
        estate = seed_estate(
            aws.endpoint_url, regions=DEMO_REGIONS, servers_per_region=servers_per_region
        )
        result = pipeline.collect(db, [aws.source()])
    print_summary(result, console)
    counts = Counter(r.type for r in inventory.inventory(db))
    table = Table("type", "resources", title=f"demo account {estate.account}")
    for type_, count in sorted(counts.items()):
        table.add_row(type_, str(count))
    console.print(table)
    console.print(
        "seeded problems: "
        + ", ".join(f"{rule} ({len(ids)})" for rule, ids in sorted(estate.problems.items()))
    )
    # Default rules and no notifiers: the user's config (and its routes) never sees the demo.
    print_check_summary(check.run_check(db, None), console)
    console.print(
        f"the demo's database is {redact_url(database)}; look at it with "
        f"`VIGIL_DATABASE_URL={database} vigil findings` (or inventory, changes)"
    )
    if result.failed:
        raise typer.Exit(1)
    if serve:
        code = dashboard.serve(
            None,
            database_url=database,
            config_path=None,
            address="127.0.0.1",
            port=port,
            announce=typer.echo,
        )
        raise typer.Exit(code)

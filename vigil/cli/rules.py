"""`vigil rules list|show`: every rule with its severity, types, params and compliance."""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rules.compliance import choices
from vigil.app.output import OutputFormat, render
from vigil.cli.options import FormatOption, framework_option
from vigil.cli.state import state
from vigil.core.lazy import lazy_import

if TYPE_CHECKING:
    from rules import registry
    from rules.base import Rule
else:
    registry = lazy_import("rules.registry")

COLUMNS = ("id", "severity", "types", "description")

rules_app = typer.Typer(
    help="The rules Vigil evaluates.\n\nExample: vigil rules show backup.missing",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


def _rules(ctx: typer.Context) -> list[Rule]:
    config = state(ctx).config()
    return registry.all_rules(config.rules if config else None)


def description(rule: Rule) -> str:
    return (inspect.getdoc(rule) or rule.title).split("\n\n")[0].replace("\n", " ")


def summary(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "severity": rule.severity.value,
        "types": list(rule.resource_types),
        "description": description(rule),
        "compliance": {k: list(v) for k, v in rule.compliance.items()},
    }


@rules_app.command("list")
def list_command(
    ctx: typer.Context,
    framework: Annotated[
        str | None,
        typer.Option(
            "--framework", help=f"Only rules mapped to: {choices()}.", callback=framework_option
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """List every rule (built-in and packs): id, default severity, types, description.

    Example: vigil rules list --framework pci-dss-4.0
    """
    rules = [r for r in _rules(ctx) if framework is None or r.compliance.get(framework)]
    columns = (*COLUMNS, "controls") if framework else COLUMNS
    rows = (
        summary(r) | ({"controls": list(r.compliance[framework])} if framework else {})
        for r in rules
    )
    render(rows, fmt, columns=columns, empty="no rules match")


@rules_app.command("show")
def show_command(
    ctx: typer.Context, rule_id: Annotated[str, typer.Argument(help="The rule id.")]
) -> None:
    """Show one rule in full: description, params with defaults, remediation, controls.

    Example: vigil rules show backup.missing
    """
    rule = registry.find_rule(rule_id, _rules(ctx))
    lines = [
        f"{rule.id}: {rule.title}",
        f"severity: {rule.severity.value}",
        f"types: {', '.join(rule.resource_types) or '(scopes)'}",
        "",
        inspect.getdoc(rule) or rule.title,
        "",
        f"params (rules.params.{rule.id}):",
    ]
    defaults = rule.params_model().model_dump(mode="json")
    lines.extend(f"  {name}: {json.dumps(value)}" for name, value in defaults.items())
    if not defaults:
        lines.append("  (none)")
    lines += ["", f"remediation: {rule.remediation}", "compliance:"]
    lines.extend(f"  {fw}: {', '.join(controls)}" for fw, controls in rule.compliance.items())
    typer.echo("\n".join(lines))

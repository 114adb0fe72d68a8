"""`drift.changed`: a watched attribute changed between two completed scans.

Storage records a change event only when a completed scope run applies it, so every event
here is a change between two completed scans: a failed or partial scan never shows up as
drift. The finding holds for `window` after the change (then resolves), or until a silence
acknowledges it; several changes in the window are folded into first old → last new, and an
attribute that changed back is not drift.

Unknown is not empty holds without a check here: every input is an event a completed scan
recorded, so it is known when read. A resource whose scope fails now keeps its finding (the
finding store resolves only on a completed scope), and a resource deleted since has no drift.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pydantic import Field

from rules.base import describe, finding
from rules.compliance import Controls
from rules.view import Change, InventoryView
from vigil.core.model import Finding, ResourceType, Severity
from vigil.core.schema import Duration, StrictModel

DEFAULT_WATCH = [
    "ingress",
    "egress",
    "instance_type",
    "public_ips",
    "encrypted",
    "storage_encrypted",
    "backup_retention_days",
    "publicly_accessible",
]
_SHORT_VALUE = 60


class ChangedParams(StrictModel):
    """`rules.params.drift.changed`: which attributes to watch, and how long drift shows.

    Entries are attribute names (`instance_type`) or change paths (`tags.owner`, `name`).
    """

    watch: list[str] = Field(default_factory=lambda: list(DEFAULT_WATCH))
    window: Duration = timedelta(hours=24)


def _path(entry: str) -> str:
    if entry == "name" or entry.startswith(("attributes.", "tags.")):
        return entry
    return f"attributes.{entry}"


def fold(changes: list[Change], watched: frozenset[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """uid → path → {old, new, at}: the first old and last new value of each watched path."""
    folded: dict[str, dict[str, dict[str, Any]]] = {}
    for change in sorted(changes, key=lambda c: c.at):
        for path, values in change.changes.items():
            if path not in watched or not isinstance(values, dict):
                continue
            entry = folded.setdefault(change.uid, {}).get(path)
            if entry is None:
                folded[change.uid][path] = {
                    "old": values.get("old"),
                    "new": values.get("new"),
                    "at": change.at.isoformat(),
                }
            else:
                entry["new"] = values.get("new")
                entry["at"] = change.at.isoformat()
    for uid in list(folded):
        paths = {p: v for p, v in folded[uid].items() if v["old"] != v["new"]}
        if paths:
            folded[uid] = paths
        else:
            del folded[uid]
    return folded


def _short(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{len(value)} entries"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHORT_VALUE else text[: _SHORT_VALUE - 1] + "…"


class AttributeChanged:
    """A watched attribute of a resource changed (security-group rules, instance type,
    public IPs, encryption, backup retention, public accessibility), within `window`."""

    id = "drift.changed"
    title = "Watched attribute changed"
    severity = Severity.MEDIUM
    resource_types = tuple(t.value for t in ResourceType)
    params_model = ChangedParams
    remediation = (
        "Confirm the change was intended (find it in CloudTrail or the deploy log); revert it "
        "if not, and bring the declared baseline (Terraform) in line if it was. Silence the "
        "finding to acknowledge it."
    )
    # Not CIS 4.10 (a CloudWatch metric filter and alarm, which Vigil does not check), nor
    # ISO A.8.32 (that changes follow a procedure): this rule sees configuration drift.
    compliance: Controls = {"soc2-2017": ("CC8.1",), "iso27001-2022": ("A.8.9",)}

    def evaluate(self, view: InventoryView, params: ChangedParams) -> Iterator[Finding]:
        watched = frozenset(_path(entry) for entry in params.watch)
        folded = fold(view.changes_since(view.now - params.window), watched)
        if not folded:
            return
        present = view.by_uid
        for uid, paths in folded.items():
            resource = present.get(uid)
            if resource is None:
                continue  # deleted since: nothing left to drift
            summary = ", ".join(
                f"{path.removeprefix('attributes.')} {_short(v['old'])} → {_short(v['new'])}"
                for path, v in paths.items()
            )
            yield finding(
                self,
                resource,
                f"{resource.type} {describe(resource)} changed: {summary}",
                f"{len(paths)} watched attribute(s) changed in the last window "
                f"({', '.join(sorted(paths))}).",
                evidence={"changes": paths},
            )

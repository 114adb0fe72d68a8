"""A compliance report's content, gathered once from storage; every format renders from it.

`gather` reads the scope runs, findings, silences and rule mappings once, and pins two
instants: the report time `at` (the `--as-of` time, or now) and the start of the change
period. The inventory and the changes are large, so the report keeps their counts and
streams the rows again from storage when a format asks (`Report.inventory()`,
`Report.changes()`); both queries replay history up to the pinned instants, so every
format of a pack shows the same rows, and memory stays bounded at any estate size.

Resource attributes are left out of every report: they are the provider's raw fields,
large, and not what an auditor files; `vigil inventory --format json` has them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.compliance import FRAMEWORKS, resolve
from rules.config import RulesConfig
from storage import history, inventory
from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from storage.history import change_counts
from storage.inventory import inventory_counts
from storage.runs import ScopeSummary, scopes_at
from storage.silences import Silence, SilenceStore
from vigil import __version__
from vigil.app.reports.controls import ControlResult, RuleInfo, evaluate_controls, rule_catalog
from vigil.core.model import FindingStatus, Resource, Severity, iso
from vigil.core.transitions import StoredFinding

FORMATS = ("html", "pdf", "csv", "json", "ocsf", "sarif")
"""Every report format, in the order a pack holds them."""

INVENTORY_COLUMNS = (
    "uid",
    "type",
    "name",
    "native_id",
    "source",
    "account",
    "region",
    "tags",
    "first_seen",
    "last_seen",
)
FINDING_COLUMNS = (
    "severity",
    "status",
    "rule",
    "title",
    "resource_uid",
    "native_id",
    "type",
    "source",
    "account",
    "region",
    "first_seen",
    "age_days",
    "controls",
    "remediation",
    "silence_id",
    "fingerprint",
)
CHANGE_COLUMNS = ("at", "kind", "type", "native_id", "name", "source", "account", "region", "uid")
EXCEPTION_COLUMNS = (
    "id",
    "rule",
    "resource",
    "match",
    "reason",
    "author",
    "created_at",
    "expires_at",
    "findings",
)


@dataclass(frozen=True)
class ReportParams:
    """What the report covers: frameworks, the report time, the change period, sources."""

    frameworks: tuple[str, ...]
    at: datetime
    since: datetime
    generated_at: datetime
    as_of_given: bool = False
    sources: tuple[str, ...] = ()
    organization: str = ""

    def __post_init__(self) -> None:
        # Old unversioned ids (`cis-aws`) mean their versioned framework (`cis-aws-3.0`).
        versioned = tuple(dict.fromkeys(resolve(f) for f in self.frameworks))
        object.__setattr__(self, "frameworks", versioned)

    def to_dict(self) -> dict[str, Any]:
        return {
            "frameworks": list(self.frameworks),
            "as_of": iso(self.at),
            "as_of_given": self.as_of_given,
            "changes_since": iso(self.since),
            "generated_at": iso(self.generated_at),
            "sources": list(self.sources),
            "organization": self.organization,
            "vigil_version": __version__,
        }


@dataclass(frozen=True)
class ReportFinding:
    """A finding open (or silenced) at the report time, with what an auditor needs."""

    finding: StoredFinding
    status: FindingStatus
    rule_title: str
    remediation: str
    controls: tuple[str, ...]
    age_days: int
    silence: Silence | None = None

    def to_dict(self) -> dict[str, Any]:
        f = self.finding
        return {
            "fingerprint": f.fingerprint,
            "rule": f.rule,
            "rule_title": self.rule_title,
            "severity": f.severity.value,
            "status": self.status.value,
            "title": f.title,
            "detail": f.detail,
            "resource_uid": f.resource_uid,
            "native_id": f.native_id,
            "type": f.type,
            "source": f.source,
            "account": f.account,
            "region": f.region,
            "first_seen": iso(f.first_seen),
            "last_seen": iso(f.last_seen),
            "age_days": self.age_days,
            "controls": list(self.controls),
            "remediation": self.remediation,
            "silence_id": self.silence.id if self.silence else None,
        }


@dataclass(frozen=True)
class ExceptionEntry:
    """An accepted exception: a silence active at the report time, and what it covers."""

    silence: Silence
    findings: int

    def to_dict(self) -> dict[str, Any]:
        return self.silence.to_dict() | {"findings": self.findings}


@dataclass
class Report:
    """Everything a report says; formats render it and never query storage themselves,
    except to stream the inventory and changes through `inventory()` and `changes()`."""

    params: ReportParams
    scopes: list[ScopeSummary]
    controls: list[ControlResult]
    findings: list[ReportFinding]
    exceptions: list[ExceptionEntry]
    rules: dict[str, RuleInfo]
    resources_by_type: Counter[str]
    accounts: Counter[str]
    regions: Counter[str]
    sources: Counter[str]
    changes_by_kind: Counter[str]
    last_check: datetime | None
    db: Database = field(repr=False)
    rules_config: RulesConfig | None = field(default=None, repr=False)
    """The configured `rules:` block: sections that judge like a rule use its params."""

    @property
    def incomplete_scopes(self) -> list[ScopeSummary]:
        return [s for s in self.scopes if s.incomplete]

    @property
    def open_findings(self) -> list[ReportFinding]:
        return [f for f in self.findings if f.status == FindingStatus.OPEN]

    def open_by_severity(self) -> dict[str, int]:
        counts = Counter(f.finding.severity.value for f in self.open_findings)
        return {s.value: counts.get(s.value, 0) for s in Severity}

    def control_counts(self) -> dict[str, int]:
        counts = Counter(c.status for c in self.controls)
        return {s: counts.get(s, 0) for s in ("pass", "fail", "not_evaluated")}

    def totals(self) -> dict[str, Any]:
        """The headline numbers, the same in every format."""
        return {
            "resources": sum(self.resources_by_type.values()),
            "sources": len(self.sources),
            "accounts": len(self.accounts),
            "regions": len(self.regions),
            "scopes": len(self.scopes),
            "incomplete_scopes": len(self.incomplete_scopes),
            "open_findings": len(self.open_findings),
            "silenced_findings": len(self.findings) - len(self.open_findings),
            "open_by_severity": self.open_by_severity(),
            "controls": self.control_counts(),
            "exceptions": len(self.exceptions),
            "changes": sum(self.changes_by_kind.values()),
            "last_check": iso(self.last_check),
        }

    def _filter(self) -> inventory.InventoryFilter:
        return inventory.InventoryFilter(sources=self.params.sources)

    def inventory(self) -> Iterator[Resource]:
        """The present inventory at the report time, streamed from storage by uid."""
        return inventory.inventory(self.db, self._filter(), as_of=self.params.at)

    def changes(self) -> Iterator[history.ChangeEvent]:
        """The change events of the period, in time order, streamed from storage."""
        filters = inventory.InventoryFilter(sources=self.params.sources, include_deleted=True)
        return history.changes(
            self.db, since=self.params.since, until=self.params.at, filters=filters
        )


def gather(db: Database, params: ReportParams, rules_config: RulesConfig | None = None) -> Report:
    """Read everything the report says from storage, once."""
    catalog = rule_catalog(rules_config)
    scopes = scopes_at(db, params.at, params.sources)
    store = FindingStore(db)
    silences = SilenceStore(db).silences()
    findings, last_check = _findings_at(store, params, catalog, silences)
    exceptions = _exceptions(silences, findings, params.at)
    controls = evaluate_controls(params.frameworks, catalog, findings, scopes, last_check)
    report = Report(
        params=params,
        scopes=scopes,
        controls=controls,
        findings=findings,
        exceptions=exceptions,
        rules=catalog,
        resources_by_type=Counter(),
        accounts=Counter(),
        regions=Counter(),
        sources=Counter(),
        changes_by_kind=Counter(),
        last_check=last_check,
        db=db,
        rules_config=rules_config,
    )
    _count_inventory(report)
    return report


def _count_inventory(report: Report) -> None:
    params = report.params
    counts = inventory_counts(report.db, params.at, params.sources)
    report.resources_by_type.update(counts["type"])
    report.accounts.update(counts["account"])
    report.regions.update(counts["region"])
    report.sources.update(counts["source"])
    # A scope that collected nothing (or failed) still belongs to the report's scope.
    for scope in report.scopes:
        report.accounts.setdefault(scope.account, 0)
        report.regions.setdefault(scope.region, 0)
        report.sources.setdefault(scope.source, 0)
    report.changes_by_kind.update(change_counts(report.db, params.since, params.at, params.sources))


def _findings_at(
    store: FindingStore,
    params: ReportParams,
    catalog: dict[str, RuleInfo],
    silences: list[Silence],
) -> tuple[list[ReportFinding], datetime | None]:
    """Findings open or silenced at the report time, and when a check last recorded any.

    Now: the stored status. At a past time: first seen by then and not yet resolved, and
    silenced when a silence active then covers it (the findings table keeps each finding's
    latest lifecycle, so a resolve-and-reopen before then is not replayed).
    """
    by_id = {s.id: s for s in silences}
    active = [s for s in silences if s.created_at <= params.at < s.expires_at]
    query = FindingQuery(statuses=(), sources=params.sources)
    found: list[ReportFinding] = []
    last_check: datetime | None = None
    for stored in store.findings(query):
        if stored.first_seen > params.at:
            continue
        seen = min(stored.last_seen, params.at)
        last_check = seen if last_check is None else max(last_check, seen)
        status, silence = _status_at(stored, params, active, by_id)
        if status is None:
            continue
        info = catalog.get(stored.rule) or RuleInfo.unknown(stored.rule)
        age = max(0, (params.at - stored.first_seen).days)
        controls = info.control_labels(params.frameworks)
        found.append(
            ReportFinding(stored, status, info.title, info.remediation, controls, age, silence)
        )
    found.sort(key=lambda f: (-f.finding.severity.rank, f.finding.rule, f.finding.resource_uid))
    return found, last_check


def _status_at(
    stored: StoredFinding,
    params: ReportParams,
    active: list[Silence],
    by_id: dict[str, Silence],
) -> tuple[FindingStatus | None, Silence | None]:
    if not params.as_of_given:
        if stored.status == FindingStatus.RESOLVED:
            return None, None
        silence = by_id.get(stored.silence_id or "")
        return stored.status, silence
    if stored.resolved_at is not None and stored.resolved_at <= params.at:
        return None, None
    silence = next((s for s in active if s.matches(stored)), None)
    return (FindingStatus.SILENCED if silence else FindingStatus.OPEN), silence


def _exceptions(
    silences: list[Silence], findings: list[ReportFinding], at: datetime
) -> list[ExceptionEntry]:
    covered = Counter(f.silence.id for f in findings if f.silence is not None)
    return [
        ExceptionEntry(s, covered.get(s.id, 0))
        for s in silences
        if s.created_at <= at < s.expires_at
    ]


def framework_name(framework: str) -> str:
    return FRAMEWORKS.get(framework, framework)


# -- rows shared by the CSV, JSON and pack writers ----------------------------------------


def inventory_row(resource: Resource) -> dict[str, Any]:
    return {
        "uid": resource.uid,
        "type": resource.type,
        "name": resource.name,
        "native_id": resource.native_id,
        "source": resource.source,
        "account": resource.account,
        "region": resource.region,
        "tags": resource.tags,
        "first_seen": iso(resource.first_seen),
        "last_seen": iso(resource.last_seen),
    }


def change_row(event: history.ChangeEvent) -> dict[str, Any]:
    return event.to_dict()

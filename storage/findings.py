"""Findings: the lifecycle of what the rules found (silences: storage/silences.py).

`FindingStore.apply` folds one check's findings into the `findings` table in one
transaction and returns the transitions. Its rules, in order of precedence:

- a finding on a resource whose scope's newest finished run *failed* keeps its status (a
  partial scan never resolves or reopens anything); a brand-new one still opens;
- produced and matched by an unexpired silence → `silenced`;
- produced → `open` (new, reopened when it was resolved, unsilenced when it was silenced);
- not produced but unjudged (the rule's inputs were unknown) → keeps its status;
- not produced → `resolved`, when the resource's scope's newest finished run completed, the
  resource was deleted or retired (only a completed scope or a whole-config pass does that),
  or the subject is not an inventory resource (scopes, Terraform addresses: the rule alone
  decides those); a finding of a rule no longer enabled resolves whatever its scope did.

A resolved finding says why (`resolution`): `retired` (its resource left the config),
`rule_disabled` (its rule is no longer enabled, or was run with other params than the ones
that found it: `params_hash`), `deleted`, else `fixed`. Only fixed and deleted announce it.

`on_transitions` runs inside the same transaction after the writes, so whatever it writes
(the alerting outbox) commits or rolls back together with the findings.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.expressions import FINDINGS_WITH_RESOURCES, Page, day_text, days_before
from storage.runs import finished_status
from storage.silences import Silence, active_silences
from storage.tables import (
    chunks,
    findings_table,
    resources,
    to_utc,
)
from vigil.core.model import Finding, FindingStatus, Resolution, ResourceState, RunStatus, Severity
from vigil.core.transitions import StoredFinding, Transition, TransitionKind

OPEN = FindingStatus.OPEN.value

TransitionHook = Callable[[Connection, Sequence[Transition]], None]
"""Called with the check's transitions inside the findings transaction (e.g. write an outbox)."""


@dataclass(frozen=True)
class FindingQuery:
    """Findings filters, as `vigil findings` takes them, plus the resource's owner tag.

    Empty fields match everything; frozen, so it can key the dashboard's cache.
    """

    statuses: tuple[str, ...] = (OPEN,)
    severities: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    owner: str = ""  # the resource's `owner` tag, which rules copy into the finding's labels

    def where(self) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        for column, values in (
            ("status", self.statuses),
            ("severity", self.severities),
            ("rule", self.rules),
            ("source", self.sources),
        ):
            if values:
                conditions.append(findings_table.c[column].in_(values))
        if self.owner:
            conditions.append(findings_table.c.labels["owner"].as_string() == self.owner)
        return conditions


@dataclass
class _Subject:
    state: str | None
    scope_key: str | None


@dataclass
class _Plan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[tuple[TransitionKind, FindingStatus | None, str]] = field(
        default_factory=list
    )


class FindingStore:
    """Reads and writes findings (silences: `storage.silences.SilenceStore`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the check ----------------------------------------------------------------------

    def apply(
        self,
        produced: Iterable[Finding],
        now: datetime,
        *,
        on_transitions: TransitionHook | None = None,
        unjudged: Collection[str] = frozenset(),
        rules: Mapping[str, str] | None = None,
    ) -> list[Transition]:
        """Fold one check's findings in; returns every transition (still-open included).

        `unjudged` are fingerprints whose rule could not judge its resource (an input was
        unknown): a stored finding among them is left as it is, neither resolved nor reopened.
        `rules` maps every enabled rule to the digest of its params (None: not known, so
        nothing resolves as rule_disabled).
        """
        by_fingerprint = {f.fingerprint: f for f in produced}
        with self.db.begin() as conn:
            existing = {
                row["fingerprint"]: row
                for row in _existing(conn, by_fingerprint)
                if row["fingerprint"] not in unjudged
            }
            silences = active_silences(conn, now)
            subjects = _subjects(conn, {row["resource_uid"] for row in existing.values()})
            failed = _failed_scopes(conn)
            judged = _Judged(subjects, failed, rules)
            plan = _plan(by_fingerprint, existing, silences, judged, now)
            _write(conn, plan)
            transitions = _transitions(conn, plan)
            if on_transitions is not None:
                on_transitions(conn, transitions)
        return transitions

    # -- reading ------------------------------------------------------------------------

    def findings(self, query: FindingQuery | None = None) -> Iterator[StoredFinding]:
        """Findings, most severe first, then newest."""
        query = query or FindingQuery()
        select = (
            sa.select(findings_table)
            .where(*query.where())
            .order_by(RANK.desc(), findings_table.c.last_seen.desc())
        )
        with self.db.connect() as conn:
            for row in conn.execute(select).mappings():
                yield _stored(row)

    def counts(self) -> dict[tuple[str, str], int]:
        """(status, severity) → number of findings."""
        select = sa.select(
            findings_table.c.status, findings_table.c.severity, sa.func.count()
        ).group_by(findings_table.c.status, findings_table.c.severity)
        with self.db.connect() as conn:
            return {(row[0], row[1]): int(row[2]) for row in conn.execute(select)}


def _existing(conn: Connection, produced: dict[str, Finding]) -> Iterator[sa.RowMapping]:
    """Stored findings that may change: all not yet resolved, and the produced ones."""
    columns = [
        findings_table.c.fingerprint,
        findings_table.c.status,
        findings_table.c.severity,
        findings_table.c.resource_uid,
        findings_table.c.silence_id,
        findings_table.c.reopened_count,
        findings_table.c.rule,
        findings_table.c.params_hash,
    ]
    seen: set[str] = set()
    unresolved = sa.select(*columns).where(findings_table.c.status != FindingStatus.RESOLVED.value)
    for row in conn.execute(unresolved).mappings():
        seen.add(row["fingerprint"])
        yield row
    wanted = [fp for fp in produced if fp not in seen]
    for chunk in chunks(wanted):
        yield from conn.execute(
            sa.select(*columns).where(findings_table.c.fingerprint.in_(chunk))
        ).mappings()


def _subjects(conn: Connection, uids: set[str]) -> dict[str, _Subject]:
    """uid → the resource's state and scope, for the uids that are inventory resources."""
    found: dict[str, _Subject] = {}
    listed = sorted(uids)
    for chunk in chunks(listed):
        query = sa.select(resources.c.uid, resources.c.state, resources.c.scope_key).where(
            resources.c.uid.in_(chunk)
        )
        for row in conn.execute(query):
            found[row.uid] = _Subject(row.state, row.scope_key)
    return found


def _failed_scopes(conn: Connection) -> set[str]:
    """Scopes whose newest finished run failed (running runs do not count yet)."""
    return {key for key, status in finished_status(conn).items() if status != RunStatus.COMPLETE}


@dataclass(frozen=True)
class _Judged:
    """What decides a stored finding's fate: its resource, failed scopes, the enabled rules."""

    subjects: dict[str, _Subject]
    failed: set[str]
    rules: Mapping[str, str] | None

    def frozen(self, uid: str) -> bool:
        subject = self.subjects.get(uid)
        return (
            subject is not None
            and subject.state == ResourceState.PRESENT.value
            and subject.scope_key in self.failed
        )

    def disabled(self, rule: str) -> bool:
        return self.rules is not None and rule not in self.rules

    def digest(self, rule: str) -> str | None:
        return self.rules.get(rule) if self.rules is not None else None

    def resolution(self, row: sa.RowMapping) -> Resolution:
        """Why an unproduced finding resolves (retirement first: the resource is gone from
        what Vigil looks at, whatever the rule)."""
        subject = self.subjects.get(row["resource_uid"])
        state = subject.state if subject else None
        if state == ResourceState.RETIRED.value:
            return Resolution.RETIRED
        digest, stored = self.digest(row["rule"]), row["params_hash"]
        if self.disabled(row["rule"]) or (digest and stored and digest != stored):
            return Resolution.RULE_DISABLED
        if state == ResourceState.DELETED.value:
            return Resolution.DELETED
        return Resolution.FIXED


def _plan(
    produced: dict[str, Finding],
    existing: dict[str, sa.RowMapping],
    silences: list[Silence],
    judged: _Judged,
    now: datetime,
) -> _Plan:
    plan = _Plan()
    for fp, found in produced.items():
        silence = next((s for s in silences if s.matches(found)), None)
        status = FindingStatus.SILENCED if silence else FindingStatus.OPEN
        row = existing.get(fp)
        values = _values(found, now) | {
            "silence_id": silence.id if silence else None,
            "params_hash": judged.digest(found.rule),
            "resolution": None,
        }
        if row is None:
            plan.inserts.append(values | {"status": status.value, "first_seen": now})
            plan.transitions.append((_arrival(status), None, fp))
            continue
        before = FindingStatus(row["status"])
        if judged.frozen(row["resource_uid"]):
            status = before  # a failed scope keeps the finding's status, silence included
            values["silence_id"] = row["silence_id"]
        kind, reopened = _kind(before, status)
        if kind == TransitionKind.STILL_OPEN and row["severity"] != found.severity.value:
            kind = TransitionKind.SEVERITY_CHANGED
        update = values | {"status": status.value, "b_fingerprint": fp}
        update["reopened_count"] = row["reopened_count"] + (1 if reopened else 0)
        update["resolved_at"] = None
        if status == FindingStatus.RESOLVED:
            # Only a frozen finding stays resolved while produced: keep when it resolved
            # and when it was last seen open, as they were.
            update.pop("last_seen")
            update.pop("resolved_at")
            update.pop("resolution")
        plan.updates.append(update)
        if kind is not None:
            plan.transitions.append((kind, before, fp))
    _plan_unproduced(plan, produced, existing, judged, now)
    return plan


def _plan_unproduced(
    plan: _Plan,
    produced: dict[str, Finding],
    existing: dict[str, sa.RowMapping],
    judged: _Judged,
    now: datetime,
) -> None:
    for fp, row in existing.items():
        if fp in produced or row["status"] == FindingStatus.RESOLVED.value:
            continue
        # A failed scope keeps its findings, unless their rule is gone: nothing would
        # ever judge them again.
        if judged.frozen(row["resource_uid"]) and not judged.disabled(row["rule"]):
            continue
        plan.updates.append(
            {
                "b_fingerprint": fp,
                "status": FindingStatus.RESOLVED.value,
                "resolved_at": now,
                "silence_id": None,
                "resolution": judged.resolution(row).value,
            }
        )
        plan.transitions.append((TransitionKind.RESOLVED, FindingStatus(row["status"]), fp))


def _arrival(status: FindingStatus) -> TransitionKind:
    return TransitionKind.SILENCED if status == FindingStatus.SILENCED else TransitionKind.NEW


def _kind(before: FindingStatus, after: FindingStatus) -> tuple[TransitionKind | None, bool]:
    """(transition kind, whether it counts as a reopening)."""
    if after == FindingStatus.RESOLVED:
        return None, False  # frozen while resolved: nothing happened
    if after == FindingStatus.SILENCED:
        return (None if before == FindingStatus.SILENCED else TransitionKind.SILENCED), False
    if before == FindingStatus.RESOLVED:
        return TransitionKind.REOPENED, True
    if before == FindingStatus.SILENCED:
        return TransitionKind.UNSILENCED, False
    return TransitionKind.STILL_OPEN, False


def _values(found: Finding, now: datetime) -> dict[str, Any]:
    return {
        "fingerprint": found.fingerprint,
        "rule": found.rule,
        "severity": found.severity.value,
        "base_severity": found.base_severity.value if found.base_severity else None,
        "title": found.title,
        "detail": found.detail,
        "resource_uid": found.resource_uid,
        "native_id": found.native_id,
        "type": found.type,
        "source": found.source,
        "account": found.labels.get("account", ""),
        "region": found.region,
        "labels": found.labels,
        "evidence": found.evidence,
        "last_seen": now,
    }


def _write(conn: Connection, plan: _Plan) -> None:
    if plan.inserts:
        rows = [row | {"resolved_at": None, "reopened_count": 0} for row in plan.inserts]
        conn.execute(findings_table.insert(), rows)
    # executemany needs one shape per statement: group updates by the columns they set.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for update in plan.updates:
        groups.setdefault(tuple(sorted(update)), []).append(update)
    statement = findings_table.update().where(
        findings_table.c.fingerprint == sa.bindparam("b_fingerprint")
    )
    for rows in groups.values():
        # The SET clause is every other key of the rows (SQLAlchemy's executemany idiom).
        conn.execute(statement, [{k: v for k, v in r.items() if k != "fingerprint"} for r in rows])


def _transitions(conn: Connection, plan: _Plan) -> list[Transition]:
    if not plan.transitions:
        return []
    wanted = [fp for _, _, fp in plan.transitions]
    stored: dict[str, StoredFinding] = {}
    for chunk in chunks(wanted):
        query = sa.select(findings_table).where(findings_table.c.fingerprint.in_(chunk))
        for row in conn.execute(query).mappings():
            stored[row["fingerprint"]] = _stored(row)
    return [Transition(kind, before, stored[fp]) for kind, before, fp in plan.transitions]


def _stored(row: sa.RowMapping) -> StoredFinding:
    return StoredFinding(
        fingerprint=row["fingerprint"],
        rule=row["rule"],
        severity=Severity(row["severity"]),
        status=FindingStatus(row["status"]),
        title=row["title"],
        detail=row["detail"],
        resource_uid=row["resource_uid"],
        native_id=row["native_id"],
        type=row["type"],
        source=row["source"],
        account=row["account"],
        region=row["region"],
        labels=row["labels"] or {},
        evidence=row["evidence"] or {},
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        resolved_at=row["resolved_at"],
        reopened_count=row["reopened_count"],
        silence_id=row["silence_id"],
        resolution=Resolution(row["resolution"]) if row["resolution"] else None,
        base_severity=Severity(row["base_severity"]) if row["base_severity"] else None,
    )


# -- reading: pages, groups and series for the dashboard, the exporter and the CLI ----------


# A finding's severity as a number in SQL (critical highest), for "most severe first".
RANK = sa.case({s.value: s.rank for s in Severity}, value=findings_table.c.severity, else_=-1)


@dataclass(frozen=True)
class SeverityCount:
    """Open findings of one severity now and 24 hours earlier."""

    severity: str
    open: int
    day_ago: int


def open_by_severity(db: Database, now: datetime) -> list[SeverityCount]:
    """Open findings per severity, with the count a day before for the trend.

    "Open a day ago" is reconstructed from the lifecycle times: first seen by then and not
    resolved by then (silenced findings left out). A finding resolved and reopened since
    keeps its original first_seen, so the past figure is a close estimate, not a replay.
    """
    then = now - timedelta(days=1)
    was_open = sa.and_(
        findings_table.c.first_seen <= then,
        findings_table.c.status != FindingStatus.SILENCED.value,
        sa.or_(findings_table.c.resolved_at.is_(None), findings_table.c.resolved_at > then),
    )
    query = sa.select(
        findings_table.c.severity,
        sa.func.sum(sa.case((findings_table.c.status == OPEN, 1), else_=0)),
        sa.func.sum(sa.case((was_open, 1), else_=0)),
    ).group_by(findings_table.c.severity)
    with db.connect() as conn:
        rows = {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in conn.execute(query)}
    return [SeverityCount(s.value, *rows.get(s.value, (0, 0))) for s in Severity]


def findings_per_day(db: Database, now: datetime, days: int = 30) -> list[tuple[str, int, int]]:
    """(day, findings first seen that day, findings resolved that day) for the last `days`."""
    since = now - timedelta(days=days)
    counted: dict[str, list[int]] = {day: [0, 0] for day in days_before(now, days)}
    with db.connect() as conn:
        for index, column in enumerate((findings_table.c.first_seen, findings_table.c.resolved_at)):
            day = sa.func.date(column)
            query = sa.select(day, sa.func.count()).where(column >= since).group_by(day)
            for row in conn.execute(query):
                counted.setdefault(day_text(row[0]), [0, 0])[index] = int(row[1])
    return [(day, new, resolved) for day, (new, resolved) in sorted(counted.items())]


def findings_page(db: Database, query: FindingQuery, *, limit: int = 200, offset: int = 0) -> Page:
    """Findings most severe first, then newest (the order of `vigil findings`), paged."""
    select = (
        sa.select(findings_table, resources.c.name.label("resource_name"))
        .select_from(FINDINGS_WITH_RESOURCES)
        .where(*query.where())
        .order_by(RANK.desc(), findings_table.c.last_seen.desc(), findings_table.c.fingerprint)
        .limit(limit)
        .offset(offset)
    )
    count = sa.select(sa.func.count()).select_from(FINDINGS_WITH_RESOURCES).where(*query.where())
    with db.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        return Page([dict(row) for row in conn.execute(select).mappings()], total)


def findings_by_rule(db: Database, query: FindingQuery) -> list[tuple[str, str, int]]:
    """(rule, severity, findings) matching the filter."""
    select = (
        sa.select(findings_table.c.rule, findings_table.c.severity, sa.func.count())
        .select_from(FINDINGS_WITH_RESOURCES)
        .where(*query.where())
        .group_by(findings_table.c.rule, findings_table.c.severity)
    )
    with db.connect() as conn:
        return [(row[0], row[1], int(row[2])) for row in conn.execute(select)]


def resource_findings(db: Database, uid: str) -> list[dict[str, Any]]:
    """Every finding of one resource, whatever its status, most severe first."""
    select = (
        sa.select(findings_table)
        .where(findings_table.c.resource_uid == uid)
        .order_by(RANK.desc(), findings_table.c.last_seen.desc())
    )
    with db.connect() as conn:
        return [dict(row) for row in conn.execute(select).mappings()]


def worst_open(db: Database, uids: Collection[str]) -> dict[str, Severity]:
    """uid → the severity of its most severe open finding, for the resources among `uids`
    that have one (silenced and resolved findings left out): one indexed read per chunk."""
    worst: dict[str, Severity] = {}
    query = sa.select(findings_table.c.resource_uid, sa.func.max(RANK)).group_by(
        findings_table.c.resource_uid
    )
    ranked = {s.rank: s for s in Severity}
    with db.connect() as conn:
        for chunk in chunks(sorted(uids)):
            selected = query.where(
                findings_table.c.resource_uid.in_(chunk),
                findings_table.c.status == FindingStatus.OPEN.value,
            )
            for uid, rank in conn.execute(selected):
                if rank in ranked:
                    worst[uid] = ranked[rank]
    return worst


@dataclass(frozen=True)
class FindingGroup:
    rule: str
    severity: str
    status: str
    count: int
    oldest_first_seen: datetime | None


def finding_groups(conn: Connection) -> list[FindingGroup]:
    """Open and silenced findings by rule and severity, with the oldest first-seen time."""
    table = findings_table
    query = (
        sa.select(
            table.c.rule,
            table.c.severity,
            table.c.status,
            sa.func.count(),
            sa.func.min(table.c.first_seen),
        )
        .where(table.c.status.in_((FindingStatus.OPEN.value, FindingStatus.SILENCED.value)))
        .group_by(table.c.rule, table.c.severity, table.c.status)
    )
    return [
        FindingGroup(row[0], row[1], row[2], int(row[3]), to_utc(row[4]))
        for row in conn.execute(query)
    ]

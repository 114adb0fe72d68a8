"""Vigil's tables. Every change to them comes with an Alembic migration in storage/migrations."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from vigil.core.model import RunStatus
from vigil.core.timeutil import as_utc, parse_instant

T = TypeVar("T")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: one kind of time, whatever the database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        return to_utc(value)


def to_utc(value: Any) -> datetime | None:
    """A stored time (naive UTC, or text from an aggregate over SQLite) as aware UTC."""
    if value is None:
        return None
    return parse_instant(value) if isinstance(value, str) else as_utc(value)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def json_column(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(JSONType, nullable=nullable))


def time_column(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


class ResourceRow(SQLModel, table=True):
    """The current state of every resource ever seen (deleted ones kept, state=deleted)."""

    __tablename__ = "resources"
    __table_args__ = (
        sa.Index("ix_resources_scope_state", "scope_key", "state"),
        sa.Index("ix_resources_type_state", "type", "state"),
    )

    uid: str = Field(primary_key=True)
    source: str = Field(index=True)
    provider: str
    account: str
    region: str
    type: str
    native_id: str
    name: str = ""
    tags: dict[str, str] = json_column()
    attributes: dict[str, Any] = json_column()
    scope_key: str
    content_hash: str
    state: str = "present"
    first_seen: datetime = time_column(nullable=False)
    last_changed: datetime = time_column(nullable=False)
    last_seen: datetime = time_column(nullable=False)
    deleted_at: datetime | None = time_column()


class ChangeEventRow(SQLModel, table=True):
    """One change to one resource: created, changed or deleted, with the state after it.

    Storing the state after each change lets `inventory --as-of` replay history exactly.
    """

    __tablename__ = "change_events"
    __table_args__ = (sa.Index("ix_change_events_uid_id", "uid", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    uid: str
    run_id: int | None = None
    scope_key: str
    source: str
    provider: str
    account: str
    region: str
    type: str
    native_id: str
    kind: str
    name: str = ""
    tags: dict[str, str] = json_column()
    attributes: dict[str, Any] = json_column()
    changes: dict[str, Any] = json_column()
    first_seen: datetime = time_column(nullable=False)
    at: datetime = time_column(nullable=False, index=True)


class StagedResourceRow(SQLModel, table=True):
    """New and changed records of a scope run in flight; applied only if the scope completes."""

    __tablename__ = "staged_resources"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(index=True)
    uid: str
    kind: str
    source: str
    provider: str
    account: str
    region: str
    type: str
    native_id: str
    name: str = ""
    # Serialized JSON text: staging is the ingest hot path, and the text is already made
    # for the content hash, so it is stored as is instead of being encoded again.
    tags: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    attributes: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    changes: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    scope_key: str
    content_hash: str


class ScopeRunRow(SQLModel, table=True):
    """One attempt at collecting one scope, and how it ended."""

    __tablename__ = "scope_runs"
    __table_args__ = (
        sa.Index("ix_scope_runs_scope_status", "scope_key", "status", "id"),
        sa.Index("ix_scope_runs_pass", "pass_id", "scope_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scope_key: str
    source: str
    provider: str
    account: str
    region: str
    type: str
    status: str = RunStatus.RUNNING.value
    error: str | None = None
    retryable: bool | None = None
    started_at: datetime = time_column(nullable=False)
    finished_at: datetime | None = time_column()
    duration_seconds: float | None = None
    pages: int = 0
    seen: int = 0
    created: int = 0
    changed: int = 0
    deleted: int = 0
    throttled: int = 0  # throttling answers received (collectors/throttles.py)
    pass_id: str | None = None  # the queued pass it ran for (`executor.kind: queue`)


class ResourceVolatileRow(SQLModel, table=True):
    """The newest observed value of a resource's volatile attributes (storage/volatile.py).

    Kept apart from `resources` so that a rescan in which only these moved rewrites no resource
    row and records no change event; readers merge `values` over `resources.attributes`.
    """

    __tablename__ = "resource_volatile"

    uid: str = Field(primary_key=True)
    # `values` is an SQL keyword: SQLAlchemy quotes it; hand-written SQL must too.
    observed: dict[str, Any] = Field(
        default=None, sa_column=sa.Column("values", JSONType, nullable=False)
    )
    observed_at: datetime = time_column(nullable=False)


RECORD_FIELDS = (
    "uid",
    "source",
    "provider",
    "account",
    "region",
    "type",
    "native_id",
    "name",
    "tags",
    "attributes",
)
"""A resource record's own fields, as `resources`, `change_events` and staging all hold them."""

RESOURCE_COLUMNS = (*RECORD_FIELDS, "scope_key", "content_hash")
"""What a scope run writes of a resource (the rest are lifecycle times and state)."""


class RetentionMarkRow(SQLModel, table=True):
    """How far back each kept history is exact: the newest cutoff a prune applied to it."""

    __tablename__ = "retention_marks"

    name: str = Field(primary_key=True)
    horizon: datetime = time_column(nullable=False)


PENDING_LINKS = "to_uid IS NULL AND deleted_at IS NULL"
"""Present links whose reference nothing resolved yet (the partial index's predicate)."""


class LinkRow(SQLModel, table=True):
    """One lifetime of one link: from `first_seen` until `deleted_at` (null while present).

    A link that vanishes and comes back starts a new row, so `--as-of` reads the rows whose
    lifetime covers the time. `target` is what the collector emitted (a uid or a reference);
    `to_uid` the uid it resolved to, null while unresolved.
    """

    __tablename__ = "resource_links"
    __table_args__ = (
        sa.Index("ix_resource_links_from_uid", "from_uid"),
        sa.Index("ix_resource_links_to_uid", "to_uid"),
        sa.Index("ix_resource_links_scope", "scope_key", "deleted_at"),
        # Pending references by name: how a run finds the unresolved links naming what changed.
        sa.Index(
            "ix_resource_links_pending",
            "target",
            sqlite_where=sa.text(PENDING_LINKS),
            postgresql_where=sa.text(PENDING_LINKS),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    from_uid: str
    kind: str
    target: str
    to_uid: str | None = None
    scope_key: str
    first_seen: datetime = time_column(nullable=False)
    deleted_at: datetime | None = time_column()


class ResourceNameRow(SQLModel, table=True):
    """The DNS names (`dns_ref`, per `NAMED_BY`) a resource of a named type answers to, kept
    by reconcile with the resource's attributes: how a reference finds its holders by index.
    A deleted resource keeps its rows; readers join `resources` for the present ones."""

    __tablename__ = "resource_names"
    __table_args__ = (sa.Index("ix_resource_names_uid", "uid"),)

    ref: str = Field(primary_key=True)
    uid: str = Field(primary_key=True)


class StagedLinkRow(SQLModel, table=True):
    """Links a scope run in flight saw for the first time; applied only if the scope completes."""

    __tablename__ = "staged_links"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(index=True)
    from_uid: str
    kind: str
    target: str


class FindingRow(SQLModel, table=True):
    """One finding per (rule, resource), from first seen to its latest status."""

    __tablename__ = "findings"
    __table_args__ = (
        sa.Index("ix_findings_status_severity", "status", "severity"),
        sa.Index("ix_findings_rule", "rule"),
        sa.Index("ix_findings_resource_uid", "resource_uid"),
    )

    fingerprint: str = Field(primary_key=True)
    rule: str
    severity: str
    status: str
    title: str
    detail: str = ""
    resource_uid: str
    native_id: str = ""
    type: str = ""
    source: str = ""
    account: str = ""
    region: str = ""
    labels: dict[str, str] = json_column()
    evidence: dict[str, Any] = json_column()
    first_seen: datetime = time_column(nullable=False)
    last_seen: datetime = time_column(nullable=False)
    resolved_at: datetime | None = time_column()
    reopened_count: int = 0
    silence_id: str | None = None
    resolution: str | None = None
    params_hash: str | None = None
    base_severity: str | None = None
    """The rule's severity when `severity` is escalated (exposure); null: the same."""


class SilenceRow(SQLModel, table=True):
    """A silence: findings its matcher covers show as `silenced` until it expires."""

    __tablename__ = "silences"

    id: str = Field(primary_key=True)
    matcher: dict[str, Any] = json_column()
    reason: str
    author: str
    created_at: datetime = time_column(nullable=False)
    expires_at: datetime = time_column(nullable=False, index=True)


# An outbox row's statuses, in the order a message moves through them.
PENDING, SENDING, SENT, FAILED, DEAD = "pending", "sending", "sent", "failed", "dead"


class OutboxRow(SQLModel, table=True):
    """One message for one notifier, from enqueue to sent (or dead)."""

    __tablename__ = "notify_outbox"
    __table_args__ = (sa.Index("ix_notify_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    notifier: str
    route: str
    rule: str
    severity: str
    summary: str
    alerts: int
    status: str = PENDING
    attempts: int = 0
    payload: dict[str, Any] = json_column()
    created_at: datetime = time_column(nullable=False)
    next_attempt_at: datetime = time_column(nullable=False)
    sent_at: datetime | None = time_column()
    last_error: str | None = None


class NotifyStateRow(SQLModel, table=True):
    """When a finding was last notified on a route, and whether that said it was firing."""

    __tablename__ = "notify_state"

    route: str = Field(primary_key=True)
    fingerprint: str = Field(primary_key=True)
    last_notified_at: datetime = time_column(nullable=False)
    firing: bool = True


class ReportPackRow(SQLModel, table=True):
    """One evidence pack written: its manifest digest and its predecessor's.

    `previous_sha256` is unique: two packs made at once cannot both claim the same
    predecessor, so the chain never forks silently.
    """

    __tablename__ = "report_packs"

    id: int | None = Field(default=None, primary_key=True)
    manifest_sha256: str = Field(unique=True)
    previous_sha256: str | None = Field(default=None, unique=True)
    created_at: datetime = time_column(nullable=False)
    file_name: str = ""
    key_id: str | None = None


class ApiBudgetRow(SQLModel, table=True):
    """One AWS API budget shared by every process collecting (storage/budgets.py; PostgreSQL).

    `tokens` is what the bucket held at `updated` (seconds since the epoch, by the database's
    clock: one clock for every machine); below zero, requests are queued for the tokens to come.
    """

    __tablename__ = "api_budgets"

    key: str = Field(primary_key=True)
    tokens: float
    updated: float


def _table(model: type[SQLModel]) -> sa.Table:
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


# The Core tables, named once for every query module.
resources = _table(ResourceRow)
events = _table(ChangeEventRow)
staged_resources = _table(StagedResourceRow)
scope_runs = _table(ScopeRunRow)
volatile_values = _table(ResourceVolatileRow)
retention_marks = _table(RetentionMarkRow)
links = _table(LinkRow)
staged_links = _table(StagedLinkRow)
resource_names = _table(ResourceNameRow)
findings_table = _table(FindingRow)
silences_table = _table(SilenceRow)
outbox = _table(OutboxRow)
notify_state = _table(NotifyStateRow)
report_packs = _table(ReportPackRow)
api_budgets = _table(ApiBudgetRow)


IN_LIST_CHUNK = 500
"""Values per `IN (...)` list: far below SQLite's 32,766 bound parameters and PostgreSQL's
65,535, large enough that a 100k-row lookup is 200 statements."""


def chunks(items: Sequence[T], size: int = IN_LIST_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices of `size`, for `IN` lists and bulk statements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]

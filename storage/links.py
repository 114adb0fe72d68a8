"""Reconcile of links: a scope run's links are applied with its resources, by the same rules.

A link belongs to the scope that emitted it. A run stages the links it sees for the first
time; when the scope completes they are applied and the scope's links it no longer returned
end (`deleted_at`), in the run's transaction. A failed run discards its staging: it adds and
removes nothing. Unchanged links cost a set lookup and write nothing.

Resolution happens here, at reconcile time, not at read time: a reference (`dns:NAME`,
`native:TYPE:ID`) gets its `to_uid` from the inventory, so reads are a plain indexed walk over
`to_uid`. A reference nothing in the inventory answers to, or more than one resource answers
to, stays unresolved (`to_uid` null); a resolved one keeps its uid.

The invariant: once a scope run completes (or a retirement ends), no pending reference has
exactly one present resource answering to it. A reference's answer can change only when it is
staged or when a resource answering to its name is created, changed or deleted, so a run
looks up just those names (`names_of`): the references it staged, the names of what it
created, changed or deleted, read through the pending links' partial index and, for DNS
names, `resource_names` (the names load balancers and CDNs answer to, kept with them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.tables import (
    IN_LIST_CHUNK,
    PENDING_LINKS,
    chunks,
    links,
    resource_names,
    resources,
    staged_links,
)
from vigil.core.model import (
    DNS_REF,
    NAMED_BY,
    NATIVE_REF,
    Link,
    Resource,
    ResourceState,
    dns_ref,
    is_reference,
    native_ref,
)

LinkKey = tuple[str, str, str]
"""(from_uid, kind, target): a link as a collector emits it."""


def prepare_links(page: Iterable[Resource]) -> list[LinkKey]:
    """A page's links as storage keys."""
    return [(link.from_uid, link.kind, link.to_uid) for r in page for link in r.links]


def present_links(conn: Connection, scope_key: str) -> dict[LinkKey, int]:
    """(from, kind, target) -> row id of a scope's present links: one indexed range read."""
    rows = conn.execute(
        sa.select(links.c.from_uid, links.c.kind, links.c.target, links.c.id).where(
            links.c.scope_key == scope_key, links.c.deleted_at.is_(None)
        )
    )
    return {(f, k, t): row_id for f, k, t, row_id in rows}


def stage(conn: Connection, run_id: int, keys: Sequence[LinkKey]) -> None:
    """Stage first-seen links with one DBAPI executemany (the ingest hot path)."""
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {staged_links.name} (run_id, from_uid, kind, target) "
        f"VALUES ({int(run_id)}, {marker}, {marker}, {marker})"
    )
    conn.exec_driver_sql(sql, list(keys))


def discard(conn: Connection, run_ids: Sequence[int]) -> None:
    conn.execute(staged_links.delete().where(staged_links.c.run_id.in_(list(run_ids))))


def apply(conn: Connection, run_id: int, scope_key: str, now: datetime) -> None:
    """Set-based: take over the staged links another scope holds, insert the new ones."""
    mine = staged_links.c.run_id == run_id
    same = sa.and_(
        links.c.from_uid == staged_links.c.from_uid,
        links.c.kind == staged_links.c.kind,
        links.c.target == staged_links.c.target,
        links.c.deleted_at.is_(None),
    )
    # Driven from the run's staged rows through the links' from_uid index: an UPDATE ...
    # WHERE EXISTS(staged) scanned every present link once per staged row on SQLite.
    held = sa.select(links.c.id).select_from(staged_links.join(links, same)).where(mine)
    taken = [row_id for (row_id,) in conn.execute(held)]
    for chunk in chunks(taken):
        conn.execute(links.update().where(links.c.id.in_(chunk)).values(scope_key=scope_key))
    reference = sa.or_(
        staged_links.c.target.startswith(DNS_REF), staged_links.c.target.startswith(NATIVE_REF)
    )
    when = sa.literal(now, links.c.first_seen.type)
    conn.execute(
        links.insert().from_select(
            ["from_uid", "kind", "target", "to_uid", "scope_key", "first_seen"],
            sa.select(
                staged_links.c.from_uid,
                staged_links.c.kind,
                staged_links.c.target,
                sa.case((reference, sa.null()), else_=staged_links.c.target),
                sa.literal(scope_key),
                when,
            ).where(mine, ~sa.exists().where(same)),
        )
    )
    conn.execute(staged_links.delete().where(mine))


def sweep(conn: Connection, scope_key: str, unseen: Iterable[int], now: datetime) -> int:
    """End the links a completed scope no longer returned (still its own: re-checked)."""
    ended = 0
    ids = list(unseen)
    for chunk in chunks(ids):
        result = conn.execute(
            links.update()
            .where(
                links.c.id.in_(chunk),
                links.c.scope_key == scope_key,
                links.c.deleted_at.is_(None),
            )
            .values(deleted_at=now)
        )
        ended += result.rowcount or 0
    return ended


def end_links_from(conn: Connection, uids: Sequence[str], now: datetime) -> None:
    """End the present links of resources that left the inventory without a scope run
    (retirement)."""
    for chunk in chunks(uids):
        conn.execute(
            links.update()
            .where(links.c.from_uid.in_(chunk), links.c.deleted_at.is_(None))
            .values(deleted_at=now)
        )


def dns_names(type_: str, attributes: dict[str, Any] | None) -> set[str]:
    """The DNS names (`dns_ref`) a resource of `type_` answers to, per `NAMED_BY`."""
    refs = set()
    for key in NAMED_BY.get(type_, ()):
        value = (attributes or {}).get(key)
        if isinstance(value, str) and value:
            refs.add(dns_ref(value))
    return refs


def names_of(type_: str, native_id: str, attributes: dict[str, Any] | None) -> set[str]:
    """The references a resource answers to: its `native_ref`, and its DNS names."""
    return {native_ref(type_, native_id), *dns_names(type_, attributes)}


def resolve(conn: Connection, refs: Iterable[str] | None = None) -> int:
    """Give pending references the uid of the one present resource they name; returns how many.

    `refs` narrows the work to those references: the ones a run staged and the names whose
    holders a run created, changed or deleted (`names_of`). A reference whose holders did not
    change since it was last looked at cannot have become resolvable, so with the module's
    invariant this resolves what the whole-table pass (`refs` None) would, in time
    proportional to what changed.
    """
    pending = _pending(conn, None if refs is None else _narrowed(conn, refs))
    if not pending:
        return 0
    found = {**_by_dns_name(conn, pending), **_by_native_id(conn, pending)}
    if not found:
        return 0
    conn.execute(
        links.update()
        .where(
            links.c.target == sa.bindparam("ref"),
            links.c.to_uid.is_(None),
            links.c.deleted_at.is_(None),
        )
        .values(to_uid=sa.bindparam("uid")),
        [{"ref": ref, "uid": uid} for ref, uid in found.items()],
    )
    return len(found)


def _narrowed(conn: Connection, refs: Iterable[str]) -> set[str]:
    """`refs` without the native references of types no pending reference names.

    A run names every resource it creates (`native:TYPE:ID`); references name few types (a
    bucket, a certificate), so one probe per type saves a lookup per resource."""
    by_type: dict[str, list[str]] = {}
    kept: set[str] = set()
    for ref in refs:
        if ref.startswith(NATIVE_REF):
            by_type.setdefault(ref[len(NATIVE_REF) :].partition(":")[0], []).append(ref)
        else:
            kept.add(ref)
    for type_, named in by_type.items():
        prefix = native_ref(type_, "")
        if conn.dialect.name == "sqlite":  # byte order: a range on the pending index
            probe = conn.exec_driver_sql(
                f"SELECT 1 FROM {links.name} INDEXED BY ix_resource_links_pending "
                f"WHERE {PENDING_LINKS} AND target >= ? AND target < ? LIMIT 1",
                (prefix, prefix[:-1] + ";"),
            )
        else:
            probe = conn.execute(
                sa.select(sa.literal(1))
                .where(
                    links.c.to_uid.is_(None),
                    links.c.deleted_at.is_(None),
                    sa.func.substr(links.c.target, 1, len(prefix)) == prefix,
                )
                .limit(1)
            )
        if probe.first():
            kept.update(named)
    return kept


def _pending(conn: Connection, refs: Iterable[str] | None) -> set[str]:
    """The targets of present unresolved links (of `refs`): read through the pending index."""
    unresolved = sa.and_(links.c.to_uid.is_(None), links.c.deleted_at.is_(None))
    if refs is None:
        query = sa.select(links.c.target).where(unresolved).distinct()
        return {target for (target,) in conn.execute(query)}
    # A plain DBAPI statement of a fixed IN list (the last chunk padded with a repeat): a first
    # pass names every resource it creates, and compiling an expanding IN per chunk cost more
    # than the index probes.
    wanted = sorted(set(refs))
    if not wanted:
        return set()
    size = min(len(wanted), IN_LIST_CHUNK)
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    # SQLite's planner prefers to_uid's index (every pending link) once the list is long.
    hint = " INDEXED BY ix_resource_links_pending" if conn.dialect.name == "sqlite" else ""
    sql = (
        f"SELECT DISTINCT target FROM {links.name}{hint} WHERE {PENDING_LINKS} "
        f"AND target IN ({', '.join([marker] * size)})"
    )
    pending: set[str] = set()
    for chunk in chunks(wanted, size):
        padded = (*chunk, *[chunk[0]] * (size - len(chunk)))
        pending.update(target for (target,) in conn.exec_driver_sql(sql, padded))
    return pending


def _by_dns_name(conn: Connection, pending: set[str]) -> dict[str, str]:
    """dns:NAME -> uid of the one present resource whose DNS-name attribute is NAME."""
    wanted = sorted(ref for ref in pending if ref.startswith(DNS_REF))
    holders: dict[str, set[str]] = {}
    for chunk in chunks(wanted):
        query = (
            sa.select(resource_names.c.ref, resource_names.c.uid)
            .join(resources, resources.c.uid == resource_names.c.uid)
            .where(
                resource_names.c.ref.in_(chunk),
                resources.c.state == ResourceState.PRESENT.value,
            )
        )
        for ref, uid in conn.execute(query):
            holders.setdefault(ref, set()).add(uid)
    return {ref: next(iter(uids)) for ref, uids in holders.items() if len(uids) == 1}


def name(conn: Connection, named: dict[str, set[str]]) -> None:
    """Record the DNS names (`dns_names`) the resources `named` (uid -> names) answer to now."""
    uids = sorted(named)
    for chunk in chunks(uids):
        conn.execute(resource_names.delete().where(resource_names.c.uid.in_(chunk)))
    rows = [{"ref": ref, "uid": uid} for uid in uids for ref in sorted(named[uid])]
    for batch in chunks(rows):
        conn.execute(resource_names.insert(), list(batch))


def _by_native_id(conn: Connection, pending: set[str]) -> dict[str, str]:
    """native:TYPE:ID -> uid of the one present resource of TYPE with native id ID."""
    wanted: dict[tuple[str, str], str] = {}
    for ref in pending:
        if ref.startswith(NATIVE_REF):
            type_, _, native_id = ref.removeprefix(NATIVE_REF).partition(":")
            wanted[(type_, native_id)] = ref
    found: dict[str, set[str]] = {}
    items = list(wanted)
    for chunk in chunks(items):
        query = sa.select(resources.c.uid, resources.c.type, resources.c.native_id).where(
            resources.c.state == ResourceState.PRESENT.value,
            resources.c.native_id.in_([native_id for _, native_id in chunk]),
            resources.c.type.in_({type_ for type_, _ in chunk}),
        )
        for uid, type_, native_id in conn.execute(query):
            if (type_, native_id) in wanted:
                found.setdefault(wanted[(type_, native_id)], set()).add(uid)
    return {ref: next(iter(uids)) for ref, uids in found.items() if len(uids) == 1}


def references(keys: Iterable[LinkKey]) -> set[str]:
    """The targets of `keys` that are references still to resolve."""
    return {target for _, _, target in keys if is_reference(target)}


def names_held(conn: Connection, uids: Sequence[str]) -> set[str]:
    """The names (`names_of`) the stored resources `uids` answer to, as the table has them."""
    held: set[str] = set()
    for chunk in chunks(uids):
        query = sa.select(resources.c.type, resources.c.native_id, resources.c.attributes).where(
            resources.c.uid.in_(chunk)
        )
        for type_, native_id, attributes in conn.execute(query):
            held |= names_of(type_, native_id, attributes)
    return held


def present_of_kinds(conn: Connection, kinds: Iterable[str]) -> list[Link]:
    """The present links of `kinds`: to the resolved uid, else to the reference as emitted."""
    query = sa.select(links.c.from_uid, links.c.kind, links.c.to_uid, links.c.target).where(
        links.c.kind.in_(list(kinds)), links.c.deleted_at.is_(None)
    )
    return as_links(conn.execute(query))


def as_links(rows: Iterable[Any]) -> list[Link]:
    return [Link(row.from_uid, row.kind, row.to_uid or row.target) for row in rows]

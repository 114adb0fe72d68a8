"""Exposure paths: from which public entry points a resource is reachable along the links.

An entry point is a DNS record, an internet-facing load balancer (`scheme` internet-facing)
or a CDN. The walk goes towards the internet: up the links that carry traffic (`routes_to`,
`origin`, `targets`), up from a security group to what it protects and from a certificate to
what serves it, and from a disk to the server it is attached to. One indexed `IN` query per
step over every start at once, so 20k findings cost a few queries per step, not 20k walks.

Links are **unknown** (`None`) for a resource whose source has never stored a link: a
provider that emits none (libcloud, hosts, probes), or an estate not collected since links
existed. A link is stored only by a completed scope run, so any link row of a source's scopes
means the source has completed a collection with links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.expressions import attribute
from storage.tables import chunks, links, resources, scope_runs
from vigil.core.model import LinkKind, ResourceState, ResourceType

MAX_DEPTH = 6
"""Steps walked from a resource: a security group → server → load balancer → CDN → name is 4."""
UP_KINDS = (
    LinkKind.ROUTES_TO.value,
    LinkKind.ORIGIN.value,
    LinkKind.TARGETS.value,
    LinkKind.PROTECTED_BY.value,
    LinkKind.SERVES.value,
)
"""Kinds walked from their target to their source: the source is closer to the internet."""
DOWN_KINDS = (LinkKind.ATTACHED_TO.value,)
"""Kinds walked from their source to their target: a disk is reachable through its server."""
_DNS_RECORD = ResourceType.DNS_RECORD.value
_CDN = ResourceType.CDN.value
_LOAD_BALANCER = ResourceType.LOAD_BALANCER.value


@dataclass(frozen=True)
class Node:
    uid: str
    type: str
    native_id: str
    name: str
    source: str
    attributes: Mapping[str, Any]

    # Cached: a shared load balancer is on thousands of paths (20k findings: DESIGN.md < 2 s).
    @cached_property
    def label(self) -> str:
        """`alb web-prod`, `cdn E123`: how a hop reads in a message."""
        return f"{_short_type(self)} {self.name or self.native_id}"

    @cached_property
    def is_entry_point(self) -> bool:
        if self.type in (_DNS_RECORD, _CDN):
            return True
        scheme = str(self.attributes.get("scheme") or "").lower()
        return self.type == _LOAD_BALANCER and scheme == "internet-facing"


@dataclass(frozen=True)
class EntryPoint:
    name: str
    """The public name: the DNS record's name, the load balancer's or CDN's DNS name."""
    uid: str
    path: tuple[str, ...]
    """uids from the entry point to the resource, both included."""
    hops: tuple[str, ...] = ()
    """Labels of the resources between the two (`cdn E123`, `alb web-prod`), in path order."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "uid": self.uid, "path": list(self.path)}


Exposure = dict[str, list[EntryPoint] | None]
"""uid → its entry points, nearest first; `[]` none; None while its links are unknown."""


def entry_points(conn: Connection, uids: Iterable[str]) -> Exposure:
    """Each resource's public entry points (see the module doc)."""
    wanted = sorted(set(uids))
    if not wanted:
        return {}
    upstream = _walk(conn, set(wanted))
    nodes = _nodes(conn, {uid for near in upstream.values() for uid in near} | set(wanted))
    known = _sources_with_links(conn)
    result: Exposure = {}
    for uid in wanted:
        node = nodes.get(uid)
        if node is None or node.source not in known:
            result[uid] = None
        else:
            result[uid] = _entries_of(uid, upstream, nodes)
    return result


def search_entry_points(
    conn: Connection, text: str = "", limit: int = 100
) -> list[tuple[str, str]]:
    """(uid, `shop.example.com (dns)` / `web-1.elb.amazonaws.com (alb web-prod)`) of the
    present entry points whose name, native id or public name contains `text` (any case), by
    public name. One read over the entry point types' index, whatever the size of the estate."""
    scheme = sa.func.lower(attribute("scheme"))
    conditions: list[sa.ColumnElement[bool]] = [
        resources.c.state == ResourceState.PRESENT.value,
        sa.or_(
            resources.c.type.in_([_DNS_RECORD, _CDN]),
            sa.and_(resources.c.type == _LOAD_BALANCER, scheme == "internet-facing"),
        ),
    ]
    if text.strip():
        needle = text.strip().lower()
        columns = (resources.c.name, resources.c.native_id, attribute("dns_name"))
        conditions.append(
            sa.or_(
                *(sa.func.lower(c).contains(needle, autoescape=True) for c in columns),
                sa.func.lower(attribute("domain_name")).contains(needle, autoescape=True),
            )
        )
    public = sa.func.lower(
        sa.case(
            (resources.c.type == _LOAD_BALANCER, attribute("dns_name")),
            (resources.c.type == _CDN, attribute("domain_name")),
            else_=resources.c.name,
        )
    )
    query = (
        sa.select(*_NODE_COLUMNS).where(*conditions).order_by(public, resources.c.uid).limit(limit)
    )
    found = []
    for row in conn.execute(query):
        node = _node(row)
        kind = "dns" if node.type == _DNS_RECORD else node.label
        found.append((node.uid, f"{public_name(node)} ({kind})"))
    return found


def outermost(entries: list[EntryPoint]) -> list[EntryPoint]:
    """The entry points no other one's path passes through: the names users type."""
    inner = {uid for entry in entries for uid in entry.path[1:]}
    return [entry for entry in entries if entry.uid not in inner]


def reachable_phrase(entries: list[EntryPoint] | None, limit: int = 2) -> str:
    """`reachable from shop.example.com via cdn E123 → alb web-prod` (plain text; "" none)."""
    shown = outermost(entries or [])
    if not shown:
        return ""
    parts = [
        entry.name + (" via " + " → ".join(entry.hops) if entry.hops else "")
        for entry in shown[:limit]
    ]
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return "reachable from " + ", ".join(parts) + more


def _walk(conn: Connection, start: set[str]) -> dict[str, set[str]]:
    """uid → the uids one step closer to the internet, for everything within MAX_DEPTH."""
    upstream: dict[str, set[str]] = {}
    visited, frontier = set(start), set(start)
    for _ in range(MAX_DEPTH):
        reached: set[str] = set()
        for near, far in _step(conn, frontier):
            upstream.setdefault(far, set()).add(near)
            reached.add(near)
        frontier = reached - visited
        visited |= frontier
        if not frontier:
            break
    return upstream


def _step(conn: Connection, frontier: set[str]) -> list[tuple[str, str]]:
    """(closer, further) pairs of the links alive now that touch `frontier` the right way."""
    pairs: list[tuple[str, str]] = []
    uids = sorted(frontier)
    alive = links.c.deleted_at.is_(None)
    for chunk in chunks(uids):
        up = sa.select(links.c.from_uid, links.c.to_uid).where(
            links.c.to_uid.in_(chunk), links.c.kind.in_(UP_KINDS), alive
        )
        pairs.extend((near, far) for near, far in conn.execute(up))
        down = sa.select(links.c.to_uid, links.c.from_uid).where(
            links.c.from_uid.in_(chunk), links.c.kind.in_(DOWN_KINDS), alive
        )
        pairs.extend((near, far) for near, far in conn.execute(down) if near)
    return pairs


_NODE_COLUMNS = (
    resources.c.uid,
    resources.c.type,
    resources.c.native_id,
    resources.c.name,
    # Only load balancers and CDNs need theirs (scheme, DNS name): decoding every
    # server's attributes was a third of the time at 20k findings.
    sa.case(
        (resources.c.type.in_([_LOAD_BALANCER, _CDN]), resources.c.attributes),
        else_=sa.null(),
    ),
    resources.c.source,
)


def _node(row: Any) -> Node:
    uid, type_, native_id, name, attributes, source = row
    return Node(uid, type_, native_id, name or "", source, dict(attributes or {}))


def _nodes(conn: Connection, uids: set[str]) -> dict[str, Node]:
    """The present resources among `uids`."""
    found: dict[str, Node] = {}
    for chunk in chunks(sorted(uids)):
        query = sa.select(*_NODE_COLUMNS).where(
            resources.c.uid.in_(chunk),
            resources.c.state == ResourceState.PRESENT.value,
        )
        for row in conn.execute(query):
            node = _node(row)
            found[node.uid] = node
    return found


def _sources_with_links(conn: Connection) -> set[str]:
    """Sources that have stored a link in any of their scopes (present or ended)."""
    scoped = sa.select(links.c.scope_key).distinct().scalar_subquery()
    query = sa.select(scope_runs.c.source).where(scope_runs.c.scope_key.in_(scoped)).distinct()
    return {source for (source,) in conn.execute(query)}


def _entries_of(
    uid: str, upstream: Mapping[str, set[str]], nodes: Mapping[str, Node]
) -> list[EntryPoint]:
    """Breadth first from `uid` towards the internet: each entry point by its shortest path."""
    parent: dict[str, str] = {}
    seen, frontier, entries = {uid}, [uid], []
    for _ in range(MAX_DEPTH):
        following: list[str] = []
        for here in frontier:
            for near in sorted(upstream.get(here, ())):
                if near in seen or near not in nodes:
                    continue
                seen.add(near)
                parent[near] = here
                following.append(near)
                if nodes[near].is_entry_point:
                    entries.append(_entry(nodes[near], parent, nodes))
        frontier = following
        if not frontier:
            break
    return entries


def _entry(node: Node, parent: Mapping[str, str], nodes: Mapping[str, Node]) -> EntryPoint:
    path = [node.uid]
    while path[-1] in parent:
        path.append(parent[path[-1]])
    hops = tuple(nodes[uid].label for uid in path[1:-1])
    return EntryPoint(public_name(node), node.uid, tuple(path), hops)


def public_name(node: Node) -> str:
    """The name users type: a DNS record's name, a load balancer's or CDN's DNS name."""
    if node.type == _LOAD_BALANCER:
        named = node.attributes.get("dns_name")
    elif node.type == _CDN:
        named = node.attributes.get("domain_name")
    else:
        named = node.name or node.native_id
    return str(named or node.name or node.native_id).rstrip(".")


_LB_KINDS = {"application": "alb", "network": "nlb", "gateway": "gwlb", "classic": "elb"}


def _short_type(node: Node) -> str:
    if node.type == _LOAD_BALANCER:
        return _LB_KINDS.get(str(node.attributes.get("kind") or ""), "lb")
    if node.type == _DNS_RECORD:
        return "dns"
    if node.type == ResourceType.SECURITY_GROUP.value:
        return "sg"
    return node.type

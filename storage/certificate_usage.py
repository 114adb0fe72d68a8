"""Where each certificate is bound and where it is served, and which ones are unused.

*Bound*: the load balancers and CDNs whose `serves` links name the certificate (else, for an
ACM certificate none of those name, ACM's own `in_use_by`). *Served*: the probed endpoints
(`server_name:port`) whose last completed handshake presented a leaf with the certificate's
`serial` (collectors write serials in one form, collectors/certs.py). *Unused*: an ACM
certificate bound nowhere, served nowhere, and that ACM reports in use by nothing
(`in_use_by: []`; absent is unknown, never unused). Certificate files on hosts are never called
unused: nothing says where a file is used.

Two statements whatever the estate: the present certificates, and the present `serves` links
to them with the resources they come from.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.db import Database
from storage.tables import links, resources
from vigil.core.model import LinkKind, ResourceState, ResourceType

PRESENT = ResourceState.PRESENT.value
PROBE = "probe"
ACM = "acm"


@dataclass(frozen=True)
class CertificateUsage:
    """One present certificate: where it is bound and served, and whether it is unused."""

    uid: str
    name: str
    native_id: str
    source: str
    origin: str | None
    bound_to: tuple[str, ...]
    """`load_balancer web`, `cdn E123`; ACM's `in_use_by` ARNs when no link names it."""
    served_at: tuple[str, ...]
    """Probed endpoints that presented it, `server_name:port`."""
    unused: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "name": self.name,
            "native_id": self.native_id,
            "source": self.source,
            "origin": self.origin,
            "bound_to": list(self.bound_to),
            "served_at": list(self.served_at),
            "unused": self.unused,
        }


def certificate_usage(db: Database) -> list[CertificateUsage]:
    """Every present certificate's usage, in uid order."""
    with db.connect() as conn:
        certificates = list(
            conn.execute(
                sa.select(
                    resources.c.uid,
                    resources.c.name,
                    resources.c.native_id,
                    resources.c.source,
                    resources.c.provider,
                    resources.c.attributes,
                ).where(
                    resources.c.state == PRESENT,
                    resources.c.type == ResourceType.CERTIFICATE.value,
                )
            )
        )
        holders = resources.alias("holder")
        bound_rows = list(
            conn.execute(
                sa.select(links.c.to_uid, holders.c.type, holders.c.name, holders.c.native_id)
                .join(holders, holders.c.uid == links.c.from_uid)
                .where(
                    links.c.kind == LinkKind.SERVES.value,
                    links.c.deleted_at.is_(None),
                    links.c.to_uid.is_not(None),
                    holders.c.state == PRESENT,
                )
            )
        )
    bound: dict[str, set[str]] = defaultdict(set)
    for to_uid, type_, name, native_id in bound_rows:
        bound[to_uid].add(f"{type_} {name or native_id}")
    served: dict[str, set[str]] = defaultdict(set)
    for row in certificates:
        attributes = row.attributes or {}
        if row.provider == PROBE and attributes.get("reachable") is True:
            serial = attributes.get("serial")
            if isinstance(serial, str) and serial:
                served[serial].add(_endpoint(attributes, row.native_id))
    return [_usage(row, bound, served) for row in sorted(certificates, key=lambda r: r.uid)]


def _endpoint(attributes: dict[str, Any], native_id: str) -> str:
    name, port = attributes.get("server_name"), attributes.get("port")
    return f"{name}:{port}" if name and port else native_id


def _usage(row: Any, bound: dict[str, set[str]], served: dict[str, set[str]]) -> CertificateUsage:
    attributes = row.attributes or {}
    origin = attributes.get("origin")
    in_use_by = attributes.get("in_use_by")
    holders = sorted(bound.get(row.uid, ()))
    if not holders and isinstance(in_use_by, list):
        holders = sorted(str(arn) for arn in in_use_by)
    serial = attributes.get("serial")
    seen = sorted(served.get(serial, ())) if isinstance(serial, str) and serial else []
    unused = origin == ACM and not holders and not seen and in_use_by == []
    return CertificateUsage(
        uid=row.uid,
        name=row.name,
        native_id=row.native_id,
        source=row.source,
        origin=origin,
        bound_to=tuple(holders),
        served_at=tuple(seen),
        unused=unused,
    )

"""Builders for rule tests: resources of every type with sensible defaults, and views."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from rules.base import Rule
from rules.view import Change, HistoryLoader, InventoryView, PastState, ScopeState
from vigil.core.model import Finding, Resource, make_uid

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "111111111111"
REGION = "us-east-1"
SOURCE = "aws-test"


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def resource(
    type_: str,
    native_id: str,
    *,
    name: str | None = None,
    tags: dict[str, str] | None = None,
    region: str = REGION,
    account: str = ACCOUNT,
    **attributes: Any,
) -> Resource:
    return Resource(
        source=SOURCE,
        provider="aws",
        account=account,
        region=region,
        type=type_,
        native_id=native_id,
        name=name if name is not None else native_id,
        tags=tags or {},
        attributes=attributes,
    )


def uid(type_: str, native_id: str, region: str = REGION) -> str:
    return make_uid("aws", ACCOUNT, region, type_, native_id)


def server(native_id: str = "i-0001", **attributes: Any) -> Resource:
    attributes.setdefault("state", "running")
    attributes.setdefault("instance_type", "t3.micro")
    attributes.setdefault("public_ips", [])
    attributes.setdefault("private_ips", ["10.0.0.10"])
    return resource("server", native_id, **attributes)


def disk(
    native_id: str = "vol-0001", *, attached_to: list[str] | None = None, **attributes: Any
) -> Resource:
    attributes.setdefault("size_gb", 100)
    attributes.setdefault("encrypted", True)
    return resource(
        "disk",
        native_id,
        attached_to=attached_to if attached_to is not None else ["i-0001"],
        **attributes,
    )


def snapshot(
    native_id: str, of: Resource, *, age: timedelta = timedelta(days=1), state: str = "completed"
) -> Resource:
    return resource(
        "snapshot",
        native_id,
        source_uid=of.uid,
        source_native_id=of.native_id,
        kind="ebs" if of.type == "disk" else "rds",
        started_at=iso(NOW - age),
        state=state,
    )


def database(native_id: str = "db-1", **attributes: Any) -> Resource:
    attributes.setdefault("engine", "postgres")
    attributes.setdefault("backup_retention_days", 7)
    attributes.setdefault("latest_restorable_time", iso(NOW - timedelta(minutes=5)))
    attributes.setdefault("storage_encrypted", True)
    attributes.setdefault("publicly_accessible", False)
    attributes.setdefault("endpoint", f"{native_id}.abc123.us-east-1.rds.amazonaws.com")
    return resource("database", native_id, **attributes)


def permission(
    protocol: str = "tcp",
    from_port: int | None = 22,
    to_port: int | None = None,
    source: str = "0.0.0.0/0",
    source_kind: str | None = None,
) -> dict[str, Any]:
    """A security-group entry as docs/attributes.md describes it."""
    if source_kind is None:
        source_kind = "ipv6" if ":" in source else ("group" if source.startswith("sg-") else "ipv4")
    if protocol not in ("tcp", "udp"):
        from_port = to_port = None
    return {
        "protocol": protocol,
        "from_port": from_port,
        "to_port": to_port if to_port is not None else from_port,
        "source": source,
        "source_kind": source_kind,
        "description": "",
    }


def security_group(
    native_id: str = "sg-0001",
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Resource:
    return resource(
        "security_group",
        native_id,
        group_id=native_id,
        ingress=ingress or [],
        egress=egress or [],
        **kwargs,
    )


def certificate(
    native_id: str = "arn:aws:acm:us-east-1:111111111111:certificate/1",
    *,
    expires_in: timedelta = timedelta(days=200),
    common_name: str = "api.example.com",
    **attributes: Any,
) -> Resource:
    attributes.setdefault("key_algorithm", "RSA")
    attributes.setdefault("key_size", 2048)
    attributes.setdefault("signature_algorithm", "SHA256WITHRSA")
    attributes.setdefault("status", "ISSUED")
    return resource(
        "certificate",
        native_id,
        name=common_name,
        common_name=common_name,
        not_after=iso(NOW + expires_in),
        not_before=iso(NOW - timedelta(days=100)),
        **attributes,
    )


def zone(name: str = "example.com", zone_id: str = "Z1", private: bool = False) -> Resource:
    return resource(
        "dns_zone",
        zone_id,
        name=name,
        region="global",
        zone_id=zone_id,
        zone_name=name + ".",
        private=private,
    )


def record(
    name: str,
    record_type: str = "A",
    values: list[str] | None = None,
    *,
    alias_target: str | None = None,
    zone_id: str = "Z1",
) -> Resource:
    return resource(
        "dns_record",
        f"{zone_id}/{name}/{record_type}/",
        name=name,
        region="global",
        zone_id=zone_id,
        zone_name="example.com.",
        record_type=record_type,
        ttl=300,
        values=values or [],
        alias_target=alias_target,
    )


def load_balancer(
    native_id: str = "web-lb", dns_name: str = "web-lb-123.us-east-1.elb.amazonaws.com"
) -> Resource:
    return resource("load_balancer", native_id, dns_name=dns_name)


def scope_state(
    type_: str,
    *,
    status: str = "complete",
    region: str = REGION,
    last_complete: datetime | None = NOW - timedelta(minutes=10),
    error: str | None = None,
    started_at: datetime | None = None,
    source: str = SOURCE,
    provider: str = "aws",
    account: str = ACCOUNT,
) -> ScopeState:
    return ScopeState(
        scope_key=f"{source}/{account}/{region}/{type_}",
        source=source,
        provider=provider,
        account=account,
        region=region,
        type=type_,
        status=status,
        error=error,
        started_at=started_at or NOW - timedelta(minutes=11),
        finished_at=NOW - timedelta(minutes=10),
        last_complete=last_complete,
        failures_total=0 if status == "complete" else 1,
    )


def view(
    *resources: Resource,
    scopes: list[ScopeState] | None = None,
    changes: list[Change] | None = None,
    now: datetime = NOW,
    **options: Any,
) -> InventoryView:
    """A view of `resources`; by default every type present (and server, snapshot) has a
    complete scope."""
    if scopes is None:
        types = {r.type for r in resources} | {"server", "snapshot"}
        scopes = [scope_state(t, region=r) for t in types for r in (REGION, "global")]
        scopes += [
            scope_state(
                r.type, source=r.source, provider=r.provider, account=r.account, region=r.region
            )
            for r in {(r.source, r.type): r for r in resources if r.source != SOURCE}.values()
        ]
    recorded = list(changes or [])
    return InventoryView.build(
        resources,
        now=now,
        scopes=scopes,
        change_loader=lambda since: [c for c in recorded if c.at >= since],
        **options,
    )


PROBE_SOURCE = "edge"


def probe_record(
    name: str,
    *,
    chain: list[str] | None = None,
    nxdomain: bool = False,
    reachable: bool = True,
    addresses: list[str] | None = None,
) -> Resource:
    """What the DNS probe records for `name` (collectors/probes/dns.py)."""
    chain = chain or []
    resolves = bool(addresses) and not nxdomain
    return Resource(
        source=PROBE_SOURCE,
        provider="probe",
        account=PROBE_SOURCE,
        region="global",
        type="dns_record",
        native_id=name,
        name=name,
        attributes={
            "origin": "probe",
            "record_type": "CNAME" if chain else "A",
            "values": chain[:1] if chain else list(addresses or []),
            "cname_chain": chain,
            "resolved_addresses": list(addresses or []),
            "resolves": resolves,
            "resolve_error": "NXDOMAIN" if nxdomain else None,
            "nxdomain": nxdomain,
            "reachable": reachable,
            "error": None if reachable else "timed out",
        },
    )


def probe_scope(type_: str = "dns_record", **kwargs: Any) -> ScopeState:
    return scope_state(
        type_,
        source=PROBE_SOURCE,
        provider="probe",
        account=PROBE_SOURCE,
        region="global",
        **kwargs,
    )


def history(*past: Resource) -> HistoryLoader:
    """A history loader over the recorded states of `past` resources (deleted ones, say)."""

    def load(needles: Collection[str]) -> list[PastState]:
        return [
            PastState(r.provider, r.type, r.attributes)
            for r in past
            if any(n in json.dumps(r.attributes).lower() for n in needles)
        ]

    return load


def evaluate(rule: Rule, inventory: InventoryView, **params: Any) -> list[Finding]:
    return list(rule.evaluate(inventory, rule.params_model.model_validate(params)))


def one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.title for f in findings]
    return findings[0]


def restores(
    age: timedelta | None,
    *,
    via: str | None = "aws_backup",
    kind: str = "restore",
    history_days: int | None = None,
) -> dict[str, Any]:
    """Restore evidence attributes as the owning scope writes them: the newest successful
    restore `age` ago (None: none read), read from `via` (None: restores could not be read),
    whose record reaches back `history_days` (None: the whole record)."""
    return {
        "restore_history_days": history_days if via else None,
        "restore_evidence": via,
        "restore_evidence_error": None if via else "ListRestoreJobs is not supported (404)",
        "last_restore_at": iso(NOW - age) if age is not None else None,
        "last_restore_kind": kind if age is not None else None,
        "restore_test_plans": [],
        "restores_unattributed": False,
    }

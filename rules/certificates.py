"""Certificate rules: expiring, expired, invalid (hostname, trust, weak key, SHA-1), and not
served (a probed endpoint serves another certificate than the load balancer or CDN it is
routed to has bound)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from rules.base import NoParams, describe, finding
from rules.compliance import Controls
from rules.view import PROBE_PROVIDER, InventoryView
from vigil.core.facts import certificate_expiry, dns_name
from vigil.core.model import Finding, LinkKind, Resource, ResourceType, Severity
from vigil.core.schema import StrictModel

_CERT = (ResourceType.CERTIFICATE.value,)
_RENEW = (
    "Renew the certificate (or fix why automatic renewal failed: for ACM, DNS validation "
    "records and in-use status) and deploy it wherever it is served."
)


def expiry(resource: Resource) -> tuple[datetime | None, str]:
    """When the certificate stops working, and which field says so (vigil.core.facts)."""
    return certificate_expiry(resource.attributes)


def days(delta: timedelta) -> int:
    """Whole days, rounded down: 5 days 23 hours is 5 days."""
    return math.floor(delta.total_seconds() / 86400)


def subject(resource: Resource) -> str:
    """What a user calls the certificate: its domain, else its server name or id."""
    attributes = resource.attributes
    return str(
        attributes.get("common_name")
        or attributes.get("server_name")
        or resource.name
        or resource.native_id
    )


class ExpiringParams(StrictModel):
    """`rules.params.cert.expiring`: warn (medium) and critical (high) windows, in days."""

    warn_days: int = Field(default=30, ge=1)
    critical_days: int = Field(default=7, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ExpiringParams:
        if self.critical_days > self.warn_days:
            raise ValueError("critical_days must not be larger than warn_days")
        return self


class CertificateExpiring:
    """A certificate that expires within `warn_days` (medium) or `critical_days` (high).

    Expiry is the earliest of the certificate's and its chain's `not_after`; a certificate
    expiring exactly at the threshold is within it. Expired ones are `cert.expired`'s.
    """

    id = "cert.expiring"
    title = "Certificate expiring soon"
    severity = Severity.HIGH
    resource_types = _CERT
    params_model = ExpiringParams
    remediation = _RENEW
    # Not PCI DSS 4.2.1: a certificate still valid meets it; `cert.expired` is the failure.
    compliance: Controls = {"soc2-2017": ("CC7.1",), "iso27001-2022": ("A.8.24",)}

    def evaluate(self, view: InventoryView, params: ExpiringParams) -> Iterator[Finding]:
        warn = timedelta(days=params.warn_days)
        critical = timedelta(days=params.critical_days)
        bound = bindings(view)
        for resource in view.of_type(*self.resource_types):
            when, key = expiry(resource)
            if when is None:
                continue
            left = when - view.now
            if left <= timedelta(0) or left > warn:
                continue
            severity = Severity.HIGH if left <= critical else Severity.MEDIUM
            name = subject(resource)
            served_by = served_at(resource, bound)
            where = f" Served by {', '.join(served_by[:10])}." if served_by else ""
            yield finding(
                self,
                resource,
                f"certificate {name} expires in {days(left)} days (threshold {params.warn_days})",
                f"{describe(resource)} is valid until {when:%Y-%m-%d %H:%M}Z ({key}); "
                f"warn at {params.warn_days} days, critical at {params.critical_days} days."
                + where,
                severity=severity,
                evidence={
                    key: when.isoformat(),
                    "days_left": days(left),
                    "warn_days": params.warn_days,
                    "critical_days": params.critical_days,
                    "served_by": served_by,
                },
            )


def bindings(view: InventoryView) -> dict[str, list[str]]:
    """Certificate ARN → the load balancers and CDNs it is bound to, as `type native_id`."""
    bound: dict[str, list[str]] = {}
    for balancer in view.of_type(ResourceType.LOAD_BALANCER.value):
        arns = {
            arn
            for listener in balancer.attributes.get("listeners") or ()
            if isinstance(listener, dict)
            for arn in listener.get("certificates") or ()
        }
        for arn in sorted(arns):
            bound.setdefault(str(arn), []).append(f"load_balancer {balancer.native_id}")
    for cdn in view.of_type(ResourceType.CDN.value):
        arn = cdn.attributes.get("certificate")
        if isinstance(arn, str) and arn.startswith("arn:"):
            bound.setdefault(arn, []).append(f"cdn {cdn.native_id}")
    return bound


def served_at(certificate: Resource, bound: dict[str, list[str]]) -> list[str]:
    """Where a certificate is served: its bindings in the inventory, else ACM's `in_use_by`."""
    found = bound.get(certificate.native_id)
    if found:
        return found
    return [str(arn) for arn in certificate.attributes.get("in_use_by") or ()]


class CertificateExpired:
    """A certificate past its expiry, reported for as long as it stays in the inventory."""

    id = "cert.expired"
    title = "Certificate expired"
    severity = Severity.CRITICAL
    resource_types = _CERT
    params_model = NoParams
    remediation = _RENEW + " Delete expired certificates nothing uses any more."
    compliance: Controls = {
        "soc2-2017": ("CC7.1",),
        "pci-dss-4.0": ("4.2.1",),
        "iso27001-2022": ("A.8.24",),
        "gdpr": ("Art. 32(1)(a)",),
        "hipaa": ("164.312(e)(1)",),
    }

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        for resource in view.of_type(*self.resource_types):
            when, key = expiry(resource)
            if when is None or when > view.now:
                continue
            ago = days(view.now - when)
            yield finding(
                self,
                resource,
                f"certificate {subject(resource)} expired {ago} days ago",
                f"{describe(resource)} stopped being valid at {when:%Y-%m-%d %H:%M}Z ({key}).",
                evidence={key: when.isoformat(), "days_expired": ago},
            )


class InvalidParams(StrictModel):
    """`rules.params.cert.invalid`: the smallest acceptable key sizes, in bits."""

    min_rsa_bits: int = Field(default=2048, ge=512)
    min_ec_bits: int = Field(default=256, ge=128)


class CertificateInvalid:
    """A certificate clients will reject or should: verification failed (hostname mismatch,
    untrusted or self-signed), a weak key (RSA < 2048, EC < 256 bits) or a SHA-1 signature.

    `verified` is only set by probes; a missing value means "not checked", never a finding.
    """

    id = "cert.invalid"
    title = "Certificate invalid or weak"
    severity = Severity.HIGH
    resource_types = _CERT
    params_model = InvalidParams
    remediation = (
        "Reissue the certificate from a trusted CA for the names it serves, with an RSA key "
        "of at least 2048 bits or an EC key of at least 256 bits and a SHA-256 signature."
    )
    compliance: Controls = {
        "pci-dss-4.0": ("4.2.1",),
        "iso27001-2022": ("A.8.24",),
        "soc2-2017": ("CC6.7",),
        "gdpr": ("Art. 32(1)(a)",),
        "hipaa": ("164.312(e)(1)",),
    }

    def evaluate(self, view: InventoryView, params: InvalidParams) -> Iterator[Finding]:
        for resource in view.of_type(*self.resource_types):
            problems = certificate_problems(resource.attributes, params)
            if not problems:
                continue
            yield finding(
                self,
                resource,
                f"certificate {subject(resource)} is invalid: {'; '.join(problems)}",
                f"{describe(resource)}: " + "; ".join(problems) + ".",
                evidence={"problems": problems, **_evidence(resource.attributes)},
            )


def certificate_problems(attributes: dict[str, Any], params: InvalidParams) -> list[str]:
    """Why a certificate is invalid, one phrase per problem (empty when it is fine)."""
    problems = []
    reason = str(attributes.get("verify_error") or "verification failed")
    # Expiry alone is cert.expired's finding (critical); reporting it again here would page
    # twice for one problem.
    if attributes.get("verified") is False and reason != "expired":
        problems.append(f"verification failed ({reason})")
    algorithm = str(attributes.get("key_algorithm") or "").upper()
    size = attributes.get("key_size")
    if isinstance(size, int):
        if algorithm == "RSA" and size < params.min_rsa_bits:
            problems.append(f"RSA key of {size} bits (minimum {params.min_rsa_bits})")
        elif algorithm in ("EC", "ECDSA") and size < params.min_ec_bits:
            problems.append(f"EC key of {size} bits (minimum {params.min_ec_bits})")
    signature = str(attributes.get("signature_algorithm") or "")
    normalized = signature.lower().replace("-", "")
    if "sha1" in normalized or normalized.startswith("md5") or "md5with" in normalized:
        problems.append(f"signed with {signature}")
    return problems


def _evidence(attributes: dict[str, Any]) -> dict[str, Any]:
    keys = ("verified", "verify_error", "key_algorithm", "key_size", "signature_algorithm")
    return {key: attributes[key] for key in keys if key in attributes}


_FRONTS = frozenset({ResourceType.LOAD_BALANCER.value, ResourceType.CDN.value})
"""What a DNS name may be routed to for `cert.not_served`: the resources that bind certificates."""


def routed_fronts(view: InventoryView) -> dict[str, list[tuple[Resource, Resource]]]:
    """DNS name -> (record, load balancer or CDN) along the records' `routes_to` links.

    Only resolved links count: a name routed to something not in the inventory is not known to
    be routed to a load balancer or CDN. Probe records observe names; they route nothing.
    """
    routes = view.links_from(LinkKind.ROUTES_TO.value)
    fronts: dict[str, list[tuple[Resource, Resource]]] = {}
    for record in view.of_type(ResourceType.DNS_RECORD.value):
        if record.provider == PROBE_PROVIDER:
            continue
        for target in routes.get(record.uid, ()):
            front = view.by_uid.get(target)
            if front is not None and front.type in _FRONTS:
                fronts.setdefault(dns_name(record.name), []).append((record, front))
    return fronts


def endpoint_name(endpoint: Resource) -> str:
    """The DNS name a probed endpoint was asked for: its server name (SNI), else its host."""
    attributes = endpoint.attributes
    return dns_name(str(attributes.get("server_name") or attributes.get("host") or ""))


def bindings_complete(front: Resource) -> bool:
    """Whether every certificate a load balancer's listeners serve is known (collectors/aws/elb.py:
    a role that may not read a listener's SNI certificates leaves `certificates_complete` false).
    """
    return not any(
        isinstance(listener, dict) and listener.get("certificates_complete") is False
        for listener in front.attributes.get("listeners") or ()
    )


def _label(resource: Resource) -> str:
    return f"{resource.type} {describe(resource)}"


class CertificateNotServed:
    """The endpoint of a DNS name routed to a load balancer or CDN serves another certificate
    than the ones bound to it: a listener or distribution changed, a proxy or an old server
    answers in front, or the name points elsewhere than the records say.

    It follows the links: the DNS record's `routes_to` to a load balancer or CDN, then their
    `serves` to certificates. A TLS probe of the name (its `server_name`, else its `host`)
    compares the leaf's `serial` with the bound certificates' (ACM's `serial`). Unknown is not
    empty: a probe that did not complete, a bound certificate not in the inventory or without
    a serial, or a scope not known leaves the endpoint undecided, never flagged.
    """

    id = "cert.not_served"
    title = "Endpoint serves another certificate than the one bound"
    severity = Severity.MEDIUM
    resource_types = _CERT
    params_model = NoParams
    remediation = (
        "Find what answers for the name (`vigil topology --from NAME`): point the DNS record "
        "at the load balancer or CDN, remove the proxy or old server in front, or bind the "
        "certificate that should be served to the listener or distribution."
    )
    compliance: Controls = {"soc2-2017": ("CC7.1",), "iso27001-2022": ("A.8.24",)}

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        endpoints = [r for r in view.of_type(*self.resource_types) if r.provider == PROBE_PROVIDER]
        if not endpoints:
            return
        fronts = routed_fronts(view)
        serves = view.links_from(LinkKind.SERVES.value)
        for endpoint in endpoints:
            routed = fronts.get(endpoint_name(endpoint))
            if not routed:
                continue  # not a name routed to a load balancer or CDN
            bound = sorted({to for _, front in routed for to in serves.get(front.uid, ())})
            if not bound:
                continue  # nothing bound (plain HTTP, CloudFront's default certificate)
            found = self._judge(view, endpoint, routed, bound)
            if found is not None:
                yield found

    def _judge(
        self,
        view: InventoryView,
        endpoint: Resource,
        routed: list[tuple[Resource, Resource]],
        bound: list[str],
    ) -> Finding | None:
        attributes = endpoint.attributes
        served = attributes.get("serial")
        if (
            not view.observed(endpoint)
            or attributes.get("reachable") is not True
            or not isinstance(served, str)
            or not served
        ):
            view.undecided(self.id, endpoint.uid)  # no completed probe: nothing was seen
            return None
        known: list[Resource] = []
        unknown = False
        for uid in bound:
            certificate = view.by_uid.get(uid)
            serial = certificate.attributes.get("serial") if certificate is not None else None
            if certificate is None or not serial or not view.observed(certificate):
                unknown = True
            elif serial == served:
                return None  # the endpoint serves one of the bound certificates
            else:
                known.append(certificate)
        sides = [resource for pair in routed for resource in pair]
        unknown = unknown or any(not bindings_complete(front) for _, front in routed)
        if unknown or not all(view.observed(resource) for resource in sides):
            view.undecided(self.id, endpoint.uid)
            return None
        name = endpoint_name(endpoint)
        fronts = sorted({_label(front) for _, front in routed})
        subject_ = attributes.get("common_name") or "no common name"
        issuer = attributes.get("issuer") or "an unknown issuer"
        bound_text = ", ".join(
            f"{c.native_id} (serial {c.attributes.get('serial')})" for c in known
        )
        return finding(
            self,
            endpoint,
            f"{endpoint.native_id} ({name}) serves certificate {subject_} "
            f"(serial {served}), not the one bound to {', '.join(fronts)}",
            f"{name} is routed to {', '.join(fronts)}, bound to {bound_text}; "
            f"the probe of {endpoint.native_id} was served serial {served} "
            f"({subject_}, issued by {issuer}).",
            evidence={
                "dns_name": name,
                "served_serial": served,
                "served_common_name": attributes.get("common_name"),
                "records": sorted({record.uid for record, _ in routed}),
                "routed_to": sorted({front.uid for _, front in routed}),
                "bound": [
                    {"uid": c.uid, "native_id": c.native_id, "serial": c.attributes.get("serial")}
                    for c in known
                ],
            },
        )

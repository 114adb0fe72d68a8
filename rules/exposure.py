"""Exposure rules: data anyone on the internet can read, web traffic served in plain text.

`exposure.public` judges a bucket by its `public` attribute (public through its ACL or
policy and not blocked), a snapshot by its `public` attribute where the collector reads it,
and a database by two facts together: it is `publicly_accessible` and one of its security
groups lets the whole internet reach its port. A security group that is not in the
inventory, or whose scope is not known, leaves the database undecided.
"""

from __future__ import annotations

from collections.abc import Iterator

from rules.base import NoParams, describe, finding
from rules.compliance import Controls
from rules.network import OpenPortParams, exposed_ports, is_world
from rules.view import InventoryView
from vigil.core.model import Finding, Resource, ResourceType, Severity

BUCKET, SNAPSHOT, DATABASE = (
    ResourceType.BUCKET.value,
    ResourceType.SNAPSHOT.value,
    ResourceType.DATABASE.value,
)
SECURITY_GROUP = ResourceType.SECURITY_GROUP.value
INTERNET_FACING = "internet-facing"


class PublicExposure:
    """A bucket, snapshot or database that anyone on the internet can read (critical for a
    snapshot: a whole disk or database, copyable by any AWS account)."""

    id = "exposure.public"
    title = "Readable by anyone on the internet"
    severity = Severity.HIGH
    resource_types = (BUCKET, SNAPSHOT, DATABASE)
    params_model = NoParams
    remediation = (
        "Turn on all 4 S3 Block Public Access settings for the bucket (and the account), or "
        "remove the public grant or policy statement; stop sharing the snapshot with `all`; "
        "set the database to not publicly accessible and remove the 0.0.0.0/0 and ::/0 "
        "entries on its port."
    )
    compliance: Controls = {
        "cis-aws-3.0": ("2.1.4", "2.3.3"),
        # 1.4.4: stored data not directly accessible from untrusted networks (1.4.1 only asks
        # that network security controls exist between trusted and untrusted networks).
        "pci-dss-4.0": ("1.4.4",),
        "soc2-2017": ("CC6.1", "CC6.6"),
        "iso27001-2022": ("A.8.3", "A.8.20"),
        "gdpr": ("Art. 32(1)(b)",),
        "hipaa": ("164.312(a)(1)",),
    }

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        groups = {(g.account, g.native_id): g for g in view.of_type(SECURITY_GROUP)}
        for resource in view.of_type(BUCKET, SNAPSHOT):
            public = resource.attributes.get("public")
            if not view.observed(resource) or not isinstance(public, bool):
                view.undecided(self.id, resource.uid)
            elif public:
                yield self._public(resource)
        for database in view.of_type(DATABASE):
            if database.attributes.get("publicly_accessible") is not True:
                continue  # false is private; null (an Aurora cluster) is judged per member
            openings = _world_openings(view, database, groups)
            if openings is None:
                view.undecided(self.id, database.uid)
            elif openings:
                yield self._open_database(database, openings)

    def _public(self, resource: Resource) -> Finding:
        reasons = resource.attributes.get("public_reasons") or []
        through = f" through its {' and '.join(reasons)}" if reasons else ""
        return finding(
            self,
            resource,
            f"{resource.type} {describe(resource)} is readable by anyone{through}",
            f"public: true; block_public_access: {resource.attributes.get('block_public_access')}.",
            severity=Severity.CRITICAL if resource.type == SNAPSHOT else None,
            evidence={"public": True, "public_reasons": reasons},
        )

    def _open_database(self, database: Resource, openings: list[str]) -> Finding:
        port = database.attributes.get("port")
        return finding(
            self,
            database,
            f"database {describe(database)} is publicly accessible and open to the internet "
            f"on port {port}",
            f"publicly_accessible: true; security group(s) {', '.join(openings)} allow "
            f"0.0.0.0/0 or ::/0 on port {port}.",
            evidence={"port": port, "security_groups": openings},
        )


def _world_openings(
    view: InventoryView, database: Resource, groups: dict[tuple[str, str], Resource]
) -> list[str] | None:
    """The database's security groups open to the world on its port; None when unknown."""
    port = database.attributes.get("port")
    names = database.attributes.get("security_groups")
    if not view.observed(database) or not isinstance(port, int) or not isinstance(names, list):
        return None
    only_its_port = OpenPortParams(sensitive_ports=[port], sensitive_udp_ports=[])
    openings = []
    for group_id in names:
        group = groups.get((database.account, str(group_id)))
        if group is None or not view.observed(group):
            return None
        for entry in group.attributes.get("ingress") or ():
            if isinstance(entry, dict) and is_world(entry):
                protocol, ports = exposed_ports(entry, only_its_port)
                if ports and protocol in ("tcp", "all"):
                    openings.append(group.native_id)
                    break
    return openings


class PlaintextWeb:
    """An internet-facing load balancer listener or a CDN that serves HTTP without
    redirecting to HTTPS.

    A load balancer's HTTP listener counts when it forwards to targets (or, for a web server,
    serves its own content); one that redirects to HTTPS or answers a fixed response serves no
    application in plain text. A listener with its own `scheme` (hosts' nginx and HAProxy:
    bound to loopback or a private address, or on a wildcard address of a private host) is
    judged by that; a null scheme (the host's addresses not known) leaves the balancer
    undecided when such a listener serves plain HTTP. A CDN counts
    when a cache behaviour's viewer protocol policy is `allow-all`; a disabled one does not.
    """

    id = "tls.plaintext"
    title = "Serves HTTP without redirecting to HTTPS"
    severity = Severity.MEDIUM
    resource_types = (ResourceType.LOAD_BALANCER.value, ResourceType.CDN.value)
    params_model = NoParams
    remediation = (
        "Make port 80 redirect: on an ALB set the HTTP listener's default action to "
        "redirect to HTTPS:443 (HTTP_301); on CloudFront set every cache behaviour's viewer "
        "protocol policy to redirect-to-https."
    )
    compliance: Controls = {
        "pci-dss-4.0": ("4.2.1",),
        "soc2-2017": ("CC6.7",),
        "iso27001-2022": ("A.8.24",),
        "gdpr": ("Art. 32(1)(a)",),
        "hipaa": ("164.312(e)(1)",),
    }

    def evaluate(self, view: InventoryView, params: NoParams) -> Iterator[Finding]:
        for resource in view.of_type(*self.resource_types):
            if not view.observed(resource):
                view.undecided(self.id, resource.uid)
                continue
            if resource.type == ResourceType.CDN:
                found = self._cdn(resource)
            else:
                found = self._load_balancer(view, resource)
            if found is not None:
                yield found

    def _cdn(self, cdn: Resource) -> Finding | None:
        policy = cdn.attributes.get("viewer_protocol_policy")
        if policy != "allow-all" or cdn.attributes.get("enabled") is False:
            return None
        return finding(
            self,
            cdn,
            f"CDN {describe(cdn)} serves HTTP without redirecting to HTTPS",
            "viewer_protocol_policy: allow-all (the weakest of its cache behaviours).",
            evidence={"viewer_protocol_policy": policy},
        )

    def _load_balancer(self, view: InventoryView, balancer: Resource) -> Finding | None:
        attributes = balancer.attributes
        if attributes.get("scheme") != INTERNET_FACING and not (
            "scheme" in attributes and attributes["scheme"] is None
        ):
            return None  # internal (or a balancer without any scheme: never judged)
        serving = [
            listener
            for listener in attributes.get("listeners") or ()
            if isinstance(listener, dict)
            and str(listener.get("protocol") or "").upper() == "HTTP"
            and listener.get("default_action") in SERVING
        ]
        plain = [
            f"HTTP:{listener.get('port')}"
            for listener in serving
            if listener.get("scheme", attributes.get("scheme")) == INTERNET_FACING
        ]
        if not plain:
            if any(
                listener.get("scheme", attributes.get("scheme")) is None for listener in serving
            ):
                view.undecided(self.id, balancer.uid)  # where it listens is not known
            return None
        return finding(
            self,
            balancer,
            f"load balancer {describe(balancer)} serves HTTP without redirecting to HTTPS "
            f"on {', '.join(plain)}",
            "Internet-facing; the listener(s) forward plain HTTP to the targets"
            + (" or serve content of their own." if _serves(balancer) else "."),
            evidence={"listeners": plain},
        )


SERVING = frozenset({"forward", "serve"})
"""Listener actions that answer requests with an application's content (`serve`: a web
server's own files, e.g. nginx `root`)."""


def _serves(balancer: Resource) -> bool:
    return any(
        isinstance(listener, dict) and listener.get("default_action") == "serve"
        for listener in balancer.attributes.get("listeners") or ()
    )

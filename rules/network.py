"""Network rules: security groups open to the internet on sensitive ports, exposed ports.

`network.open_port` judges ingress entries (see docs/attributes.md) whose source is the whole
internet (`0.0.0.0/0` or `::/0`). Not findings, on purpose: egress, web ports, private or
narrower ranges, security-group and prefix-list references, and protocols without ports
(GRE `47`, ICMP): those are what false positives are made of.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from rules.base import describe, finding
from rules.compliance import Controls
from rules.view import InventoryView
from vigil.core.facts import protocol_name
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import StrictModel

DEFAULT_SENSITIVE = [22, 3389, 3306, 5432, 1433, 1521, 6379, 9200, 27017, 11211, 2375, 5900]
DEFAULT_SENSITIVE_UDP = [161, 3389, 11211]
_ALL_PORTS = (0, 65535)


class OpenPortParams(StrictModel):
    """`rules.params.network.open_port`: which ports are sensitive, per protocol."""

    sensitive_ports: list[int] = Field(default_factory=lambda: list(DEFAULT_SENSITIVE))
    sensitive_udp_ports: list[int] = Field(default_factory=lambda: list(DEFAULT_SENSITIVE_UDP))


def is_world(entry: dict[str, Any]) -> bool:
    """Whether an entry's source is the whole IPv4 or IPv6 internet (a /0)."""
    if entry.get("source_kind") not in ("ipv4", "ipv6"):
        return False
    try:
        return ipaddress.ip_network(str(entry.get("source")), strict=False).prefixlen == 0
    except ValueError:
        return False


def exposed_ports(entry: dict[str, Any], params: OpenPortParams) -> tuple[str, list[int]]:
    """(protocol, the sensitive ports an entry covers); protocol `all` means everything."""
    protocol = protocol_name(str(entry.get("protocol", "")))
    if protocol == "all":
        return "all", sorted(set(params.sensitive_ports) | set(params.sensitive_udp_ports))
    if protocol not in ("tcp", "udp"):
        return protocol, []  # GRE, ICMP, ESP...: no ports, not what this rule is about
    low, high = _port(entry.get("from_port")), _port(entry.get("to_port"))
    low, high = _ALL_PORTS if low is None or low < 0 else (low, high if high is not None else low)
    candidates = params.sensitive_ports if protocol == "tcp" else params.sensitive_udp_ports
    return protocol, sorted(p for p in set(candidates) if low <= p <= high)


def _port(value: Any) -> int | None:
    """A port as an int: some drivers hand them over as text (`"22"`); unreadable → None."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _port_text(entry: dict[str, Any]) -> str:
    low, high = _port(entry.get("from_port")), _port(entry.get("to_port"))
    if low is None or low < 0:
        return "all ports"
    high = low if high is None else high
    return f"port {low}" if low == high else f"ports {low}-{high}"


class OpenPort:
    """A security group that lets the internet reach a sensitive port.

    Critical when an entry allows all traffic, high otherwise. TCP entries are judged against
    `sensitive_ports`, UDP entries against `sensitive_udp_ports` (services that answer over
    UDP: SNMP, RDP, memcached). Port ranges count when they include a sensitive port.
    """

    id = "network.open_port"
    title = "Sensitive port open to the internet"
    severity = Severity.HIGH
    resource_types = (ResourceType.SECURITY_GROUP.value,)
    params_model = OpenPortParams
    remediation = (
        "Remove the 0.0.0.0/0 or ::/0 ingress entry, or narrow it to the addresses that need "
        "access; reach administrative ports through a VPN, bastion or SSM Session Manager."
    )
    # PCI DSS 1.4.2 (inbound from untrusted networks restricted), not 1.4.1 (NSCs exist).
    compliance: Controls = {
        "cis-aws-3.0": ("5.2", "5.3"),
        "pci-dss-4.0": ("1.3.1", "1.4.2"),
        "soc2-2017": ("CC6.6",),
        "iso27001-2022": ("A.8.20",),
        "gdpr": ("Art. 32(1)(b)",),
        "hipaa": ("164.312(a)(1)",),
    }

    def evaluate(self, view: InventoryView, params: OpenPortParams) -> Iterator[Finding]:
        users = group_users(view)
        for group in view.of_type(*self.resource_types):
            matches = []
            for entry in group.attributes.get("ingress") or ():
                if not isinstance(entry, dict) or not is_world(entry):
                    continue
                protocol, ports = exposed_ports(entry, params)
                if ports:
                    matches.append((entry, protocol, ports))
            if not matches:
                continue
            all_traffic = any(protocol == "all" for _, protocol, _ in matches)
            ports = sorted({p for _, _, found in matches for p in found})
            phrases = [_phrase(entry, protocol, found) for entry, protocol, found in matches]
            what = "all traffic" if all_traffic else f"port(s) {', '.join(map(str, ports))}"
            used_by = users.get((group.account, group.native_id), [])
            shown = f" Used by {', '.join(used_by[:10])}." if used_by else ""
            yield finding(
                self,
                group,
                f"security group {describe(group)} is open to the internet on {what}",
                "Ingress " + "; ".join(phrases) + "." + shown,
                severity=Severity.CRITICAL if all_traffic else Severity.HIGH,
                evidence={
                    "permissions": [
                        {**entry, "sensitive_ports": found} for entry, _, found in matches
                    ],
                    "ports": ports,
                    "all_traffic": all_traffic,
                    "used_by": used_by,
                },
            )


GROUP_USERS = (
    ResourceType.SERVER.value,
    ResourceType.LOAD_BALANCER.value,
    ResourceType.DATABASE.value,
    ResourceType.CACHE.value,
    ResourceType.FUNCTION.value,
    ResourceType.KUBERNETES_CLUSTER.value,
)
"""Types whose `security_groups` attribute names the groups that guard them."""


def group_users(view: InventoryView) -> dict[tuple[str, str], list[str]]:
    """(account, security group id) → `type native_id` of every resource it guards."""
    users: dict[tuple[str, str], list[str]] = {}
    for resource in view.of_type(*GROUP_USERS):
        for group_id in resource.attributes.get("security_groups") or ():
            key = (resource.account, str(group_id))
            users.setdefault(key, []).append(f"{resource.type} {resource.native_id}")
    return users


def _phrase(entry: dict[str, Any], protocol: str, ports: list[int]) -> str:
    source = entry.get("source")
    if protocol == "all":
        return f"all traffic from {source}"
    sensitive = ", ".join(map(str, ports))
    return f"{protocol} {_port_text(entry)} from {source} (sensitive: {sensitive})"


class PortExposedParams(StrictModel):
    """`rules.params.network.port_exposed`: the allowed ports of servers that set none."""

    allowed_ports: list[int] | None = None


class PortExposed:
    """A server on which a probe reached a port its policy does not allow.

    The policy is the server's `allowed_ports` attribute (set by probes and host collectors),
    else `allowed_ports` from params; a server with neither has no policy and is not judged.
    Ports are judged only when they are current: the server's scope is known and the probe
    reached the host this pass; otherwise a stored finding keeps its status.
    """

    id = "network.port_exposed"
    title = "Port reachable that policy forbids"
    severity = Severity.HIGH
    resource_types = (ResourceType.SERVER.value,)
    params_model = PortExposedParams
    remediation = (
        "Stop the service or firewall the port; if it should be reachable, add it to the "
        "server's allowed ports."
    )
    compliance: Controls = {
        "pci-dss-4.0": ("1.2.5",),
        "soc2-2017": ("CC6.6",),
        "iso27001-2022": ("A.8.20",),
        "gdpr": ("Art. 32(1)(b)",),
        "hipaa": ("164.312(a)(1)",),
    }

    def evaluate(self, view: InventoryView, params: PortExposedParams) -> Iterator[Finding]:
        for server in view.of_type(*self.resource_types):
            attributes = server.attributes
            if not observed_now(view, server):
                # The ports it lists are the last known ones: neither open nor resolve on them.
                view.undecided(self.id, server.uid)
                continue
            open_ports = reachable_ports(attributes)
            if not open_ports:
                continue
            allowed = attributes.get("allowed_ports")
            if allowed is None:
                allowed = params.allowed_ports
            if allowed is None:
                continue
            forbidden = sorted(set(open_ports) - set(allowed))
            if not forbidden:
                continue
            ports = ", ".join(map(str, forbidden))
            yield finding(
                self,
                server,
                f"server {describe(server)} answers on forbidden port(s) {ports}",
                f"Reachable: {', '.join(map(str, sorted(open_ports)))}; "
                f"allowed: {', '.join(map(str, sorted(allowed))) or 'none'}.",
                evidence={
                    "forbidden": forbidden,
                    "open_ports": sorted(open_ports),
                    "allowed_ports": sorted(allowed),
                },
            )


def observed_now(view: InventoryView, server: Resource) -> bool:
    """Whether the server's ports are current: its scope (the probe's or the host's) is known
    and this pass observed it (a probe that got no answer carries the last ports forward)."""
    if server.attributes.get("reachable") is False:
        return False
    return view.known_beside(server, ResourceType.SERVER.value)


def reachable_ports(attributes: dict[str, Any]) -> set[int]:
    """Ports reachable from outside: what a probe reached, plus what a host listens on
    beyond loopback (a TCP listener on 0.0.0.0 or a public address counts)."""
    ports = {int(p) for p in attributes.get("open_ports") or ()}
    for listener in attributes.get("listening_ports") or ():
        if not isinstance(listener, dict) or listener.get("protocol", "tcp") != "tcp":
            continue
        if not _is_loopback(listener.get("address")):
            ports.add(int(listener["port"]))
    return ports


def _is_loopback(address: Any) -> bool:
    try:
        return ipaddress.ip_address(str(address).strip("[]")).is_loopback
    except ValueError:
        return False  # an address we cannot read still counts as exposed

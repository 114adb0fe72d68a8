"""TCP port probes: connect to each configured port of a host, then hang up.

A port is *open* when the connection is accepted, *closed* when the host refuses it (the host
answered, so it is reachable), *filtered* when nothing answers before the timeout. A host
that answered on no port at all is unreachable: an unknown outcome, not an empty port list.
Only the hosts the config names or the inventory owns are ever probed; ranges are refused at
config load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors.probes.base import Pacer, ProbeResult, error_text

OPEN, CLOSED, FILTERED = "open", "closed", "filtered"


@dataclass
class HostPlan:
    """One host and the ports to try on it (configured and inventory-derived, merged)."""

    host: str
    ports: set[int] = field(default_factory=set)
    allowed: set[int] = field(default_factory=set)


async def probe_host(plan: HostPlan, pacer: Pacer, timeout: float) -> ProbeResult:
    """Every port of one host, each connection paced by the shared `pacer`."""
    ports = sorted(plan.ports)
    results = await asyncio.gather(*(_paced(pacer, plan.host, port, timeout) for port in ports))
    states = dict(zip(ports, results, strict=True))
    base: dict[str, Any] = {
        "origin": "probe",
        "host": plan.host,
        "probed_ports": ports,
        "allowed_ports": sorted(plan.allowed),
    }
    if not any(state in (OPEN, CLOSED) for state, _ in states.values()):
        reasons = sorted({reason for _, reason in states.values()})
        return ProbeResult(plan.host, plan.host, base, error="; ".join(reasons))
    base["open_ports"] = [port for port, (state, _) in states.items() if state == OPEN]
    base["filtered_ports"] = [port for port, (state, _) in states.items() if state == FILTERED]
    return ProbeResult(plan.host, plan.host, base)


async def _paced(pacer: Pacer, host: str, port: int, timeout: float) -> tuple[str, str]:
    return await pacer.run(lambda: check_port(host, port, timeout))


async def check_port(host: str, port: int, timeout: float) -> tuple[str, str]:
    """(`open`|`closed`|`filtered`, reason) of one TCP port."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        return CLOSED, "connection refused"
    except (OSError, TimeoutError, UnicodeError) as exc:  # UnicodeError: an IDNA-invalid name
        return FILTERED, error_text(exc)
    writer.transport.abort()
    return OPEN, ""


def merge_plans(plans: Sequence[HostPlan]) -> list[HostPlan]:
    """One plan per host: a host named twice is probed once on the union of its ports."""
    merged: dict[str, HostPlan] = {}
    for plan in plans:
        into = merged.setdefault(plan.host, HostPlan(plan.host))
        into.ports |= plan.ports
        into.allowed |= plan.allowed
    return list(merged.values())

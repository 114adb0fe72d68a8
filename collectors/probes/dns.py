"""DNS probes: resolve names against the configured resolvers and follow CNAME chains.

What feeds `dns.dangling` is a *definitive* answer: NXDOMAIN for the name, a CNAME chain ending
in a name that does not exist, or a name with no address records. A resolver that times out,
answers SERVFAIL or REFUSED says nothing about the record, so that outcome is unknown
(`reachable: false`), not `resolves: false`.

Queries go over UDP (TCP when truncated) with dnspython's asyncio API, recursion desired, so
one probe pass shares the event loop, the concurrency limit and the pacing with the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

from collectors.probes.base import ProbeResult, error_text
from vigil.core.errors import CollectError

MAX_CHAIN = 8
ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


class Unknown(CollectError):
    """The resolvers gave no definitive answer (timeout, SERVFAIL, REFUSED)."""


class NotResolved(CollectError):
    """A host name the resolvers gave no address for (NXDOMAIN, no A/AAAA, or no answer)."""


async def address_of(name: str, resolvers: Sequence[tuple[str, int]], timeout: float) -> str:
    """The address a TLS probe connects to for `name`: the first of its A records (else AAAA),
    as the resolvers answer, CNAME chains followed. Raises `NotResolved`."""
    try:
        attributes = await _resolve(name, resolvers, timeout)
    except Unknown as exc:
        raise NotResolved(f"{name} did not resolve: {exc.message}") from None
    except dns.exception.DNSException as exc:
        raise NotResolved(f"{name} did not resolve: {error_text(exc)}") from None
    addresses: list[str] = attributes["resolved_addresses"]
    if not addresses:
        raise NotResolved(f"{name} did not resolve: {attributes['resolve_error']}")
    return sorted(addresses, key=lambda address: (":" in address, address))[0]


def system_resolvers() -> list[tuple[str, int]]:
    """The host's resolvers (/etc/resolv.conf), used when the source configures none."""
    found: list[tuple[str, int]] = []
    for server in dns.resolver.Resolver().nameservers:
        if isinstance(server, str):
            found.append((server, 53))
        elif isinstance(server, dns.nameserver.Do53Nameserver):  # plain DNS; not DoH/DoT
            found.append((server.address, server.port))
    return found


async def probe_name(
    name: str, resolvers: Sequence[tuple[str, int]], timeout: float
) -> ProbeResult:
    """Resolve `name` to addresses; NXDOMAIN and dangling CNAMEs are data, not failures."""
    base: dict[str, Any] = {"origin": "probe", "name": name, "resolver": None}
    try:
        attributes = await _resolve(name, resolvers, timeout)
    except Unknown as exc:
        return ProbeResult(name, name, base, error=exc.message)
    except (OSError, dns.exception.DNSException) as exc:
        return ProbeResult(name, name, base, error=error_text(exc))
    return ProbeResult(name, name, {**base, **attributes})


async def _resolve(
    name: str, resolvers: Sequence[tuple[str, int]], timeout: float
) -> dict[str, Any]:
    chain: list[str] = []
    current = dns.name.from_text(name)
    resolver = ""
    for _ in range(MAX_CHAIN):
        answers, rcode, resolver = await _addresses(current, resolvers, timeout)
        targets = _cname_chain(answers, current)
        chain.extend(t.to_text(omit_final_dot=True) for t in targets)
        final = targets[-1] if targets else current
        addresses = _addresses_of(answers, final)
        if addresses:
            return _result(name, chain, addresses, resolver, None)
        if rcode == dns.rcode.NXDOMAIN:
            return _result(name, chain, [], resolver, _nxdomain_error(chain), nxdomain=True)
        if not targets:  # the name exists but has no address records
            return _result(name, chain, [], resolver, "no A or AAAA records")
        current = final  # the resolver did not chase the CNAME: chase it ourselves
    return _result(name, chain, [], resolver, f"CNAME chain longer than {MAX_CHAIN}")


def _result(
    name: str,
    chain: list[str],
    addresses: list[str],
    resolver: str,
    error: str | None,
    *,
    nxdomain: bool = False,
) -> dict[str, Any]:
    """`nxdomain`: the resolver said the name (or the chain's last target) does not exist, the
    one answer that makes a CNAME dangling (no address records is not that)."""
    return {
        "record_type": "CNAME" if chain else ("AAAA" if _all_v6(addresses) else "A"),
        "values": chain[:1] if chain else addresses,
        "cname_chain": chain,
        "resolved_addresses": addresses,
        "resolves": error is None,
        "resolve_error": error,
        "nxdomain": nxdomain,
        "resolver": resolver,
    }


def _all_v6(addresses: list[str]) -> bool:
    return bool(addresses) and all(":" in a for a in addresses)


def _nxdomain_error(chain: list[str]) -> str:
    if chain:
        return f"CNAME target {chain[-1]} does not exist (NXDOMAIN)"
    return "NXDOMAIN"


async def _addresses(
    name: dns.name.Name, resolvers: Sequence[tuple[str, int]], timeout: float
) -> tuple[list[Any], int, str]:
    """Answer sections of the A and AAAA queries, the combined rcode, and who answered."""
    answers: list[Any] = []
    rcodes: list[int] = []
    resolver = ""
    for rdtype in ADDRESS_TYPES:
        response, resolver = await _query(name, rdtype, resolvers, timeout)
        rcodes.append(response.rcode())
        answers.extend(response.answer)
    nxdomain = all(code == dns.rcode.NXDOMAIN for code in rcodes)
    rcode = dns.rcode.NXDOMAIN if nxdomain else dns.rcode.NOERROR
    return answers, rcode, resolver


async def _query(
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    resolvers: Sequence[tuple[str, int]],
    timeout: float,
) -> tuple[dns.message.Message, str]:
    """Ask each resolver in turn until one gives a definitive answer."""
    failures: list[str] = []
    for address, port in resolvers:
        query = dns.message.make_query(name, rdtype)
        try:
            response, _ = await dns.asyncquery.udp_with_fallback(
                query, address, timeout=timeout, port=port
            )
        except (OSError, dns.exception.DNSException) as exc:
            failures.append(f"{address}:{port} {error_text(exc)}")
            continue
        if response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return response, f"{address}:{port}"
        failures.append(f"{address}:{port} {dns.rcode.to_text(response.rcode())}")
    raise Unknown("; ".join(failures) or "no resolvers configured")


def _cname_chain(answers: list[Any], start: dns.name.Name) -> list[dns.name.Name]:
    """The CNAME targets from `start`, in order, as far as the answer sections go."""
    cnames = {
        rrset.name: rrset[0].target for rrset in answers if rrset.rdtype == dns.rdatatype.CNAME
    }
    chain: list[dns.name.Name] = []
    current = start
    while current in cnames and len(chain) < MAX_CHAIN:
        current = cnames[current]
        chain.append(current)
    return chain


def _addresses_of(answers: list[Any], owner: dns.name.Name) -> list[str]:
    found = {
        rdata.address
        for rrset in answers
        if rrset.rdtype in ADDRESS_TYPES and rrset.name == owner
        for rdata in rrset
    }
    return sorted(found)

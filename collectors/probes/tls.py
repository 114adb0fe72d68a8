"""TLS probes: handshake with SNI, fetch the chain, verify it, normalize the certificate.

How the chain is obtained (Python 3.11 has no public API for it):

1. A *verifying* handshake (system store + `ca_bundle`, hostname checked against the server
   name). When it succeeds the certificate is `verified: true`, and the chain is read with
   `get_verified_chain()` (the path OpenSSL built, trust anchor included) — public on
   `ssl.SSLObject` from Python 3.13, reached through the private `SSLObject._sslobj` before.
2. When verification fails, OpenSSL aborts the handshake and tells why
   (`SSLCertVerificationError.verify_code`); a second, *non-verifying* handshake (any
   protocol version, security level 0, so weak and expired certificates still come through)
   then reads what the server sent with `get_unverified_chain()`.
   Without either method (another Python) only the leaf is read (`getpeercert(True)`).

So a valid endpoint costs one handshake and an invalid one two. Sockets are aborted, not shut
down gracefully: a probe never waits on a peer's close_notify.
"""

from __future__ import annotations

import _ssl  # ENCODING_DER for the private chain API's Certificate objects
import asyncio
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collectors.certs import certificate_attributes, verify_reason
from collectors.probes.base import ProbeResult, error_text
from collectors.probes.config import TlsTarget
from collectors.probes.dns import NotResolved, address_of
from vigil.core.errors import CollectError


class StartTlsError(CollectError):
    """The server's plaintext dialogue did not lead to a TLS handshake."""


@dataclass(frozen=True)
class Contexts:
    """The two client contexts of a TLS probe: one that verifies, one that only looks."""

    verifying: ssl.SSLContext
    lenient: ssl.SSLContext


@dataclass(frozen=True)
class Handshake:
    chain: list[bytes]
    tls_version: str | None
    verified: bool = True
    verify_error: str | None = None
    verify_detail: str | None = None


def make_contexts(ca_bundle: str | None) -> Contexts:
    """Contexts for one probe pass; `ca_bundle` is trusted in addition to the system store."""
    verifying = ssl.create_default_context()
    if ca_bundle:
        verifying.load_verify_locations(cafile=ca_bundle)
    lenient = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    lenient.check_hostname = False
    lenient.verify_mode = ssl.CERT_NONE
    lenient.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    lenient.set_ciphers("ALL:@SECLEVEL=0")  # still see 1024-bit keys and SHA-1 signatures
    return Contexts(verifying, lenient)


async def probe_tls(
    target: TlsTarget,
    contexts: Contexts,
    timeout: float,
    resolvers: Sequence[tuple[str, int]] | None = None,
) -> ProbeResult:
    """Probe one endpoint; a failure to connect is a `ProbeResult` with an error, never a raise.

    With `resolvers` (`tls_resolve: resolvers`), a host name is looked up through them, as the
    DNS probes do, and the address connected to is recorded as `address`; otherwise the
    system's resolver finds it."""
    base: dict[str, Any] = {
        "origin": "probe",
        "host": target.host,
        "port": target.port,
        "server_name": target.sni,
        "starttls": target.starttls,
    }
    try:
        async with asyncio.timeout(timeout):
            address = target.host
            if resolvers is not None and not _is_address(target.host):
                address = base["address"] = await address_of(target.host, resolvers, timeout)
            seen = await _observe(target, contexts, address)
    except (OSError, TimeoutError, StartTlsError, NotResolved, UnicodeError) as exc:
        # UnicodeError: a name IDNA cannot encode (a label over 63 characters); one bad
        # target is that target's error, never the failure of every other target's probe.
        detail = exc.message if isinstance(exc, StartTlsError | NotResolved) else error_text(exc)
        return ProbeResult(target.native_id, target.sni, base, error=detail)
    return ProbeResult(target.native_id, target.sni, {**base, **handshake_attributes(seen)})


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def handshake_attributes(seen: Handshake) -> dict[str, Any]:
    """The certificate's fields and the handshake's verdict.

    A chain `cryptography` cannot read (malformed DER that OpenSSL let through) is an
    observation, not a crash of the whole probe pass: its fields stay unknown and
    `verify_detail` says why.
    """
    detail = seen.verify_detail
    try:
        attributes = certificate_attributes(seen.chain) if seen.chain else {}
    except ValueError as exc:
        attributes = {}
        detail = "; ".join(filter(None, [detail, f"unreadable certificate: {exc}"]))
    attributes.update(
        tls_version=seen.tls_version,
        verified=seen.verified,
        verify_error=seen.verify_error,
        verify_detail=detail,
    )
    return attributes


async def _observe(target: TlsTarget, contexts: Contexts, address: str) -> Handshake:
    """Verify first; only if that fails, look again without verifying."""
    try:
        return await _handshake(target, contexts.verifying, "get_verified_chain", address)
    except ssl.SSLCertVerificationError as exc:
        reason, detail = verify_reason(exc.verify_code), exc.verify_message or str(exc)
    except ssl.SSLError as exc:
        # Not a certificate problem: the server and a modern client share no protocol/cipher.
        reason, detail = "handshake_failed", f"no handshake with a verifying client: {exc}"
    seen = await _handshake(target, contexts.lenient, "get_unverified_chain", address)
    return Handshake(seen.chain, seen.tls_version, False, reason, detail)


async def _handshake(
    target: TlsTarget, context: ssl.SSLContext, chain_method: str, address: str
) -> Handshake:
    if target.starttls == "smtp":
        reader, writer = await asyncio.open_connection(address, target.port)
        try:
            await smtp_starttls(reader, writer)
            await writer.start_tls(context, server_hostname=target.sni)
        except BaseException:
            writer.transport.abort()
            raise
    else:
        _, writer = await asyncio.open_connection(
            address, target.port, ssl=context, server_hostname=target.sni
        )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        chain = der_chain(ssl_object, chain_method) or der_chain(ssl_object, "get_unverified_chain")
        if not chain:
            leaf = ssl_object.getpeercert(binary_form=True)
            chain = [leaf] if leaf else []
        return Handshake(chain, ssl_object.version())
    finally:
        writer.transport.abort()


def der_chain(ssl_object: Any, method: str) -> list[bytes]:
    """The peer's chain as DER, leaf first, by the public (3.13+) or private (3.10+) API."""
    getter = getattr(ssl_object, method, None)
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), method, None)
    if getter is None:
        return []
    certs = getter() or []
    return [c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER) for c in certs]


async def smtp_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Banner, EHLO, STARTTLS: the plaintext part of an SMTP session before TLS."""
    await _smtp_reply(reader, b"220")
    writer.write(b"EHLO vigil-probe\r\n")
    capabilities = await _smtp_reply(reader, b"250")
    if b"STARTTLS" not in capabilities.upper():
        raise StartTlsError("the SMTP server does not offer STARTTLS")
    writer.write(b"STARTTLS\r\n")
    await _smtp_reply(reader, b"220")


async def _smtp_reply(reader: asyncio.StreamReader, expected: bytes) -> bytes:
    """One (possibly multi-line) SMTP reply; raises unless it has the expected code."""
    lines: list[bytes] = []
    while True:
        line = await reader.readline()
        if not line:
            raise StartTlsError("the SMTP server closed the connection before STARTTLS")
        lines.append(line)
        if line[3:4] != b"-":
            break
    if not line.startswith(expected):
        said = line.decode("utf-8", "replace").strip()[:200]
        raise StartTlsError(f"SMTP server answered {said!r}, expected {expected.decode()}")
    return b"".join(lines)

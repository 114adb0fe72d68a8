"""Normalize a certificate chain (DER, leaf first) into the attributes rules read. Pure.

Shared by the TLS probes (chains a server sent) and the hosts collector (PEM files on disk).

Keys follow docs/attributes.md (certificate). The chain's earliest expiry includes the leaf and,
when the handshake verified, the trust anchor: an intermediate or root that expires before the
leaf breaks the chain on that date, whatever the leaf says.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vigil.core.model import iso

# cryptography loads with the first certificate read, not with the AWS collector (which needs
# only `canonical_serial`): 30 ms of `vigil collect`'s start-up.
if TYPE_CHECKING:
    from cryptography import x509

# OpenSSL X509_V_ERR_* codes -> the normalized reason rules match on (verify_error).
_VERIFY_REASONS: dict[int, str] = {
    2: "untrusted",  # unable to get issuer certificate
    9: "not_yet_valid",
    10: "expired",
    18: "self_signed",  # depth zero self-signed
    19: "self_signed",  # self-signed certificate in chain
    20: "untrusted",  # unable to get local issuer certificate
    21: "untrusted",  # unable to verify the first certificate
    23: "revoked",
    62: "hostname_mismatch",
    64: "hostname_mismatch",  # IP address mismatch
    66: "weak_key",  # EE certificate key too weak
    67: "weak_key",  # CA certificate key too weak
    68: "weak_signature",  # CA signature digest algorithm too weak
}


def verify_reason(code: int) -> str:
    """The normalized verification failure for an OpenSSL verify code."""
    return _VERIFY_REASONS.get(code, "invalid")


def certificate_attributes(chain: Sequence[bytes]) -> dict[str, Any]:
    """Leaf fields plus the chain's earliest expiry, from DER certificates (leaf first)."""
    from cryptography import x509

    certs = [x509.load_der_x509_certificate(der) for der in chain]
    leaf = certs[0]
    earliest = min(certs, key=lambda c: c.not_valid_after_utc)
    algorithm, size = key_type(leaf)
    return {
        "common_name": _common_name(leaf.subject),
        "sans": subject_alt_names(leaf),
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "serial": format_serial(leaf.serial_number),
        "fingerprint_sha256": hashlib.sha256(chain[0]).hexdigest(),
        "not_before": _time(leaf.not_valid_before_utc),
        "not_after": _time(leaf.not_valid_after_utc),
        "chain_not_after": _time(earliest.not_valid_after_utc),
        "chain_expiring_subject": earliest.subject.rfc4514_string(),
        "chain_length": len(certs),
        "key_algorithm": algorithm,
        "key_size": size,
        "signature_algorithm": signature_algorithm(leaf),
        "self_signed": leaf.issuer == leaf.subject,
    }


def format_serial(number: int) -> str:
    """A serial number as certificates are compared: lower-case hex, no separators, no zeros
    in front (`1a2b`)."""
    return format(number, "x")


def canonical_serial(value: Any) -> str | None:
    """A serial number as an API spells it, in `format_serial`'s form; None when unreadable.

    ACM's DescribeCertificate says `0f:a2:...` (hex bytes, colon-separated); moto says the
    number in decimal. Colons, or a single byte, mean hex; digits alone (more than one byte's
    worth of them) mean decimal; other hex digits mean hex.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return format_serial(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if not text:
        return None
    try:
        if ":" in text or len(text) <= 2 or not text.isdigit():
            return format_serial(int(text.replace(":", ""), 16))
        return format_serial(int(text, 10))
    except ValueError:
        return None


def key_type(cert: x509.Certificate) -> tuple[str, int | None]:
    """(`RSA`|`EC`|`ED25519`|`ED448`|`DSA`, size in bits) of the certificate's public key."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ED25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "ED448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, None


def signature_algorithm(cert: x509.Certificate) -> str:
    """OpenSSL's name for the signature (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`)."""
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)  # cryptography's registry of OID names
    return str(name) if name and name != "Unknown OID" else oid.dotted_string


def subject_alt_names(cert: x509.Certificate) -> list[str]:
    """DNS names and IP addresses of the subjectAltName extension, in certificate order."""
    from cryptography import x509

    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns = names.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    return [*dns, *ips]


def _common_name(name: x509.Name) -> str | None:
    from cryptography.x509.oid import NameOID

    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def _time(value: datetime) -> str | None:
    return iso(value)


def der_from_pem(blocks: Sequence[bytes]) -> list[bytes] | None:
    """PEM certificate blocks as DER (leaf first); None when any block is damaged.

    Old CA files (negative serial numbers) load quietly.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            certs = [x509.load_pem_x509_certificate(block) for block in blocks]
        except ValueError:
            return None
    return [cert.public_bytes(Encoding.DER) for cert in certs]


def is_ca(der: bytes) -> bool:
    """Whether the certificate is a CA's (basicConstraints CA:TRUE)."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False

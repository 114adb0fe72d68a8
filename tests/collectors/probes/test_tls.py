"""TLS probes against real TLS servers on 127.0.0.1 with certificates from a test CA."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from collectors.probes.tls import Handshake, handshake_attributes
from tests.collectors.probes.helpers import collect
from tests.fixtures.dnsserver import start_dns_server
from tests.fixtures.tls import Issued, TestCA, TlsServers, build_cert, new_key, server_context

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Endpoint:
    port: int
    issued: Issued

    def target(self, server_name: str) -> dict[str, object]:
        return {"host": "127.0.0.1", "port": self.port, "server_name": server_name}


def _serve(
    servers: TlsServers, issued: Issued, directory: Path, stem: str, **options: bool
) -> Endpoint:
    certfile, keyfile = issued.write(directory, stem)
    return Endpoint(servers.serve(server_context(certfile, keyfile), **options), issued)


def _self_signed(host: str) -> Issued:
    key = new_key()
    return Issued(build_cert(host, key, sans=[host]), key)


@pytest.fixture(scope="module")
def endpoints(
    test_ca: TestCA, tls_servers: TlsServers, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Endpoint]:
    """One live endpoint per certificate case, keyed by the case name (= the server name)."""
    directory = tmp_path_factory.mktemp("tls")
    short_intermediate = test_ca.intermediate("Short Intermediate", valid_for=40 * DAY)
    cases = {
        "valid.test": test_ca.leaf("valid.test"),
        "expired.test": test_ca.leaf("expired.test", valid_from=-400 * DAY, valid_for=365 * DAY),
        "expiring.test": test_ca.leaf("expiring.test", valid_from=-30 * DAY, valid_for=33 * DAY),
        "mismatch.test": test_ca.leaf("other.test"),
        "selfsigned.test": _self_signed("selfsigned.test"),
        "weak.test": test_ca.leaf("weak.test", size=1024),
        "ec.test": test_ca.leaf("ec.test", kind="ec"),
        "sha384.test": test_ca.leaf("sha384.test", digest=hashes.SHA384()),
        "chain.test": test_ca.leaf("chain.test", issuer=short_intermediate),
    }
    found = {name: _serve(tls_servers, issued, directory, name) for name, issued in cases.items()}
    smtp = test_ca.leaf("mail.test")
    found["mail.test"] = _serve(tls_servers, smtp, directory, "mail", smtp=True)
    return found


@pytest.fixture(scope="module")
def certificates(endpoints: dict[str, Endpoint], test_ca: TestCA) -> dict[str, dict]:
    """One probe pass over every endpoint; attributes by server name."""
    targets = [e.target(name) for name, e in endpoints.items() if name != "mail.test"]
    targets.append({**endpoints["mail.test"].target("mail.test"), "starttls": "smtp"})
    found = collect("certificate", tls=targets, ca_bundle=str(test_ca.bundle))
    return {r.name: r.attributes for r in found.values()}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_valid_certificate_is_verified_with_its_fields(certificates, endpoints) -> None:
    found = certificates["valid.test"]
    leaf = endpoints["valid.test"].issued.cert
    assert found["verified"] is True
    assert found["verify_error"] is None
    assert found["reachable"] is True
    assert found["common_name"] == "valid.test"
    assert found["sans"] == ["valid.test"]
    assert found["issuer"] == "CN=Vigil Test Root"
    assert found["not_after"] == _iso(leaf.not_valid_after_utc)
    assert found["not_before"] == _iso(leaf.not_valid_before_utc)
    assert (found["key_algorithm"], found["key_size"]) == ("RSA", 2048)
    assert found["signature_algorithm"] == "sha256WithRSAEncryption"
    assert found["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert (found["host"], found["server_name"]) == ("127.0.0.1", "valid.test")


def test_verified_chain_includes_the_trust_anchor(certificates) -> None:
    assert certificates["valid.test"]["chain_length"] == 2


def test_expired_certificate_is_reported_not_dropped(certificates) -> None:
    found = certificates["expired.test"]
    assert found["verified"] is False
    assert found["verify_error"] == "expired"
    assert found["not_after"] < _iso(datetime.now(UTC))
    assert found["common_name"] == "expired.test"


def test_expiring_certificate_is_valid_with_its_expiry(certificates, endpoints) -> None:
    found = certificates["expiring.test"]
    assert found["verified"] is True
    expiry = endpoints["expiring.test"].issued.cert.not_valid_after_utc
    assert expiry - datetime.now(UTC) < 4 * DAY
    assert found["not_after"] == _iso(expiry)


def test_hostname_mismatch(certificates) -> None:
    found = certificates["mismatch.test"]
    assert (found["verified"], found["verify_error"]) == (False, "hostname_mismatch")
    assert "mismatch" in found["verify_detail"].lower()
    assert found["common_name"] == "other.test"


def test_self_signed(certificates) -> None:
    found = certificates["selfsigned.test"]
    assert (found["verified"], found["verify_error"]) == (False, "self_signed")
    assert found["self_signed"] is True


def test_weak_rsa_key_is_collected_with_its_size(certificates) -> None:
    found = certificates["weak.test"]
    assert (found["key_algorithm"], found["key_size"]) == ("RSA", 1024)
    assert (found["verified"], found["verify_error"]) == (False, "weak_key")


def test_ec_key_and_signature_algorithm(certificates) -> None:
    # cryptography >= 45 refuses to sign with SHA-1, so SHA-384 stands in for "another hash"
    assert (certificates["ec.test"]["key_algorithm"], certificates["ec.test"]["key_size"]) == (
        "EC",
        256,
    )
    assert certificates["ec.test"]["signature_algorithm"] == "sha256WithRSAEncryption"
    assert certificates["sha384.test"]["signature_algorithm"] == "sha384WithRSAEncryption"


def test_intermediate_expiring_before_the_leaf(certificates, endpoints) -> None:
    found = certificates["chain.test"]
    intermediate = endpoints["chain.test"].issued.chain[0]
    assert found["verified"] is True
    assert found["chain_not_after"] == _iso(intermediate.not_valid_after_utc)
    assert found["chain_not_after"] < found["not_after"]
    assert found["chain_expiring_subject"] == "CN=Short Intermediate"
    assert found["chain_length"] == 3


def test_smtp_starttls(certificates) -> None:
    found = certificates["mail.test"]
    assert (found["verified"], found["common_name"], found["starttls"]) == (
        True,
        "mail.test",
        "smtp",
    )


def test_untrusted_without_the_ca_bundle(endpoints) -> None:
    found = collect("certificate", tls=[endpoints["valid.test"].target("valid.test")])
    (resource,) = found.values()
    assert (resource.attributes["verified"], resource.attributes["verify_error"]) == (
        False,
        "untrusted",
    )
    assert resource.native_id == f"127.0.0.1:{endpoints['valid.test'].port}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LastKnown:
    """An inventory that remembers one certificate, as storage would."""

    def __init__(self, attributes: dict[str, dict]) -> None:
        self.attributes = attributes

    def public_hosts(self) -> list[str]:
        return []

    def dns_names(self) -> list[str]:
        return []

    def last_known(self, uids):
        return {uid: self.attributes[uid] for uid in uids if uid in self.attributes}


def test_unreachable_target_keeps_its_last_known_certificate(endpoints) -> None:
    closed = _closed_port()
    uid = f"probe/edge/global/certificate/127.0.0.1:{closed}"
    inventory = LastKnown({uid: {"not_after": "2020-01-01T00:00:00Z", "verified": False}})
    targets = [endpoints["valid.test"].target("valid.test"), f"127.0.0.1:{closed}"]
    found = collect("certificate", inventory=inventory, tls=targets)
    down = found[f"127.0.0.1:{closed}"]
    assert down.uid == uid
    assert down.attributes["reachable"] is False
    assert down.attributes["error"] == "connection refused"
    assert down.attributes["not_after"] == "2020-01-01T00:00:00Z"  # the finding stays open
    assert found[f"127.0.0.1:{endpoints['valid.test'].port}"].attributes["reachable"] is True


def test_every_target_unreachable_fails_the_scope() -> None:
    from vigil.core.errors import CollectError

    with pytest.raises(CollectError, match="none of the 1 targets answered"):
        collect("certificate", tls=[f"127.0.0.1:{_closed_port()}"])


BAD_NAME = "a" * 64 + ".test"  # a DNS label over 63 characters: IDNA cannot encode it


def test_a_name_that_cannot_be_encoded_is_its_own_error_not_the_pass(endpoints) -> None:
    """One bad name (config or inventory) must not fail every other target's probe."""
    targets = [endpoints["valid.test"].target("valid.test"), {"host": BAD_NAME, "port": 443}]
    found = collect("certificate", tls=targets)
    assert found[f"127.0.0.1:{endpoints['valid.test'].port}"].attributes["reachable"] is True
    bad = found[f"{BAD_NAME}:443"].attributes
    assert bad["reachable"] is False and "idna" in bad["error"]


def test_an_unreadable_certificate_is_an_observation_not_a_crash() -> None:
    seen = Handshake([b"\x30\x03not a certificate"], "TLSv1.3", False, "untrusted", "no issuer")
    attributes = handshake_attributes(seen)
    assert attributes["verified"] is False and attributes["verify_error"] == "untrusted"
    assert attributes["verify_detail"].startswith("no issuer; unreadable certificate")
    assert "not_after" not in attributes  # unknown, not invented


RESOLVED_ZONE = (
    "valid.test.       300 IN A     127.0.0.1\nalias.test.       300 IN CNAME valid.test.\n"
)


def test_names_resolve_through_the_configured_resolvers_when_told(endpoints, test_ca) -> None:
    info, server = start_dns_server(RESOLVED_ZONE)
    port = endpoints["valid.test"].port
    try:
        found = collect(
            "certificate",
            tls=[f"valid.test:{port}", f"alias.test:{port}", f"nowhere.test:{port}"],
            resolvers=[info.resolver],
            tls_resolve="resolvers",
            ca_bundle=str(test_ca.bundle),
        )
    finally:
        server.stop()
    valid = found[f"valid.test:{port}"].attributes
    # The name the test DNS server points at loopback: probed there, SNI and hostname checks
    # on the name (the endpoint's certificate is for valid.test).
    assert (valid["reachable"], valid["verified"], valid["address"]) == (True, True, "127.0.0.1")
    assert valid["serial"] == format(endpoints["valid.test"].issued.cert.serial_number, "x")
    alias = found[f"alias.test:{port}"].attributes  # a CNAME chain followed to its address
    assert (alias["reachable"], alias["address"]) == (True, "127.0.0.1")
    assert alias["verify_error"] == "hostname_mismatch"
    nowhere = found[f"nowhere.test:{port}"].attributes
    assert nowhere["reachable"] is False
    assert nowhere["error"] == "nowhere.test did not resolve: NXDOMAIN"


def test_by_default_names_resolve_through_the_system(endpoints) -> None:
    port = endpoints["valid.test"].port
    found = collect("certificate", tls=[f"localhost:{port}", f"127.0.0.1:{port}"])
    assert found[f"localhost:{port}"].attributes["reachable"] is True
    assert "address" not in found[f"localhost:{port}"].attributes

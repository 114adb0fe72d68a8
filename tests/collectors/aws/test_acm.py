"""ACM certificates: every key type is listed, details come from DescribeCertificate."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from collectors.aws import AwsCollector, acm
from collectors.certs import canonical_serial, certificate_attributes
from tests.factories.aws import ORIGIN, collect, payload, scope, seed_client, source
from vigil.app.demo_estate import make_certificate

DER = Encoding.DER


def test_normalize_certificate_reads_the_recorded_payload() -> None:
    resource = acm.normalize_certificate(payload("describe_certificate"), ORIGIN)

    assert resource.name == "api.example.com"
    assert resource.tags == {"team": "platform"}
    attributes = resource.attributes
    assert (attributes["key_algorithm"], attributes["key_size"]) == ("EC", 256)
    assert attributes["sans"] == ["api.example.com", "www.example.com"]
    assert attributes["not_after"].endswith("Z")
    assert attributes["managed_type"] == "IMPORTED"
    assert attributes["origin"] == "acm"


@pytest.mark.parametrize(
    ("key_type", "expected"),
    [
        ("RSA_2048", ("RSA", 2048)),
        ("RSA_4096", ("RSA", 4096)),
        ("EC_prime256v1", ("EC", 256)),
        ("EC_secp384r1", ("EC", 384)),
        ("EC_secp521r1", ("EC", 521)),
        ("ML_DSA_65", ("ML_DSA_65", None)),
    ],
)
def test_key_types_split_into_algorithm_and_size(
    key_type: str, expected: tuple[str, int | None]
) -> None:
    assert acm.split_key_type(key_type) == expected


def _import(url: str, name: str, key: str, days: int = 90) -> str:
    certificate, private_key = make_certificate(name, days=days, key=key)
    answer = seed_client(url, "acm").import_certificate(
        Certificate=certificate, PrivateKey=private_key
    )
    return str(answer["CertificateArn"])


def test_lists_certificates_of_every_key_type(moto: str) -> None:
    arns = {
        _import(moto, "rsa.example.com", "rsa2048"): ("RSA", 2048),
        _import(moto, "big.example.com", "rsa4096"): ("RSA", 4096),
        _import(moto, "ec.example.com", "ec256"): ("EC", 256),
    }

    resources = collect(AwsCollector(source(moto)), scope("certificate"))

    found = {
        r.native_id: (r.attributes["key_algorithm"], r.attributes["key_size"]) for r in resources
    }
    assert found == arns
    assert all(r.attributes["status"] == "ISSUED" for r in resources)


def test_the_serial_is_read_in_the_form_the_tls_probe_writes() -> None:
    resource = acm.normalize_certificate(payload("describe_certificate"), ORIGIN)

    # The recorded payload (moto's) gives the serial in decimal.
    assert resource.attributes["serial"] == format(
        535060874958433447666386677118456301729538345563, "x"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("07:f6:ba:25:c4:49:ff:0e", "7f6ba25c449ff0e"),  # AWS: hex bytes with colons
        ("0A:13", "a13"),
        ("10", "10"),  # one byte: hex, as AWS writes it
        ("4660", "1234"),  # digits only, more than one byte's worth: moto's decimal
        ("1f2e3d", "1f2e3d"),
        (4660, "1234"),
        ("", None),
        ("not a serial", None),
        (None, None),
    ],
)
def test_serials_are_canonical_whatever_the_api_spelling(
    given: object, expected: str | None
) -> None:
    assert canonical_serial(given) == expected


def test_an_imported_certificate_has_the_serial_its_server_would_present(moto: str) -> None:
    pem, private_key = make_certificate("www.example.com", days=90, key="rsa2048")
    arn = seed_client(moto, "acm").import_certificate(Certificate=pem, PrivateKey=private_key)[
        "CertificateArn"
    ]

    (resource,) = collect(AwsCollector(source(moto)), scope("certificate"))

    served = certificate_attributes([x509.load_pem_x509_certificate(pem).public_bytes(DER)])
    assert resource.native_id == arn
    assert resource.attributes["serial"] == served["serial"]

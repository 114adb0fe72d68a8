"""ACM certificates: every key type is listed, details come from DescribeCertificate."""

from __future__ import annotations

import pytest

from collectors.aws import AwsCollector, acm
from tests.factories.aws import ORIGIN, collect, payload, scope, seed_client, source
from vigil.app.demo_estate import make_certificate


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

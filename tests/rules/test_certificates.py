"""cert.expiring, cert.expired, cert.invalid."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.certificates import CertificateExpired, CertificateExpiring, CertificateInvalid
from tests.factories.rules import NOW, certificate, evaluate, iso, one, resource, view
from vigil.core.model import Severity

EXPIRING = CertificateExpiring()
EXPIRED = CertificateExpired()
INVALID = CertificateInvalid()


def test_expiring_within_critical_days_is_high_and_says_how_many_days() -> None:
    found = one(evaluate(EXPIRING, view(certificate(expires_in=timedelta(days=5, hours=3)))))
    assert found.severity is Severity.HIGH
    assert found.title == "certificate api.example.com expires in 5 days (threshold 30)"
    assert found.evidence["days_left"] == 5


def test_expiring_within_warn_days_is_medium() -> None:
    found = one(evaluate(EXPIRING, view(certificate(expires_in=timedelta(days=20)))))
    assert found.severity is Severity.MEDIUM


def test_exactly_at_the_warn_threshold_is_reported() -> None:
    found = one(evaluate(EXPIRING, view(certificate(expires_in=timedelta(days=30)))))
    assert found.severity is Severity.MEDIUM
    assert "expires in 30 days" in found.title


def test_one_second_past_the_warn_threshold_is_not_reported() -> None:
    inventory = view(certificate(expires_in=timedelta(days=30, seconds=1)))
    assert evaluate(EXPIRING, inventory) == []


def test_exactly_at_the_critical_threshold_is_high() -> None:
    found = one(evaluate(EXPIRING, view(certificate(expires_in=timedelta(days=7)))))
    assert found.severity is Severity.HIGH


def test_thresholds_come_from_params() -> None:
    inventory = view(certificate(expires_in=timedelta(days=50)))
    found = one(evaluate(EXPIRING, inventory, warn_days=60, critical_days=10))
    assert found.title.endswith("expires in 50 days (threshold 60)")


def test_an_earlier_chain_expiry_counts() -> None:
    cert = certificate(expires_in=timedelta(days=300))
    cert.attributes["chain_not_after"] = iso(NOW + timedelta(days=3))
    found = one(evaluate(EXPIRING, view(cert)))
    assert found.severity is Severity.HIGH
    assert "chain_not_after" in found.evidence


def test_expired_certificate_is_not_expiring_but_expired_and_critical() -> None:
    inventory = view(certificate(expires_in=-timedelta(days=3)))
    assert evaluate(EXPIRING, inventory) == []
    found = one(evaluate(EXPIRED, inventory))
    assert found.severity is Severity.CRITICAL
    assert found.title == "certificate api.example.com expired 3 days ago"


def test_valid_certificate_is_neither_expiring_nor_expired() -> None:
    inventory = view(certificate(expires_in=timedelta(days=90)))
    assert evaluate(EXPIRING, inventory) == evaluate(EXPIRED, inventory) == []


def test_certificate_without_dates_is_not_judged() -> None:
    cert = certificate()
    del cert.attributes["not_after"]
    inventory = view(cert)
    assert evaluate(EXPIRING, inventory) == evaluate(EXPIRED, inventory) == []


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ({"verified": False, "verify_error": "hostname mismatch"}, "hostname mismatch"),
        ({"verified": False, "verify_error": "self-signed certificate"}, "self-signed"),
        ({"key_algorithm": "RSA", "key_size": 1024}, "RSA key of 1024 bits"),
        ({"key_algorithm": "EC", "key_size": 224}, "EC key of 224 bits"),
        ({"signature_algorithm": "sha1WithRSAEncryption"}, "signed with sha1WithRSAEncryption"),
    ],
)
def test_invalid_certificates_are_high_and_say_why(attributes: dict, problem: str) -> None:
    found = one(evaluate(INVALID, view(certificate(**attributes))))
    assert found.severity is Severity.HIGH
    assert problem in found.title


def test_strong_verified_certificate_is_valid() -> None:
    inventory = view(
        certificate(verified=True, key_algorithm="EC", key_size=256),
        certificate("arn:2", key_algorithm="RSA", key_size=2048),
    )
    assert evaluate(INVALID, inventory) == []


def test_unverified_certificate_without_probe_result_is_not_invalid() -> None:
    assert evaluate(INVALID, view(certificate())) == []  # no `verified` key: not probed


def test_several_problems_are_one_finding() -> None:
    cert = certificate(verified=False, verify_error="expired chain", key_size=1024)
    found = one(evaluate(INVALID, view(cert)))
    assert len(found.evidence["problems"]) == 2


def test_expiry_written_with_an_offset_is_reported_in_utc() -> None:
    # 2026-11-10 01:30 at +02:00 is 2026-11-09 23:30 UTC: titles print times with a Z.
    cert = certificate(expires_in=timedelta(days=200))
    cert.attributes["not_after"] = "2026-11-10T01:30:00+02:00"
    found = one(evaluate(CertificateExpiring(), view(cert)))
    assert "valid until 2026-11-09 23:30Z" in found.detail
    assert found.evidence["not_after"] == "2026-11-09T23:30:00+00:00"


def test_expired_probe_certificate_is_reported_once_as_expired_not_also_invalid() -> None:
    cert = certificate(expires_in=timedelta(days=-3), verified=False, verify_error="expired")
    assert evaluate(INVALID, view(cert)) == []
    assert one(evaluate(EXPIRED, view(cert))).severity is Severity.CRITICAL


def test_an_expiring_certificate_says_which_load_balancers_and_cdns_serve_it() -> None:
    cert = certificate(expires_in=timedelta(days=5))
    https = {"protocol": "HTTPS", "port": 443, "certificates": [cert.native_id]}
    served = [
        resource("load_balancer", "arn:lb/shop", listeners=[https, https | {"port": 8443}]),
        resource("cdn", "E123", region="global", certificate=cert.native_id),
        resource("cdn", "E999", region="global", certificate="default"),
    ]
    found = one(evaluate(EXPIRING, view(cert, *served)))
    assert found.evidence["served_by"] == ["load_balancer arn:lb/shop", "cdn E123"]
    assert found.detail.endswith("Served by load_balancer arn:lb/shop, cdn E123.")


def test_without_bindings_acm_in_use_by_says_where_it_is_served() -> None:
    cert = certificate(expires_in=timedelta(days=5), in_use_by=["arn:aws:elb:x"])
    assert one(evaluate(EXPIRING, view(cert))).evidence["served_by"] == ["arn:aws:elb:x"]

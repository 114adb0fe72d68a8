"""CloudFront distributions against moto: the weakest viewer policy, certificate, origins."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws import AwsCollector, cloudfront
from tests.factories.aws import collect, scope, seed_client, source


def _behaviour(policy: str, path: str | None = None) -> dict[str, Any]:
    behaviour: dict[str, Any] = {
        "TargetOriginId": "web",
        "ViewerProtocolPolicy": policy,
        "MinTTL": 0,
        "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
    }
    return behaviour | ({"PathPattern": path} if path else {})


def _distribution(url: str, ref: str, *, viewer: dict[str, Any] | None = None, **extra: Any) -> str:
    config: dict[str, Any] = {
        "CallerReference": ref,
        "Comment": ref,
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "web",
                    "DomainName": "Web-LB-1.us-east-1.elb.amazonaws.com",
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                    },
                }
            ],
        },
        "DefaultCacheBehavior": _behaviour("https-only"),
        **extra,
    }
    if viewer:
        config["ViewerCertificate"] = viewer
    answer = seed_client(url, "cloudfront").create_distribution(DistributionConfig=config)
    return str(answer["Distribution"]["Id"])


def _by_comment(url: str) -> dict[str, Any]:
    resources = collect(AwsCollector(source(url)), scope("cdn", region="global"))
    return {r.name: r for r in resources}


def test_the_weakest_viewer_policy_over_all_behaviours_and_the_acm_certificate(
    moto: str,
) -> None:
    certificate = seed_client(moto, "acm").request_certificate(DomainName="cdn.example.com")[
        "CertificateArn"
    ]
    viewer = {
        "ACMCertificateArn": certificate,
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    behaviours = {
        "Quantity": 2,
        "Items": [_behaviour("redirect-to-https", "/a/*"), _behaviour("allow-all", "/b/*")],
    }
    aliases = {"Quantity": 1, "Items": ["CDN.Example.com"]}
    ident = _distribution(moto, "site", viewer=viewer, CacheBehaviors=behaviours, Aliases=aliases)

    resource = _by_comment(moto)["site"]

    attributes = resource.attributes
    assert (resource.native_id, resource.region) == (ident, "global")
    assert attributes["viewer_protocol_policy"] == "allow-all"
    assert attributes["certificate"] == certificate  # though moto keeps the default flag set
    assert attributes["minimum_protocol_version"] == "TLSv1.2_2021"
    assert attributes["aliases"] == ["cdn.example.com"]
    assert attributes["origins"] == [{"domain_name": "web-lb-1.us-east-1.elb.amazonaws.com"}]
    assert attributes["domain_name"].endswith(".cloudfront.net")
    assert attributes["enabled"] is True


def test_a_distribution_on_the_default_certificate(moto: str) -> None:
    _distribution(moto, "plain")

    attributes = _by_comment(moto)["plain"].attributes

    assert attributes["certificate"] == "default"
    assert attributes["viewer_protocol_policy"] == "https-only"


def test_pages_past_one_page(moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudfront, "PAGE_SIZE", 2)
    refs = {f"d{i}" for i in range(5)}
    for ref in refs:
        _distribution(moto, ref)

    pages = list(AwsCollector(source(moto)).collect(scope("cdn", region="global")))

    assert len(pages) == 3
    assert {r.name for page in pages for r in page} == refs

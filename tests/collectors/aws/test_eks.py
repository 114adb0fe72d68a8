"""EKS clusters → kubernetes_cluster against moto: version, public endpoint and its CIDRs,
status, tags, paging past one page."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws import AwsCollector, eks
from tests.factories.aws import collect, scope, seed_client, source

ROLE = "arn:aws:iam::123456789012:role/eks"


def _cluster(url: str, name: str, version: str = "1.31", **vpc: Any) -> None:
    seed_client(url, "eks").create_cluster(
        name=name,
        version=version,
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-0a"], **vpc},
        tags={"team": "platform"},
    )


def _clusters(url: str) -> dict[str, Any]:
    resources = collect(AwsCollector(source(url)), scope("kubernetes_cluster"))
    return {r.native_id: r for r in resources}


def test_a_public_and_a_private_cluster(moto: str) -> None:
    _cluster(moto, "legacy", "1.24", endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"])
    _cluster(moto, "platform", endpointPublicAccess=False, endpointPrivateAccess=True)

    clusters = _clusters(moto)

    legacy = clusters["legacy"]
    assert legacy.tags == {"team": "platform"}
    assert (legacy.attributes["version"], legacy.attributes["status"]) == ("1.24", "ACTIVE")
    assert legacy.attributes["endpoint_public"] is True
    assert legacy.attributes["public_access_cidrs"] == ["0.0.0.0/0"]
    assert legacy.attributes["role_arn"] == ROLE
    private = clusters["platform"].attributes
    assert (private["endpoint_public"], private["endpoint_private"]) == (False, True)
    assert private["public_access_cidrs"] == []


def test_clusters_page_past_one_page(moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eks, "PAGE_SIZE", 2)
    names = {f"k-{i}" for i in range(5)}
    for name in names:
        _cluster(moto, name)

    pages = list(AwsCollector(source(moto)).collect(scope("kubernetes_cluster")))

    assert len(pages) == 3
    assert {r.native_id for page in pages for r in page} == names

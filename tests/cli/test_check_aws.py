"""End to end against moto: seed known problems, collect, check, and find exactly those."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.cli import VigilCli
from vigil.app.demo_estate import seed_estate

REGIONS = ("us-east-1", "eu-west-1")


def _subject(finding: dict[str, Any]) -> str:
    if finding["type"] == "dns_record":  # native id is {zone}/{name}/{type}/{set id}
        return str(finding["native_id"].split("/")[1])
    return str(finding["native_id"])


@pytest.mark.slow
def test_check_finds_exactly_the_seeded_problems(vigil_cli: VigilCli, moto: str) -> None:
    estate = seed_estate(moto, regions=REGIONS, servers_per_region=2)
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - name: aws-test\n    provider: aws\n"
        f"    regions: [{', '.join(REGIONS)}]\n    endpoint_url: {moto}\n"
    )
    collected = vigil_cli("collect")
    assert collected.returncode == 0, collected.stdout + collected.stderr

    checked = vigil_cli("check", "--fail-on", "high")
    assert checked.returncode == 1, checked.stderr

    result = vigil_cli("findings", "--format", "json")
    found = {(f["rule"], _subject(f)) for f in json.loads(result.stdout)}
    expected = {(rule, native_id) for rule, ids in estate.problems.items() for native_id in ids}
    assert found == expected

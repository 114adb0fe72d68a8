"""`vigil collect` + `vigil check` with a probe source against a real DNS server on loopback:
a CNAME whose target is NXDOMAIN is dangling, and resolves once the target exists again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.cli import VigilCli
from tests.fixtures.dnsserver import ZONE, start_dns_server

NAMES = ["www.example.test", "shop.example.test", "gone.example.test", "missing.example.test"]
REVIVED = ZONE + "old-app.herokudns.test.  300 IN A 192.0.2.44\n"


def configure(cli: VigilCli, resolver: str) -> None:
    names = ", ".join(NAMES)
    (cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - name: edge\n    provider: probe\n    timeout: 2s\n"
        f"    dns: [{names}]\n    resolvers: ['{resolver}']\n"
    )


def dangling(cli: VigilCli) -> list[dict[str, Any]]:
    result = cli("findings", "--format", "json", "--status", "all", "--rule", "dns.dangling")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.mark.slow
def test_a_cname_to_a_name_that_does_not_exist_is_dangling_until_it_exists(
    vigil_cli: VigilCli,
) -> None:
    info, server = start_dns_server()
    try:
        configure(vigil_cli, info.resolver)
        collected = vigil_cli("collect")
        assert collected.returncode == 0, collected.stdout + collected.stderr
        checked = vigil_cli("check", "--no-notify", "--fail-on", "high")
        assert checked.returncode == 1, checked.stderr
    finally:
        server.stop()
    assert (
        "DNS record gone.example.test CNAME points at old-app.herokudns.test, which does not "
        "exist (NXDOMAIN)" in checked.stdout
    )
    # Not a CNAME chain into nothing: names that resolve, and a name that is itself missing.
    (found,) = dangling(vigil_cli)
    assert (found["native_id"], found["status"]) == ("gone.example.test", "open")

    info, server = start_dns_server(REVIVED)  # the target exists again (someone claimed it)
    try:
        configure(vigil_cli, info.resolver)
        assert vigil_cli("collect").returncode == 0
        assert vigil_cli("check", "--no-notify", "--fail-on", "high").returncode == 0
    finally:
        server.stop()
    (found,) = dangling(vigil_cli)
    assert found["status"] == "resolved"

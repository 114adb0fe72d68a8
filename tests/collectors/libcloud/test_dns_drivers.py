"""Cloudflare and DNSimple DNS through libcloud drivers against the loopback provider API:
records as on DigitalOcean, paging, API errors per scope, and `dns.dangling` on the records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from libcloud.dns.base import Zone

from collectors.libcloud import LibcloudSourceConfig
from collectors.libcloud.drivers import build_dns
from rules.dns import DanglingRecord
from tests.collectors.libcloud.test_libcloud import cf_config, collect, do_config
from tests.collectors.probes.helpers import collect as probe
from tests.factories.rules import evaluate, view
from tests.fixtures.cli import VigilCli
from tests.fixtures.dnsserver import start_dns_server
from tests.fixtures.libcloud_api import (
    CF_TOKEN,
    DNSIMPLE_ACCOUNT,
    DNSIMPLE_TOKEN,
    DNSIMPLE_USER_TOKEN,
    DO_TOKEN,
    FakeCloud,
)
from vigil.app.config import load_config
from vigil.core.errors import AccessDeniedError, CollectError, ConfigError, ReadOnlyViolation
from vigil.core.model import Resource

ZONES = f"/v2/{DNSIMPLE_ACCOUNT}/zones"
RECORDS = f"{ZONES}/dz0.test/records"
CF_RECORDS = "/client/v4/zones/cfz0/dns_records"


@pytest.fixture(autouse=True)
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_DNSIMPLE_TOKEN", DNSIMPLE_TOKEN)
    monkeypatch.setenv("T_DNSIMPLE_USER_TOKEN", DNSIMPLE_USER_TOKEN)
    monkeypatch.setenv("T_CF_TOKEN", CF_TOKEN)
    monkeypatch.setenv("T_DO_TOKEN", DO_TOKEN)
    monkeypatch.setenv("T_BAD_TOKEN", "wrong-token-9f3e")


@pytest.fixture
def cloud(fake_cloud: FakeCloud) -> Iterator[FakeCloud]:
    """The shared loopback API with a clean request log, failures removed afterwards."""
    fake_cloud.requests.clear()
    yield fake_cloud
    fake_cloud.failures.clear()


def dnsimple_config(cloud: FakeCloud, **settings: Any) -> LibcloudSourceConfig:
    """A DNS-only DNSimple source (API token) pointed at the loopback API."""
    base = {
        "name": "dnsimple",
        "dns_driver": "dnsimple",
        "dns_key": "${T_DNSIMPLE_TOKEN}",
        "host": "127.0.0.1",
        "port": urlparse(cloud.base).port,
        "secure": False,
    }
    return LibcloudSourceConfig.model_validate({**base, **settings})


def by_name(records: dict[str, Resource]) -> dict[tuple[str, str], Resource]:
    return {(r.name, r.attributes["record_type"]): r for r in records.values()}


def test_dnsimple_zones_and_records_past_one_page(cloud: FakeCloud) -> None:
    config = dnsimple_config(cloud)
    zones = collect(config, "dns_zone")
    assert sorted(z.name for z in zones.values()) == ["dz0.test", "dz1.test", "dz2.test"]
    records = by_name(collect(config, "dns_record"))
    assert len(records) == 116  # page 2 of dz0.test's records was read
    assert [p for _, p in cloud.requests].count(RECORDS) == 2
    apex = records[("dz0.test", "A")]
    assert apex.provider == "dnsimple"
    assert apex.uid.startswith("dnsimple/dnsimple/global/dns_record/dz0.test/dz0.test/A/")
    assert apex.attributes["values"] == ["203.0.113.20"]
    assert apex.attributes["zone_name"] == "dz0.test"
    assert apex.attributes["ttl"] == 3600
    assert records[("www.dz0.test", "CNAME")].attributes["values"] == ["dz0.test"]
    assert records[("dz0.test", "MX")].attributes["values"] == ["mail.dz0.test"]
    assert ("dz0.test", "SOA") in records  # system records are part of the zone
    assert {m for m, p in cloud.requests if p.startswith("/v2/")} == {"GET"}


def test_dnsimple_and_cloudflare_records_carry_the_digitalocean_attributes(
    cloud: FakeCloud,
) -> None:
    (do_record, *_) = collect(do_config(cloud), "dns_record").values()
    for config in (dnsimple_config(cloud), cf_config(cloud)):
        for record in collect(config, "dns_record").values():
            assert set(record.attributes) == set(do_record.attributes)


def test_dnsimple_account_token_names_its_account_and_account_id_skips_the_lookup(
    cloud: FakeCloud,
) -> None:
    collect(dnsimple_config(cloud), "dns_zone")
    assert [p for _, p in cloud.requests] == ["/v2/whoami", ZONES]
    cloud.requests.clear()
    configured = dnsimple_config(cloud, dns_options={"account_id": str(DNSIMPLE_ACCOUNT)})
    assert len(collect(configured, "dns_zone")) == 3
    assert [p for _, p in cloud.requests] == [ZONES]


def test_a_dnsimple_user_token_reads_every_account_of_the_user(cloud: FakeCloud) -> None:
    zones = collect(dnsimple_config(cloud, dns_key="${T_DNSIMPLE_USER_TOKEN}"), "dns_zone")
    assert len(zones) == 3
    assert [p for _, p in cloud.requests] == ["/v2/whoami", "/v2/accounts", ZONES]


def test_writes_are_refused_before_they_are_sent(cloud: FakeCloud) -> None:
    """Cloudflare's driver can write (libcloud's methods); DNSimple's implements no writes,
    and its connection refuses them all the same."""
    cloudflare, dnsimple = build_dns(cf_config(cloud)), build_dns(dnsimple_config(cloud))
    zone = Zone("cfz0", "zone0.test", "master", None, cloudflare)
    with pytest.raises(ReadOnlyViolation, match="refused DELETE"):
        cloudflare.delete_zone(zone)
    with pytest.raises(ReadOnlyViolation, match="refused POST"):
        dnsimple.connection.request(ZONES, method="POST", data="{}")
    assert cloud.requests == []


@pytest.mark.parametrize("driver", ["dnsimple", "cloudflare"])
def test_a_literal_dns_token_is_refused_naming_the_line_and_not_echoed(
    tmp_path: Path, driver: str
) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        "sources:\n  - name: dns\n    provider: libcloud\n"
        f"    dns_driver: {driver}\n    dns_key: hunter2-literal-token\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = raised.value.message
    assert f"{path}:5" in message and "dns_key" in message and "${" in message, message
    assert "hunter2-literal-token" not in message


@pytest.mark.parametrize("provider", ["dnsimple", "cloudflare"])
def test_a_rejected_token_is_access_denied_and_not_printed(cloud: FakeCloud, provider: str) -> None:
    bad = "${T_BAD_TOKEN}"
    dnsimple = provider == "dnsimple"
    config = dnsimple_config(cloud, dns_key=bad) if dnsimple else cf_config(cloud, bad)
    with pytest.raises(AccessDeniedError, match="rejected the credentials") as raised:
        collect(config, "dns_zone")
    assert "wrong-token-9f3e" not in raised.value.message


BAD_GATEWAY = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
FAILURES = [
    pytest.param(dnsimple_config, RECORDS, 500, {"message": "Internal Server Error"},
                 CollectError, "dnsimple failed listing DNS records: .*HTTP 500: Internal Server",
                 id="dnsimple-500"),
    pytest.param(dnsimple_config, RECORDS, 401, {"message": "Authentication failed"},
                 AccessDeniedError, "rejected the credentials.*HTTP 401: Authentication failed",
                 id="dnsimple-401"),
    pytest.param(dnsimple_config, RECORDS, 429, {"message": "Rate limit exceeded"},
                 CollectError, "dnsimple throttled DNS records: 429 Rate limit exceeded",
                 id="dnsimple-429"),
    pytest.param(cf_config, CF_RECORDS, 500,
                 {"success": False, "errors": [{"code": 10001, "message": "Internal error"}]},
                 CollectError, "cloudflare failed listing DNS records: .*10001: Internal error",
                 id="cloudflare-500"),
    pytest.param(cf_config, CF_RECORDS, 401,
                 {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]},
                 AccessDeniedError, "rejected the credentials.*10000: Authentication error",
                 id="cloudflare-401"),
    pytest.param(dnsimple_config, RECORDS, 502, BAD_GATEWAY, CollectError,
                 "dnsimple failed listing DNS records: .*HTTP 502: <html>", id="dnsimple-502-html"),
    pytest.param(cf_config, CF_RECORDS, 502, BAD_GATEWAY, CollectError,
                 "cloudflare failed listing DNS records: .*HTTP 502: <html>",
                 id="cloudflare-502-html"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "path", "status", "body", "error", "message"), FAILURES)
def test_an_api_error_fails_only_its_scope_and_says_why(
    cloud: FakeCloud,
    make: Any,
    path: str,
    status: int,
    body: dict[str, Any],
    error: type[CollectError],
    message: str,
) -> None:
    config = make(cloud)
    cloud.failures[path] = (status, body)
    with pytest.raises(error, match=message) as raised:
        collect(config, "dns_record")
    for secret in config.secret_values():
        assert secret not in raised.value.message
    assert raised.value.retryable is (error is CollectError)  # denied waits for a fix
    assert len(collect(config, "dns_zone")) == 3  # the zones scope is unaffected


LOOPBACK_DNS = """
dz0.test.         300 IN A     203.0.113.20
www.dz0.test.     300 IN CNAME dz0.test.
gone.dz0.test.    300 IN CNAME old-app.herokudns.test.
zone0.test.       300 IN A     203.0.113.10
www.zone0.test.   300 IN CNAME zone0.test.
shop.zone0.test.  300 IN CNAME gone.herokudns.test.
"""
PROBED = ["www.dz0.test", "gone.dz0.test", "www.zone0.test", "shop.zone0.test"]


def test_dangling_cnames_are_flagged_on_dnsimple_and_cloudflare_records(
    cloud: FakeCloud,
) -> None:
    """As on Route 53: the probe's NXDOMAIN at the end of the chain, or a name inside one of
    the collected zones that none of its records holds."""
    collected: list[Resource] = []
    for config in (dnsimple_config(cloud), cf_config(cloud)):
        for type_ in ("dns_zone", "dns_record"):
            collected += collect(config, type_).values()
    info, server = start_dns_server(LOOPBACK_DNS)
    try:
        probes = probe("dns_record", dns=PROBED, resolvers=[info.resolver]).values()
    finally:
        server.stop()
    findings = evaluate(DanglingRecord(), view(*collected, *probes))
    flagged = {f.resource_uid: f.title for f in findings}
    names = {r.uid: r.name for r in collected}
    assert sorted(names.get(uid, uid) for uid in flagged) == [
        "gone.dz0.test",
        "lost.dz0.test",
        "shop.zone0.test",
    ]
    titles = sorted(flagged.values())
    assert titles[0] == (
        "DNS record gone.dz0.test CNAME points at old-app.herokudns.test, which does not "
        "exist (NXDOMAIN)"
    )
    assert "lost.dz0.test CNAME points at nowhere.dz0.test" in titles[1]
    assert all(uid in names for uid in flagged)  # on the provider's records, not the probes


def test_vigil_collect_fails_only_the_scope_the_api_refused(
    cloud: FakeCloud, vigil_cli: VigilCli
) -> None:
    port = urlparse(cloud.base).port
    where = f"    host: 127.0.0.1\n    port: {port}\n    secure: false\n"
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n"
        "  - name: dnsimple\n    provider: libcloud\n    dns_driver: dnsimple\n"
        "    dns_key: ${T_DNSIMPLE_TOKEN}\n" + where + "  - name: cf\n    provider: libcloud\n"
        "    dns_driver: cloudflare\n    dns_key: ${T_CF_TOKEN}\n" + where
    )
    cloud.failures[RECORDS] = (500, {"message": "Internal Server Error"})
    env = {"COLUMNS": "400", "T_DNSIMPLE_TOKEN": DNSIMPLE_TOKEN, "T_CF_TOKEN": CF_TOKEN}
    result = vigil_cli("collect", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "4 scopes, 1 failed" in result.stdout, result.stdout
    assert (
        "dnsimple: dnsimple failed listing DNS records: BaseHTTPError: HTTP 500: Internal "
        "Server Error" in result.stdout
    )
    for secret in (DNSIMPLE_TOKEN, CF_TOKEN):
        assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr

"""Planning: per-(host, type) scopes, retired hosts swept, targets from the inventory."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from pydantic import ValidationError

from collectors.hosts import HostsCollector
from collectors.hosts.collector import needed_groups
from collectors.hosts.config import HostsSourceConfig
from collectors.registry import collector_class
from vigil.core.errors import CollectError
from vigil.core.model import ABSENT_RETIRES


class Inventory:
    """What vigil/ injects (vigil/app/inventory_reader.py), reduced to data."""

    def __init__(self, servers: list[tuple[str, str, list[str], list[str]]], accounts: list[str]):
        self._servers, self._accounts = servers, accounts

    def servers(self) -> Iterable[tuple[str, str, list[str], list[str]]]:
        return self._servers

    def host_accounts(self, source: str) -> Iterable[str]:
        return self._accounts


def config(**options: object) -> HostsSourceConfig:
    return HostsSourceConfig(name="colo", ssh={"key_file": "/k"}, **options)  # type: ignore[arg-type]


def test_registered() -> None:
    assert collector_class("hosts") is HostsCollector


def test_one_scope_per_host_and_type_type_major() -> None:
    targets = [{"host": "10.0.0.1", "name": "a"}, {"host": "10.0.0.2"}]
    keys = [s.key for s in HostsCollector(config(targets=targets)).plan()]
    assert keys[:2] == ["colo/a/global/server", "colo/10.0.0.2/global/server"]
    assert len(keys) == 8 and keys[-1] == "colo/10.0.0.2/global/snapshot"
    assert [s.key for s in HostsCollector(config(targets=targets)).plan({"disk"})] == [
        "colo/a/global/disk",
        "colo/10.0.0.2/global/disk",
    ]


def test_a_removed_host_is_planned_empty_so_its_records_are_retired() -> None:
    inventory = Inventory([], accounts=["a", "old"])
    collector = HostsCollector(
        config(targets=[{"host": "10.0.0.1", "name": "a"}]), inventory=inventory
    )
    retired = [s for s in collector.plan() if s.account == "old"]
    assert len(retired) == 4
    assert all(list(collector.collect(scope)) == [] for scope in retired)
    assert all(ABSENT_RETIRES in scope.context for scope in retired)  # reconcile retires them


def test_servers_of_other_sources_are_targets_when_enabled() -> None:
    inventory = Inventory(
        [
            ("aws/1/us-east-1/server/i-1", "web-1", ["10.0.0.7"], ["203.0.113.7"]),
            ("aws/1/us-east-1/server/i-2", "", [], ["203.0.113.8"]),
            ("hosts/a/global/server/a", "a", ["10.0.0.1"], []),  # our own: never a target
        ],
        accounts=[],
    )
    off = HostsCollector(config(), inventory=inventory)
    assert off.targets() == []
    on = HostsCollector(config(from_inventory={"enabled": True}), inventory=inventory)
    assert [(t.label, t.host) for t in on.targets()] == [("web-1", "10.0.0.7")]
    public = HostsCollector(
        config(from_inventory={"enabled": True, "address": "public"}), inventory=inventory
    )
    assert [(t.label, t.host) for t in public.targets()] == [
        ("web-1", "203.0.113.7"),
        ("i-2", "203.0.113.8"),
    ]


def test_a_scope_of_an_unknown_host_fails() -> None:
    collector = HostsCollector(config(targets=[{"host": "10.0.0.1", "name": "a"}]))
    scope = next(iter(collector.plan()))
    stranger = type(scope)(scope.source, scope.provider, "b", scope.region, scope.type)
    with pytest.raises(CollectError, match="not a target"):
        list(collector.collect(stranger))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"targets": [{"host": "10.0.0.1"}]}, "need an ssh block"),
        ({"ssh": {"user": "x"}, "targets": []}, "set ssh.key_file"),
        ({"ssh": {"key_file": "/k"}, "targets": [{"host": "10.0.0.0/24"}]}, "not a host name"),
        ({"ssh": {"key_file": "/k"}, "backup": {"path": "x/*.tgz"}}, "must be an absolute path"),
        ({"ssh": {"key_file": "/k"}, "backup": {}}, "exactly one of path or command"),
        ({"ssh": {"key_file": "/k", "known_hosts": None}}, "known_hosts"),
        ({"ssh": {"key_file": "/k", "sudo": ["everything"]}}, "sudo"),
        (
            {
                "ssh": {"key_file": "/k"},
                "load_balancers": {"haproxy": {"stats_sockets": ["/run/h.sock,unlink-early"]}},
            },
            r"load_balancers\.haproxy\.stats_sockets(.|\n)*socat reads",
        ),
        (
            {"ssh": {"key_file": "/k"}, "load_balancers": {"haproxy": {"stats_sockets": ["h"]}}},
            "must be an absolute path",
        ),
    ],
)
def test_config_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HostsSourceConfig(name="colo", **options)  # type: ignore[arg-type]


def test_load_balancer_scopes_need_the_certificates_they_link_to() -> None:
    """Certificate ids and `serves` links come from the certificates read: when it fails, the
    load_balancer scope fails too (unknown), never completes with fallback ids and no links."""
    lbs = {"nginx": {}}
    assert needed_groups(config(load_balancers=lbs), "load_balancer") == ("load_balancers",)
    with_certs = config(load_balancers=lbs, certificate_paths=["/etc/nginx/ssl"])
    assert needed_groups(with_certs, "load_balancer") == ("load_balancers", "certificates")
    assert needed_groups(with_certs, "server") == ("system", "ports")

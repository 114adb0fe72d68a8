"""libcloud load balancers: CloudStack load-balancer rules -> `load_balancer` (`lb_driver:
cloudstack`). `CloudStackLBReader` calls the API; `normalize_rule` is pure.

libcloud's `CloudStackLBDriver` lists rules in one unpaged call and its `Member` has no health,
so this driver keeps libcloud's connection (signing, Vigil's read-only guard, `host`/`port`/
`secure`, error translation) and reads the API as CloudStack's own UI does:

- `command=listLoadBalancerRules`, paged by `page`/`pagesize` until `count` rules are read
  (a page shorter than `pagesize`, or one adding no new rule, ends the listing too);
- `command=listLoadBalancerRuleInstances&id=RULE&lbvmips=true` per rule, paged the same way:
  each `lbrulevmidip` entry is a member VM (`loadbalancerruleinstance`) with its
  `servicestate` (`UP`/`DOWN` where the provider health-checks, e.g. NetScaler; absent on the
  virtual router, which does not) and its `lbvmipaddresses`.

One resource per rule: a rule is one public IP and port forwarded to a private port on its
members, as libcloud models it (a `LoadBalancer` per rule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from libcloud.loadbalancer.drivers.cloudstack import CloudStackLBDriver

from collectors.libcloud.compute import Origin
from vigil.core.model import LinkKind, Resource, ResourceType, make_uid

PAGE_SIZE = 500
"""CloudStack's `default.page.size`; `lb_options: {ex_page_size: N}` changes it."""
DEFAULT_PATH = "/client/api"
"""Where CloudStack serves its API unless `options: {path: ...}` says otherwise."""
_IGNORED = frozenset({"region", "api_version"})
"""Options the compute driver may share with this one that mean nothing here (zones are in
each rule)."""
HEALTH = {"UP": "healthy", "DOWN": "unhealthy"}
"""A member's `servicestate` as a target's `health`; anything else (absent) is unknown."""


class CloudStackLBReader(CloudStackLBDriver):
    """CloudStack load-balancer rules and their members with health, paged: reads only."""

    def __init__(
        self,
        key: str,
        secret: str | None = None,
        secure: bool = True,
        host: str | None = None,
        path: str | None = None,
        port: int | None = None,
        url: str | None = None,
        *,
        ex_page_size: int = PAGE_SIZE,
        timeout: int | None = None,
        **others: Any,
    ) -> None:
        unknown = sorted(set(others) - _IGNORED)
        if unknown:
            raise TypeError(f"unexpected option(s) {', '.join(unknown)}")
        if url:  # as libcloud's CloudStack compute driver takes it: https://host:port/path
            parts = urlsplit(url)
            host, path, port = host or parts.hostname, path or parts.path, port or parts.port
            secure = parts.scheme == "https"
        args = (key, secret, secure, host, path or DEFAULT_PATH, port)
        super().__init__(*args)  # type: ignore[no-untyped-call]
        if int(ex_page_size) < 1:
            raise TypeError(f"ex_page_size must be at least 1, not {ex_page_size}")
        self.page_size = int(ex_page_size)
        if timeout is not None:
            self.connection.timeout = timeout

    def list_balancers(self) -> list[Any]:
        """The rules as raw API mappings (libcloud's `LoadBalancer` drops zones and protocol)."""
        return list(self.iterate_rules())

    def iterate_rules(self) -> Iterator[dict[str, Any]]:
        yield from self._pages("listLoadBalancerRules", "loadbalancerrule", {})

    def rule_members(self, rule_id: str) -> list[dict[str, Any]]:
        """The rule's `lbrulevmidip` entries: `{loadbalancerruleinstance, lbvmipaddresses}`."""
        params = {"id": rule_id, "lbvmips": "true"}
        return list(self._pages("listLoadBalancerRuleInstances", "lbrulevmidip", params))

    def _pages(self, command: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        page, seen = 1, set[str]()
        while True:
            asked = {**params, "page": page, "pagesize": self.page_size}
            request: Callable[..., Any] = self._sync_request
            body = request(command, params=asked, method="GET") or {}
            items = [item for item in body.get(key) or [] if isinstance(item, dict)]
            new = [item for item in items if _item_id(item) not in seen]
            seen.update(_item_id(item) for item in new)
            yield from new
            total = int(body.get("count") or 0)
            if not new or len(items) < self.page_size or (total and len(seen) >= total):
                return
            page += 1


def _item_id(item: dict[str, Any]) -> str:
    inner = item.get("loadbalancerruleinstance")
    return str((inner if isinstance(inner, dict) else item).get("id"))


def fetch_rules(driver: CloudStackLBReader) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """(rule, its member entries) for every rule. I/O only."""
    for rule in driver.iterate_rules():
        yield rule, driver.rule_members(str(rule["id"]))


def normalize_rule(
    rule: dict[str, Any], members: list[dict[str, Any]], origin: Origin, server_provider: str
) -> Resource:
    """One load-balancer rule with its members as a `load_balancer` linked to its servers
    (uids as the compute collector of `server_provider` makes them for the same account and
    region)."""
    protocol = str(rule.get("protocol") or "tcp").upper()  # CloudStack's default is tcp
    private_port = _port(rule.get("privateport"))
    listener: dict[str, Any] = {
        "protocol": protocol,
        "port": _port(rule.get("publicport")),
        # An SSL rule's certificate is bound apart (assignCertToLoadBalancer): unknown here.
        "certificates": None if protocol == "SSL" else [],
        "default_action": "forward",
        "redirect_https": False,
        "target_groups": [],
        "ssl_policy": None,
    }
    targets = [_target(member, private_port) for member in members]
    targets = [target for target in targets if target["id"]]
    zone = rule.get("zonename") or rule.get("zoneid")
    attributes = {
        "kind": "network",  # layer 4: public port to private port
        "scheme": "internet-facing",  # rules listed here sit on public IP addresses
        "dns_name": None,
        # A CloudStack zone is a data centre, not an availability zone: how the members are
        # spread over its pods is not in a user's view, so the AZ spread is unknown.
        "zones": None,
        "zone": str(zone) if zone else None,
        "listeners": [listener],
        "targets": targets,
        "security_groups": [],
        "state": rule.get("state"),
        "algorithm": rule.get("algorithm"),
        "public_ip": rule.get("publicip"),
        "public_ip_id": _text(rule.get("publicipid")),
        "network_id": _text(rule.get("networkid")),
        "source_cidrs": _cidrs(rule.get("cidrlist")),
    }
    native_id = str(rule["id"])
    resource = origin.resource(
        ResourceType.LOAD_BALANCER,
        native_id,
        str(rule.get("name") or native_id),
        tags=_tags(rule.get("tags")),
        attributes=attributes,
    )
    for target in targets:
        server = make_uid(
            server_provider, origin.account, origin.region, ResourceType.SERVER, target["id"]
        )
        resource.link(LinkKind.TARGETS, server)
    return resource


def _target(member: dict[str, Any], port: int | None) -> dict[str, Any]:
    vm = member.get("loadbalancerruleinstance")
    vm = vm if isinstance(vm, dict) else {}
    ips = [str(ip) for ip in member.get("lbvmipaddresses") or []]
    if not ips:
        ips = [str(n["ipaddress"]) for n in vm.get("nic") or [] if n.get("ipaddress")]
    state = str(vm.get("servicestate") or "").upper()
    return {
        "id": _text(vm.get("id")),
        "port": port,
        "target_group": None,
        "health": HEALTH.get(state),
        "name": vm.get("displayname") or vm.get("name"),
        "ips": ips,
    }


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _cidrs(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _tags(tags: Any) -> dict[str, str]:
    if not isinstance(tags, list):
        return {}
    return {
        str(t["key"]): str(t.get("value") or "") for t in tags if isinstance(t, dict) and "key" in t
    }

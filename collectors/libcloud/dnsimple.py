"""DNSimple's API v2 as a libcloud DNS driver (`dns_driver: dnsimple`), read-only.

libcloud's own DNSimple driver (3.9) speaks API v1 (`/v1/domains`, an `X-DNSimple-Token`
header), which DNSimple no longer serves. This driver keeps libcloud's connection, so Vigil's
read-only guard, `host`/`port`/`secure` and error translation apply unchanged, and speaks v2:

- `Authorization: Bearer <token>` (an account or user API token, `dns_key`);
- the account from `GET /v2/whoami` (an account token), or every account of
  `GET /v2/accounts` (a user token), unless `dns_options: {account_id: ...}` names one;
- `GET /v2/{account}/zones` and `/v2/{account}/zones/{zone}/records`, paged by `page` and
  `per_page` until `pagination.total_pages`.

A 401 or 403 is `InvalidCredsError` (access denied); other errors carry DNSimple's `message`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from libcloud.common.base import ConnectionKey, JsonResponse
from libcloud.common.types import InvalidCredsError
from libcloud.dns.base import DNSDriver, Record, Zone
from libcloud.dns.types import Provider

PAGE_SIZE = 100
"""DNSimple's largest page."""
DENIED = (401, 403)
"""HTTP statuses of refused credentials."""
_MESSAGE_LIMIT = 200
"""Characters of a non-JSON error body quoted in the error (a proxy's HTML page, say)."""


class DNSimpleV2Response(JsonResponse):
    """DNSimple's answers: 2xx succeed; errors are `{"message": ...}`."""

    def success(self) -> bool:
        return 200 <= int(self.status) < 300

    def parse_error(self) -> str:
        try:
            body = json.loads(str(self.body))
        except ValueError:
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        text = http_message(self, message)
        if int(self.status) in DENIED:
            raise InvalidCredsError(text)
        return text


def http_message(response: Any, message: str | None = None) -> str:
    """`HTTP <status>: <the provider's message>`, or the start of the body when it gave none
    (a proxy's error page), or the status line's reason."""
    text = " ".join(str(message or response.body or response.error).split())
    return f"HTTP {response.status}: {text[:_MESSAGE_LIMIT]}"


class DNSimpleV2Connection(ConnectionKey):
    host = "api.dnsimple.com"
    responseCls = DNSimpleV2Response

    def add_default_headers(self, headers: dict[str, str]) -> dict[str, str]:
        headers["Authorization"] = f"Bearer {self.key}"
        headers["Accept"] = "application/json"
        return headers


class DNSimpleV2DNSDriver(DNSDriver):
    """Zones and records of DNSimple's API v2: reads only (writes are not implemented, and
    the read-only guard would refuse them)."""

    type = Provider.DNSIMPLE
    name = "DNSimple (API v2)"
    website = "https://dnsimple.com/"
    connectionCls = DNSimpleV2Connection

    def __init__(self, key: str, *args: Any, account_id: str | None = None, **kwargs: Any):
        super().__init__(key, *args, **kwargs)
        self.account_id = account_id

    def iterate_zones(self) -> Iterator[Zone]:
        for account in self._accounts():
            for item in self._pages(f"/v2/{account}/zones"):
                yield self._to_zone(item, account)

    def iterate_records(self, zone: Zone) -> Iterator[Record]:
        account, name = (quote(str(v), safe="") for v in (zone.extra["account_id"], zone.domain))
        path = f"/v2/{account}/zones/{name}/records"
        for item in self._pages(path):
            yield self._to_record(item, zone)

    def _accounts(self) -> list[str]:
        """The accounts to read: the configured one, the token's, or all the user's."""
        if self.account_id:
            return [str(self.account_id)]
        account = self._get("/v2/whoami")["data"].get("account")
        if account:
            return [str(account["id"])]
        return [str(a["id"]) for a in self._get("/v2/accounts")["data"]]

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        page, last = 1, 1
        while page <= last:
            body = self._get(path, {"page": page, "per_page": PAGE_SIZE})
            yield from body["data"]
            last = int((body.get("pagination") or {}).get("total_pages") or 1)
            page += 1

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request: Callable[..., Any] = self.connection.request
        found: dict[str, Any] = request(path, params=params).object
        return found

    def _to_zone(self, item: dict[str, Any], account: str) -> Zone:
        extra = {"account_id": account, "zone_id": item.get("id"), "reverse": item.get("reverse")}
        name = str(item["name"])  # the zone's id in v2's paths
        # DNSimple zones have no TTL of their own: unknown, not libcloud's made-up 3600.
        return Zone(name, name, "master", None, self, extra=extra)  # type: ignore[arg-type]

    def _to_record(self, item: dict[str, Any], zone: Zone) -> Record:
        extra = {key: item.get(key) for key in ("priority", "regions", "system_record")}
        return Record(
            str(item["id"]),
            str(item.get("name") or ""),  # "" is the apex
            item["type"],  # as given: DNSimple has types (ALIAS, URL) libcloud's enum lacks
            str(item.get("content") or ""),
            zone,
            self,
            ttl=item.get("ttl"),
            extra=extra,
        )

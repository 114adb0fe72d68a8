"""libcloud's Cloudflare DNS driver, with every refused credential read as one.

libcloud maps only Cloudflare's error 9103 (a bad global API key) to `InvalidCredsError`;
a rejected API token answers 401 or 403 with other codes (10000 "Authentication error",
9109 "Invalid access token"), which libcloud raises as a bare `LibcloudError`, so Vigil would
report a failure instead of access denied. Here the HTTP status decides: 401 and 403 are
refused credentials, whatever the code; the message keeps Cloudflare's code and words.
"""

from __future__ import annotations

from typing import Any

from libcloud.common.types import InvalidCredsError, LibcloudError
from libcloud.dns.base import DNSDriver
from libcloud.dns.drivers.cloudflare import (
    CloudFlareDNSDriver,
    CloudFlareDNSResponse,
    GlobalAPIKeyDNSConnection,
    TokenDNSConnection,
)

_DENIED = (401, 403)


class CloudflareResponse(CloudFlareDNSResponse):  # type: ignore[misc]
    def parse_error(self) -> Any:
        try:
            return super().parse_error()
        except LibcloudError as exc:
            if int(self.status) in _DENIED and not isinstance(exc, InvalidCredsError):
                raise InvalidCredsError(str(exc.value), driver=exc.driver) from None
            raise


class CloudflareTokenConnection(TokenDNSConnection):  # type: ignore[misc]
    responseCls = CloudflareResponse


class CloudflareKeyConnection(GlobalAPIKeyDNSConnection):  # type: ignore[misc]
    responseCls = CloudflareResponse


class CloudflareDNSDriver(CloudFlareDNSDriver):  # type: ignore[misc]
    """Cloudflare DNS: an API token (`dns_key`), or the global key (`dns_key`: the account
    e-mail, `dns_secret`: the key), as libcloud's driver takes them."""

    connectionCls = CloudflareKeyConnection

    def __init__(
        self,
        key: str,
        secret: str | None = None,
        secure: bool = True,
        host: str | None = None,
        port: int | None = None,
        **kwargs: Any,
    ) -> None:
        # libcloud's __init__ picks its own token connection: choose ours, then skip it.
        if secret is None:
            self.connectionCls = CloudflareTokenConnection
        DNSDriver.__init__(self, key, secret, secure=secure, host=host, port=port, **kwargs)

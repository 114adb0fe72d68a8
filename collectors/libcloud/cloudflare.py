"""libcloud's Cloudflare DNS driver, with every refused credential read as one.

libcloud maps only Cloudflare's error 9103 (a bad global API key) to `InvalidCredsError`;
a rejected API token answers 401 or 403 with other codes (10000 "Authentication error",
9109 "Invalid access token"), which libcloud raises as a bare `LibcloudError`, so Vigil would
report a failure instead of access denied. Here the HTTP status decides: 401 and 403 are
refused credentials, whatever the code; the message keeps Cloudflare's code and words.
"""

from __future__ import annotations

from typing import Any

from libcloud.common.types import InvalidCredsError, LibcloudError, MalformedResponseError
from libcloud.dns.base import DNSDriver
from libcloud.dns.drivers.cloudflare import (
    CloudFlareDNSDriver,
    CloudFlareDNSResponse,
    GlobalAPIKeyDNSConnection,
    TokenDNSConnection,
)

from collectors.libcloud.dnsimple import DENIED, http_message


class CloudflareResponse(CloudFlareDNSResponse):
    def success(self) -> bool:
        try:
            return bool(super().success())  # type: ignore[no-untyped-call]
        except MalformedResponseError:  # not JSON: a proxy's error page, say
            return False

    def parse_error(self) -> str:
        denied = int(self.status) in DENIED
        try:
            super().parse_error()  # type: ignore[no-untyped-call]
        except MalformedResponseError:
            pass
        except LibcloudError as exc:  # Cloudflare's code and message
            if denied and not isinstance(exc, InvalidCredsError):
                raise InvalidCredsError(str(exc.value), driver=exc.driver) from None
            raise
        message = http_message(self)  # no error in the body: the status says it
        if denied:
            raise InvalidCredsError(message)
        return message


class CloudflareTokenConnection(TokenDNSConnection):
    responseCls = CloudflareResponse


class CloudflareKeyConnection(GlobalAPIKeyDNSConnection):
    responseCls = CloudflareResponse


class CloudflareDNSDriver(CloudFlareDNSDriver):
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
            self.connectionCls = CloudflareTokenConnection  # type: ignore[assignment]
        DNSDriver.__init__(self, key, secret, secure=secure, host=host, port=port, **kwargs)

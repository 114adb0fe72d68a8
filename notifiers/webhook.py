"""Webhook: a documented JSON body POSTed to a URL, signed with HMAC-SHA256 when a secret is set.

Every request carries `X-Vigil-Idempotency-Key` (the message's key: a redelivery after a
crash between send and mark-sent has the same key, so the receiver can drop it). With a
secret, it is signed twice: `X-Vigil-Signature: sha256=<hex HMAC of the raw body>` (kept for
the receivers that check it) and `X-Vigil-Signature-V1: t=<unix>,v1=<hex HMAC of "<t>.<body>">`
with `X-Vigil-Timestamp: <t>`, which binds the time of sending so a receiver can refuse a
replayed request. The body's schema and a receiver's check are in docs/alerting.md.

    notifiers:
      - name: ticketing
        type: webhook
        url: https://hooks.example.com/vigil
        secret: ${VIGIL_WEBHOOK_SECRET}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from notifiers.base import Message, NotifierSettings, SettingsModel
from vigil.core.errors import NotifyError
from vigil.core.schema import HttpUrl, SecretRef

if TYPE_CHECKING:
    import requests

SCHEMA_VERSION = 1
SIGNATURE_HEADER = "X-Vigil-Signature"
SIGNATURE_V1_HEADER = "X-Vigil-Signature-V1"
TIMESTAMP_HEADER = "X-Vigil-Timestamp"
KEY_HEADER = "X-Vigil-Idempotency-Key"


class WebhookConfig(NotifierSettings):
    """An HTTP(S) endpoint that receives every message as JSON."""

    type: Literal["webhook"]
    url: HttpUrl
    secret: SecretRef | None = None


def payload(message: Message) -> dict[str, Any]:
    """The webhook body (schema version 1, see docs/alerting.md)."""
    return {
        "version": SCHEMA_VERSION,
        "key": message.key,
        "summary": message.summary(),
        "severity": message.severity.value,
        "route": message.route,
        "notifier": message.notifier,
        "group": message.group,
        "rule": {"id": message.rule, "title": message.rule_title},
        "remediation": message.remediation,
        "created_at": message.created_at,
        "counts": message.counts(),
        "alerts": [
            {
                "event": a.event,
                "kind": a.kind,
                "fingerprint": a.fingerprint,
                "severity": a.severity,
                "title": a.title,
                "detail": a.detail,
                "resource": {
                    "uid": a.resource_uid,
                    "native_id": a.native_id,
                    "name": a.name,
                    "type": a.type,
                    "source": a.source,
                    "provider": a.provider,
                    "account": a.account,
                    "region": a.region,
                },
                "labels": a.labels,
                "first_seen": a.first_seen,
                "last_seen": a.last_seen,
                "resolved_at": a.resolved_at,
            }
            for a in message.alerts
        ],
    }


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def sign_v1(secret: bytes, body: bytes, timestamp: int) -> str:
    """The V1 signature header value: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret, signed, hashlib.sha256).hexdigest()}"


def signature_headers(secret: bytes, body: bytes, timestamp: int) -> dict[str, str]:
    """Both signatures and the timestamp the V1 one covers (signed at each attempt)."""
    return {
        SIGNATURE_HEADER: sign(secret, body),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_V1_HEADER: sign_v1(secret, body, timestamp),
    }


class WebhookNotifier:
    """POSTs each message to one URL."""

    type: ClassVar[str] = "webhook"
    config_model: ClassVar[SettingsModel] = WebhookConfig

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config

    def send(self, message: Message) -> None:
        body = json.dumps(payload(message), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", KEY_HEADER: message.key}
        if self.config.secret is not None:
            secret = self.config.secret.get_secret_value().encode()
            headers |= signature_headers(secret, body, int(time.time()))
        post(self.config.url, body, headers, self.config.timeout.total_seconds(), "webhook")


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    what: str,
    *,
    session: requests.Session | None = None,
) -> requests.Response:
    """POST `body`; raise NotifyError (retryable on 408/429/5xx and transport errors).

    `session` brings a channel's own retries (notifiers.http.retrying_session).
    """
    import requests  # loaded when a channel sends, not with the config (15 ms of start-up)

    sender = session.post if session is not None else requests.post
    try:
        response = sender(url, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        # The exception's text quotes the URL, which may embed a token: name the kind only.
        raise NotifyError(
            f"cannot reach the {what}: {type(exc).__name__}", retryable=True
        ) from None
    if response.status_code >= 300:
        status = response.status_code
        retryable = status in (408, 429) or status >= 500
        raise NotifyError(f"the {what} answered HTTP {status}", retryable=retryable)
    return response

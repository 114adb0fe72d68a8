"""Alertmanager: findings as alerts on `/api/v2/alerts`, for teams that already route there.

Each alert carries the finding's labels (`alertname` = rule id, severity, source, account,
region, type, resource, fingerprint, owner/team) and annotations (summary, description,
remediation, and `vigil_idempotency_key`, the message's key). Alertmanager itself dedups alerts
with identical labels, so a re-sent message updates the alerts it already holds. Firing alerts
end after twice the route's repeat interval unless Vigil re-sends them (the reminder does);
resolved ones are sent with `endsAt` = now.

    notifiers:
      - name: am
        type: alertmanager
        url: http://alertmanager:9093
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from notifiers.base import RESOLVED, Alert, Message, NotifierSettings, SettingsModel
from notifiers.webhook import post
from vigil.core.model import iso, utcnow
from vigil.core.schema import HttpUrl

KEY_ANNOTATION = "vigil_idempotency_key"
_RESERVED = {"alertname", "severity", "fingerprint", "resource", "vigil_route"}


class AlertmanagerConfig(NotifierSettings):
    """An Alertmanager (v2 API) base URL, e.g. http://127.0.0.1:9093."""

    type: Literal["alertmanager"]
    url: HttpUrl
    dashboard_url: HttpUrl | None = None


def alerts(
    message: Message, now: datetime, dashboard_url: str | None = None
) -> list[dict[str, Any]]:
    """The `/api/v2/alerts` body for a message."""
    lifetime = timedelta(seconds=max(message.repeat_interval_seconds, 300) * 2)
    out = []
    for alert in message.alerts:
        ends = now if alert.event == RESOLVED else now + lifetime
        item: dict[str, Any] = {
            "labels": labels(alert, message.route),
            "annotations": {
                "summary": alert.title,
                "description": alert.detail,
                "remediation": message.remediation,
                "resource_name": alert.name,
                KEY_ANNOTATION: message.key,
            },
            "startsAt": alert.first_seen or iso(now),
            "endsAt": iso(ends),
        }
        if dashboard_url:
            item["generatorURL"] = f"{dashboard_url.rstrip('/')}/?rule={alert.rule}"
        out.append(item)
    return out


def labels(alert: Alert, route: str) -> dict[str, str]:
    """Alertmanager labels: the finding's routing labels plus what identifies it."""
    found = {k: v for k, v in alert.labels.items() if k not in _RESERVED and v}
    return found | {
        "alertname": alert.rule,
        "severity": alert.severity,
        "fingerprint": alert.fingerprint,
        "resource": alert.native_id or alert.resource_uid,
        "source": alert.source,
        "account": alert.account,
        "region": alert.region,
        "type": alert.type,
        "vigil_route": route,
    }


class AlertmanagerNotifier:
    """POSTs each message's alerts to one Alertmanager."""

    type: ClassVar[str] = "alertmanager"
    config_model: ClassVar[SettingsModel] = AlertmanagerConfig

    def __init__(self, config: AlertmanagerConfig) -> None:
        self.config = config

    def send(self, message: Message) -> None:
        body = json.dumps(alerts(message, utcnow(), self.config.dashboard_url)).encode()
        url = f"{self.config.url.rstrip('/')}/api/v2/alerts"
        headers = {"Content-Type": "application/json"}
        post(url, body, headers, self.config.timeout.total_seconds(), "alertmanager")

"""PagerDuty: one incident per finding group, through the Events API v2.

Each message becomes one event on `events_url` with the group's key as `dedup_key`
(`Message.group_key`: the same route, notifier and group give the same key at every check),
so the first trigger opens an alert, later triggers and reminders update it, and a redelivery
after a crash is merged into it by PagerDuty. The event is `resolve` only when the whole group
has resolved (`Message.group_open == 0`): a message that resolves two findings of a group
that still has a third open is a `trigger` that updates the incident's details. The routing
key is a credential (`${ENV}` only) and travels in the body, never in a URL, log or error.

Retries: PagerDuty asks senders to retry 429 and 5xx; the dedup_key makes that safe, so
urllib3 retries them (and refused connections) with backoff before the outbox takes over.

    notifiers:
      - name: pager
        type: pagerduty
        routing_key: ${PD_ROUTING_KEY}
        events_url: https://events.pagerduty.com/v2/enqueue   # optional
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field

from notifiers.base import Message, NotifierSettings, SettingsModel, clip, top_alerts
from notifiers.http import retrying_session
from notifiers.webhook import post
from vigil.core.schema import HttpUrl, SecretRef

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT = 1024  # PagerDuty truncates payload.summary at 1,024 characters
TOP_RESOURCES = 20
RETRY_STATUSES = (429, 500, 502, 503, 504)
SEVERITIES = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}
"""Vigil severity → PagerDuty's four (critical, error, warning, info)."""


class PagerDutyConfig(NotifierSettings):
    """A PagerDuty service's Events API v2 integration: its routing (integration) key."""

    type: Literal["pagerduty"]
    routing_key: SecretRef = Field(
        description="The service's Events API v2 integration key, as `${ENV}` (a secret)."
    )
    events_url: HttpUrl = Field(default=EVENTS_URL, description="The Events API v2 endpoint.")
    dashboard_url: HttpUrl | None = Field(
        default=None, description="Vigil dashboard base URL, linked from the incident."
    )


def event_action(message: Message) -> str:
    """`resolve` when nothing of the group is open any more, else `trigger`.

    Without a count (`group_open` None: an outbox row written before it existed), a message
    in which every alert resolved is taken as the group's end, as it was then.
    """
    if message.group_open is None:
        return "resolve" if not message.firing else "trigger"
    return "resolve" if message.group_open == 0 and not message.firing else "trigger"


def event(message: Message, routing_key: str, dashboard_url: str | None = None) -> dict[str, Any]:
    """The Events API v2 body of a message (routing key included: never log this)."""
    action = event_action(message)
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": message.group_key(),
    }
    if action == "resolve":
        return body
    first = (message.firing or message.alerts)[0]
    body["payload"] = {
        "summary": clip(message.summary(), SUMMARY_LIMIT),
        "source": first.source or "vigil",
        "severity": SEVERITIES.get(message.severity.value, "info"),
        "timestamp": message.created_at,
        "component": first.type,
        "group": first.account,
        "class": message.rule,
        "custom_details": details(message),
    }
    body["client"] = "Vigil"
    if dashboard_url:
        link = f"{dashboard_url.rstrip('/')}/?rule={quote(message.rule)}"
        body["client_url"] = link
        body["links"] = [{"href": link, "text": "Open in the Vigil dashboard"}]
    return body


def details(message: Message) -> dict[str, Any]:
    """`custom_details`: counts, the group, the idempotency key and the top resources."""
    shown, more = top_alerts(message.firing, TOP_RESOURCES)
    return {
        "rule": message.rule,
        "route": message.route,
        "group": message.group,
        "counts": message.counts(),
        "still_open_in_group": message.group_open,
        "remediation": message.remediation,
        "idempotency_key": message.key,
        "resources": [
            {
                "resource": clip(a.display_name, 200),
                "account": a.account,
                "region": a.region,
                "severity": a.severity,
                "title": clip(a.title, 300),
                "labels": a.labels,
            }
            for a in shown
        ],
        "more_resources": more,
        "resolved": [clip(a.display_name, 200) for a in message.resolved[:TOP_RESOURCES]],
    }


class PagerDutyNotifier:
    """Sends each message as one Events API v2 event (trigger, or resolve of the group)."""

    type: ClassVar[str] = "pagerduty"
    config_model: ClassVar[SettingsModel] = PagerDutyConfig

    def __init__(self, config: PagerDutyConfig) -> None:
        self.config = config

    def send(self, message: Message) -> None:
        key = self.config.routing_key.get_secret_value()
        body = json.dumps(event(message, key, self.config.dashboard_url)).encode()
        headers = {"Content-Type": "application/json"}
        with retrying_session(RETRY_STATUSES) as session:
            post(
                self.config.events_url,
                body,
                headers,
                self.config.timeout.total_seconds(),
                "pagerduty events api",
                session=session,
            )

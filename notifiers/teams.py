"""Microsoft Teams: an Adaptive Card POSTed to a Workflows (or incoming) webhook.

The body is the envelope both Teams Workflows ("When a Teams webhook request is received")
and the older incoming webhooks accept: `{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard 1.4>}]}`. Adaptive Card
text is Markdown: every untrusted string (resource names and ids, tags, titles, details) goes
through `escape`, which backslash-escapes Markdown's punctuation and `<`/`>`, so a name such
as `[login](https://evil)` or `<img src=x>` shows as typed and links nowhere. The card stays
well under Teams' 28 KB by construction (top 20 resources, clipped strings, "…and N more").

The webhook URL is a credential (its query holds the signature): `${ENV}` only, never in
errors or logs. Teams has no idempotency key, so the card shows the message's key in its
footer, and only what Teams did not act on is retried in place: refused connections and 429
(with `Retry-After`); anything else goes back to the outbox.

    notifiers:
      - name: team-chat
        type: teams
        webhook_url: ${TEAMS_WEBHOOK_URL}
        dashboard_url: https://vigil.example.com   # optional
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

from pydantic import Field

from notifiers.base import (
    REPEAT,
    Alert,
    Message,
    NotifierSettings,
    SettingsModel,
    clip,
    top_alerts,
)
from notifiers.http import hide_in_logs, retrying_session
from notifiers.webhook import post
from vigil.core.schema import HttpUrl, SecretRef

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"
TOP_RESOURCES = 20
RETRY_STATUSES = (429,)
_COLOR = {"critical": "attention", "high": "attention", "medium": "warning"}
# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that start
# emphasis, links, images, code, headings, lists, quotes, tables, autolinks and raw HTML.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&:@])")


class TeamsConfig(NotifierSettings):
    """A Teams channel's Workflows (Power Automate) or incoming webhook URL."""

    type: Literal["teams"]
    webhook_url: SecretRef = Field(
        description="The Workflows or incoming webhook URL, as `${ENV}` (a secret)."
    )
    dashboard_url: HttpUrl | None = Field(
        default=None, description="Vigil dashboard base URL, for an Open in Vigil button."
    )


def escape(text: str) -> str:
    """Untrusted text made inert in Adaptive Card Markdown: shown as typed, on one line."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def card(message: Message, dashboard_url: str | None = None) -> dict[str, Any]:
    """The Adaptive Card of a message."""
    color = _COLOR.get(message.severity.value, "accent") if message.firing else "good"
    body: list[dict[str, Any]] = [
        _text(escape(clip(message.summary(), 300)), weight="Bolder", size="Medium", color=color),
        {"type": "FactSet", "facts": _facts(message)},
    ]
    for title, alerts in (("Firing", message.firing), ("Resolved", message.resolved)):
        if alerts:
            body.append(_text(f"**{title}**", spacing="Medium"))
            body.extend(_resource_lines(alerts))
    if message.remediation and message.firing:
        body.append(_text(f"**Remediation:** {escape(clip(message.remediation, 1000))}"))
    group = ", ".join(f"{k}={v}" for k, v in sorted(message.group.items()))
    footer = f"route {message.route} · {group} · key {message.key}"
    body.append(_text(escape(clip(footer, 500)), isSubtle=True, size="Small"))
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if dashboard_url:
        link = f"{dashboard_url.rstrip('/')}/?rule={quote(message.rule)}"
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Vigil", "url": link}]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": content}],
    }


def _facts(message: Message) -> list[dict[str, str]]:
    counts = message.counts()
    return [
        {"title": "Severity", "value": message.severity.value},
        {"title": "Rule", "value": escape(message.rule)},
        {"title": "New", "value": str(counts["firing"])},
        {"title": "Still open", "value": str(counts["repeat"])},
        {"title": "Resolved", "value": str(counts["resolved"])},
    ]


def _resource_lines(alerts: list[Alert]) -> list[dict[str, Any]]:
    shown, more = top_alerts(alerts, TOP_RESOURCES)
    lines = []
    for alert in shown:
        again = " (still open)" if alert.event == REPEAT else ""
        tags = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        where = f"{alert.account}/{alert.region}, {alert.severity}"
        text = (
            f"- **{escape(clip(alert.display_name, 200))}** ({escape(where)}){again}: "
            f"{escape(clip(alert.title, 300))}"
        )
        if alert.reachable_from:
            text += f" — {escape(clip(alert.reachable_from, 300))}"
        if tags:
            text += f" — {escape(clip(tags, 300))}"
        lines.append(_text(text, spacing="None"))
    if more:
        lines.append(_text(f"…and {more} more", isSubtle=True, spacing="None"))
    return lines


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


class TeamsNotifier:
    """POSTs each message as an Adaptive Card to one Teams webhook."""

    type: ClassVar[str] = "teams"
    config_model: ClassVar[SettingsModel] = TeamsConfig

    def __init__(self, config: TeamsConfig) -> None:
        self.config = config
        parts = urlsplit(config.webhook_url.get_secret_value())
        hide_in_logs(parts.path, parts.query)

    def send(self, message: Message) -> None:
        body = json.dumps(card(message, self.config.dashboard_url)).encode()
        headers = {"Content-Type": "application/json"}
        with retrying_session(RETRY_STATUSES) as session:
            post(
                self.config.webhook_url.get_secret_value(),
                body,
                headers,
                self.config.timeout.total_seconds(),
                "teams webhook",
                session=session,
            )

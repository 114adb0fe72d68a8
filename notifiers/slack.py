"""Slack: Block Kit messages through slack-sdk, by bot token or incoming webhook.

Slack's limits are respected by construction (at most 50 blocks, 3,000 characters a section,
150 a header); anything cut says "…and N more". Every untrusted string (resource names,
ids, tags, titles) is escaped for mrkdwn. Rate limits (429 + Retry-After) and dropped
connections are retried inside slack-sdk; other failures go back to the outbox. Each post
carries the message's idempotency key as message metadata (`event_type` `vigil_message`,
`event_payload.idempotency_key`): Slack does not dedup on it, but whoever reads the channel's
history through the API can.

    notifiers:
      - name: oncall
        type: slack
        token: ${SLACK_BOT_TOKEN}
        channel: "#oncall"
        dashboard_url: https://vigil.example.com
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import model_validator

from notifiers.base import REPEAT, Alert, Message, NotifierSettings, SettingsModel, clip, top_alerts
from vigil.core.errors import NotifyError
from vigil.core.schema import HttpUrl, SecretRef

# slack_sdk loads when a message is sent, not when a config naming Slack is read.
if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
TOP_RESOURCES = 20
METADATA_EVENT = "vigil_message"
_EMOJI = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}
# slack-sdk logs request URLs at debug level; an incoming-webhook URL is a secret.
_QUIET = logging.getLogger("vigil.notifiers.slack.sdk")
_QUIET.setLevel(logging.WARNING)


class SlackConfig(NotifierSettings):
    """A Slack channel: `token` + `channel` (bot), or `webhook_url` (incoming webhook)."""

    type: Literal["slack"]
    token: SecretRef | None = None
    channel: str | None = None
    base_url: HttpUrl = "https://slack.com/api/"
    webhook_url: SecretRef | None = None
    dashboard_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackConfig:
        if self.webhook_url is None and (self.token is None or not self.channel):
            raise ValueError("a slack notifier needs token and channel, or webhook_url")
        if self.webhook_url is not None and self.token is not None:
            raise ValueError("a slack notifier takes token and channel, or webhook_url, not both")
        return self


def escape(text: str) -> str:
    """Escape `&`, `<`, `>` so untrusted text cannot make links, mentions or formatting."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks(message: Message, dashboard_url: str | None = None) -> list[dict[str, Any]]:
    """The Block Kit layout of a message, within Slack's limits."""
    emoji = _EMOJI.get(message.severity.value, "") if message.firing else "✅"
    header = clip(f"{emoji} {message.summary()}", HEADER_LIMIT)
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        _section(_counts_line(message)),
    ]
    for title, alerts in (("Firing", message.firing), ("Resolved", message.resolved)):
        if alerts:
            out.append(_section(_resource_lines(title, alerts)))
    if message.remediation and message.firing:
        out.append(_section(f"*Remediation:* {escape(message.remediation)}"))
    if dashboard_url:
        link = f"{dashboard_url.rstrip('/')}/?rule={quote(message.rule)}"
        out.append(_section(f"<{link}|Open in the Vigil dashboard>"))
    group = ", ".join(f"{k}={v}" for k, v in sorted(message.group.items()))
    out.append(_context(f"route {escape(message.route)} · {escape(group)}"))
    return out[:MAX_BLOCKS]


def metadata(message: Message) -> dict[str, Any]:
    """Slack message metadata that carries the idempotency key."""
    return {"event_type": METADATA_EVENT, "event_payload": {"idempotency_key": message.key}}


def fallback_text(message: Message) -> str:
    """The notification text (shown in pushes and by clients without blocks)."""
    return escape(clip(message.summary(), SECTION_LIMIT))


def _counts_line(message: Message) -> str:
    counts = message.counts()
    return (
        f"*Severity:* {message.severity.value} · *Rule:* `{escape(message.rule)}` · "
        f"*New:* {counts['firing']} · *Still open:* {counts['repeat']} · "
        f"*Resolved:* {counts['resolved']}"
    )


def _resource_lines(title: str, alerts: list[Alert]) -> str:
    shown, more = top_alerts(alerts, TOP_RESOURCES)
    lines = [f"*{title}:*"]
    for alert in shown:
        again = " (still open)" if alert.event == REPEAT else ""
        where = f"{alert.account}/{alert.region}"
        lines.append(
            f"• *{escape(clip(alert.display_name, 200))}* ({escape(where)}, "
            f"{alert.severity}){again}: {escape(clip(alert.title, 300))}"
            + (f" — {escape(clip(alert.reachable_from, 300))}" if alert.reachable_from else "")
        )
    text, dropped = _fit(lines, SECTION_LIMIT - 40)
    if more + dropped:
        text += f"\n…and {more + dropped} more"
    return text


def _fit(lines: list[str], limit: int) -> tuple[str, int]:
    """Join lines up to `limit` characters; how many did not fit."""
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept), len(lines) - len(kept)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, 2000)}]}


class SlackNotifier:
    """Posts messages to one Slack channel (chat.postMessage) or incoming webhook."""

    type: ClassVar[str] = "slack"
    config_model: ClassVar[SettingsModel] = SlackConfig

    def __init__(self, config: SlackConfig) -> None:
        self.config = config

    def send(self, message: Message) -> None:
        layout = blocks(message, self.config.dashboard_url)
        text = fallback_text(message)
        meta = metadata(message)
        if self.config.webhook_url is not None:
            self._via_webhook(text, layout, meta)
        else:
            self._via_api(text, layout, meta)

    def check(self) -> str:
        """`auth.test`: whether the token works; returns the bot's team and user."""
        if self.config.webhook_url is not None:
            return "incoming webhook (no check available)"
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            reply = self._client().auth_test()
        except SlackApiError as exc:
            raise _api_error("auth.test", exc) from None
        except (SlackClientError, OSError) as exc:
            raise _transport_error(exc) from None
        return f"{reply.get('team', '?')} as {reply.get('user', '?')}"

    def _client(self) -> WebClient:
        from slack_sdk import WebClient

        assert self.config.token is not None
        return WebClient(
            token=self.config.token.get_secret_value(),
            base_url=self.config.base_url,
            timeout=int(self.config.timeout.total_seconds()),
            retry_handlers=_retry_handlers(),
        )

    def _via_api(self, text: str, layout: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            self._client().chat_postMessage(
                channel=self.config.channel or "",
                text=text,
                blocks=layout,
                unfurl_links=False,
                metadata=meta,
            )
        except SlackApiError as exc:
            raise _api_error("chat.postMessage", exc) from None
        except (SlackClientError, OSError) as exc:
            raise _transport_error(exc) from None

    def _via_webhook(self, text: str, layout: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        from slack_sdk.errors import SlackClientError
        from slack_sdk.webhook import WebhookClient

        assert self.config.webhook_url is not None
        client = WebhookClient(
            self.config.webhook_url.get_secret_value(),
            timeout=int(self.config.timeout.total_seconds()),
            retry_handlers=_retry_handlers(),
            logger=_QUIET,
        )
        try:
            response = client.send(text=text, blocks=layout, unfurl_links=False, metadata=meta)
        except (SlackClientError, OSError) as exc:
            raise _transport_error(exc) from None
        if response.status_code != 200:
            retryable = response.status_code == 429 or response.status_code >= 500
            raise NotifyError(
                f"slack webhook answered HTTP {response.status_code}: {clip(response.body, 200)}",
                retryable=retryable,
            )


def _retry_handlers() -> list[Any]:
    from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]


def _api_error(method: str, exc: SlackApiError) -> NotifyError:
    # Built from the status and Slack's error code only: never the request (it holds the token).
    status = exc.response.status_code
    code = exc.response.get("error", "") if isinstance(exc.response.data, dict) else ""
    retryable = status == 429 or status >= 500 or code in ("ratelimited", "internal_error")
    detail = f"error {code!r}" if code else f"HTTP {status}"
    return NotifyError(f"slack {method} failed: {detail}", retryable=retryable)


def _transport_error(exc: BaseException) -> NotifyError:
    # The reason ("Connection refused"), not the exception text, which may quote the URL.
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return NotifyError(f"cannot reach slack: {reason}", retryable=True)

"""Slack through the real slack-sdk against a loopback Web API: layout, limits, escaping,
rate limits and server errors (retried, not lost, not duplicated), and the token kept secret."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from notifiers.slack import MAX_BLOCKS, SECTION_LIMIT, SlackConfig, SlackNotifier, blocks
from storage import outbox as store
from storage.db import Database
from tests.factories.notifiers import (
    T0,
    alert,
    assert_secret_absent,
    check,
    config,
    finding,
    findings,
    message,
)
from tests.fixtures.slack_api import SlackApi
from tests.storage.test_exposure import build_estate
from vigil.app.notify import deliver
from vigil.core.errors import NotifyError

TOKEN_ENV = "VIGIL_TEST_SLACK_TOKEN"


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, SlackApi.TOKEN)
    return SlackApi.TOKEN


def slack(api: SlackApi, **options: object) -> dict[str, object]:
    return {"name": "oncall", "type": "slack", "token": f"${{{TOKEN_ENV}}}",
            "channel": "#oncall", "base_url": api.base_url, **options}  # fmt: skip


def texts(layout: list[dict[str, object]]) -> list[str]:
    out = []
    for block in layout:
        text = block.get("text")
        if isinstance(text, dict):
            out.append(text["text"])
        for element in block.get("elements", []):  # type: ignore[attr-defined]
            out.append(element["text"])
    return out


def test_untrusted_names_are_escaped_for_mrkdwn() -> None:
    evil = alert("sg-1", name="<!channel> & <https://evil.example|click me>",
                 title="open on <@U123>")  # fmt: skip
    joined = "\n".join(texts(blocks(message(evil))))
    assert "<!channel>" not in joined and "<https://evil" not in joined and "<@U123>" not in joined
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click me&gt;" in joined
    assert "open on &lt;@U123&gt;" in joined


def test_a_huge_group_stays_within_slack_limits_and_says_how_many_more() -> None:
    many = [alert(f"sg-{i:04d}", name="n" * 180) for i in range(2000)]
    resolved = [alert(f"sg-r{i}", event="resolved") for i in range(30)]
    layout = blocks(message(*many, *resolved), dashboard_url="https://vigil.example.com")
    assert len(layout) <= MAX_BLOCKS
    assert all(len(t) <= SECTION_LIMIT for t in texts(layout))
    joined = "\n".join(texts(layout))
    assert "*New:* 2000" in joined and "*Resolved:* 30" in joined
    firing = next(t for t in texts(layout) if t.startswith("*Firing:*"))
    shown = firing.count("\n• ")
    assert 0 < shown <= 20 and firing.endswith(f"…and {2000 - shown} more")  # none lost silently
    assert "…and 10 more" in joined  # 20 of the 30 resolved fit
    assert (
        "<https://vigil.example.com/?rule=network.open_port|Open in the Vigil dashboard>" in joined
    )
    assert "*Remediation:* Restrict the rule to known networks." in joined


def test_messages_reach_the_channel_with_blocks(
    sqlite_db: Database, slack_api: SlackApi, token: str
) -> None:
    cfg = config([slack(slack_api, dashboard_url="https://vigil.example.com")])
    check(sqlite_db, findings(3), cfg)
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (post,) = slack_api.posts()
    assert post["channel"] == "#oncall"
    assert post["text"].startswith("[HIGH] ")
    assert "3 new" in post["text"]
    assert slack_api.ok("/api/chat.postMessage")[0].headers["authorization"] == f"Bearer {token}"
    assert any("sg-00002" in t for t in texts(post["blocks"]))
    (entry,) = store.entries(sqlite_db)
    assert post["metadata"] == {
        "event_type": "vigil_message",
        "event_payload": {"idempotency_key": entry.key},
    }


def test_rate_limit_is_waited_out_and_retried_once(
    sqlite_db: Database, slack_api: SlackApi, token: str
) -> None:
    cfg = config([slack(slack_api)])
    slack_api.then("/api/chat.postMessage", 429, {"ok": False, "error": "ratelimited"},
                   Retry_After="1")  # fmt: skip
    check(sqlite_db, [finding("sg-1")], cfg)
    report = deliver(sqlite_db, cfg, now=T0)
    assert report.sent == 1
    statuses = [r.status for r in slack_api.requests]
    assert statuses == [429, 200]
    assert len(slack_api.posts()) == 1


def test_a_server_error_is_retried_later_not_lost_not_duplicated(
    sqlite_db: Database, slack_api: SlackApi, token: str
) -> None:
    cfg = config([slack(slack_api, backoff="10s")])
    slack_api.then("/api/chat.postMessage", 500, {"ok": False, "error": "internal_error"})
    check(sqlite_db, [finding("sg-1")], cfg)
    first = deliver(sqlite_db, cfg, now=T0)
    assert (first.sent, first.failed) == (0, 1)
    assert first.errors == ["oncall: slack chat.postMessage failed: error 'internal_error'"]
    later = [deliver(sqlite_db, cfg, now=T0 + timedelta(seconds=s)) for s in (11, 30, 600)]
    assert [r.sent for r in later] == [1, 0, 0]
    assert len(slack_api.posts()) == 1


def test_incoming_webhook(
    sqlite_db: Database, slack_api: SlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_TEST_SLACK_HOOK", slack_api.webhook_url)
    cfg = config([{"name": "hook", "type": "slack", "webhook_url": "${VIGIL_TEST_SLACK_HOOK}"}])
    check(sqlite_db, [finding("sg-1")], cfg)
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (request,) = slack_api.ok("/services/T000/B000/secretwebhookpath")
    assert request.json["text"].startswith("[HIGH] ")
    (entry,) = store.entries(sqlite_db)
    assert request.json["metadata"]["event_payload"] == {"idempotency_key": entry.key}


def test_auth_test_reports_the_bot(slack_api: SlackApi, token: str) -> None:
    notifier = SlackNotifier(SlackConfig.model_validate(slack(slack_api)))
    assert notifier.check() == "Vigil Test as vigil-bot"


@pytest.mark.parametrize("way", ["token", "webhook"])
def test_the_secret_never_reaches_logs_errors_storage_or_messages(
    sqlite_db: Database,
    slack_api: SlackApi,
    token: str,
    way: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = token
    options = slack(slack_api, max_attempts=2, backoff="1s")
    if way == "webhook":
        secret = "secretwebhookpath"
        monkeypatch.setenv("VIGIL_TEST_SLACK_HOOK", slack_api.webhook_url)
        options = {"name": "oncall", "type": "slack", "webhook_url": "${VIGIL_TEST_SLACK_HOOK}",
                   "max_attempts": 2, "backoff": "1s"}  # fmt: skip
    cfg = config([options])
    assert secret not in repr(cfg) and secret not in str(cfg.model_dump())
    path = "/api/chat.postMessage" if way == "token" else "/services/T000/B000/secretwebhookpath"
    slack_api.then(path, 403, {"ok": False, "error": "invalid_auth"})
    check(sqlite_db, [finding("sg-1"), finding("cert-1", rule="cert.expired")], cfg)
    report = deliver(sqlite_db, cfg, now=T0)
    assert (report.sent, report.dead) == (1, 1)  # one refused (invalid_auth), one delivered
    bodies = [r.body.decode() for r in slack_api.requests]
    assert_secret_absent(secret, sqlite_db, caplog.text, *report.errors, *bodies)
    with pytest.raises(NotifyError) as raised:
        SlackNotifier(cfg.notifiers[0]).send(message())  # type: ignore[arg-type]
        slack_api.close()
        SlackNotifier(cfg.notifiers[0]).send(message())  # type: ignore[arg-type]
    assert secret not in str(raised.value) and secret not in caplog.text


def test_config_needs_a_token_and_channel_or_a_webhook(token: str) -> None:
    with pytest.raises(ValueError, match="needs token and channel, or webhook_url"):
        config([{"name": "s", "type": "slack", "channel": "#x"}])
    with pytest.raises(ValueError, match="must be an environment reference"):
        config([{"name": "s", "type": "slack", "token": "xoxb-literal", "channel": "#x"}])


def test_an_alert_says_from_which_public_name_its_resource_is_reachable(
    sqlite_db: Database, slack_api: SlackApi, token: str
) -> None:
    build_estate(sqlite_db)
    cfg = config([slack(slack_api)])
    check(sqlite_db, [finding("i-web", type_="server"), finding("i-private", type_="server")], cfg)

    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (post,) = slack_api.posts()
    firing = next(t for t in texts(post["blocks"]) if t.startswith("*Firing:*"))
    web, private = sorted(firing.splitlines()[1:], key=lambda line: "i-web" not in line)
    assert web.endswith("— reachable from shop.example.com via cdn E123 → alb web-prod")
    assert "reachable" not in private  # behind an internal load balancer only


def test_an_untrusted_name_on_the_path_is_escaped_for_mrkdwn() -> None:
    evil = alert("sg-1", reachable_from="reachable from <!here> via cdn <https://evil|x>")
    joined = "\n".join(texts(blocks(message(evil))))
    assert "<!here>" not in joined and "<https://evil" not in joined
    assert "reachable from &lt;!here&gt; via cdn &lt;https://evil|x&gt;" in joined

"""Microsoft Teams: an Adaptive Card per message, untrusted text inert, the URL kept secret."""

from __future__ import annotations

import html
import json
import logging
from datetime import timedelta

import pytest
from markdown_it import MarkdownIt

from notifiers.teams import TeamsConfig, TeamsNotifier, escape
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
from tests.fixtures.teams_webhook import MAX_BYTES, SIGNATURE, TeamsWebhook
from vigil.app.notify import deliver
from vigil.core.errors import NotifyError

HOSTILE = [
    "[login](https://evil.example/phish)",
    "<img src=x onerror=alert(1)> <b>bold</b> <at>everyone</at>",
    "**loud** _quiet_ `code` ~~gone~~ # heading",
    "1. list\n- item\n> quote\n| a | b |",
    "![pixel](https://evil.example/p.png) <https://evil.example> &amp; \\*",
]
# Teams renders Adaptive Card Markdown; CommonMark with raw HTML on is the strictest reading.
RENDER = MarkdownIt("commonmark", {"html": True})


@pytest.fixture
def teams_url(monkeypatch: pytest.MonkeyPatch, teams_webhook: TeamsWebhook) -> str:
    monkeypatch.setenv("VIGIL_TEST_TEAMS_URL", teams_webhook.webhook_url)
    return teams_webhook.webhook_url


def teams(**options: object) -> dict[str, object]:
    return {"name": "chat", "type": "teams", "webhook_url": "${VIGIL_TEST_TEAMS_URL}",
            "backoff": "0s", **options}  # fmt: skip


def texts(card: dict[str, object]) -> list[str]:
    body = card["body"]
    assert isinstance(body, list)
    out = [e["text"] for e in body if e["type"] == "TextBlock"]
    return out + [f["value"] for e in body if e["type"] == "FactSet" for f in e["facts"]]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_typed(text: str) -> None:
    rendered = RENDER.render(escape(text)).strip()
    assert rendered == f"<p>{html.escape(' '.join(text.split()), quote=False)}</p>"


def test_the_card_reaches_teams_through_the_outbox(
    sqlite_db: Database, teams_webhook: TeamsWebhook, teams_url: str
) -> None:
    cfg = config([teams()])
    check(sqlite_db, [finding("sg-1", team="payments"), finding("sg-2")], cfg)
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (card,) = teams_webhook.cards()
    shown = "".join(RENDER.render(text) for text in texts(card))
    assert card["version"] == "1.4" and "[HIGH] Sensitive port open to the internet" in shown
    assert "<strong>sg-1</strong>" in shown and "team=payments" in shown and "New" in str(card)


def test_a_hostile_name_and_tag_render_inert_in_the_card(
    teams_webhook: TeamsWebhook, teams_url: str
) -> None:
    name, tag = HOSTILE[0] + " " + HOSTILE[1], HOSTILE[2]
    sent = message(alert("sg-1", name=name, labels={"team": tag}, title=HOSTILE[3]))
    TeamsNotifier(TeamsConfig.model_validate(teams())).send(sent)
    (card,) = teams_webhook.cards()
    rendered = "".join(RENDER.render(text) for text in texts(card))
    assert "<a " not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "<h1>" not in rendered and "<ol>" not in rendered and "<blockquote>" not in rendered
    assert "<em>quiet</em>" not in rendered and "<code>" not in rendered
    assert html.escape(HOSTILE[0], quote=False) in rendered  # shown as typed
    assert rendered.count("<strong>") == 3  # ours: "Firing", the resource, "Remediation"


def test_a_large_group_stays_within_teams_limit(
    sqlite_db: Database, teams_webhook: TeamsWebhook, teams_url: str
) -> None:
    cfg = config([teams()])
    check(sqlite_db, findings(500), cfg)
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (request,) = teams_webhook.ok("/workflows/0f1e2d3c/triggers/manual/paths/invoke")
    assert len(request.body) < MAX_BYTES
    assert "…and 480 more" in texts(json.loads(request.body)["attachments"][0]["content"])


def test_only_a_rate_limit_is_retried_in_place(teams_webhook: TeamsWebhook, teams_url: str) -> None:
    path = "/workflows/0f1e2d3c/triggers/manual/paths/invoke"
    sender = TeamsNotifier(TeamsConfig.model_validate(teams()))
    teams_webhook.then(path, 429, {}, Retry_After="0")
    sender.send(message())
    assert [r.status for r in teams_webhook.requests] == [429, 202]
    teams_webhook.then(path, 502, {})  # Teams may have posted it: the outbox decides
    with pytest.raises(NotifyError) as raised:
        sender.send(message())
    assert raised.value.retryable and [r.status for r in teams_webhook.requests][2:] == [502]


def test_the_webhook_url_never_reaches_logs_errors_or_storage(
    sqlite_db: Database,
    teams_webhook: TeamsWebhook,
    teams_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = config([teams()])
    assert SIGNATURE not in repr(cfg) and SIGNATURE not in str(cfg.model_dump())
    check(sqlite_db, [finding("sg-1")], cfg)
    teams_webhook.then("/workflows/0f1e2d3c/triggers/manual/paths/invoke", 500, {})
    failed = deliver(sqlite_db, cfg, now=T0)
    monkeypatch.setenv("VIGIL_TEST_TEAMS_URL", f"http://127.0.0.1:9/x?{SIGNATURE}")
    unreachable = deliver(sqlite_db, config([teams()]), now=T0 + timedelta(hours=1))
    assert failed.failed == 1 and unreachable.failed == 1
    assert "urllib3" in caplog.text  # its debug lines were there, with the path masked
    bodies = [r.body.decode() for r in teams_webhook.requests]
    assert_secret_absent(SIGNATURE, sqlite_db, caplog.text, *failed.errors,
                         *unreachable.errors, *bodies)  # fmt: skip

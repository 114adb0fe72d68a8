"""The webhook: the documented JSON body, signed so the receiver can verify it."""

from __future__ import annotations

import logging

import pytest

from notifiers.webhook import KEY_HEADER, SCHEMA_VERSION, WebhookConfig, WebhookNotifier
from storage.db import Database
from tests.factories.notifiers import (
    T0,
    alert,
    assert_secret_absent,
    check,
    config,
    finding,
    message,
)
from tests.fixtures.slack_api import HttpRecorder
from vigil.app.notify import deliver

SECRET = "whsec-do-not-leak-0123"


@pytest.fixture
def signed_receiver(monkeypatch: pytest.MonkeyPatch) -> HttpRecorder:
    monkeypatch.setenv("VIGIL_TEST_WEBHOOK_SECRET", SECRET)
    receiver = HttpRecorder(secret=SECRET)
    yield receiver  # type: ignore[misc]
    receiver.close()


def hook(receiver: HttpRecorder, **options: object) -> dict[str, object]:
    return {"name": "tickets", "type": "webhook", "url": f"{receiver.url}/vigil",
            "secret": "${VIGIL_TEST_WEBHOOK_SECRET}", **options}  # fmt: skip


def test_the_receiver_verifies_the_signature_and_reads_the_schema(
    sqlite_db: Database, signed_receiver: HttpRecorder
) -> None:
    cfg = config([hook(signed_receiver)])
    check(sqlite_db, [finding("sg-1", team="payments"), finding("sg-2")], cfg)
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (request,) = signed_receiver.ok("/vigil")  # 2xx only when the signature verified
    body = request.json
    assert body["version"] == SCHEMA_VERSION and request.headers[KEY_HEADER.lower()] == body["key"]
    assert body["rule"]["id"] == "network.open_port" and body["severity"] == "high"
    assert body["group"] == {"rule": "network.open_port", "source": "aws-prod"}
    assert body["counts"] == {"firing": 2, "repeat": 0, "resolved": 0}
    first = body["alerts"][0]
    assert first["event"] == "firing" and first["kind"] == "new"
    assert first["resource"]["account"] == "111111111111"
    assert {a["labels"].get("team") for a in body["alerts"]} == {"payments", None}


def test_a_wrong_secret_is_refused_by_the_receiver(
    signed_receiver: HttpRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_TEST_WEBHOOK_SECRET", "not-the-shared-secret")
    notifier = WebhookNotifier(WebhookConfig.model_validate(hook(signed_receiver)))
    with pytest.raises(Exception, match="answered HTTP 401"):
        notifier.send(message())
    assert signed_receiver.ok("/vigil") == []


def test_the_secret_never_reaches_logs_errors_storage_or_messages(
    sqlite_db: Database, signed_receiver: HttpRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = config([hook(signed_receiver)])
    assert SECRET not in repr(cfg) and SECRET not in str(cfg.model_dump())
    signed_receiver.then("/vigil", 500)
    check(sqlite_db, [finding("sg-1")], cfg)
    failed = deliver(sqlite_db, cfg, now=T0)
    WebhookNotifier(cfg.notifiers[0]).send(message(alert()))  # type: ignore[arg-type]
    bodies = [r.body.decode() + repr(r.headers) for r in signed_receiver.requests]
    assert failed.failed == 1
    assert_secret_absent(SECRET, sqlite_db, caplog.text, *failed.errors, *bodies)

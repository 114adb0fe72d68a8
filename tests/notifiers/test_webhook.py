"""The webhook: the documented JSON body, signed so the receiver can verify it."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from notifiers.webhook import (
    KEY_HEADER,
    SCHEMA_VERSION,
    SIGNATURE_V1_HEADER,
    TIMESTAMP_HEADER,
    WebhookConfig,
    WebhookNotifier,
)
from storage import outbox as store
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
DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerting.md"


def documented_receiver() -> dict[str, Any]:
    """`verify` and `receive` exactly as docs/alerting.md shows them to receivers."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    (code,) = [block for block in blocks if "def verify(" in block]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    return namespace


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


def test_the_documented_receiver_check_verifies_v1_and_refuses_a_replay(
    sqlite_db: Database, signed_receiver: HttpRecorder
) -> None:
    receiver = documented_receiver()
    verify, receive = receiver["verify"], receiver["receive"]
    cfg = config([hook(signed_receiver)])
    check(sqlite_db, [finding("sg-1")], cfg)
    before = int(time.time())
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (request,) = signed_receiver.ok("/vigil")  # today's X-Vigil-Signature still verifies
    headers = CaseInsensitiveDict(request.headers)
    signed_at = int(headers[TIMESTAMP_HEADER])
    assert before <= signed_at <= time.time()
    assert headers[SIGNATURE_V1_HEADER].startswith(f"t={signed_at},v1=")
    secret = SECRET.encode()
    assert verify(secret, headers, request.body, signed_at + 1)
    # A captured request replayed later than 5 minutes is refused...
    assert not verify(secret, headers, request.body, signed_at + 301)
    assert not verify(secret, headers, request.body, signed_at - 301)
    # ...and cannot be dressed up with a fresh timestamp: the HMAC covers it.
    v1 = headers[SIGNATURE_V1_HEADER].split(",", 1)[1]
    fresh = CaseInsensitiveDict({SIGNATURE_V1_HEADER: f"t={signed_at + 600},{v1}"})
    assert not verify(secret, fresh, request.body, signed_at + 600)
    assert not verify(b"another-secret", headers, request.body, signed_at)
    assert not verify(secret, headers, request.body.replace(b"sg-1", b"sg-2"), signed_at)
    assert not verify(secret, CaseInsensitiveDict(), request.body, signed_at)

    # Within the window, the keys the receiver keeps turn a replay into a no-op.
    handled: list[dict[str, Any]] = []
    seen: dict[str, float] = {}
    answers = [receive(secret, headers, request.body, seen, handled.append) for _ in range(2)]
    (entry,) = store.entries(sqlite_db)
    assert answers == [200, 200] and [m["key"] for m in handled] == [entry.key]
    assert headers[KEY_HEADER] == entry.key and list(seen) == [entry.key]
    assert receive(b"wrong", headers, request.body, {}, handled.append) == 401


def test_without_a_secret_the_key_travels_unsigned(
    sqlite_db: Database, http_recorder: HttpRecorder
) -> None:
    cfg = config([{"name": "plain", "type": "webhook", "url": f"{http_recorder.url}/plain"}])
    check(sqlite_db, [finding("sg-1")], cfg)
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (request,) = http_recorder.ok("/plain")
    (entry,) = store.entries(sqlite_db)
    assert request.headers[KEY_HEADER.lower()] == entry.key
    signatures = {"x-vigil-signature", "x-vigil-signature-v1", "x-vigil-timestamp"}
    assert signatures.isdisjoint(request.headers)

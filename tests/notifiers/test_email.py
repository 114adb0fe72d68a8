"""Email against a real SMTP server (aiosmtpd) on loopback: content, escaping, STARTTLS with
certificate verification and login, retry after the server was down, the password kept secret."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from notifiers.base import Message
from notifiers.email import EmailConfig, EmailNotifier
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
from tests.fixtures.smtp import SmtpFactory
from tests.fixtures.tls import TestCA
from vigil.app.notify import deliver
from vigil.core.errors import NotifyError

PASSWORD = "smtp-pa55-do-not-leak"


def mail(port: int, **options: Any) -> dict[str, Any]:
    return {"name": "audit-mail", "type": "email", "smtp_host": "127.0.0.1", "smtp_port": port,
            "starttls": False, "from": "vigil@example.com", "to": ["oncall@example.com"],
            **options}  # fmt: skip


def parts(received: Any) -> tuple[str, str]:
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    return text, html


def test_a_group_is_one_multipart_mail_with_severity_and_count(
    sqlite_db: Database, smtp_server: SmtpFactory
) -> None:
    server = smtp_server()
    cfg = config([mail(server.port)])
    check(sqlite_db, findings(3, severity="critical"), cfg)
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (received,) = server.messages
    assert received["Subject"].startswith("[Vigil] CRITICAL: ")
    assert received["Subject"].endswith(": 3 new")
    assert received["To"] == "oncall@example.com"
    assert server.envelopes[0].rcpt_tos == ["oncall@example.com"]
    text, html = parts(received)
    assert "sg-00000" in text and "111111111111/us-east-1" in text
    assert "<td>sg-00002</td>" in html


def test_the_message_id_is_the_idempotency_key_on_every_attempt(
    sqlite_db: Database, smtp_server: SmtpFactory
) -> None:
    server = smtp_server()
    cfg = config([mail(server.port)])
    check(sqlite_db, [finding("sg-1")], cfg)
    assert deliver(sqlite_db, cfg, now=T0).sent == 1
    (entry,) = store.entries(sqlite_db)
    # What a redelivery after a crash between send and mark-sent sends: the same message.
    EmailNotifier(cfg.notifiers[0]).send(Message.from_dict(entry.payload))  # type: ignore[arg-type]
    first, again = server.messages
    assert first["Message-ID"] == again["Message-ID"] == f"<{entry.key}@vigil>"
    assert first["X-Vigil-Idempotency-Key"] == again["X-Vigil-Idempotency-Key"] == entry.key


def test_untrusted_text_is_html_escaped_and_headers_stay_one_line(smtp_server: SmtpFactory) -> None:
    server = smtp_server()
    notifier = EmailNotifier(EmailConfig.model_validate(mail(server.port)))
    evil = alert("sg-1", name="<script>alert(1)</script>", title="owned & <b>bold</b>")
    notifier.send(message(evil, rule_title="Open\r\nBcc: victim@example.com"))
    (received,) = server.messages
    text, html = parts(received)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "owned &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>alert(1)</script>" in text  # plain text shows it as it is
    assert received["Bcc"] is None and server.envelopes[0].rcpt_tos == ["oncall@example.com"]
    assert "Open Bcc: victim@example.com" in received["Subject"]


def test_starttls_verifies_the_certificate_and_logs_in(
    smtp_server: SmtpFactory, test_ca: TestCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_TEST_SMTP_PASSWORD", PASSWORD)
    server = smtp_server(ca=test_ca, login=("vigil", PASSWORD))
    secure = mail(server.port, starttls=True, username="vigil",
                  password="${VIGIL_TEST_SMTP_PASSWORD}")  # fmt: skip
    with pytest.raises(NotifyError, match="TLS with SMTP 127.0.0.1:.* failed"):
        EmailNotifier(EmailConfig.model_validate(secure)).send(message())  # untrusted CA
    trusted = EmailConfig.model_validate(secure | {"ca_bundle": str(test_ca.bundle)})
    EmailNotifier(trusted).send(message())
    assert len(server.messages) == 1 and server.logins == ["vigil"]


def test_a_mail_is_retried_after_the_server_was_down(
    sqlite_db: Database, smtp_server: SmtpFactory
) -> None:
    server = smtp_server(start=False)
    cfg = config([mail(server.port, backoff="30s", timeout="2s")])
    check(sqlite_db, [finding("sg-1")], cfg)
    down = deliver(sqlite_db, cfg, now=T0)
    assert down.failed == 1 and "cannot reach SMTP 127.0.0.1:" in down.errors[0]
    server.start()
    assert deliver(sqlite_db, cfg, now=T0 + timedelta(seconds=10)).sent == 0  # backing off
    assert deliver(sqlite_db, cfg, now=T0 + timedelta(seconds=31)).sent == 1
    assert deliver(sqlite_db, cfg, now=T0 + timedelta(hours=1)).sent == 0
    assert len(server.messages) == 1


def test_plain_smtp_is_refused_unless_the_relay_is_on_loopback() -> None:
    with pytest.raises(ValueError, match="plain SMTP to smtp.example.com"):
        config([mail(25, smtp_host="smtp.example.com")])
    assert config([mail(25)]).notifiers[0].smtp_host == "127.0.0.1"  # type: ignore[union-attr]


def test_the_password_never_reaches_logs_errors_storage_or_messages(
    sqlite_db: Database,
    smtp_server: SmtpFactory,
    test_ca: TestCA,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("VIGIL_TEST_SMTP_PASSWORD", PASSWORD)
    server = smtp_server(ca=test_ca, login=("vigil", "another-password"))
    options = mail(server.port, starttls=True, username="vigil", ca_bundle=str(test_ca.bundle),
                   password="${VIGIL_TEST_SMTP_PASSWORD}")  # fmt: skip
    cfg = config([options])
    assert PASSWORD not in repr(cfg) and PASSWORD not in str(cfg.model_dump())
    check(sqlite_db, [finding("sg-1")], cfg)
    refused = deliver(sqlite_db, cfg, now=T0)
    assert refused.dead == 1 and "refused the login" in refused.errors[0]
    server.login = ("vigil", PASSWORD)
    EmailNotifier(cfg.notifiers[0]).send(message())  # type: ignore[arg-type]
    mails = [e.original_content.decode() for e in server.envelopes if e.original_content]
    assert mails
    assert_secret_absent(PASSWORD, sqlite_db, caplog.text, *refused.errors, *mails)

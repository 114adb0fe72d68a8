"""Email: one multipart (text + HTML) mail per message, over STARTTLS or implicit TLS.

Certificates are verified (against `ca_bundle` when given, else the system store). Plain
SMTP is refused unless the server is on loopback (a local relay). Every untrusted string is
HTML-escaped in the HTML part; header values never carry a line break. The `Message-ID` is
made from the message's idempotency key (`<key@vigil>`), so a mail re-sent after a crash
between send and mark-sent has the same id and mail systems that dedup on it drop it.

    notifiers:
      - name: audit-mail
        type: email
        smtp_host: smtp.example.com
        smtp_port: 587
        starttls: true
        username: ${SMTP_USER}
        password: ${SMTP_PASSWORD}
        from: vigil@example.com
        to: [audit@example.com]
"""

from __future__ import annotations

import html
import ipaddress
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from notifiers.base import REPEAT, Alert, Message, NotifierSettings, SettingsModel, top_alerts
from vigil.core.errors import NotifyError
from vigil.core.schema import EnvStr, SecretRef

TOP_RESOURCES = 100
KEY_HEADER = "X-Vigil-Idempotency-Key"


class EmailConfig(NotifierSettings):
    """An SMTP relay and the recipients. `tls` is implicit TLS (port 465)."""

    type: Literal["email"]
    smtp_host: str
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    starttls: bool = True
    tls: bool = False
    username: EnvStr | None = None
    password: SecretRef | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    verify: bool = True
    ca_bundle: str | None = None

    @model_validator(mode="after")
    def _safe_transport(self) -> EmailConfig:
        if self.tls and self.starttls:
            raise ValueError("use starttls (port 587) or tls (implicit, port 465), not both")
        if not (self.tls or self.starttls) and not _loopback(self.smtp_host):
            raise ValueError(
                f"plain SMTP to {self.smtp_host} would send mail and passwords in clear text; "
                "set starttls: true or tls: true (plain is allowed only to a loopback relay)"
            )
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self

    @property
    def port(self) -> int:
        return self.smtp_port or (465 if self.tls else 587 if self.starttls else 25)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def subject(message: Message) -> str:
    """`[Vigil] HIGH: Open port: 3 new, 1 resolved` on one line."""
    return " ".join(f"[Vigil] {message.summary().lstrip('[').replace(']', ':', 1)}".split())


def text_body(message: Message) -> str:
    lines = [message.summary(), ""]
    for title, alerts in (("Firing", message.firing), ("Resolved", message.resolved)):
        if not alerts:
            continue
        shown, more = top_alerts(alerts, TOP_RESOURCES)
        lines.append(f"{title}:")
        lines += [f"  - {_line(a)}" for a in shown]
        if more:
            lines.append(f"  …and {more} more")
        lines.append("")
    if message.remediation and message.firing:
        lines += [f"Remediation: {message.remediation}", ""]
    lines.append(f"Route {message.route}; rule {message.rule}.")
    return "\n".join(lines) + "\n"


def html_body(message: Message) -> str:
    esc = html.escape
    parts = [f"<h2>{esc(message.summary())}</h2>"]
    for title, alerts in (("Firing", message.firing), ("Resolved", message.resolved)):
        if not alerts:
            continue
        shown, more = top_alerts(alerts, TOP_RESOURCES)
        rows = "".join(
            f"<tr><td>{esc(a.severity)}</td><td>{esc(a.display_name)}</td>"
            f"<td>{esc(a.account)}</td><td>{esc(a.region)}</td>"
            f"<td>{esc(a.title + _exposed(a))}</td></tr>"
            for a in shown
        )
        parts.append(
            f"<h3>{title}</h3><table border='1' cellpadding='4'><tr><th>severity</th>"
            f"<th>resource</th><th>account</th><th>region</th><th>finding</th></tr>{rows}</table>"
        )
        if more:
            parts.append(f"<p>…and {more} more</p>")
    if message.remediation and message.firing:
        parts.append(f"<p><b>Remediation:</b> {esc(message.remediation)}</p>")
    parts.append(f"<p>Route {esc(message.route)}; rule {esc(message.rule)}.</p>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def message_id(message: Message) -> str:
    """`<key@vigil>`: the same for every attempt of one message (the key is hex)."""
    return f"<{message.key}@vigil>"


def _line(alert: Alert) -> str:
    again = " (still open)" if alert.event == REPEAT else ""
    where = f"{alert.account}/{alert.region}"
    return (
        f"[{alert.severity}] {alert.display_name} ({where}){again}: {alert.title}{_exposed(alert)}"
    )


def _exposed(alert: Alert) -> str:
    return f" — {alert.reachable_from}" if alert.reachable_from else ""


class EmailNotifier:
    """Mails each message to `to` through one SMTP relay."""

    type: ClassVar[str] = "email"
    config_model: ClassVar[SettingsModel] = EmailConfig

    def __init__(self, config: EmailConfig) -> None:
        self.config = config

    def build(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = subject(message)
        mail["From"] = self.config.from_
        mail["To"] = ", ".join(self.config.to)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(message)
        mail[KEY_HEADER] = message.key
        mail.set_content(text_body(message))
        mail.add_alternative(html_body(message), subtype="html")
        return mail

    def send(self, message: Message) -> None:
        mail = self.build(message)
        host = f"{self.config.smtp_host}:{self.config.port}"
        try:
            with self._connect() as smtp:
                if self.config.username and self.config.password:
                    smtp.login(self.config.username, self.config.password.get_secret_value())
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(f"SMTP {host} refused the login (code {exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            # 4xx is "try again later"; 5xx is permanent.
            raise NotifyError(
                f"SMTP {host} refused the mail (code {exc.smtp_code})",
                retryable=exc.smtp_code < 500,
            ) from None
        except ssl.SSLError as exc:
            raise NotifyError(f"TLS with SMTP {host} failed: {exc.reason}") from None
        except (smtplib.SMTPException, OSError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise NotifyError(f"cannot reach SMTP {host}: {reason}", retryable=True) from None

    def _connect(self) -> smtplib.SMTP:
        timeout = self.config.timeout.total_seconds()
        host, port = self.config.smtp_host, self.config.port
        if self.config.tls:
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._context())
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if self.config.starttls:
            try:
                smtp.starttls(context=self._context())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.config.ca_bundle)
        if not self.config.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

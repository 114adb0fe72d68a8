"""Structured logging for the daemon: text for people on a terminal, JSON lines for machines.

Call sites pass context as `extra={"source": ..., "scope": ...}`; both formats show it. A
redacting filter replaces every secret of the config with `**********` before a record is
written, so a token that slipped into an exception message still never reaches the log.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from vigil.core.errors import scrub
from vigil.core.urls import url_secrets

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def context(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of a record."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the extra fields, the error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **context(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            # exc_text, not exc_info: the redacting filter scrubbed the former.
            entry["error"] = record.exc_text
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = context(record)
        if not fields:
            return text
        head, newline, rest = text.partition("\n")
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head} {pairs}{newline}{rest}"


class RedactingFilter(logging.Filter):
    """Replaces the given secret values wherever they appear in a record's final text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self._scrub(message), None
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        for key, value in context(record).items():
            if isinstance(value, str):
                setattr(record, key, self._scrub(value))
            elif not isinstance(value, int | float | bool | None):
                # An exception, a URL object, a dict: the formatters print str(value).
                text = str(value)
                if text != (scrubbed := self._scrub(text)):
                    setattr(record, key, scrubbed)
        return True

    def _scrub(self, text: str) -> str:
        return scrub(text, self.secrets)


def database_secrets(url: str) -> list[str]:
    """The password inside a database URL (`postgresql://vigil:PASSWORD@db/vigil`), if any.

    SQLAlchemy and driver errors may quote the URL or the connection string; the URL is an
    ordinary string in the config (or `VIGIL_DATABASE_URL`), not a SecretStr.
    """
    return url_secrets(url)


def setup_logging(
    fmt: LogFormat = LogFormat.TEXT,
    *,
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Replace the root handlers with one that writes `fmt` to `stream` (stderr)."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt is LogFormat.JSON else TextFormatter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every job start and end, Alembic every migration check, at INFO;
    # their warnings (missed runs, failed migrations) are what matters.
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    return handler

"""HTTP for JSON channels over requests: retries by urllib3, secrets kept out of its logs.

Retries inside one send are urllib3's `Retry` mounted on a requests `Session` (the library's
own mechanism, as slack-sdk's retry handlers are Slack's): which statuses to retry is the
channel's choice, because only a channel that dedups (PagerDuty's `dedup_key`) may repeat a
request the server may have acted on. A `Retry-After` is honoured up to `MAX_RETRY_AFTER`;
a longer wait is the outbox's backoff, not a blocked sender.

urllib3 logs request paths at debug level (`"POST /workflows/...?sig=..."`), and a Teams
workflow URL's path and query are its credential: `hide_in_logs` registers such a secret, and
a filter on urllib3's loggers replaces it with `**********` before any handler sees it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from typing import TYPE_CHECKING

from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    import requests

MAX_RETRY_AFTER = 30.0
"""The longest `Retry-After` (seconds) a send waits in place before handing back to the outbox."""

_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection")
_MASK = "**********"


class _CappedRetry(Retry):
    """urllib3's Retry with the server's `Retry-After` capped (urllib3 sleeps it in place)."""

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        after = super().get_retry_after(response)
        return None if after is None else min(after, MAX_RETRY_AFTER)


def retrying_session(statuses: Collection[int], *, retries: int = 3) -> requests.Session:
    """A session that retries POSTs on connection errors and on `statuses`, with backoff.

    A read timeout is never retried here: the server may have acted on the request.
    """
    import requests  # loaded when a channel sends, not with the config (15 ms of start-up)
    from requests.adapters import HTTPAdapter

    retry = _CappedRetry(
        total=retries,
        connect=retries,
        read=0,
        status=retries,
        other=0,
        status_forcelist=frozenset(statuses),
        allowed_methods=frozenset({"POST"}),
        backoff_factor=0.25,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _Redact(logging.Filter):
    """Replaces registered secrets in urllib3's log records (their args hold URL paths)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self.lock:
            secrets = tuple(self.secrets)
        text = record.getMessage()
        if any(secret in text for secret in secrets):
            for secret in secrets:
                text = text.replace(secret, _MASK)
            record.msg, record.args = text, None
        return True


_REDACT = _Redact()


def hide_in_logs(*secrets: str) -> None:
    """Keep `secrets` (URL paths, queries) out of urllib3's debug logs from now on."""
    with _REDACT.lock:
        _REDACT.secrets.update(s for s in secrets if len(s) > 3)
    for name in _URLLIB3_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)

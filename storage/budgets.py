"""AWS API budgets kept in PostgreSQL: one bucket per key for every process and machine.

A `collectors.aws.budget.BucketStore`. Taking a token is one statement, an upsert that refills
the bucket by the time elapsed on the database's clock (one clock for every machine), takes
the token and returns what is left:

    tokens' = min(burst, tokens + rate × (now - updated)) - 1

The row lock serializes concurrent takes, so the buckets admit what an in-process bucket
admits, `burst + rate × t` over any window of t seconds, whatever the number of processes.
Below zero a take is a reservation: the caller sleeps `-tokens' / rate`, the time its token is
due, and sends without asking again (no polling; waiting callers queue in order). A caller that
dies after reserving leaves its token unused: the bucket errs on the side of AWS.

One engine per store (a small pool: each take holds a connection for the statement only),
autocommit, short connect and statement timeouts: an unreachable database fails the request
with a retryable StorageError instead of holding the scope.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.urls import normalize_url
from vigil.core.errors import StorageError
from vigil.core.urls import redact_url

_TAKE = """
INSERT INTO api_budgets AS b (key, tokens, updated)
VALUES (%(key)s, %(burst)s - 1, EXTRACT(EPOCH FROM statement_timestamp())::float8)
ON CONFLICT (key) DO UPDATE SET
    tokens = LEAST(%(burst)s, b.tokens + %(rate)s * GREATEST(0, EXCLUDED.updated - b.updated)) - 1,
    updated = GREATEST(b.updated, EXCLUDED.updated)
RETURNING tokens
"""
# GREATEST: a take that waited for the row lock behind a later one, or a database clock set
# back, refills nothing rather than a negative amount, and time never runs backwards.


class PostgresBucketStore:
    """The `api_budgets` table of a PostgreSQL database as a store of API budgets."""

    def __init__(self, url: str, *, timeout: float = 5.0, pool_size: int = 2) -> None:
        self.url = normalize_url(url)
        self.timeout = timeout
        seconds = max(1, round(timeout))
        self.engine = sa.create_engine(
            self.url,
            isolation_level="AUTOCOMMIT",
            pool_size=pool_size,
            max_overflow=4 * pool_size,  # a take holds one for ~0.2 ms: rarely more than 2
            pool_timeout=timeout,
            connect_args={
                "connect_timeout": seconds,
                "options": f"-c statement_timeout={seconds * 1000}",
                "application_name": "vigil-api-budgets",
            },
        )
        if self.engine.dialect.name != "postgresql":
            self.engine.dispose()
            raise ValueError(f"shared API budgets need PostgreSQL, not {redact_url(url)!r}")

    def take(self, key: str, rate: float, burst: float) -> float:
        """Reserve bucket `key`'s next token; the seconds until it is due (0: now)."""
        params = {"key": key, "rate": float(rate), "burst": float(burst)}
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    tokens = float(conn.exec_driver_sql(_TAKE, params).scalar_one())
                break
            except sa.exc.DBAPIError as exc:
                # A connection the database closed (a restart) is retried once on a new one.
                if attempt == 1 and exc.connection_invalidated:
                    continue
                raise self._unreachable(exc.orig) from exc
            except sa.exc.TimeoutError as exc:  # every pooled connection busy past the timeout
                raise self._unreachable(exc) from exc
        return -tokens / rate if tokens < 0 else 0.0

    def _unreachable(self, cause: object) -> StorageError:
        detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause)
        return StorageError(
            f"the shared AWS API budgets in {redact_url(self.url)} could not be reached "
            f"within {self.timeout:g}s ({detail}); no AWS request was sent without a token, "
            "the scope is collected again at the next pass",
            retryable=True,
        )

    def dispose(self) -> None:
        self.engine.dispose()

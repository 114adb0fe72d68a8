"""Where a streamed scope becomes a scope run: its messages applied to storage, one at a time.

Every executor streams scopes the same way (`executor.stream_scope`); this is the other end.
Under `threads` and `processes` the pass's one writer applies every scope's messages; under
`queue` each worker applies its own scope's (storage/reconcile.py keeps each in one
transaction per page and one to complete).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from storage.reconcile import Reconciler, RunAbandoned, RunStats
from vigil.app.executor import STOPPED, Message
from vigil.core.errors import scrub
from vigil.core.model import RunStatus, Scope

log = logging.getLogger(__name__)


@dataclass
class ScopeOutcome:
    """How one scope ended, for the summary table and the exit code."""

    scope: Scope
    status: str
    error: str | None = None
    pages: int = 0
    seen: int = 0
    created: int = 0
    changed: int = 0
    deleted: int = 0
    duration: float = 0.0
    throttled: int = 0

    @property
    def failed(self) -> bool:
        return self.status != RunStatus.COMPLETE


def outcome_of(run: RunStats, status: str, error: str | None = None) -> ScopeOutcome:
    return ScopeOutcome(
        scope=run.scope,
        status=status,
        error=error,
        pages=run.pages,
        seen=run.seen,
        created=run.created,
        changed=run.changed,
        deleted=run.deleted,
        throttled=run.throttled,
        duration=(run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0,
    )


class ScopeWriter:
    """Applies scopes' messages through one Reconciler; call it from one thread.

    `secrets` (per source) are scrubbed from every stored error; `stopped` turns a scope that
    ends after a stop into a failure (a stopped pass applies nothing more); `on_page` hears of
    each page applied.
    """

    def __init__(
        self,
        reconciler: Reconciler,
        secrets: Mapping[str, Collection[str]],
        *,
        stopped: Callable[[], bool],
        on_page: Callable[[Scope, int], None] | None = None,
    ) -> None:
        self.reconciler = reconciler
        self._secrets = secrets
        self._stopped = stopped
        self._on_page = on_page
        self._runs: dict[str, RunStats] = {}

    def apply(self, message: Message) -> ScopeOutcome | None:
        """Apply one message; the scope's outcome when it was its last."""
        key = message.scope.key
        if message.kind == "start":
            self._runs[key] = self.reconciler.start(message.scope, volatile=message.volatile)
            return None
        if message.kind == "page":
            assert message.rows is not None
            if key not in self._runs:
                return None  # a page of a scope abandoned before it started: nothing staged
            self.reconciler.add_rows(
                self._runs[key], message.rows, message.observed or (), message.links or ()
            )
            if self._on_page is not None:
                self._on_page(message.scope, len(message.rows))
            return None
        run = self._runs.pop(key, None)
        if run is not None and message.throttled:
            run.throttled = sum(message.throttled.values())
            log.info(
                "scope %s was throttled %d time(s): %s",
                key,
                run.throttled,
                ", ".join(f"{api} {n}" for api, n in sorted(message.throttled.items())),
            )
        if run is not None and message.kind == "done" and not self._stopped():
            try:
                self.reconciler.complete(run)
            except RunAbandoned as exc:  # taken for dead and retried: that attempt counts
                self.reconciler.discard(run)
                return outcome_of(run, RunStatus.FAILED, exc.message)
            return outcome_of(run, RunStatus.COMPLETE)
        error = scrub(message.error or STOPPED, self._secrets.get(message.scope.source, ()))
        if run is None:  # abandoned before it started: nothing to compare, nothing staged
            run = self.reconciler.record_failure(message.scope, error, retryable=message.retryable)
        else:
            self.reconciler.fail(run, error, retryable=message.retryable)
        return outcome_of(run, RunStatus.FAILED, error)

"""The daemon's retirement: what leaves the config leaves the inventory under `vigil run` too.

Retirement is computed from the whole config's plan (DESIGN.md, Invariants), but each daemon
cycle plans and collects one source. So the daemon keeps the newest plan of every configured
source: all of them at start, then each one as its cycle plans it again. It retires only while
every source has a plan (a failed plan drops its source's: never retire after a failed plan),
and holds back what a scope of the plan could still return: a resource whose provider,
account, region and type some planned scope covers stays present until that scope has
completed (a renamed source, whose new scopes have not run yet, is one `changed` event per
resource when they do, never a retire and a create).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from collectors.base import SourceConfig
from storage import runs
from storage.db import Database
from storage.retire import retire_unplanned
from vigil.app.collect import Collection, CollectionResult
from vigil.core.model import PLAN_TYPE, RunStatus, Scope

log = logging.getLogger(__name__)


class ConfiguredScopes:
    """The scopes the whole config plans, source by source; safe to use from many threads."""

    def __init__(self, db: Database, sources: Iterable[SourceConfig]) -> None:
        self.db = db
        self.sources = list(sources)
        self._plans: dict[str, list[Scope]] = {}
        self._lock = threading.Lock()

    def plan_all(self, stop: threading.Event | None = None) -> int:
        """Plan every source (no collecting) and retire what no plan covers; how many retired."""
        collection = Collection(self.db, self.sources, stop=stop)
        scopes, result = collection.plan()
        failed = {o.scope.source for o in result.outcomes if o.scope.type == PLAN_TYPE}
        with self._lock:
            for source in self.sources:
                if source.name in failed:
                    self._plans.pop(source.name, None)
                else:
                    self._plans[source.name] = [s for s in scopes if s.source == source.name]
        return self.retire()

    def record(self, source: str, result: CollectionResult) -> None:
        """A cycle of `source` planned again: its scopes now are those it ran."""
        with self._lock:
            if any(o.scope.type == PLAN_TYPE for o in result.outcomes):
                self._plans.pop(source, None)
            else:
                self._plans[source] = [o.scope for o in result.outcomes]

    def retire(self) -> int:
        """Retire the present resources of scopes no configured source plans any more."""
        with self._lock:
            if set(self._plans) != {source.name for source in self.sources}:
                return 0  # a source not planned yet, or whose plan failed: the plan is partial
            scopes = [scope for planned in self._plans.values() for scope in planned]
        newest = {s.scope_key: s.status for s in runs.scope_statuses(self.db)}
        held = [
            (s.provider, s.account, s.region, s.type)
            for s in scopes
            if newest.get(s.key) != RunStatus.COMPLETE
        ]
        retired = retire_unplanned(self.db, {s.key for s in scopes}, held=held)
        if retired:
            log.info("retired %d resource(s) no longer configured", retired)
        return retired

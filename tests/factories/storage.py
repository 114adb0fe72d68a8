"""Scans applied through the real reconciler: how storage tests put an estate in a database."""

from __future__ import annotations

from storage.reconcile import Reconciler, RunStats
from vigil.core.model import Resource, Scope


def scan(
    reconciler: Reconciler, where: Scope, pages: list[list[Resource]], fail: bool = False
) -> RunStats:
    """One scope run of `pages`, completed (or failed with an access error when `fail`)."""
    run = reconciler.start(where)
    for page in pages:
        reconciler.add_page(run, page)
    if fail:
        return reconciler.fail(run, "AccessDenied: not allowed")
    return reconciler.complete(run)

"""How long each kind of history is kept: DESIGN.md's `retention:` defaults.

The vocabulary holds the policy so loading a config does not import the storage layer that
applies it (storage/retention.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of history is kept (DESIGN.md's `retention:` defaults)."""

    changes: timedelta = timedelta(days=400)
    scope_runs: timedelta = timedelta(days=30)
    outbox_sent: timedelta = timedelta(days=30)
    outbox_dead: timedelta = timedelta(days=90)
    resolved_findings: timedelta = timedelta(days=400)
    deleted_resources: timedelta = timedelta(days=400)

"""How a stored finding moved in a check: the vocabulary between storage and notifiers.

Storage's findings lifecycle (storage/findings.py) produces `Transition`s; the alerting planner
(notifiers/planner.py) turns them into messages. The planner needs no storage import for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from vigil.core.model import FindingStatus, Resolution, Severity, iso


class TransitionKind(StrEnum):
    NEW = "new"
    REOPENED = "reopened"
    RESOLVED = "resolved"
    STILL_OPEN = "still_open"
    SILENCED = "silenced"
    UNSILENCED = "unsilenced"
    SEVERITY_CHANGED = "severity_changed"
    """Still open, at another effective severity (escalated or no longer): fires again."""


@dataclass(frozen=True)
class StoredFinding:
    """A finding as stored, with its lifecycle fields."""

    fingerprint: str
    rule: str
    severity: Severity
    status: FindingStatus
    title: str
    detail: str
    resource_uid: str
    native_id: str
    type: str
    source: str
    account: str
    region: str
    labels: dict[str, str]
    evidence: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    reopened_count: int
    silence_id: str | None
    resolution: Resolution | None = None
    base_severity: Severity | None = None
    """The rule's severity; None when it is `severity` (not escalated)."""

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON object (times ISO 8601 UTC)."""
        return {
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "severity": self.severity.value,
            "base_severity": (self.base_severity or self.severity).value,
            "status": self.status.value,
            "title": self.title,
            "detail": self.detail,
            "resource_uid": self.resource_uid,
            "native_id": self.native_id,
            "type": self.type,
            "source": self.source,
            "account": self.account,
            "region": self.region,
            "labels": self.labels,
            "evidence": self.evidence,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "resolved_at": iso(self.resolved_at),
            "reopened_count": self.reopened_count,
            "silence_id": self.silence_id,
            "resolution": self.resolution.value if self.resolution else None,
        }


@dataclass(frozen=True)
class Transition:
    """How one finding moved in a check; `finding` is its state after the check."""

    kind: TransitionKind
    previous: FindingStatus | None
    finding: StoredFinding

    @property
    def unannounced(self) -> bool:
        """A resolution that sends no resolve message (retired resource, disabled rule)."""
        resolution = self.finding.resolution
        return (
            self.kind == TransitionKind.RESOLVED and not (resolution or Resolution.FIXED).announced
        )

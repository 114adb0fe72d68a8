"""Disk rules: filesystems that are nearly full, and filesystems that will be full soon.

Both read the normalized filesystem attributes of `disk` resources (hosts collector:
`used_percent`, `used_bytes`, `free_bytes`, `size_bytes`); cloud volumes without usage
figures are not judged. `disk.filling` fits a line through the history of `used_bytes`:
storage records a change event each time a completed scan sees a new value, and the last
completed scan of the disk's scope confirms the current one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from rules.base import describe, finding
from rules.compliance import Controls
from rules.view import Change, InventoryView
from vigil.core.model import Finding, Resource, ResourceType, Severity
from vigil.core.schema import Duration, StrictModel

_DISK = (ResourceType.DISK.value,)
_COMPLIANCE: Controls = {"soc2-2017": ("A1.1",), "iso27001-2022": ("A.8.6",)}
_USED = "attributes.used_bytes"
_GIB = 1024**3


def size_text(value: float) -> str:
    """Bytes as GiB (or MiB below 1 GiB), one decimal: what `df -h` users read."""
    if abs(value) >= _GIB:
        return f"{value / _GIB:.1f} GiB"
    return f"{value / 1024**2:.1f} MiB"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class DiskFullParams(StrictModel):
    """`rules.params.disk.full`: usage thresholds in percent, and the tags that override them.

    ```yaml
    disk.full: {warn_percent: 85, critical_percent: 95}
    ```
    A disk tagged `disk-warn-percent: "92"` (or `disk-critical-percent`) uses its own.
    """

    warn_percent: float = Field(default=85, gt=0, le=100)
    critical_percent: float = Field(default=95, gt=0, le=100)
    warn_tag: str = "disk-warn-percent"
    critical_tag: str = "disk-critical-percent"

    @model_validator(mode="after")
    def _ordered(self) -> DiskFullParams:
        if self.warn_percent > self.critical_percent:
            raise ValueError("warn_percent must not be above critical_percent")
        return self


def _threshold(resource: Resource, tag: str, default: float) -> float:
    """The disk's own threshold from its tag, when it is a number from 1 to 100."""
    try:
        value = float(resource.tags.get(tag, ""))
    except ValueError:
        return default
    return value if 0 < value <= 100 else default


class DiskFull:
    """A filesystem above its usage threshold: medium from `warn_percent` (85), critical from
    `critical_percent` (95); per-disk thresholds from the `disk-warn-percent` and
    `disk-critical-percent` tags."""

    id = "disk.full"
    title = "Filesystem nearly full"
    severity = Severity.MEDIUM
    resource_types = _DISK
    params_model = DiskFullParams
    remediation = (
        "Free space (old logs, caches, backups), grow the filesystem, or move data elsewhere; "
        "then find what filled it so it does not come back."
    )
    compliance = _COMPLIANCE

    def evaluate(self, view: InventoryView, params: DiskFullParams) -> Iterator[Finding]:
        for disk in view.of_type(*self.resource_types):
            used = _number(disk.attributes.get("used_percent"))
            if used is None:
                continue
            warn = _threshold(disk, params.warn_tag, params.warn_percent)
            critical = _threshold(disk, params.critical_tag, params.critical_percent)
            if used < min(warn, critical):
                continue
            if used >= critical:
                yield self._finding(disk, used, critical, Severity.CRITICAL)
            else:
                yield self._finding(disk, used, warn, Severity.MEDIUM)

    def _finding(
        self, disk: Resource, used: float, threshold: float, severity: Severity
    ) -> Finding:
        attributes = disk.attributes
        where = attributes.get("mountpoint") or disk.native_id
        free = _number(attributes.get("free_bytes"))
        size = _number(attributes.get("size_bytes"))
        amounts = f" ({size_text(free)} free of {size_text(size)})" if free and size else ""
        return finding(
            self,
            disk,
            f"filesystem {where} on {disk.account} is {used:g}% full{amounts}",
            f"Disk {describe(disk)} is at {used:g}% used, at or above its {threshold:g}% "
            "threshold.",
            severity=severity,
            evidence={
                "used_percent": used,
                "threshold_percent": threshold,
                "free_bytes": attributes.get("free_bytes"),
                "size_bytes": attributes.get("size_bytes"),
                "mountpoint": attributes.get("mountpoint"),
            },
        )


class DiskFillingParams(StrictModel):
    """`rules.params.disk.filling`: how soon counts as soon, and how much history to fit.

    ```yaml
    disk.filling: {days: 7, history: 7d, min_span: 1h, min_samples: 2}
    ```
    """

    days: float = Field(default=7, gt=0)
    history: Duration = timedelta(days=7)
    min_span: Duration = timedelta(hours=1)
    min_samples: int = Field(default=2, ge=2)


Sample = tuple[datetime, float]


def usage_history(changes: list[Change]) -> dict[str, list[Sample]]:
    """uid → (time, used_bytes) of every recorded change of `used_bytes`, oldest first."""
    history: dict[str, list[Sample]] = {}
    for change in sorted(changes, key=lambda c: c.at):
        values = change.changes.get(_USED)
        if not isinstance(values, dict):
            continue
        new = _number(values.get("new"))
        if new is not None:
            history.setdefault(change.uid, []).append((change.at, new))
    return history


def growth_rate(samples: list[Sample]) -> float:
    """Least-squares slope of used bytes over time, in bytes per second."""
    origin = samples[0][0]
    xs = [(at - origin).total_seconds() for at, _ in samples]
    ys = [value for _, value in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


class DiskFilling:
    """A filesystem that, at the growth rate of the last `history` (7 days), will be full
    within `days` (7): a linear fit over at least two usage samples spanning an hour."""

    id = "disk.filling"
    title = "Filesystem filling up"
    severity = Severity.HIGH
    resource_types = _DISK
    params_model = DiskFillingParams
    remediation = (
        "Find what is growing (logs without rotation, a runaway job, backups kept forever) "
        "and stop it, or grow the filesystem before it fills."
    )
    compliance = _COMPLIANCE

    def evaluate(self, view: InventoryView, params: DiskFillingParams) -> Iterator[Finding]:
        history = usage_history(view.changes_since(view.now - params.history))
        confirmed = {s.scope_key: s.last_complete for s in view.scopes if s.last_complete}
        for disk in view.of_type(*self.resource_types):
            samples = self._samples(disk, history.get(disk.uid, []), confirmed)
            if not _enough(samples, params):
                continue
            rate = growth_rate(samples)
            remaining = _remaining(disk)
            if rate <= 0 or remaining is None:
                continue
            days_left = remaining / rate / 86400
            if days_left <= params.days:
                yield self._finding(disk, days_left, rate, samples)

    @staticmethod
    def _samples(
        disk: Resource, recorded: list[Sample], confirmed: dict[str, datetime]
    ) -> list[Sample]:
        """Recorded values plus the current one, as of the scope's last completed scan."""
        samples = list(recorded)
        current = _number(disk.attributes.get("used_bytes"))
        seen = confirmed.get(disk.scope_key)
        if current is not None and seen is not None and (not samples or seen > samples[-1][0]):
            samples.append((seen, current))
        return samples

    def _finding(
        self, disk: Resource, days_left: float, rate: float, samples: list[Sample]
    ) -> Finding:
        where = disk.attributes.get("mountpoint") or disk.native_id
        per_day = rate * 86400
        return finding(
            self,
            disk,
            f"filesystem {where} on {disk.account} will be full in {days_left:.1f} days "
            f"(growing {size_text(per_day)}/day)",
            f"Disk {describe(disk)} has {size_text(_remaining(disk) or 0)} left and grew "
            f"{size_text(per_day)} per day over {len(samples)} samples since "
            f"{samples[0][0].isoformat()}.",
            evidence={
                "days_left": round(days_left, 2),
                "bytes_per_day": round(per_day),
                "samples": len(samples),
                "since": samples[0][0].isoformat(),
                "free_bytes": disk.attributes.get("free_bytes"),
            },
        )


def _enough(samples: list[Sample], params: DiskFillingParams) -> bool:
    if len(samples) < params.min_samples:
        return False
    return samples[-1][0] - samples[0][0] >= params.min_span


def _remaining(disk: Resource) -> float | None:
    """Space left to fill: what users may still write (`free_bytes`), else size - used."""
    attributes = disk.attributes
    free = _number(attributes.get("free_bytes"))
    if free is not None:
        return free
    size, used = _number(attributes.get("size_bytes")), _number(attributes.get("used_bytes"))
    return size - used if size is not None and used is not None else None

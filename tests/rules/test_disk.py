"""disk.full and disk.filling, on filesystems with a history of usage samples."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from rules.disk import DiskFilling, DiskFillingParams, DiskFull, growth_rate
from rules.view import Change
from tests.factories.rules import NOW, disk, evaluate, one, scope_state, view
from vigil.core.model import Resource, Severity

FULL = DiskFull()
FILLING = DiskFilling()
GIB = 1024**3


def filesystem(used_gib: float, size_gib: float = 100, **options: object) -> Resource:
    used, size = int(used_gib * GIB), int(size_gib * GIB)
    return disk(
        "db-1:/var",
        mountpoint="/var",
        size_bytes=size,
        used_bytes=used,
        free_bytes=size - used,
        used_percent=round(100 * used / size, 1),
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("used", "severity"),
    [
        (50, None),
        (84.9, None),
        (85, Severity.MEDIUM),
        (94.9, Severity.MEDIUM),
        (97, Severity.CRITICAL),
    ],
)
def test_full_thresholds(used: float, severity: Severity | None) -> None:
    found = evaluate(FULL, view(filesystem(used)))
    assert [f.severity for f in found] == ([severity] if severity else [])


def test_full_title_says_where_and_how_much() -> None:
    found = one(evaluate(FULL, view(filesystem(96))))
    assert found.title == "filesystem /var on 111111111111 is 96% full (4.0 GiB free of 100.0 GiB)"
    assert found.evidence["threshold_percent"] == 95


def test_full_params_and_tag_overrides() -> None:
    assert evaluate(FULL, view(filesystem(90)), warn_percent=92) == []
    tagged = filesystem(90, tags={"disk-warn-percent": "95", "disk-critical-percent": "99"})
    assert evaluate(FULL, view(tagged)) == []
    strict = filesystem(80, tags={"disk-critical-percent": "75"})
    assert one(evaluate(FULL, view(strict))).severity is Severity.CRITICAL
    junk = filesystem(90, tags={"disk-warn-percent": "lots"})
    assert one(evaluate(FULL, view(junk))).severity is Severity.MEDIUM


def test_full_ignores_volumes_without_usage() -> None:
    assert evaluate(FULL, view(disk())) == []


def test_full_params_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="warn_percent"):
        FULL.params_model.model_validate({"warn_percent": 96, "critical_percent": 90})


def usage(uid: str, *points: tuple[timedelta, float]) -> list[Change]:
    """Change events of used_bytes: (age, GiB used), as storage records them."""
    changes, previous = [], None
    for age, gib in points:
        value = int(gib * GIB)
        changes.append(
            Change(uid, {"attributes.used_bytes": {"old": previous, "new": value}}, NOW - age)
        )
        previous = value
    return changes


def test_filling_within_days_is_high() -> None:
    current = filesystem(80)  # 20 GiB left, growing 5 GiB/day → 4 days
    history = usage(
        current.uid, (timedelta(days=3), 65), (timedelta(days=2), 70), (timedelta(days=1), 75)
    )
    found = one(evaluate(FILLING, view(current, changes=history)))
    assert found.severity is Severity.HIGH
    assert found.title.startswith("filesystem /var on 111111111111 will be full in 4.0 days")
    assert "5.0 GiB/day" in found.title and found.evidence["samples"] == 4


def test_filling_slower_than_the_horizon_is_fine() -> None:
    current = filesystem(50)  # 50 GiB left at 1 GiB/day: 50 days
    history = usage(current.uid, (timedelta(days=2), 48), (timedelta(days=1), 49))
    assert evaluate(FILLING, view(current, changes=history)) == []
    assert len(evaluate(FILLING, view(current, changes=history), days=60)) == 1


def test_filling_needs_two_samples_over_an_hour() -> None:
    current = filesystem(90)
    assert evaluate(FILLING, view(current)) == []  # only the current value
    recent = usage(current.uid, (timedelta(minutes=30), 80))
    assert evaluate(FILLING, view(current, changes=recent)) == []  # 20 min span only
    older = usage(current.uid, (timedelta(hours=2), 80))
    assert len(evaluate(FILLING, view(current, changes=older))) == 1


def test_shrinking_or_flat_usage_is_fine() -> None:
    current = filesystem(70)
    history = usage(current.uid, (timedelta(days=2), 90), (timedelta(days=1), 80))
    assert evaluate(FILLING, view(current, changes=history)) == []


def test_a_failing_scope_does_not_confirm_the_current_value() -> None:
    current = filesystem(90)
    history = usage(current.uid, (timedelta(hours=3), 80))
    stale = [scope_state("disk", status="failed", last_complete=None)]
    assert evaluate(FILLING, view(current, changes=history, scopes=stale)) == []


def test_history_window_limits_the_fit() -> None:
    current = filesystem(90)
    history = usage(current.uid, (timedelta(days=20), 10))
    assert evaluate(FILLING, view(current, changes=history)) == []
    assert len(evaluate(FILLING, view(current, changes=history), history="30d")) == 1


def test_growth_rate_is_a_least_squares_fit() -> None:
    t = NOW
    samples = [(t, 0.0), (t + timedelta(seconds=10), 10.0), (t + timedelta(seconds=20), 20.0)]
    assert growth_rate(samples) == pytest.approx(1.0)
    assert DiskFillingParams().days == 7

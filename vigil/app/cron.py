"""Crontab expressions, read once for validation and scheduling alike.

APScheduler 3's own `CronTrigger.from_crontab` counts weekdays from Monday (0) and refuses 7;
crontab counts from Sunday, and 0 and 7 are both Sunday. This translation is the only place
a cron expression of `schedule.sources` is read.
"""

from __future__ import annotations

from datetime import UTC

from apscheduler.triggers.cron import CronTrigger

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(expression: str, jitter: int | None) -> CronTrigger:
    """A crontab expression as APScheduler 3 reads it: weekday numbers follow crontab (0 and
    7 are Sunday), not APScheduler 3's own numbering, where 0 is Monday."""
    minute, hour, day, month, weekday = expression.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_cron_weekdays(weekday),
        timezone=UTC,
        jitter=jitter,
    )


def _cron_weekdays(field: str) -> str:
    parts = []
    for part in field.split(","):
        if "/" in part:
            parts.append(_cron_weekday_step(part))
            continue
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            parts.append(part)  # names and `*` need no translation
        elif not dash:
            parts.append(_CRON_DAYS[int(low) % 8])
        elif int(low) == 0 and int(high) >= 1:  # sun-... would wrap in APScheduler's order
            parts += ["sun", f"mon-{_CRON_DAYS[int(high)]}" if int(high) > 1 else "mon"]
        else:
            parts.append(f"{_CRON_DAYS[int(low)]}-{_CRON_DAYS[int(high)]}")
    return ",".join(parts)


def _cron_weekday_step(part: str) -> str:
    """`*/2`, `1-5/2`, `1/3` in crontab's numbering, as the day names they select (APScheduler
    would apply the same numbers to its own, Monday-based, week)."""
    span, _, step = part.partition("/")
    low, dash, high = span.partition("-")
    if not step.isdigit() or int(step) == 0:
        return part
    if span == "*":
        first, last = 0, 6
    elif low.isdigit() and (not dash or high.isdigit()):
        first, last = int(low), int(high) if dash else 6
    else:
        return part  # names: APScheduler reads them the same way
    days = dict.fromkeys(_CRON_DAYS[day] for day in range(first, last + 1, int(step)))
    return ",".join(days) if days else part


def check_cron(expression: str) -> None:
    """ValueError saying what is wrong unless `expression` is a 5-field crontab expression."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"it has {len(fields)} fields")
    for part in fields[4].replace("/", ",").replace("-", ",").split(","):
        if part.isdigit() and int(part) > 7:
            raise ValueError(f"weekday {part} is out of range (0-7, 0 and 7 are Sunday)")
    cron_trigger(expression, None)

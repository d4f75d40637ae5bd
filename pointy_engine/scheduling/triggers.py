"""`every` / `cron` / `at` checked and made into APScheduler 3 triggers, before any registering.

Every complaint is a `ScheduleError` that names the bad value and what would be accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ..errors import PointyError


class ScheduleError(PointyError):
    """A trigger, timezone or job that cannot be scheduled."""


# (name, allowed range) of the five crontab fields, in order.
CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12"),
    ("day of week", "0-7 (0 and 7 are Sunday)"),
)
_APS_FIELD = {"minute": "minute", "hour": "hour", "day of month": "day", "month": "month",
              "day of week": "day_of_week"}  # fmt: skip
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
# APScheduler 3 counts weekdays from Monday = 0; crontab from Sunday = 0 (and 7).
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def timezone_of(name: str | tzinfo | None) -> tzinfo:
    """A tzinfo for `name` (an IANA name such as "Europe/Paris"); None means the local zone."""
    if isinstance(name, tzinfo):
        return name
    if name is None:
        import tzlocal  # APScheduler 3 depends on it

        return tzlocal.get_localzone()
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = "use an IANA name like 'Europe/Paris'"
        raise ScheduleError(f"unknown timezone {name!r} ({hint})") from None


def interval_seconds(every: float | timedelta | str) -> float:
    """`every` as seconds: a number, a timedelta, or text like "10m", "1h30m", "0.2s"."""
    if isinstance(every, timedelta):
        seconds = every.total_seconds()
    elif isinstance(every, (int, float)) and not isinstance(every, bool):
        seconds = float(every)
    elif isinstance(every, str):
        text = every.strip().lower()
        matches = list(_DURATION.finditer(text))
        if not matches or "".join(m.group(0) for m in matches) != text.replace(" ", ""):
            raise ScheduleError(
                f"every: {every!r} is not an interval (write seconds, or text like "
                "'30s', '10m', '1h30m', '500ms')"
            )
        seconds = sum(float(m.group(1)) * _UNIT_SECONDS[m.group(2)] for m in matches)
    else:
        raise ScheduleError(
            f"every: takes seconds, a timedelta or text like '10m', not {type(every).__name__}"
        )
    if not seconds > 0:
        raise ScheduleError(f"every: the interval must be positive, not {every!r}")
    return seconds


def _crontab_weekdays(value: str) -> str:
    """Numeric crontab weekdays (0 and 7 = Sunday) as names, which APScheduler 3 reads alike."""
    parts = []
    for item in value.split(","):
        body, slash, step = item.partition("/")
        low, dash, high = body.partition("-")
        if low.isdigit() and (not dash or high.isdigit()):
            first, last = int(low), int(high) if dash else int(low)
            if first > 7 or last > 7:
                raise ValueError(value)
            if dash or slash:
                stride = int(step) if slash else 1
                last = last if dash else 7 if first == 0 else 6
                days = {_WEEKDAYS[day] for day in range(first, last + 1, stride)}
                parts.append(",".join(sorted(days, key=_WEEKDAYS.index)))
                continue
            parts.append(_WEEKDAYS[first])
        else:
            parts.append(item)
    return ",".join(parts)


def cron_trigger(cron: str | Mapping[str, Any], timezone: tzinfo) -> Any:
    """A CronTrigger from five crontab fields or APScheduler's keyword form (a dict)."""
    from apscheduler.triggers.cron import CronTrigger

    if isinstance(cron, Mapping):
        try:
            return CronTrigger(**dict(cron), timezone=timezone)
        except (TypeError, ValueError) as error:
            raise ScheduleError(f"cron {dict(cron)!r}: {error}") from None
    if not isinstance(cron, str):
        raise ScheduleError(f"cron: takes a crontab string or a dict, not {type(cron).__name__}")
    values = cron.split()
    if len(values) != 5:
        raise ScheduleError(
            f"cron {cron!r}: expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(values)}"
        )
    fields: dict[str, str] = {}
    for position, ((name, allowed), value) in enumerate(zip(CRON_FIELDS, values), start=1):
        try:
            given = _crontab_weekdays(value) if name == "day of week" else value
            CronTrigger(**{_APS_FIELD[name]: given}, timezone=timezone)
        except ValueError:
            raise ScheduleError(
                f"cron {cron!r}: field {position} ({name}) is {value!r}; allowed: {allowed}, "
                "'*', lists (a,b), ranges (a-b) and steps (*/n)"
            ) from None
        fields[_APS_FIELD[name]] = given
    return CronTrigger(**fields, timezone=timezone)


def date_trigger(at: datetime | str, timezone: tzinfo, now: datetime | None = None) -> Any:
    """A one-off DateTrigger; a naive time is read in `timezone`; the past is refused."""
    from apscheduler.triggers.date import DateTrigger

    when = at
    if isinstance(at, str):
        try:
            when = datetime.fromisoformat(at.strip())
        except ValueError:
            raise ScheduleError(
                f"at: {at!r} is not a date and time (write it like '2026-12-24 09:00')"
            ) from None
    if not isinstance(when, datetime):
        raise ScheduleError(f"at: takes a datetime or text, not {type(at).__name__}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone)
    current = now or datetime.now(timezone)
    if when <= current:
        raise ScheduleError(f"at: {when.isoformat(sep=' ')} is in the past")
    return DateTrigger(run_date=when, timezone=timezone)


def make_trigger(
    *,
    every: float | timedelta | str | None = None,
    cron: str | Mapping[str, Any] | None = None,
    at: datetime | str | None = None,
    timezone: tzinfo,
) -> tuple[Any, str]:
    """(APScheduler trigger, a short description) for exactly one of every / cron / at."""
    given = [
        name for name, value in (("every", every), ("cron", cron), ("at", at)) if value is not None
    ]
    if len(given) != 1:
        raise ScheduleError(
            "give exactly one of every, cron or at"
            + (f" (got {' and '.join(given)})" if given else "")
        )
    if every is not None:
        from apscheduler.triggers.interval import IntervalTrigger

        seconds = interval_seconds(every)
        return IntervalTrigger(seconds=seconds, timezone=timezone), f"every {seconds:g} s"
    if cron is not None:
        return cron_trigger(cron, timezone), f"cron {cron}"
    trigger = date_trigger(at, timezone)  # type: ignore[arg-type]
    return trigger, f"at {trigger.run_date.isoformat(sep=' ')}"

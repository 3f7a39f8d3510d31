"""System-update freeze periods: the rules Android (AOSP `FreezePeriod`) enforces on them.

A freeze period is a pair of month-days, both included; an end before the start wraps the year
end (`12-01`..`01-15`). Arithmetic uses a 365-day year, as AOSP does: 29 February is accepted
but counts as 28 February, so a period never gains a day in leap years.

Rules, each period compared in circular (calendar) order with the one before it:
- a period lasts at most 90 days, end date included (`01-01`..`03-31` is exactly 90);
- periods neither overlap nor touch;
- at least 60 days lie strictly between the end of one period and the start of the next
  (`01-01`..`01-31` then `04-01` leaves 59 days, refused; `04-02` leaves 60, accepted), across the
  year end too.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence

MonthDay = tuple[int, int]
FreezePeriod = tuple[MonthDay, MonthDay]

YEAR_LENGTH = 365
MAX_LENGTH_DAYS = 90
MIN_SEPARATION_DAYS = 60
_MONTH_DAY = re.compile(r"([0-9]{2})-([0-9]{2})")
# A leap year, so that 02-29 parses; day counts then fold it onto 02-28.
_LEAP_YEAR = 2000
_DAYS_BEFORE_MONTH = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]


class FreezePeriodError(ValueError):
    """A freeze period that breaks a rule: which one (`index`) and why (`reason`)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"freeze period {index}: {reason}")
        self.index = index
        self.reason = reason


def parse_month_day(text: str) -> MonthDay:
    """`"MM-DD"` as `(month, day)`; ValueError unless it is a day of the (leap) year."""
    found = _MONTH_DAY.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError("must be a date MM-DD, such as 12-24")
    month, day = int(found.group(1)), int(found.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"{text} has no month {month}")
    if not 1 <= day <= calendar.monthrange(_LEAP_YEAR, month)[1]:
        raise ValueError(f"{text} is not a day of the year")
    return month, day


def day_of_year(month_day: MonthDay) -> int:
    """1..365 in a non-leap year; 29 February counts as 28 February (day 59)."""
    month, day = month_day
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(_LEAP_YEAR, month)[1]:
        raise ValueError(f"{month:02d}-{day:02d} is not a day of the year")
    if month == 2 and day == 29:
        day = 28
    return _DAYS_BEFORE_MONTH[month] + day


def period_length(period: FreezePeriod) -> int:
    """Days in the period, both ends included, wrapping the year end when end < start."""
    start, end = day_of_year(period[0]), day_of_year(period[1])
    return (end - start) % YEAR_LENGTH + 1


def _days(start: int, end: int) -> list[int]:
    length = (end - start) % YEAR_LENGTH + 1
    return [(start - 1 + offset) % YEAR_LENGTH + 1 for offset in range(length)]


def validate_freeze_periods(periods: Sequence[FreezePeriod]) -> list[tuple[int, str]]:
    """Every `(index, reason)` that breaks AOSP's rules; empty when the periods are valid."""
    bounds = [(day_of_year(start), day_of_year(end)) for start, end in periods]
    problems: dict[int, str] = {}

    for index, period in enumerate(periods):
        length = period_length(period)
        if length > MAX_LENGTH_DAYS:
            wrapped = bounds[index][1] < bounds[index][0]
            wraps = " (an end before the start wraps the year end)" if wrapped else ""
            problems[index] = (f"lasts {length} days{wraps}; a freeze period lasts at most "
                               f"{MAX_LENGTH_DAYS} days, end date included")

    owner: dict[int, int] = {}
    overlapping = False
    for index, (start, end) in enumerate(bounds):
        if index in problems:
            continue
        days = _days(start, end)
        clash = next((owner[day] for day in days if day in owner), None)
        if clash is not None:
            problems[index] = f"overlaps freeze period {clash}"
            overlapping = True
            continue
        owner.update(dict.fromkeys(days, index))
    if overlapping:
        # Gaps between overlapping periods mean nothing; fix the overlap first.
        return sorted(problems.items())

    in_calendar_order = sorted((i for i in range(len(bounds)) if i not in problems),
                               key=lambda i: bounds[i][0])
    if len(in_calendar_order) > 1:
        for position, index in enumerate(in_calendar_order):
            previous = in_calendar_order[position - 1]  # position 0 pairs with the last: wrap
            gap = (bounds[index][0] - bounds[previous][1] - 1) % YEAR_LENGTH
            if gap < MIN_SEPARATION_DAYS:
                problems[index] = (f"starts {gap} days after freeze period {previous} ends; "
                                   f"periods must be at least {MIN_SEPARATION_DAYS} days apart")
    return sorted(problems.items())


def check_freeze_periods(periods: Sequence[FreezePeriod]) -> None:
    """Raise FreezePeriodError for the first period that breaks a rule."""
    problems = validate_freeze_periods(periods)
    if problems:
        raise FreezePeriodError(*problems[0])

"""Freeze periods follow AOSP's rules: at most 90 days long, at least 60 days apart, no overlap."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.policy.freeze_periods import (
    FreezePeriodError,
    check_freeze_periods,
    day_of_year,
    parse_month_day,
    period_length,
    validate_freeze_periods,
)


def md(text):
    return parse_month_day(text)


def periods(*pairs):
    return [(md(start), md(end)) for start, end in pairs]


@pytest.mark.parametrize(("text", "expected"), [
    ("01-01", (1, 1)), ("12-31", (12, 31)), ("02-29", (2, 29)), ("04-30", (4, 30))])
def test_parse_month_day_accepts_days_of_the_year(text, expected):
    assert parse_month_day(text) == expected


@pytest.mark.parametrize("text", [
    "02-30", "04-31", "13-01", "00-10", "01-00", "01-32", "1-5", "01-5", "2026-01-05", "01/05",
    "", "01-05\n", " 01-05", "\uff10\uff11-\uff10\uff15", "ab-cd"])
def test_parse_month_day_refuses_non_dates(text):
    with pytest.raises(ValueError):
        parse_month_day(text)


def test_29_february_counts_as_28_february():
    assert day_of_year((2, 29)) == day_of_year((2, 28)) == 59
    assert day_of_year((3, 1)) == 60
    assert day_of_year((12, 31)) == 365


def test_length_includes_both_ends_and_wraps_the_year_end():
    assert period_length((md("01-01"), md("01-01"))) == 1
    assert period_length((md("01-01"), md("03-31"))) == 90
    assert period_length((md("12-01"), md("01-15"))) == 46
    assert period_length((md("02-29"), md("03-01"))) == 2


def test_90_days_is_accepted():
    assert validate_freeze_periods(periods(("01-01", "03-31"))) == []


def test_91_days_is_refused():
    problems = validate_freeze_periods(periods(("01-01", "04-01")))
    assert [index for index, _ in problems] == [0]
    assert "91 days" in problems[0][1]


def test_a_period_wrapping_the_year_end_is_accepted():
    assert validate_freeze_periods(periods(("12-01", "01-15"))) == []


def test_a_wrapping_period_is_measured_across_the_year_end():
    problems = validate_freeze_periods(periods(("11-01", "02-01")))  # 30 + 31 + 31 + 1 = 93
    assert "93 days" in problems[0][1]
    assert "wraps the year end" in problems[0][1]


def test_two_periods_30_days_apart_are_refused():
    # 01-31 is day 31, 03-03 is day 62: the 30 days 02-01..03-02 lie between.
    problems = validate_freeze_periods(periods(("01-01", "01-31"), ("03-03", "03-20")))
    assert [index for index, _ in problems] == [1]
    assert "30 days" in problems[0][1]


# "60 days apart" counts the days strictly between the end of one period and the start of the
# next: 01-31 then 04-02 leaves 02-01..04-01, exactly 60 days.
def test_exactly_60_days_between_periods_is_accepted():
    assert validate_freeze_periods(periods(("01-01", "01-31"), ("04-02", "04-30"))) == []


def test_59_days_between_periods_is_refused():
    problems = validate_freeze_periods(periods(("01-01", "01-31"), ("04-01", "04-30")))
    assert [index for index, _ in problems] == [1]
    assert "59 days" in problems[0][1]


def test_separation_is_checked_across_the_year_end():
    # 11-01..11-30 then 01-10..01-20: only 12-01..01-09 (40 days) lie between them.
    problems = validate_freeze_periods(periods(("01-10", "01-20"), ("11-01", "11-30")))
    assert [index for index, _ in problems] == [0]
    assert "40 days" in problems[0][1]


def test_exactly_60_days_across_the_year_end_is_accepted():
    # 12-31 then 03-02 leaves 01-01..03-01, exactly 60 days; starting 03-01 leaves 59.
    assert validate_freeze_periods(periods(("11-01", "12-31"), ("03-02", "03-10"))) == []
    problems = validate_freeze_periods(periods(("11-01", "12-31"), ("03-01", "03-10")))
    assert [index for index, _ in problems] == [1]
    assert "59 days" in problems[0][1]


def test_wrapping_period_and_its_neighbours_need_60_days_each_side():
    # 12-01..01-15, then 03-17 (day 76): 01-16..03-16 is 60 days.
    assert validate_freeze_periods(periods(("12-01", "01-15"), ("03-17", "04-30"))) == []
    problems = validate_freeze_periods(periods(("12-01", "01-15"), ("03-16", "04-30")))
    assert [index for index, _ in problems] == [1]
    # and 04-30 (day 120) to 12-01 (day 335) leaves plenty; 10-01 would not:
    problems = validate_freeze_periods(periods(("10-01", "10-10"), ("12-01", "01-15")))
    assert [index for index, _ in problems] == [1]


def test_overlapping_periods_are_refused():
    problems = validate_freeze_periods(periods(("01-01", "01-31"), ("01-15", "02-10")))
    assert problems == [(1, "overlaps freeze period 0")]


def test_a_period_listed_twice_overlaps_itself():
    assert validate_freeze_periods(periods(("05-01", "05-10"), ("05-01", "05-10"))) == [
        (1, "overlaps freeze period 0")]


def test_touching_periods_are_refused():
    problems = validate_freeze_periods(periods(("01-01", "01-31"), ("02-01", "02-10")))
    assert [index for index, _ in problems] == [1]


def test_29_february_is_28_february_for_lengths():
    # 12-01..02-28 is 90 days; ending on 02-29 does not add a 91st.
    assert validate_freeze_periods(periods(("12-01", "02-29"))) == []
    assert validate_freeze_periods(periods(("12-01", "03-01"))) != []


def test_check_freeze_periods_raises_the_first_problem():
    with pytest.raises(FreezePeriodError) as caught:
        check_freeze_periods(periods(("01-01", "01-10"), ("01-20", "01-25")))
    assert caught.value.index == 1
    assert "60 days" in caught.value.reason
    check_freeze_periods(periods(("01-01", "01-10")))
    check_freeze_periods([])


# --- An independent oracle: AOSP's algorithm, transcribed as plainly as possible -------------

def _aosp_accepts(day_periods):
    year = 365
    if not day_periods:
        return True
    taken = [False] * year
    for start, end in day_periods:
        effective_end = end if end >= start else end + year
        for day in range(start, effective_end + 1):
            taken[(day - 1) % year] = True
    merged = []
    i = 0
    while i < year:
        if not taken[i]:
            i += 1
            continue
        first = i + 1
        while i < year and taken[i]:
            i += 1
        merged.append((first, i))
    if len(merged) > 1 and merged[-1][1] == year and merged[0][0] == 1:
        merged[-1] = (merged[-1][0], merged[0][1])
        merged.pop(0)
    if len(merged) != len(day_periods):
        return False
    for index, (start, end) in enumerate(merged):
        wrapped = end < start
        length = end + year - start + 1 if wrapped else end - start + 1
        if length > 90:
            return False
        previous = merged[index - 1]
        if len(merged) > 1:
            if index == 0 and not previous[1] < previous[0]:
                separation = start + (year - previous[1]) - 1
            else:
                separation = start - previous[1] - 1
            if separation < 60:
                return False
    return True


def _month_day_of(day):
    date = datetime.date(2001, 1, 1) + datetime.timedelta(days=day - 1)
    return date.month, date.day


@given(st.lists(st.tuples(st.integers(1, 365), st.integers(1, 365)), max_size=4))
def test_agrees_with_aosp_on_any_periods(day_periods):
    as_month_days = [(_month_day_of(start), _month_day_of(end)) for start, end in day_periods]
    assert (validate_freeze_periods(as_month_days) == []) == _aosp_accepts(day_periods)


@given(st.integers(1, 365), st.integers(1, 90), st.integers(60, 150), st.integers(1, 90))
def test_agrees_with_aosp_on_nearly_valid_pairs(start, length, gap, second_length):
    first_end = (start + length - 2) % 365 + 1
    second_start = (first_end + gap) % 365 + 1
    second_end = (second_start + second_length - 2) % 365 + 1
    day_periods = [(start, first_end), (second_start, second_end)]
    as_month_days = [(_month_day_of(s), _month_day_of(e)) for s, e in day_periods]
    assert (validate_freeze_periods(as_month_days) == []) == _aosp_accepts(day_periods)

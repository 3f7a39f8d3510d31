"""The AMAPI budget's arithmetic: slices, lanes, batches, and its settings."""

import pytest

from shared import config
from shared.amapi import budget
from shared.amapi.budget import BACKGROUND, INTERACTIVE, grant, lane_limit, seconds_left, slice_of


def test_a_slice_holds_a_tenth_of_the_budget_so_any_rolling_window_stays_under_amapis_quota():
    capacity = budget.slice_capacity(900)
    assert capacity == 90
    # A rolling window of 100 s touches at most 11 slices of 10 s.
    assert 11 * capacity == 990 < 1000
    assert budget.slice_capacity(905) == 90  # never rounded up


def test_background_keeps_the_reserve_free_for_interactive_work():
    assert lane_limit(INTERACTIVE, 900, 30) == 90
    assert lane_limit(BACKGROUND, 900, 30) == 63
    assert lane_limit(BACKGROUND, 900, 0) == 90
    assert lane_limit(BACKGROUND, 900, 100) == 0
    # Tiny budgets still let background work move, one call per slice.
    assert lane_limit(BACKGROUND, 10, 30) == 1
    assert lane_limit(BACKGROUND, 30, 30) == 2


def test_slices_are_numbered_from_the_epoch_and_end_on_their_boundary():
    assert slice_of(100.0, 10.0) == 10
    assert slice_of(109.999, 10.0) == 10
    assert slice_of(110.0, 10.0) == 11
    assert seconds_left(105.5, 10.0) == pytest.approx(4.5)
    assert seconds_left(110.0, 10.0) == pytest.approx(10.0)


def test_batches_shrink_as_the_slice_fills():
    assert grant({}, 90, 5, 1) == 5
    assert grant({INTERACTIVE: 70}, 90, 5, 1) == 5
    assert grant({INTERACTIVE: 78}, 90, 5, 1) == 3
    assert grant({INTERACTIVE: 85, BACKGROUND: 3}, 90, 5, 1) == 1
    assert grant({INTERACTIVE: 89}, 90, 5, 1) == 1
    assert grant({INTERACTIVE: 90}, 90, 5, 1) == 0


def test_every_lane_counts_against_the_limit_of_the_taker():
    # Background may bring the slice to its limit (63), whoever took the calls before.
    assert grant({INTERACTIVE: 60, BACKGROUND: 2}, 63, 5, 1) == 1
    assert grant({INTERACTIVE: 60, BACKGROUND: 3}, 63, 5, 1) == 0
    # Interactive may fill what background left, up to the whole slice.
    assert grant({BACKGROUND: 63}, 90, 5, 1) == 5


def test_a_prepayment_is_all_or_nothing():
    assert grant({}, 63, 40, 40) == 40
    assert grant({BACKGROUND: 30}, 63, 40, 40) == 0
    assert grant({BACKGROUND: 23}, 63, 40, 40) == 40


def test_lane_names_are_checked():
    with pytest.raises(ValueError), budget.lane("urgent"):
        pass
    with budget.lane(BACKGROUND):
        assert budget.current_lane() == BACKGROUND
        with budget.lane(INTERACTIVE):
            assert budget.current_lane() == INTERACTIVE
        assert budget.current_lane() == BACKGROUND
    assert budget.current_lane() == INTERACTIVE


@pytest.fixture
def environment(monkeypatch):
    def apply(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        config.settings.cache_clear()
        return config.settings()

    yield apply
    config.settings.cache_clear()


def test_settings_default_to_900_calls_per_100_seconds_with_a_30_percent_reserve(
        environment, monkeypatch):
    for name in ("AMAPI_BUDGET_CALLS", "AMAPI_BUDGET_WINDOW_SECONDS",
                 "AMAPI_BUDGET_RESERVE_PERCENT"):
        monkeypatch.delenv(name, raising=False)  # the test session widens the budget
    settings = environment()
    assert (settings.amapi_budget_calls, settings.amapi_budget_window_seconds,
            settings.amapi_budget_reserve_percent) == (900, 100.0, 30.0)
    assert budget.lane_capacity(INTERACTIVE) == 90
    assert budget.lane_capacity(BACKGROUND) == 63


def test_a_disabled_budget_still_sizes_batches(environment):
    environment(AMAPI_BUDGET_CALLS="0")
    assert budget.lane_capacity(BACKGROUND) == 63


@pytest.mark.parametrize("name, value", [
    ("AMAPI_BUDGET_CALLS", "5"), ("AMAPI_BUDGET_CALLS", "12.5"), ("AMAPI_BUDGET_CALLS", "-1"),
    ("AMAPI_BUDGET_CALLS", "many"), ("AMAPI_BUDGET_WINDOW_SECONDS", "0"),
    ("AMAPI_BUDGET_RESERVE_PERCENT", "101"),
])
def test_bad_budget_settings_are_refused_by_name(environment, name, value):
    with pytest.raises(config.ConfigError, match=name):
        environment(**{name: value})

"""Mileage prediction: least squares through odometer readings, with a 95 % interval."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicebay.visits.mileage import Reading, fit_mileage, t_quantile_975

ORIGIN = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def _readings(points):
    return [Reading(at=ORIGIN + timedelta(days=day), odometer=odo) for day, odo in points]


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=300_000),
    per_day=st.integers(min_value=1, max_value=400),
    days=st.sets(st.integers(min_value=0, max_value=3_000), min_size=2, max_size=25),
    target_ahead=st.integers(min_value=1, max_value=20_000),
)
def test_exact_linear_readings_predict_exactly(start, per_day, days, target_ahead):
    fit = fit_mileage(_readings((d, start + per_day * d) for d in days))
    assert fit is not None
    assert fit.per_day == pytest.approx(per_day, rel=1e-9)
    target = start + per_day * max(days) + target_ahead
    prediction = fit.date_reaching(target)
    expected = ORIGIN + timedelta(days=(target - start) / per_day)
    assert abs((prediction.at - expected).total_seconds()) < 1.0
    if len(days) > 2:
        assert prediction.plus_minus_days == pytest.approx(0, abs=1e-6)
    else:
        assert prediction.plus_minus_days is None


def test_scattered_readings_give_a_wider_interval_than_tidy_ones():
    tidy = fit_mileage(_readings([(0, 10_000), (30, 11_000), (60, 12_010), (90, 12_990), (120, 14_000)]))
    messy = fit_mileage(_readings([(0, 10_000), (30, 11_600), (60, 11_700), (90, 13_600), (120, 14_000)]))
    tidy_pm = tidy.date_reaching(20_000).plus_minus_days
    messy_pm = messy.date_reaching(20_000).plus_minus_days
    assert 0 < tidy_pm < messy_pm


def test_the_interval_widens_the_further_ahead_we_look():
    fit = fit_mileage(_readings([(0, 10_000), (30, 11_100), (60, 11_900), (90, 13_050)]))
    assert fit.date_reaching(14_000).plus_minus_days < fit.date_reaching(40_000).plus_minus_days


def test_known_fit_matches_hand_computation():
    # x = 0, 10, 20; y = 100, 120, 150 → slope 2.5, intercept 98.333…, s = sqrt(50/3 / 1)
    fit = fit_mileage(_readings([(0, 100), (10, 120), (20, 150)]))
    assert fit.per_day == pytest.approx(2.5)
    assert fit.intercept == pytest.approx(98.3333333)
    assert fit.residual_sd == pytest.approx(math.sqrt((25 / 9 + 100 / 9 + 25 / 9) / 1))
    prediction = fit.date_reaching(200)
    x0 = (200 - 98.3333333) / 2.5
    assert (prediction.at - ORIGIN).total_seconds() / 86_400 == pytest.approx(x0)
    spread = math.sqrt(1 + 1 / 3 + (x0 - 10) ** 2 / 200)
    assert prediction.plus_minus_days == pytest.approx(12.706 * fit.residual_sd / 2.5 * spread)


def test_fewer_than_two_distinct_times_cannot_be_fitted():
    assert fit_mileage([]) is None
    assert fit_mileage(_readings([(0, 100)])) is None
    assert fit_mileage(_readings([(5, 100), (5, 120)])) is None


def test_a_vehicle_that_does_not_move_has_no_due_date():
    fit = fit_mileage(_readings([(0, 5_000), (100, 5_000), (200, 5_000)]))
    assert fit.per_day == 0
    assert fit.date_reaching(10_000) is None


def test_t_quantiles_approach_the_normal_quantile():
    assert t_quantile_975(1) == pytest.approx(12.706)
    assert t_quantile_975(30) == pytest.approx(2.042)
    assert t_quantile_975(60) == pytest.approx(2.000, abs=1e-3)
    assert t_quantile_975(10_000) == pytest.approx(1.960, abs=1e-3)
    with pytest.raises(ValueError):
        t_quantile_975(0)

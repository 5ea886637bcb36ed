"""The month's spend forecast against numpy's least squares and scipy's t distribution."""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from scipy import stats

from spanlens.home import forecast


def reference_sum_interval(values, points, level=0.95):
    """The prediction interval of Σ w·y at future x, the textbook way: (XᵀX)⁻¹ and t(n-2)."""
    n = len(values)
    X = np.column_stack([np.ones(n), np.arange(n)])
    beta, *_ = np.linalg.lstsq(X, np.asarray(values, dtype=float), rcond=None)
    resid = np.asarray(values) - X @ beta
    s2 = resid @ resid / (n - 2)
    xs = np.array([x for x, _ in points])
    ws = np.array([w for _, w in points])
    g = np.array([ws.sum(), (ws * xs).sum()])
    expected = g @ beta
    variance = s2 * ((ws ** 2).sum() + g @ np.linalg.inv(X.T @ X) @ g)
    return expected, stats.t.ppf(0.5 + level / 2, n - 2) * math.sqrt(variance), beta


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fit_and_interval_match_numpy_and_scipy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 30))
    values = list(3.0 + 0.4 * np.arange(n) + rng.normal(0, 1.5, n))
    points = [(n + 0.0, 0.4)] + [(n + i, 1.0) for i in range(1, 12)]
    fit = forecast.fit_line(values)
    expected, half, beta = reference_sum_interval(values, points)
    ref = stats.linregress(np.arange(n), values)
    assert fit.slope == pytest.approx(ref.slope, rel=1e-9) and fit.intercept == pytest.approx(ref.intercept, rel=1e-9)
    assert fit.slope == pytest.approx(beta[1], rel=1e-9)
    got_expected, got_half = forecast.predict_sum(fit, points)
    assert got_expected == pytest.approx(expected, rel=1e-9)
    assert got_half == pytest.approx(half, rel=1e-7)


def test_the_month_forecast_adds_the_rest_of_the_month_to_what_was_spent():
    now = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)  # a quarter of the 20th has gone
    daily = {date(2026, 11, 20) - timedelta(days=d): 10.0 + (10 - d) for d in range(1, 11)}  # rising by $1/day
    daily[date(2026, 11, 20)] = 4.0
    result = forecast.month_forecast(daily, now=now)
    # A perfect line: y = 10 + x on days 0..9 (Nov 10 … Nov 19), today is x = 10.
    spent = sum(v for d, v in daily.items() if d.month == 11)
    rest = 0.75 * 20 + sum(20 + i for i in range(1, 11))  # today's remaining 3/4, then Nov 21 … 30
    assert result.month_to_date == pytest.approx(spent)
    assert result.expected == pytest.approx(spent + rest)
    assert result.low == pytest.approx(result.expected) and result.high == pytest.approx(result.expected)
    assert result.slope_per_day == pytest.approx(1.0) and result.days_used == 10
    assert result.month_end == date(2026, 11, 30)


def test_noise_widens_the_interval_around_the_expectation():
    now = datetime(2026, 11, 15, 12, 0, tzinfo=timezone.utc)
    rng = np.random.default_rng(7)
    daily = {date(2026, 11, 15) - timedelta(days=d): float(20 + rng.normal(0, 4)) for d in range(1, 21)}
    result = forecast.month_forecast(daily, now=now)
    assert result.low < result.expected < result.high
    assert result.low >= result.month_to_date


def test_no_forecast_without_three_days_of_history():
    now = datetime(2026, 11, 15, 12, 0, tzinfo=timezone.utc)
    assert forecast.month_forecast({}, now=now) is None
    assert forecast.month_forecast({date(2026, 11, 14): 3.0, date(2026, 11, 13): 2.0}, now=now) is None
    # Quiet days after the first spend are history: they cost nothing.
    result = forecast.month_forecast({date(2026, 11, 12): 3.0}, now=now)
    assert result is not None and result.days_used == 3
